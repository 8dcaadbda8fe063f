"""Reading contract documents: the only module of the package that touches files.

YAML is read with the safe loader, with changes that matter for money:
numbers written without quotes that YAML would make floats become :class:`YamlDecimal` built
from their exact text (so ``0.015`` is exactly 0.015, and an amount written that way can be
refused by name), and a key written twice in one mapping is reported instead of silently
keeping the last value. An impossible date (``2020-13-01``) stays text, so that validation
reports it with its field path instead of the whole file failing.

A contract file is bounded before it is built: at most :data:`MAX_DOCUMENT_BYTES` bytes, and
at most :data:`MAX_EXPANDED_NODES` values once every alias (``*name``) is expanded — counted
on the composed node graph, where an alias is only a reference, so a 351-byte "billion laughs"
file is refused in microseconds instead of growing to gigabytes when read. A mapping key must
be a plain value: a list or mapping used as a key is reported (``YAML_KEY_NOT_SCALAR``).
"""

from __future__ import annotations

from decimal import InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from contracts.values import YamlDecimal
from ledger.errors import Problem

MAX_DOCUMENT_BYTES = 1024 * 1024  # the largest example is 18 KB
MAX_EXPANDED_NODES = 200_000  # the largest example has about 2,000


class _ContractLoader(yaml.SafeLoader):
    """Safe YAML loader keeping decimal text exact and recording duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []
        self.complex_keys: list[int] = []


class _TooLarge(Exception):
    """The document expands beyond :data:`MAX_EXPANDED_NODES` values (or refers to itself)."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values ``node`` holds with every alias expanded, each shared node counted once
    per use but computed once (``sizes``), so that the count costs as little as the file."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _TooLarge("an alias refers to the block that contains it")
    open_.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes, open_) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes, open_) + _expanded_size(v, sizes, open_)
                     for k, v in node.value)
    open_.discard(key)
    if total > MAX_EXPANDED_NODES:
        raise _TooLarge(f"aliases expand it to more than {MAX_EXPANDED_NODES:,} values")
    sizes[key] = total
    return total


def _construct_decimal(loader: _ContractLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node))
    try:
        return YamlDecimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # .inf, .nan, 1:30.5: left as text, refused as "not a number"


def _construct_mapping(loader: _ContractLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # keys merged from an anchor may be overridden: that is not a duplicate
        if not isinstance(key_node, yaml.ScalarNode):
            loader.complex_keys.append(key_node.start_mark.line + 1)
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            loader.duplicates.append((str(key), key_node.start_mark.line + 1))
        seen.add(key)
    loader.flatten_mapping(node)
    node.value = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
    return dict(loader.construct_pairs(node, deep=True))


def _construct_date(loader: _ContractLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return str(loader.construct_scalar(node))  # 2020-13-01: refused with its field path


_ContractLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)  # float-ok
_ContractLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_date)
_ContractLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, source: str) -> tuple[Any, list[Problem]]:
    """The document in ``text``, or None and the problems that stopped it being read."""
    if len(text) > MAX_DOCUMENT_BYTES:
        return None, [Problem("DOCUMENT_TOO_LARGE", f"the file has {len(text):,} characters; a "
                              f"contract has at most {MAX_DOCUMENT_BYTES:,}", None, source)]
    loader = _ContractLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        data = loader.construct_document(node) if node is not None else None
    except _TooLarge as exc:
        return None, [Problem("YAML_TOO_COMPLEX", f"the file cannot be read as a contract: {exc} "
                              "(anchors and aliases may only repeat small blocks)", None, source)]
    except RecursionError:
        return None, [Problem("YAML_TOO_COMPLEX", "the file is nested too deeply to be a "
                              "contract", None, source)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem("YAML_INVALID", f"the file is not valid YAML{where}: {reason}",
                              None, source)]
    finally:
        loader.dispose()
    problems = [Problem("DUPLICATE_KEY", f"'{key}' is written twice in the same block (line "
                        f"{line}); only one value can apply", None, source)
                for key, line in loader.duplicates]
    problems += [Problem("YAML_KEY_NOT_SCALAR", f"line {line}: a list or block is used as a "
                         "key; keys are plain names such as 'id'", None, source)
                 for line in loader.complex_keys]
    return data, problems


def read_document(path: str | Path) -> tuple[Any, list[Problem]]:
    """Read and parse a YAML (or JSON, a subset of YAML) contract file."""
    source = str(path)
    try:
        if Path(path).stat().st_size > MAX_DOCUMENT_BYTES:
            return None, [Problem("DOCUMENT_TOO_LARGE", f"the file has more than "
                                  f"{MAX_DOCUMENT_BYTES:,} bytes; a contract is far smaller",
                                  None, source)]
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem("FILE_NOT_FOUND", "no such file", None, source)]
    except UnicodeDecodeError:
        return None, [Problem("FILE_NOT_UTF8", "the file is not UTF-8 text; save it as UTF-8",
                              None, source)]
    except OSError as exc:  # a folder, no permission
        return None, [Problem("FILE_UNREADABLE", f"the file cannot be read: {exc.strerror}",
                              None, source)]
    return parse_yaml(text, source)

