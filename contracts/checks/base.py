"""What the checks share: the ids a document declares, and small helpers for problems."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from contracts.model import Contract
from ledger.errors import Problem

# Sections whose items are identified by ``id``, and payers/providers by ``party``.
ID_SECTIONS: dict[str, str] = {
    "parties": "id", "payers": "party", "providers": "party", "cohorts": "id",
    "instruments": "id", "kpis": "id", "tranches": "id",
}


@dataclass(frozen=True)
class Known:
    """Ids declared in the document, by section, and the sections that lost items.

    Attributes:
        ids: section name → ids written there (``parties`` → {"ube", …}).
        instrument_types: instrument id → its ``type`` (``loan``, ``grant``…).
        pruned: sections from which items with invalid fields were dropped before the checks.
    """

    ids: dict[str, frozenset[str]]
    instrument_types: dict[str, str] = field(default_factory=dict)
    pruned: frozenset[str] = frozenset()

    def has(self, section: str, item_id: str) -> bool:
        return item_id in self.ids.get(section, frozenset())

    @classmethod
    def of(cls, contract: Contract) -> Known:
        """The ids of a contract object (nothing pruned)."""
        document = contract.model_dump(by_alias=True)
        return cls.from_document(document, frozenset())

    @classmethod
    def from_document(cls, data: dict[str, Any], pruned: frozenset[str]) -> Known:
        """The ids written in a raw document, whatever the validity of the items around them."""
        ids: dict[str, frozenset[str]] = {}
        for section, key in ID_SECTIONS.items():
            ids[section] = frozenset(_ids(data.get(section), key))
        types = {item["id"]: str(item.get("type")) for item in _items(data.get("instruments"))
                 if isinstance(item.get("id"), str)}
        return cls(ids, types, pruned)


def _items(section: Any) -> list[dict[str, Any]]:
    return [i for i in section if isinstance(i, dict)] if isinstance(section, list | tuple) else []


def _ids(section: Any, key: str) -> Iterable[str]:
    return (i[key] for i in _items(section) if isinstance(i.get(key), str))


def problem(code: str, message: str, field_path: str) -> Problem:
    """A problem found by a check; the validator adds the source."""
    return Problem(code, message, field_path)


def name_of(contract: Contract, party_id: str) -> str:
    """``Ube City (ube)``: how a message names a party."""
    for party in contract.parties:
        if party.id == party_id:
            label = party.name_en or party.name_ja
            return f"{label} ({party_id})" if label else party_id
    return party_id


def outside_term(contract: Contract, year: int, field_path: str, what: str) -> list[Problem]:
    """YEAR_OUTSIDE_TERM if ``year`` is not within the contract's fiscal years."""
    if contract.first_fiscal_year <= year <= contract.last_fiscal_year:
        return []
    return [problem("YEAR_OUTSIDE_TERM",
                    f"{what} is for FY{year}, outside the contract term FY"
                    f"{contract.first_fiscal_year}–FY{contract.last_fiscal_year}", field_path)]


def year_key(year: int) -> str:
    """Path segment for a fiscal-year key of a mapping: ``[2019]``."""
    return f"[{year}]"
