"""Export a book as a beancount file, so an auditor can cross-check it with bean-check/bean-query.

Only posted postings are exported (beancount has no reservations); unresolved pending entries
are listed as comments so that nothing is hidden. Account codes become beancount names under the
root for their type (``receivable:ube`` on an asset → ``Assets:Receivable:Ube``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from ledger.money import exponent
from ledger.schema import CREDIT, PENDING, POSTED, Account, Entry, Posting
from ledger.service import get_book, resolution_of

ROOTS = {"asset": "Assets", "liability": "Liabilities", "equity": "Equity", "income": "Income",
         "expense": "Expenses"}


def beancount_name(account: Account) -> str:
    """The beancount account name for one of our accounts."""
    parts = [ROOTS[account.type]]
    for raw in account.code.split(":"):
        part = re.sub(r"[^A-Za-z0-9-]+", "-", raw).strip("-") or "X"
        parts.append(part[0].upper() + part[1:])
    return ":".join(parts)


def _amount(minor: int, currency: str) -> str:
    exp = exponent(currency)
    return f"{Decimal(minor).scaleb(-exp):f}" if exp else str(minor)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def export_beancount(session: Session, book_code: str) -> str:
    """The whole book as beancount text: options, ``open`` directives, then entries in order."""
    book = get_book(session, book_code)
    accounts = {a.id: a for a in session.scalars(select(Account)
                                                 .where(col(Account.book_id) == book.id)
                                                 .order_by(col(Account.code)))}
    lines = [f"; Book {book.code} ({book.name_en or book.name_ja}) exported from the SIB ledger",
             f"; head hash {book.head_hash}, {book.entry_count} entries",
             f'option "title" {_quote(book.name_en or book.code)}',
             f'option "operating_currency" "{book.currency}"', ""]
    for account in accounts.values():
        lines.append(f"{account.opened_on.isoformat()} open {beancount_name(account)} "
                     f"{account.currency}")
    lines.append("")
    postings: dict[int, list[Posting]] = {}
    for posting in session.scalars(select(Posting)
                                   .join(Entry, col(Entry.id) == col(Posting.entry_id))
                                   .where(col(Entry.book_id) == book.id)
                                   .order_by(col(Posting.id))):
        postings.setdefault(posting.entry_id, []).append(posting)
    for entry in session.scalars(select(Entry).where(col(Entry.book_id) == book.id)
                                 .order_by(col(Entry.effective_on), col(Entry.sequence))):
        lines.extend(_entry_lines(session, entry, postings.get(entry.id or 0, []), accounts))
    return "\n".join(lines) + "\n"


def _entry_lines(session: Session, entry: Entry, postings: list[Posting],
                 accounts: dict[int | None, Account]) -> list[str]:
    if entry.status == PENDING:
        state = "resolved" if resolution_of(session, entry.id) else "unresolved"
        return [f"; pending entry {entry.id} ({state}) {entry.effective_on} {entry.kind}: "
                f"{entry.description}", ""]
    if entry.status != POSTED or not postings:
        return [f"; entry {entry.id} {entry.effective_on} {entry.kind}: {entry.description} "
                f"(no postings)", ""]
    out = [f"{entry.effective_on.isoformat()} * {_quote(entry.kind)} "
           f"{_quote(entry.description or entry.kind)}",
           f'  entry_id: "{entry.id}"', f'  sequence: "{entry.sequence}"']
    for p in postings:
        minor = -p.amount_minor if p.side == CREDIT else p.amount_minor
        out.append(f"  {beancount_name(accounts[p.account_id])}  "
                   f"{_amount(minor, p.currency)} {p.currency}")
    out.append("")
    return out
