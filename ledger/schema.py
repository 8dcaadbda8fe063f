"""Database tables of the ledger (SQLModel). Money is an integer of minor units plus a currency.

Entries and postings are insert-only: the database refuses UPDATE and DELETE on them (triggers
created by the migrations). A pending entry stays a row of status ``pending`` forever; its
resolution is another entry pointing at it through ``resolves_entry_id`` (unique, so it can
happen once). A reversal points at its original through ``reverses_entry_id`` (unique too).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol, cast

from sqlalchemy import BigInteger, CheckConstraint, Index, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.calendar import NAMED_BY_START, fiscal_year_bounds, fiscal_year_of

# The entry and posting vocabulary, re-exported for modules that read the tables.
from ledger.entries import ACCOUNT_TYPES as ACCOUNT_TYPES
from ledger.entries import CREDIT as CREDIT
from ledger.entries import DEBIT as DEBIT
from ledger.entries import PENDING as PENDING
from ledger.entries import POSTED as POSTED
from ledger.entries import VOIDED as VOIDED


class Book(SQLModel, table=True):
    """A set of accounts in one currency kept for one legal entity or contract.

    Attributes:
        code: stable short name (``sib-2019`` …), unique.
        fiscal_year_start_month: 4 for the Japanese April–March year.
        fiscal_year_named_by: ``start`` (the default: a year is named by the calendar year
            in which it starts, 2019 = April 2019 – March 2020) or ``end`` (by the year in
            which it ends); periods close by this name (:mod:`ledger.periods`).
        closed_through_on: last day of the latest closed period; nothing may be dated on or
            before it.
        entry_count / head_hash: the tip of the entry hash chain, kept so that appending is O(1).
    """

    __tablename__ = "ledger_book"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name_ja: str = ""
    name_en: str = ""
    currency: str = Field(max_length=3)
    fiscal_year_start_month: int = 4
    fiscal_year_named_by: str = Field(default=NAMED_BY_START, max_length=8,
                                      sa_column_kwargs={"server_default": NAMED_BY_START})
    closed_through_on: date | None = None
    entry_count: int = Field(default=0, sa_type=BigInteger)
    head_hash: str = Field(default="0" * 64, max_length=64)
    created_at: datetime

    def fiscal_year_of(self, day: date) -> int:
        """The name of the fiscal year containing ``day``, as this book names its years."""
        return fiscal_year_of(day, self.fiscal_year_start_month, self.fiscal_year_named_by)

    def fiscal_year_bounds(self, fiscal_year: int) -> tuple[date, date]:
        """First and last day of the fiscal year this book names ``fiscal_year``."""
        return fiscal_year_bounds(fiscal_year, self.fiscal_year_start_month,
                                  self.fiscal_year_named_by)


class Account(SQLModel, table=True):
    """An account of a book.

    Attributes:
        type: asset, liability, equity, income or expense. Assets and expenses grow with debits
            (their normal balance is a debit); the others grow with credits — this follows from
            assets + expenses = liabilities + equity + income.
        debits_must_not_exceed_credits / credits_must_not_exceed_debits: balance limits in the
            spirit of TigerBeetle: with the first, posted and pending debits may never exceed
            posted credits (a cash account that cannot be overdrawn is the second, on an asset).
        party_ref: free reference to the party this account belongs to (payer, lender…).
    """

    __tablename__ = "ledger_account"
    __table_args__ = (
        UniqueConstraint("book_id", "code"),
        CheckConstraint("type IN ('asset','liability','equity','income','expense')",
                        name="account_type_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    book_id: int = Field(foreign_key="ledger_book.id", index=True)
    code: str = Field(max_length=128)
    name_ja: str = ""
    name_en: str = ""
    type: str = Field(max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="ledger_account.id")
    currency: str = Field(max_length=3)
    opened_on: date
    closed_on: date | None = None
    party_ref: str | None = Field(default=None, max_length=128)
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


class Entry(SQLModel, table=True):
    """An immutable, balanced set of postings: why money moved, when, and its place in the chain.

    Attributes:
        sequence: 1, 2, 3… per book; the hash chain follows it.
        idempotency_key: the caller's key; the same key with the same content returns this entry.
        content_hash: SHA-256 of the request content, to tell a retry from a conflicting reuse.
        kind: why the entry exists (``loan_drawdown``, ``outcome_earned``…).
        status: ``posted``, ``pending`` or ``voided``.
        effective_on / recorded_at: the accounting date and the moment it was written.
        links: JSON object of references to what caused it (contract, KPI result, run…).
        resolves_entry_id: for the entry that posts or voids a pending entry.
        reverses_entry_id: for a reversal, the entry it mirrors.
        prev_hash / hash: the chain: hash = SHA-256(prev_hash ‖ canonical form of this entry).
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("book_id", "sequence"),
        UniqueConstraint("book_id", "idempotency_key"),
        UniqueConstraint("resolves_entry_id"),
        UniqueConstraint("reverses_entry_id"),
        CheckConstraint("status IN ('posted','pending','voided')", name="entry_status_known"),
        Index("ix_ledger_entry_book_effective", "book_id", "effective_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    book_id: int = Field(foreign_key="ledger_book.id")
    sequence: int = Field(sa_type=BigInteger)
    idempotency_key: str = Field(max_length=200)
    content_hash: str = Field(max_length=64)
    kind: str = Field(max_length=64)
    status: str = Field(max_length=16)
    effective_on: date
    recorded_at: datetime
    description: str = ""
    links: str = "{}"
    resolves_entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id")
    reverses_entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Posting(SQLModel, table=True):
    """One side of an entry: a positive amount debited or credited to one account.

    Attributes:
        side: ``D`` (debit) or ``C`` (credit).
        amount_minor: strictly positive integer of the currency's minor unit.
        effective_on / status: copied from the entry so balances can be summed without a join.
    """

    __tablename__ = "ledger_posting"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="posting_amount_positive"),
        CheckConstraint("side IN ('D','C')", name="posting_side_known"),
        Index("ix_ledger_posting_account_effective", "account_id", "effective_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="ledger_entry.id", index=True)
    account_id: int = Field(foreign_key="ledger_account.id")
    side: str = Field(max_length=1)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    effective_on: date
    status: str = Field(max_length=16)


class AccountBalance(SQLModel, table=True):
    """Maintained balance of an account, updated in the same database transaction as postings.

    Attributes:
        debits_posted / credits_posted: sums of posted postings.
        debits_pending / credits_pending: sums of postings of pending entries not yet resolved.
    """

    __tablename__ = "ledger_balance"

    account_id: int = Field(foreign_key="ledger_account.id", primary_key=True)
    debits_posted: int = Field(default=0, sa_type=BigInteger)
    credits_posted: int = Field(default=0, sa_type=BigInteger)
    debits_pending: int = Field(default=0, sa_type=BigInteger)
    credits_pending: int = Field(default=0, sa_type=BigInteger)


class Period(SQLModel, table=True):
    """A fiscal period of a book. Closing it snapshots balances and locks its dates.

    Attributes:
        status: ``open`` or ``closed``.
    """

    __tablename__ = "ledger_period"
    __table_args__ = (UniqueConstraint("book_id", "fiscal_year"),)

    id: int | None = Field(default=None, primary_key=True)
    book_id: int = Field(foreign_key="ledger_book.id")
    fiscal_year: int
    start_on: date
    end_on: date
    status: str = Field(default="open", max_length=16)


class PeriodSnapshot(SQLModel, table=True):
    """Cumulative posted balances of an account at the end of a closed period (for as-of reads)."""

    __tablename__ = "ledger_period_snapshot"

    period_id: int = Field(foreign_key="ledger_period.id", primary_key=True)
    account_id: int = Field(foreign_key="ledger_account.id", primary_key=True)
    debits_posted: int = Field(default=0, sa_type=BigInteger)
    credits_posted: int = Field(default=0, sa_type=BigInteger)


class PeriodEvent(SQLModel, table=True):
    """The log of period closes and reopenings: who, when, why."""

    __tablename__ = "ledger_period_event"

    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="ledger_period.id", index=True)
    action: str = Field(max_length=16)
    actor: str = Field(default="", max_length=128)
    reason: str = ""
    at: datetime


class _Persisted(Protocol):
    id: int | None


def id_of(row: _Persisted) -> int:
    """The id of a row that was read or flushed. SQLModel types ids ``int | None`` because a
    row built in memory has none yet; one that reached the database always has one."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model (SQLModel sets ``__table__`` without declaring it)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]
