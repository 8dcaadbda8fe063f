"""Reading contract documents: the only module of the package that touches files.

YAML is read with the safe loader, with changes that matter for money:
numbers written without quotes that YAML would make floats become :class:`YamlDecimal` built
from their exact text (so ``0.015`` is exactly 0.015, and an amount written that way can be
refused by name), and a key written twice in one mapping is reported instead of silently
keeping the last value. An impossible date (``2020-13-01``) stays text, so that validation
reports it with its field path instead of the whole file failing.
"""

from __future__ import annotations

from decimal import InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from contracts.values import YamlDecimal
from ledger.errors import Problem


class _ContractLoader(yaml.SafeLoader):
    """Safe YAML loader keeping decimal text exact and recording duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []


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
        key = loader.construct_object(key_node, deep=True)
        hashable = key if not isinstance(key, (list, dict)) else repr(key)
        if hashable in seen:
            loader.duplicates.append((str(key), key_node.start_mark.line + 1))
        seen.add(hashable)
    loader.flatten_mapping(node)
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
    loader = _ContractLoader(text)
    try:
        data = loader.get_single_data()
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
    return data, problems


def read_document(path: str | Path) -> tuple[Any, list[Problem]]:
    """Read and parse a YAML (or JSON, a subset of YAML) contract file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem("FILE_NOT_FOUND", "no such file", None, source)]
    except UnicodeDecodeError:
        return None, [Problem("FILE_NOT_UTF8", "the file is not UTF-8 text; save it as UTF-8",
                              None, source)]
    except OSError as exc:
        return None, [Problem("FILE_UNREADABLE", f"the file cannot be read: {exc.strerror}",
                              None, source)]
    return parse_yaml(text, source)

