"""Reading the ledger: balances (now and as of a date), trial balance, account statement.

Balances as of a date start from the snapshot of the latest closed period ending on or before
it and add only the postings after that period, so they stay fast on large books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import NamedTuple

from sqlalchemy import bindparam, func, select
from sqlmodel import Session, col

from ledger.errors import NotFound
from ledger.periods import posted_totals
from ledger.schema import (
    CREDIT,
    DEBIT,
    POSTED,
    Account,
    AccountBalance,
    Book,
    Entry,
    Period,
    PeriodSnapshot,
    Posting,
    id_of,
    table_of,
)
from ledger.service import get_book

DEBIT_NORMAL = ("asset", "expense")


def normal_sign(account_type: str) -> int:
    """+1 where a debit increases the account (assets, expenses), -1 otherwise."""
    return 1 if account_type in DEBIT_NORMAL else -1


class BalanceRow(NamedTuple):
    """One account's line on a trial balance (all amounts in minor units; immutable, and a
    tuple so that a book's hundreds of rows are cheap to build).

    Attributes:
        debit_minor / credit_minor: the net balance shown on its side (one of them is 0).
        debits_posted / credits_posted: gross sums of posted postings.
        debits_pending / credits_pending: reserved by unresolved pending entries.
        balance_minor: net balance in the account's normal sign (positive = usual side).
    """

    account_id: int
    code: str
    name_ja: str
    name_en: str
    type: str
    currency: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def net_debit_minor(self) -> int:
        return self.debits_posted - self.credits_posted

    @property
    def debit_minor(self) -> int:
        return max(self.net_debit_minor, 0)

    @property
    def credit_minor(self) -> int:
        return max(-self.net_debit_minor, 0)

    @property
    def balance_minor(self) -> int:
        return normal_sign(self.type) * self.net_debit_minor


@dataclass(frozen=True)
class TrialBalance:
    """A book's trial balance as of a date (``None``: everything recorded)."""

    book: str
    currency: str
    as_of: date | None
    rows: list[BalanceRow]

    @cached_property
    def total_debit_minor(self) -> int:
        return sum(r.debit_minor for r in self.rows)

    @cached_property
    def total_credit_minor(self) -> int:
        return sum(r.credit_minor for r in self.rows)

    @property
    def balanced(self) -> bool:
        return self.total_debit_minor == self.total_credit_minor


_BOOK, _ACCOUNT, _BALANCE = table_of(Book), table_of(Account), table_of(AccountBalance)
# The whole trial balance from the maintained balances in one statement (compiled once): the
# book, and each of its accounts with its balance row (a book without accounts: one row of NULLs).
_MAINTAINED = (
    select(_BOOK.c.code.label("book_code"), _BOOK.c.currency.label("book_currency"),
           _ACCOUNT.c.id, _ACCOUNT.c.code, _ACCOUNT.c.name_ja, _ACCOUNT.c.name_en,
           _ACCOUNT.c.type, _ACCOUNT.c.currency, _BALANCE.c.debits_posted,
           _BALANCE.c.credits_posted, _BALANCE.c.debits_pending, _BALANCE.c.credits_pending)
    .select_from(_BOOK.outerjoin(_ACCOUNT, _ACCOUNT.c.book_id == _BOOK.c.id)
                 .outerjoin(_BALANCE, _BALANCE.c.account_id == _ACCOUNT.c.id))
    .where(_BOOK.c.code == bindparam("code")).order_by(_ACCOUNT.c.code))


def trial_balance(session: Session, book_code: str, as_of: date | None = None) -> TrialBalance:
    """Every account of the book with its posted (and, for ``as_of=None``, pending) balances."""
    if as_of is None:
        found = session.connection().execute(_MAINTAINED, {"code": book_code}).all()
        if not found:
            get_book(session, book_code)  # BOOK_NOT_FOUND
        # Rows unpacked by position (the select's column order): a book has hundreds.
        rows = [BalanceRow(account_id, code, name_ja, name_en, kind, currency, dp or 0, cp or 0,
                           dq or 0, cq or 0)
                for (_, _, account_id, code, name_ja, name_en, kind, currency, dp, cp, dq, cq)
                in found if account_id is not None]
        return TrialBalance(found[0].book_code, found[0].book_currency, None, rows)
    book = get_book(session, book_code)
    accounts = list(session.scalars(select(Account).where(col(Account.book_id) == book.id)
                                    .order_by(col(Account.code))))
    totals = posted_balances_as_of(session, book, as_of)
    rows = [_row(a, *totals.get(id_of(a), (0, 0)), 0, 0) for a in accounts]
    return TrialBalance(book.code, book.currency, as_of, rows)


def _row(a: Account, d: int, c: int, dp: int, cp: int) -> BalanceRow:
    return BalanceRow(a.id or 0, a.code, a.name_ja, a.name_en, a.type, a.currency, d, c, dp, cp)


