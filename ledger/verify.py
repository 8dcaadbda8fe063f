"""Tamper evidence: recompute every hash chain, every entry's balance, every maintained balance.

Anything changed outside the ledger — a posting amount edited in SQL, an entry deleted, a
balance row nudged — shows up here, and the report names the first bad entry or account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy import select
from sqlmodel import Session, col

from ledger.entries import chain_hash
from ledger.errors import Problem
from ledger.schema import DEBIT, PENDING, POSTED, Account, AccountBalance, Book, Entry, Posting


@dataclass
class VerifyReport:
    """The outcome of ``verify``: ``ok`` only when no problem was found.

    Attributes:
        books: per book code, the number of entries checked and the head hash (the ledger
            state that documents cite).
        problems: what is wrong, first bad entry or account first.
    """

    books: dict[str, dict[str, object]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, book_code: str | None = None) -> VerifyReport:
    """Check every book (or one): chain, balance per entry, maintained balances."""
    report = VerifyReport()
    query = select(Book).order_by(col(Book.code))
    if book_code is not None:
        query = query.where(col(Book.code) == book_code)
    for book in session.scalars(query).all():
        _verify_book(session, book, report)
    return report


def _verify_book(session: Session, book: Book, report: VerifyReport) -> None:
    recomputed: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    resolves = col(Entry.resolves_entry_id)
    resolved = set(session.scalars(select(resolves).where(
        col(Entry.book_id) == book.id, resolves.is_not(None))))
    prev_hash, count = "0" * 64, 0
    rows = session.execute(
        select(Entry, col(Posting.account_id), col(Posting.side), col(Posting.amount_minor),
               col(Posting.currency))
        .outerjoin(Posting, col(Posting.entry_id) == col(Entry.id))
        .where(col(Entry.book_id) == book.id).order_by(col(Entry.sequence), col(Posting.id))
        .execution_options(yield_per=5000))
    for entry, group in groupby(rows, key=lambda r: r[0].id):
        items = list(group)
        entry = items[0][0]
        postings = [(a, s, m, c) for _, a, s, m, c in items if a is not None]
        count += 1
        where = f"entry {entry.id} (book {book.code}, sequence {entry.sequence})"
        if entry.sequence != count:
            report.problems.append(Problem("CHAIN_GAP", f"{where}: expected sequence {count}; "
                                           "an entry is missing", "sequence"))
            return
        if entry.prev_hash != prev_hash:
            report.problems.append(Problem("CHAIN_BROKEN", f"{where}: does not link to the entry "
                                           "before it", "prev_hash"))
            return
        digest = chain_hash(prev_hash, book.code, entry.sequence, entry.idempotency_key,
                            entry.kind, entry.status, entry.effective_on, entry.recorded_at,
                            entry.description, entry.links, entry.resolves_entry_id,
                            entry.reverses_entry_id, postings)
        if digest != entry.hash:
            report.problems.append(Problem("ENTRY_TAMPERED", f"{where}: its content no longer "
                                           "matches its hash (altered outside the ledger)",
                                           "hash"))
            return
        if not _balanced(postings):
            report.problems.append(Problem("ENTRY_UNBALANCED", f"{where}: debits do not equal "
                                           "credits", "postings"))
            return
        pending_open = entry.status == PENDING and entry.id not in resolved
        if entry.status == POSTED or pending_open:
            for account_id, side, amount, _ in postings:
                slot = (0 if side == DEBIT else 1) + (2 if pending_open else 0)
                recomputed[account_id][slot] += amount
        prev_hash = digest
    if count != book.entry_count or prev_hash != book.head_hash:
        report.problems.append(Problem("CHAIN_HEAD_MISMATCH", f"book {book.code}: the chain ends "
                                       f"at entry {count} but the book records "
                                       f"{book.entry_count}; entries were removed or added "
                                       "outside the ledger", "head_hash"))
        return
    _verify_balances(session, book, recomputed, report)
    report.books[book.code] = {"entries": count, "head_hash": prev_hash}


def _balanced(postings: list[tuple[int, str, int, str]]) -> bool:
    totals: dict[str, int] = defaultdict(int)
    for _, side, amount, currency in postings:
        totals[currency] += amount if side == DEBIT else -amount
    return all(v == 0 for v in totals.values())


def _verify_balances(session: Session, book: Book, recomputed: dict[int, list[int]],
                     report: VerifyReport) -> None:
    for balance, account in session.execute(
            select(AccountBalance, Account)
            .join(Account, col(Account.id) == col(AccountBalance.account_id))
            .where(col(Account.book_id) == book.id).order_by(col(Account.code))):
        stored = [balance.debits_posted, balance.credits_posted, balance.debits_pending,
                  balance.credits_pending]
        if stored != recomputed.get(account.id or 0, [0, 0, 0, 0]):
            report.problems.append(Problem(
                "BALANCE_MISMATCH", f"account {account.code} (book {book.code}): maintained "
                f"balance {stored} differs from the postings {recomputed.get(account.id or 0)}",
                "balance"))
            return


def ledger_state_hash(session: Session, book_code: str) -> str:
    """The head of a book's hash chain: what a document built from the book cites."""
    book = session.scalars(select(Book).where(col(Book.code) == book_code)).one()
    return book.head_hash
