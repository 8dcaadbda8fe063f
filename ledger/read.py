"""The ledger's read model: every question code outside the ledger asks of the books.

Documents, packs, the waterfall and the schedules read the ledger only through this module
(STYLE habit 10): balances and movements of an account or of every account under a prefix,
filtered by entry kind, by date (as of a date, between two dates), posted or pending; the
postings behind them; the entries that link to a given object (a contract, a loan, a
distribution…); an entry by its idempotency key. Answers are immutable values (no ORM rows), so
a pure function can compute a document from them and a test can compare them.

Dates are inclusive: ``from_on`` and ``through_on`` both count. ``status`` is ``posted`` by
default; ``pending`` reads what unresolved pending entries reserve.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, TypeVarTuple

from sqlalchemy import func, select
from sqlalchemy.sql import Select
from sqlmodel import Session, col

from ledger.entries import canonical_json
from ledger.reports import (  # noqa: F401  (the read model's whole surface, from one module)
    AccountStatement,
    BalanceRow,
    StatementLine,
    TrialBalance,
    account_statement,
    balance_as_of,
    normal_sign,
    trial_balance,
)
from ledger.schema import CREDIT, DEBIT, PENDING, POSTED, Account, Book, Entry, Posting

__all__ = [
    "AccountStatement", "BalanceRow", "EntryView", "PostingView", "StatementLine", "Totals",
    "TrialBalance", "account_statement", "balance_as_of", "entries", "entry_by_key",
    "last_recorded_at", "normal_sign", "postings", "totals", "totals_by_account",
    "trial_balance",
]


@dataclass(frozen=True)
class Totals:
    """Debits and credits of an account (or a set of accounts) in minor units.

    Attributes:
        debits_minor / credits_minor: gross sums, each ≥ 0.
    """

    debits_minor: int = 0
    credits_minor: int = 0

    @property
    def net_debit_minor(self) -> int:
        """Debits less credits: the balance of an asset or expense account."""
        return self.debits_minor - self.credits_minor

    @property
    def net_credit_minor(self) -> int:
        """Credits less debits: the balance of a liability, equity or income account."""
        return self.credits_minor - self.debits_minor

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.debits_minor + other.debits_minor,
                      self.credits_minor + other.credits_minor)

    def __sub__(self, other: Totals) -> Totals:
        return Totals(self.debits_minor - other.debits_minor,
                      self.credits_minor - other.credits_minor)


@dataclass(frozen=True)
class PostingView:
    """One posting with what a reader needs of its entry.

    Attributes:
        account / party_ref: the account's code and its party reference.
        side: ``D`` or ``C``; amount_minor > 0.
        links: the entry's links (read-only mapping).
        reverses_entry_id: set on a reversal (the entry it mirrors).
    """

    posting_id: int
    entry_id: int
    sequence: int
    kind: str
    effective_on: date
    account: str
    party_ref: str | None
    side: str
    amount_minor: int
    status: str
    links: Mapping[str, Any]
    reverses_entry_id: int | None

    @property
    def debit_minor(self) -> int:
        return self.amount_minor if self.side == DEBIT else 0

    @property
    def credit_minor(self) -> int:
        return self.amount_minor if self.side == CREDIT else 0


@dataclass(frozen=True)
class EntryView:
    """An entry as written, with its postings as (account, side, amount_minor)."""

    id: int
    sequence: int
    idempotency_key: str
    kind: str
    status: str
    effective_on: date
    recorded_at: datetime
    description: str
    links: Mapping[str, Any]
    resolves_entry_id: int | None
    reverses_entry_id: int | None
    postings: tuple[tuple[str, str, int], ...]

    def amount_on(self, account: str, side: str) -> int:
        """What this entry posts to ``account`` on ``side`` (0 if nothing)."""
        return sum(amount for code, s, amount in self.postings if code == account and s == side)


_Row = TypeVarTuple("_Row")


def _links(text: str) -> Mapping[str, Any]:
    return MappingProxyType(json.loads(text or "{}"))


def _filtered(query: Select[*_Row], *, account: str | None = None,
              accounts: Iterable[str] | None = None, prefix: str | None = None,
              kinds: Iterable[str] | None = None, side: str | None = None,
              from_on: date | None = None, through_on: date | None = None,
              on: date | None = None, status: str = POSTED) -> Select[*_Row]:
    """The common filters on a posting query joined to its account and entry."""
    if account is not None:
        query = query.where(col(Account.code) == account)
    if accounts is not None:
        query = query.where(col(Account.code).in_(list(accounts)))
    if prefix is not None:
        query = query.where(col(Account.code).startswith(prefix, autoescape=True))
    if kinds is not None:
        query = query.where(col(Entry.kind).in_([str(k) for k in kinds]))
    if side is not None:
        query = query.where(col(Posting.side) == side)
    if on is not None:
        query = query.where(col(Posting.effective_on) == on)
    if from_on is not None:
        query = query.where(col(Posting.effective_on) >= from_on)
    if through_on is not None:
        query = query.where(col(Posting.effective_on) <= through_on)
    if status == PENDING:
        # A pending entry's postings stay pending forever; only unresolved ones reserve money.
        resolves = col(Entry.resolves_entry_id)
        resolved = select(resolves).where(resolves.is_not(None))
        query = query.where(col(Posting.status) == PENDING, col(Entry.id).not_in(resolved))
    else:
        query = query.where(col(Posting.status) == status)
    return query


def _in_book(query: Select[*_Row], book: str) -> Select[*_Row]:
    return (query.join(Account, col(Account.id) == col(Posting.account_id))
            .join(Entry, col(Entry.id) == col(Posting.entry_id))
            .join(Book, col(Book.id) == col(Account.book_id)).where(col(Book.code) == book))


def totals(session: Session, book: str, account: str, *, kinds: Iterable[str] | None = None,
           side: str | None = None, from_on: date | None = None,
           through_on: date | None = None, status: str = POSTED) -> Totals:
    """Debits and credits of one account, optionally only of entries of ``kinds`` and only
    within ``from_on``–``through_on`` (inclusive)."""
    side_column = col(Posting.side)
    query = _filtered(_in_book(select(side_column, func.sum(col(Posting.amount_minor))), book),
                      account=account, kinds=kinds, side=side, from_on=from_on,
                      through_on=through_on, status=status).group_by(side_column)
    sums = {s: int(total or 0) for s, total in session.execute(query)}
    return Totals(sums.get(DEBIT, 0), sums.get(CREDIT, 0))


def totals_by_account(session: Session, book: str, *, prefix: str | None = None,
                      accounts: Iterable[str] | None = None,
                      kinds: Iterable[str] | None = None, from_on: date | None = None,
                      through_on: date | None = None, status: str = POSTED) -> dict[str, Totals]:
    """Debits and credits per account code, for the accounts under ``prefix`` (or listed in
    ``accounts``; all of the book's accounts if neither). Accounts without movement are
    absent."""
    debits = func.sum(col(Posting.amount_minor)).filter(col(Posting.side) == DEBIT)
    credits = func.sum(col(Posting.amount_minor)).filter(col(Posting.side) == CREDIT)
    query = _filtered(_in_book(select(col(Account.code), debits, credits), book), prefix=prefix,
                      accounts=accounts, kinds=kinds, from_on=from_on, through_on=through_on,
                      status=status).group_by(col(Account.code))
    return {code: Totals(int(d or 0), int(c or 0)) for code, d, c in session.execute(query)}


def postings(session: Session, book: str, *, account: str | None = None,
             accounts: Iterable[str] | None = None, prefix: str | None = None,
             kinds: Iterable[str] | None = None, side: str | None = None,
             from_on: date | None = None, through_on: date | None = None,
             on: date | None = None, status: str = POSTED) -> list[PostingView]:
    """The postings matching the filters, in the order they happened (date, then entry
    sequence, then posting)."""
    query = _filtered(_in_book(select(
        col(Posting.id), col(Entry.id), col(Entry.sequence), col(Entry.kind),
        col(Posting.effective_on), col(Account.code), col(Account.party_ref), col(Posting.side),
        col(Posting.amount_minor), col(Posting.status), col(Entry.links),
        col(Entry.reverses_entry_id)), book), account=account, accounts=accounts, prefix=prefix,
        kinds=kinds, side=side, from_on=from_on, through_on=through_on, on=on, status=status)
    query = query.order_by(col(Posting.effective_on), col(Entry.sequence), col(Posting.id))
    return [PostingView(pid, eid, seq, kind, eff, code, party, s, int(amount), st,
                        _links(links), reverses)
            for pid, eid, seq, kind, eff, code, party, s, amount, st, links, reverses
            in session.execute(query)]


def entries(session: Session, book: str, *, kinds: Iterable[str] | None = None,
            links: Mapping[str, Any] | None = None, key_prefix: str | None = None,
            from_on: date | None = None, through_on: date | None = None,
            ids: Iterable[int] | None = None,
            reverses: Iterable[int] | None = None) -> list[EntryView]:
    """Entries of the book in sequence order, filtered by kind, by idempotency-key prefix, by
    date, by id, by the entries they reverse (``reverses``: the reversals of those), and by
    links: every ``links`` item must equal the entry's link of that name (the entries that
    link to a given object)."""
    query = (select(Entry).join(Book, col(Book.id) == col(Entry.book_id))
             .where(col(Book.code) == book).order_by(col(Entry.sequence)))
    if kinds is not None:
        query = query.where(col(Entry.kind).in_([str(k) for k in kinds]))
    if key_prefix is not None:
        query = query.where(col(Entry.idempotency_key).startswith(key_prefix, autoescape=True))
    if from_on is not None:
        query = query.where(col(Entry.effective_on) >= from_on)
    if through_on is not None:
        query = query.where(col(Entry.effective_on) <= through_on)
    if ids is not None:
        query = query.where(col(Entry.id).in_(list(ids)))
    if reverses is not None:
        query = query.where(col(Entry.reverses_entry_id).in_(list(reverses)))
    for name, value in (links or {}).items():
        # Links are stored as canonical JSON (sorted keys, no spaces): a cheap first filter in
        # SQL, the exact comparison below.
        query = query.where(col(Entry.links).contains(canonical_json({name: value})[1:-1],
                                                      autoescape=True))
    rows = list(session.scalars(query))
    views = _views(session, rows)
    if links:
        views = [v for v in views if all(v.links.get(k) == val for k, val in links.items())]
    return views


def entry_by_key(session: Session, book: str, idempotency_key: str) -> EntryView | None:
    """The entry written under this idempotency key, if any."""
    row = session.scalars(select(Entry).join(Book, col(Book.id) == col(Entry.book_id)).where(
        col(Book.code) == book, col(Entry.idempotency_key) == idempotency_key)).first()
    return _views(session, [row])[0] if row is not None else None


def _views(session: Session, rows: list[Entry]) -> list[EntryView]:
    if not rows:
        return []
    by_entry: dict[int, list[tuple[str, str, int]]] = {}
    query = (select(col(Posting.entry_id), col(Account.code), col(Posting.side),
                    col(Posting.amount_minor))
             .join(Account, col(Account.id) == col(Posting.account_id))
             .where(col(Posting.entry_id).in_([r.id for r in rows])).order_by(col(Posting.id)))
    for entry_id, code, side, amount in session.execute(query):
        by_entry.setdefault(entry_id, []).append((code, side, int(amount)))
    return [EntryView(r.id or 0, r.sequence, r.idempotency_key, r.kind, r.status,
                      r.effective_on, r.recorded_at, r.description, _links(r.links),
                      r.resolves_entry_id, r.reverses_entry_id, tuple(by_entry.get(r.id or 0, ())))
            for r in rows]


def last_recorded_at(session: Session, book: str) -> datetime | None:
    """When the book's latest entry was written (None for an empty book): a document built
    from the books says which state of them it shows."""
    return session.scalar(select(func.max(col(Entry.recorded_at))).join(
        Book, col(Book.id) == col(Entry.book_id)).where(col(Book.code) == book))
