"""Request and response bodies of the ledger API (``XCreate`` / ``XPublic``)."""

from __future__ import annotations

from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ledger.calendar import NAMED_BY_START, FiscalYearNaming
from ledger.money_json import MoneyJSON

T = TypeVar("T")


class PageOf(BaseModel, Generic[T]):
    """A page of a list: ``items`` plus ``total``, ``limit`` and ``offset``."""

    items: list[T]
    total: int
    limit: int
    offset: int


class BookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    currency: str = Field(min_length=3, max_length=3)
    name_ja: str = ""
    name_en: str = ""
    fiscal_year_start_month: int = Field(4, ge=1, le=12)
    fiscal_year_named_by: FiscalYearNaming = NAMED_BY_START


class BookPublic(BaseModel):
    code: str
    currency: str
    name_ja: str
    name_en: str
    fiscal_year_start_month: int
    fiscal_year_named_by: str
    entries: int
    closed_through_on: date | None
    head_hash: str


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128)
    type: Literal["asset", "liability", "equity", "income", "expense"]
    name_ja: str = ""
    name_en: str = ""
    parent: str | None = None
    opened_on: date = date(2000, 1, 1)
    party_ref: str | None = None
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


class AccountPublic(BaseModel):
    code: str
    type: str
    name_ja: str
    name_en: str
    currency: str
    opened_on: date
    closed_on: date | None
    party_ref: str | None
    posted_balance: MoneyJSON
    pending_debits: MoneyJSON
    pending_credits: MoneyJSON


class PostingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1)
    side: Literal["D", "C"]
    amount: MoneyJSON


class EntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=64)
    effective_on: date
    description: str = ""
    links: dict[str, Any] = {}
    pending: bool = False
    postings: list[PostingIn]


class PostingPublic(BaseModel):
    account: str
    side: str
    amount: MoneyJSON


class EntryPublic(BaseModel):
    id: int
    book: str
    sequence: int
    idempotency_key: str
    kind: str
    status: str
    state: str
    effective_on: date
    recorded_at: str
    description: str
    links: dict[str, Any]
    resolves_entry_id: int | None
    reverses_entry_id: int | None
    reversed_by_entry_id: int | None
    resolved_by_entry_id: int | None
    hash: str
    postings: list[PostingPublic]


class ResolveRequest(BaseModel):
    """Post a pending entry (optionally for less) or void it."""

    model_config = ConfigDict(extra="forbid")
    effective_on: date
    amount: MoneyJSON | None = None
    postings: list[PostingIn] | None = None
    description: str = ""


class ReverseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_on: date
    description: str = ""


class TrialBalanceRow(BaseModel):
    account: str
    name_ja: str
    name_en: str
    type: str
    debit: MoneyJSON
    credit: MoneyJSON
    pending_debits: MoneyJSON
    pending_credits: MoneyJSON


class TrialBalancePublic(BaseModel):
    book: str
    as_of: date | None
    balanced: bool
    total_debit: MoneyJSON
    total_credit: MoneyJSON
    rows: list[TrialBalanceRow]


class StatementLinePublic(BaseModel):
    effective_on: date
    entry_id: int
    kind: str
    description: str
    debit: MoneyJSON
    credit: MoneyJSON
    balance: MoneyJSON


class StatementPublic(BaseModel):
    book: str
    account: str
    opening: MoneyJSON
    closing: MoneyJSON
    lines: PageOf[StatementLinePublic]


class VerifyPublic(BaseModel):
    ok: bool
    books: dict[str, dict[str, Any]]
    problems: list[dict[str, Any]]


class AuditPublic(BaseModel):
    at: str
    username: str
    role: str
    action: str
    target: str
    request_id: str
    idempotency_key: str
    status: int
    detail: str


def file_responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The documented 200 of a route that answers with a file (PDF, workbook, Zengin text)
    rather than JSON: its media type and a binary body."""
    return {200: {"description": description, "content": {
        media_type: {"schema": {"type": "string", "format": "binary"}}}}}
