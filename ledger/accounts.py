"""Accounts as a caller describes them before they are opened (pure: no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class AccountSpec:
    """An account to open.

    Attributes:
        code: unique within the book; ``:`` separates hierarchy levels by convention.
        type: asset, liability, equity, income or expense.
        parent: code of the parent account, if any (same book, same type).
        debits_must_not_exceed_credits / credits_must_not_exceed_debits: balance limits.
    """

    code: str
    type: str
    name_ja: str = ""
    name_en: str = ""
    parent: str | None = None
    opened_on: date = date(2000, 1, 1)
    closed_on: date | None = None
    party_ref: str | None = None
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False