def posted_balances_as_of(session: Session, book: Book, as_of: date) -> dict[int, tuple[int, int]]:
    """Posted debits and credits per account as of the end of ``as_of``."""
    period = _latest_closed(session, book, as_of)
    if period is None:
        return posted_totals(session, book.id, through_on=as_of)
    totals = {s.account_id: (s.debits_posted, s.credits_posted) for s in session.scalars(
        select(PeriodSnapshot).where(col(PeriodSnapshot.period_id) == period.id))}
    for account_id, (d, c) in posted_totals(session, book.id, through_on=as_of,
                                            after_on=period.end_on).items():
        d0, c0 = totals.get(account_id, (0, 0))
        totals[account_id] = (d0 + d, c0 + c)
    return totals


def balance_as_of(session: Session, book_code: str, account_code: str, as_of: date) -> int:
    """One account's posted balance (normal sign, minor units) at the end of ``as_of``."""
    book = get_book(session, book_code)
    account = _account(session, book, account_code)
    period = _latest_closed(session, book, as_of)
    d = c = 0
    after = None
    if period is not None:
        snapshot = session.get(PeriodSnapshot, (period.id, account.id))
        if snapshot is not None:
            d, c = snapshot.debits_posted, snapshot.credits_posted
        after = period.end_on
    query = (select(col(Posting.side), func.sum(col(Posting.amount_minor)))
             .where(col(Posting.account_id) == account.id, col(Posting.status) == POSTED,
                    col(Posting.effective_on) <= as_of).group_by(col(Posting.side)))
    if after is not None:
        query = query.where(col(Posting.effective_on) > after)
    for side, total in session.execute(query):
        if side == DEBIT:
            d += int(total)
        else:
            c += int(total)
    return normal_sign(account.type) * (d - c)


def _latest_closed(session: Session, book: Book, as_of: date) -> Period | None:
    """The latest closed period ending on or before ``as_of`` (its snapshot is exact)."""
    return session.scalars(select(Period).where(
        col(Period.book_id) == book.id, col(Period.status) == "closed", col(Period.end_on) <= as_of)
        .order_by(col(Period.end_on).desc())).first()


def _account(session: Session, book: Book, code: str) -> Account:
    account = session.scalars(select(Account).where(col(Account.book_id) == book.id,
                                                    col(Account.code) == code)).first()
    if account is None:
        raise NotFound(f"no account {code!r} in book {book.code}", "ACCOUNT_NOT_FOUND",
                       "account")
    return account


@dataclass(frozen=True)
class StatementLine:
    """One posted posting on an account statement, with the running balance after it."""

    effective_on: date
    entry_id: int
    sequence: int
    kind: str
    description: str
    debit_minor: int
    credit_minor: int
    balance_minor: int


@dataclass(frozen=True)
class AccountStatement:
    """Posted movements of one account between two dates, with opening and closing balances."""

    book: str
    account: str
    name_ja: str
    name_en: str
    type: str
    currency: str
    from_on: date | None
    to_on: date | None
    opening_minor: int
    lines: list[StatementLine]
    pending_debits_minor: int
    pending_credits_minor: int

    @property
    def closing_minor(self) -> int:
        return self.lines[-1].balance_minor if self.lines else self.opening_minor


def account_statement(session: Session, book_code: str, account_code: str,
                      from_on: date | None = None, to_on: date | None = None) -> AccountStatement:
    """Posted movements of an account in date order with a running balance (normal sign)."""
    book = get_book(session, book_code)
    account = _account(session, book, account_code)
    sign = normal_sign(account.type)
    opening = 0
    if from_on is not None:
        d, c = posted_balances_as_of(session, book, from_on - timedelta(days=1)).get(
            account.id or 0, (0, 0))
        opening = sign * (d - c)
    query = (select(Posting, Entry).join(Entry, col(Entry.id) == col(Posting.entry_id))
             .where(col(Posting.account_id) == account.id, col(Posting.status) == POSTED)
             .order_by(col(Posting.effective_on), col(Entry.sequence), col(Posting.id)))
    if from_on is not None:
        query = query.where(col(Posting.effective_on) >= from_on)
    if to_on is not None:
        query = query.where(col(Posting.effective_on) <= to_on)
    lines, running = [], opening
    for posting, entry in session.execute(query):
        d = posting.amount_minor if posting.side == DEBIT else 0
        c = posting.amount_minor if posting.side == CREDIT else 0
        running += sign * (d - c)
        lines.append(StatementLine(posting.effective_on, entry.id or 0, entry.sequence,
                                   entry.kind, entry.description, d, c, running))
    bal = session.get(AccountBalance, account.id)
    return AccountStatement(book.code, account.code, account.name_ja, account.name_en,
                            account.type, account.currency, from_on, to_on, opening, lines,
                            bal.debits_pending if bal else 0, bal.credits_pending if bal else 0)
