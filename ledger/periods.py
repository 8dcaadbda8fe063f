"""Fiscal periods of a book: closing (snapshot and lock), reopening (explicit, logged).

Periods close in order; a closed period's cumulative posted balances are snapshotted so that
balances as of any later date start from the snapshot. Reopening is allowed only for the
latest closed period, with a reason, and is logged with the closes in ``PeriodEvent``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlmodel import Session, col

from ledger.errors import Conflict, SibError
from ledger.schema import (
    CREDIT,
    DEBIT,
    POSTED,
    Account,
    Book,
    Entry,
    Period,
    PeriodEvent,
    PeriodSnapshot,
    Posting,
    id_of,
    table_of,
)
from ledger.service import _aware, get_book, utc_now


def close_period(session: Session, book_code: str, fiscal_year: int, actor: str = "",
                 reason: str = "", now: datetime | None = None) -> Period:
    """Close a fiscal year: snapshot cumulative posted balances and lock its dates.

    Periods close in order: nothing may remain open before the period being closed.
    """
    book = get_book(session, book_code, lock=True)
    start_on, end_on = book.fiscal_year_bounds(fiscal_year)
    if book.closed_through_on is not None and end_on <= book.closed_through_on:
        raise Conflict(f"FY{fiscal_year} of {book_code} is already closed",
                       "PERIOD_ALREADY_CLOSED", "fiscal_year")
    earliest = book.closed_through_on + timedelta(days=1) if book.closed_through_on else \
        session.scalar(select(func.min(col(Entry.effective_on)))
                       .where(col(Entry.book_id) == book.id))
    if earliest is not None and earliest < start_on:
        raise SibError(f"close the earlier periods of {book_code} first: there are open dates "
                       f"from {earliest} before FY{fiscal_year} starts on {start_on}",
                       "PERIOD_CLOSE_OUT_OF_ORDER", "fiscal_year")
    period = _period(session, book, fiscal_year, start_on, end_on)
    period.status = "closed"
    session.add(period)
    session.flush()
    _snapshot(session, book, period)
    session.add(PeriodEvent(period_id=id_of(period), action="close", actor=actor, reason=reason,
                            at=_aware(now or utc_now())))
    session.execute(update(Book).where(col(Book.id) == book.id).values(closed_through_on=end_on))
    session.flush()
    session.expire(book)
    return period


def reopen_period(session: Session, book_code: str, fiscal_year: int, actor: str, reason: str,
                  now: datetime | None = None) -> Period:
    """Reopen the latest closed period: an explicit act with a reason, logged."""
    if not reason.strip():
        raise SibError("reopening a closed period needs a reason", "REASON_REQUIRED", "reason")
    book = get_book(session, book_code, lock=True)
    period = session.scalars(select(Period).where(col(Period.book_id) == book.id,
                                                  col(Period.fiscal_year) == fiscal_year)).first()
    if period is None or period.status != "closed":
        raise SibError(f"FY{fiscal_year} of {book_code} is not closed", "PERIOD_NOT_CLOSED",
                       "fiscal_year")
    if period.end_on != book.closed_through_on:
        raise SibError("only the latest closed period can be reopened", "PERIOD_NOT_LATEST",
                       "fiscal_year")
    period.status = "open"
    session.add(period)
    # Snapshots are derived data of a closed period; they are rebuilt when it closes again.
    session.execute(table_of(PeriodSnapshot).delete().where(
        col(PeriodSnapshot.period_id) == period.id))
    previous = session.scalar(select(func.max(col(Period.end_on))).where(
        col(Period.book_id) == book.id, col(Period.status) == "closed",
        col(Period.id) != period.id))
    session.execute(update(Book).where(col(Book.id) == book.id)
                    .values(closed_through_on=previous))
    session.add(PeriodEvent(period_id=id_of(period), action="reopen", actor=actor, reason=reason,
                            at=_aware(now or utc_now())))
    session.flush()
    session.expire(book)
    return period


def _period(session: Session, book: Book, fiscal_year: int, start_on: date,
            end_on: date) -> Period:
    period = session.scalars(select(Period).where(col(Period.book_id) == book.id,
                                                  col(Period.fiscal_year) == fiscal_year)).first()
    if period is None:
        period = Period(book_id=id_of(book), fiscal_year=fiscal_year, start_on=start_on,
                        end_on=end_on, status="open")
    return period


def _snapshot(session: Session, book: Book, period: Period) -> None:
    totals = posted_totals(session, book.id, through_on=period.end_on)
    rows = [dict(period_id=period.id, account_id=account_id, debits_posted=d, credits_posted=c)
            for account_id, (d, c) in totals.items()]
    if rows:
        session.execute(insert(PeriodSnapshot), rows)


def posted_totals(session: Session, book_id: int | None, through_on: date | None = None,
                  after_on: date | None = None) -> dict[int, tuple[int, int]]:
    """Posted debits and credits per account from the postings, within a date window."""
    amount = col(Posting.amount_minor)
    debits = func.sum(amount).filter(col(Posting.side) == DEBIT)
    credits = func.sum(amount).filter(col(Posting.side) == CREDIT)
    query = (select(col(Posting.account_id), debits, credits)
             .join(Account, col(Account.id) == col(Posting.account_id))
             .where(col(Account.book_id) == book_id, col(Posting.status) == POSTED)
             .group_by(col(Posting.account_id)))
    if through_on is not None:
        query = query.where(col(Posting.effective_on) <= through_on)
    if after_on is not None:
        query = query.where(col(Posting.effective_on) > after_on)
    return {a: (int(d or 0), int(c or 0)) for a, d, c in session.execute(query)}


def periods_of(session: Session, book_code: str) -> list[Period]:
    """The book's periods that were ever closed, in order."""
    book = get_book(session, book_code)
    return list(session.scalars(select(Period).where(col(Period.book_id) == book.id)
                                .order_by(col(Period.fiscal_year))))
