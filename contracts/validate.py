"""Validate a contract document: every problem at once, each with its source, field path, a
stable code and a reason a finance officer can act on. Nothing here raises for bad input.

Two stages, so that one typo does not hide every other problem:

1. **Shapes** (pydantic): each field's type and format. Each error becomes a problem with a
   path such as ``tranches[3].rule.floor``.
2. **Relationships** (:mod:`contracts.checks`): references, sums, authorisations. If stage 1
   failed only inside items of lists (a tranche, a party) or optional sections, those items are
   set aside and the checks run on the rest, with paths mapped back to the document's indexes.
   Failing required top-level fields (currency, term) stop the checks.

A contract is returned only when there is no problem at all.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from contracts.checks import Known, run_checks
from contracts.model import Contract
from contracts.source import read_document
from ledger.errors import Problem

_LIST_SECTIONS = frozenset({"parties", "payers", "providers", "cohorts", "instruments", "kpis",
                            "tranches", "amendments"})
_OPTIONAL_SECTIONS = frozenset({"version", "description", "fiscal_year_start_month",
                                "fiscal_year_named_by", "rounding", "payer_shares",
                                "lead_payer_sees_all_payers", "providers",
                                "cohorts", "instruments", "kpis", "tranches", "caps",
                                "consumption_tax", "waterfall", "amendments"})
_PLACEHOLDER_TEXT = frozenset({"name_ja", "name_en"})
_DISCRIMINATORS = ("type", "basis")


def validate_document(data: Any, source: str) -> tuple[Contract | None, list[Problem]]:
    """A contract from a parsed document (a dict from YAML or JSON), or every problem found.

    Returns ``(contract, [])`` when the document is valid, else ``(None, problems)``.
    """
    if not isinstance(data, dict):
        return None, [Problem("DOCUMENT_NOT_MAPPING", "a contract file must be a mapping of "
                              "fields (id, name_ja, currency, …) at the top level", None, source)]
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        errors = _meaningful(exc.errors())
    else:
        problems = _checks_of(contract, data, frozenset(), {}, source)
        return (None if problems else contract), problems
    problems = [_problem(error, data, source) for error in errors]
    reduced, pruned, kept = _without_invalid_items(data, errors)
    if reduced is not None:
        problems += _checks_of(reduced, data, pruned, kept, source)
    return None, problems


def load_contract_file(path: str | Path) -> tuple[Contract | None, list[Problem]]:
    """Read and validate a YAML contract file; ``(None, problems)`` if anything is wrong."""
    data, problems = read_document(path)
    if data is None:
        return None, problems
    contract, more = validate_document(data, str(path))
    problems += more
    return (contract if not problems else None), problems


def _checks_of(contract: Contract, data: dict[str, Any], pruned: frozenset[str],
               kept: dict[str, list[int]], source: str) -> list[Problem]:
    known = Known.from_document(data, pruned)
    return [replace(p, field=_remap(p.field, kept), source=source)
            for p in run_checks(contract, known)]


def _meaningful(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop pydantic's "too few items" for a list whose items themselves failed: the list was
    not too short, its entries were wrong, and those are reported."""
    def inner_failed(loc: tuple[int | str, ...]) -> bool:
        return any(tuple(e["loc"][:len(loc)]) == loc and len(e["loc"]) > len(loc)
                   for e in errors)
    return [e for e in errors if e["type"] != "too_short" or not inner_failed(tuple(e["loc"]))]


# --- setting aside invalid items ----------------------------------------------------------------

def _without_invalid_items(data: dict[str, Any], errors: list[ErrorDetails]
                           ) -> tuple[Contract | None, frozenset[str], dict[str, list[int]]]:
    """The contract without the items that failed, the sections that lost items, and for each
    list section the document index of every item kept; None if a required field failed."""
    drop: dict[str, set[int]] = {}
    remove: set[str] = set()
    document = copy.deepcopy(data)
    for error in errors:
        loc = error["loc"]
        top = loc[0] if loc else None
        if top in _LIST_SECTIONS and len(loc) >= 2 and isinstance(loc[1], int):
            drop.setdefault(str(top), set()).add(loc[1])
        elif top in _OPTIONAL_SECTIONS:
            remove.add(str(top))
        elif top in _PLACEHOLDER_TEXT:
            document[top] = ""
        else:
            return None, frozenset(), {}
    kept: dict[str, list[int]] = {}
    for section, indexes in drop.items():
        if section in remove:
            continue
        kept[section] = [i for i in range(len(document[section])) if i not in indexes]
        document[section] = [document[section][i] for i in kept[section]]
    for section in remove:
        document.pop(section, None)
    try:
        contract = Contract.model_validate(document)
    except ValidationError:
        return None, frozenset(), {}
    return contract, frozenset(drop) | frozenset(remove), kept


_INDEXED = re.compile(r"^(\w+)\[(\d+)\]")


def _remap(field: str | None, kept: dict[str, list[int]]) -> str | None:
    """Map ``tranches[2]…`` in the reduced contract back to the document's index."""
    if not field:
        return field
    match = _INDEXED.match(field)
    if not match or match.group(1) not in kept:
        return field
    original = kept[match.group(1)][int(match.group(2))]
    return f"{match.group(1)}[{original}]{field[match.end():]}"


# --- pydantic errors as problems --------------------------------------------------------------

def field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """``tranches[3].rule.floor`` for a pydantic location, walking the document alongside so
    that list indexes, year keys and discriminator tags are written as a reader expects."""
    text, node = "", data
    for item in loc:
        if item == "[key]":
            continue
        if isinstance(node, dict) and item not in node and any(
                node.get(tag) == item for tag in _DISCRIMINATORS):
            continue  # pydantic names the union member; the document does not
        if isinstance(node, list) and isinstance(item, int):
            text += f"[{item}]"
            node = node[item] if 0 <= item < len(node) else None
        elif isinstance(item, str) and re.match(r"^[A-Za-z_][\w-]*$", item):
            text += f".{item}" if text else item
            node = node.get(item) if isinstance(node, dict) else None
        else:
            text += f"[{item}]"
            node = node.get(item) if isinstance(node, dict) else None
    return text


_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("FIELD_MISSING", "this field is required"),
    "extra_forbidden": ("FIELD_UNKNOWN", "not a field recognised here: check its spelling and "
                        "indentation"),
    "literal_error": ("VALUE_NOT_ALLOWED", "{input!r} is not allowed here: expected {expected}"),
    "enum": ("VALUE_NOT_ALLOWED", "{input!r} is not allowed here: expected {expected}"),
    "union_tag_invalid": ("TYPE_UNKNOWN", "{tag!r} is not a known {discriminator}: expected "
                          "{expected_tags}"),
    "union_tag_not_found": ("TYPE_MISSING", "say which kind this is with {discriminator}"),
    "int_parsing": ("NOT_A_WHOLE_NUMBER", "expected a whole number, got {input!r}"),
    "int_type": ("NOT_A_WHOLE_NUMBER", "expected a whole number, got {input!r}"),
    "int_from_float": ("NOT_A_WHOLE_NUMBER", "expected a whole number, got {input!r}"),
    "string_type": ("NOT_TEXT", "expected text, got {input!r}"),
    "bool_type": ("NOT_TRUE_OR_FALSE", "expected true or false, got {input!r}"),
    "bool_parsing": ("NOT_TRUE_OR_FALSE", "expected true or false, got {input!r}"),
    "date_type": ("NOT_A_DATE", "expected a date written YYYY-MM-DD, got {input!r}"),
    "date_parsing": ("NOT_A_DATE", "expected a date written YYYY-MM-DD, got {input!r}"),
    "date_from_datetime_parsing": ("NOT_A_DATE", "expected a date written YYYY-MM-DD, got "
                                   "{input!r}"),
    "too_short": ("TOO_FEW", "needs at least {min_length} item(s)"),
    "string_too_short": ("TEXT_EMPTY", "must not be empty"),
    "model_type": ("NOT_A_MAPPING", "expected a block of fields"),
    "model_attributes_type": ("NOT_A_MAPPING", "expected a block of fields"),
    "dict_type": ("NOT_A_MAPPING", "expected a block of keys and values"),
    "list_type": ("NOT_A_LIST", "expected a list"),
    "tuple_type": ("NOT_A_LIST", "expected a list"),
}
_RANGE_TYPES = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


def _problem(error: ErrorDetails, data: dict[str, Any], source: str) -> Problem:
    """A pydantic error as a problem: our own codes pass through, pydantic's are renamed."""
    kind, context = error["type"], dict(error.get("ctx") or {})
    if kind.isupper():
        code, message = kind, error["msg"]
    elif kind in _RANGE_TYPES:
        code, message = "VALUE_OUT_OF_RANGE", error["msg"].replace("Input", "the value")
    elif kind in _MESSAGES:
        code, template = _MESSAGES[kind]
        try:
            message = template.format(input=error.get("input"), **context)
        except (KeyError, IndexError):
            message = error["msg"]
    else:
        code, message = "VALUE_INVALID", error["msg"]
    return Problem(code, message, field_path(tuple(error["loc"]), data) or None, source)
