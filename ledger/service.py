"""Ledger operations: books, accounts, posting, two-phase resolution, reversals, periods.

Every function takes a SQLModel ``Session`` and never commits: the caller owns the unit of work
(a CLI command or an HTTP request wraps one). Each write first takes the book's row lock, so
that on PostgreSQL concurrent writers to one book are serialised (the hash chain and the
balance limits need that) and on SQLite the engine's ``BEGIN IMMEDIATE`` does the same. All
checks run before the first insert, so a refusal writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

from moneyed import Money
from sqlalchemy import BindParameter, bindparam, case, insert, select, update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col

from ledger.accounts import AccountSpec
from ledger.calendar import FISCAL_YEAR_NAMINGS, NAMED_BY_START
from ledger.entries import (
    EntryDraft,
    PostingDraft,
    canonical_json,
    chain_hash,
    content_hash,
    validate_draft,
)
from ledger.errors import Conflict, NotFound, Problem, SibError
from ledger.money import currency_of, from_minor
from ledger.schema import (
    ACCOUNT_TYPES,
    CREDIT,
    DEBIT,
    PENDING,
    POSTED,
    VOIDED,
    Account,
    AccountBalance,
    Book,
    Entry,
    Posting,
    id_of,
    table_of,
)
from ledger.seals import PENDING_KEY


def utc_now() -> datetime:
    """The recording clock (aware UTC), injectable through ``now=`` arguments."""
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """Timestamps are stored as aware UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --------------------------------------------------------------------------- books, accounts

def create_book(session: Session, code: str, currency: str, name_ja: str = "", name_en: str = "",
                fiscal_year_start_month: int = 4, now: datetime | None = None,
                fiscal_year_named_by: str = NAMED_BY_START) -> Book:
    """Open a book, or return it if a book with this code and the same terms (currency, fiscal
    start month and fiscal-year naming) exists."""
    problems: list[Problem] = []
    if not code or len(code) > 64:
        problems.append(Problem("BOOK_CODE_INVALID", "a book code of 1 to 64 characters is "
                                "required", "code"))
    if not 1 <= fiscal_year_start_month <= 12:
        problems.append(Problem("FISCAL_START_INVALID", "the fiscal year start month must be "
                                "1 to 12", "fiscal_year_start_month"))
    if fiscal_year_named_by not in FISCAL_YEAR_NAMINGS:
        problems.append(Problem("FISCAL_NAMING_INVALID", "a fiscal year is named by the year "
                                f"it starts or ends in: {' or '.join(FISCAL_YEAR_NAMINGS)}, not "
                                f"{str(fiscal_year_named_by)[:20]!r}", "fiscal_year_named_by"))
    try:
        currency = currency_of(currency).code
    except SibError as exc:
        problems.extend(exc.problems)
    if problems:
        raise SibError(problems)
    existing = session.scalars(select(Book).where(col(Book.code) == code)).first()
    if existing is not None:
        if existing.currency != currency or existing.fiscal_year_start_month != \
                fiscal_year_start_month or existing.fiscal_year_named_by != fiscal_year_named_by:
            raise Conflict(f"book {code} already exists with currency {existing.currency}, "
                           f"fiscal start month {existing.fiscal_year_start_month} and fiscal "
                           f"years named by their {existing.fiscal_year_named_by} year",
                           "BOOK_EXISTS", "code")
        return existing
    book = Book(code=code, currency=currency, name_ja=name_ja, name_en=name_en,
                fiscal_year_start_month=fiscal_year_start_month,
                fiscal_year_named_by=fiscal_year_named_by,
                created_at=_aware(now or utc_now()))
    session.add(book)
    session.flush()
    return book


def get_book(session: Session, code: str, lock: bool = False) -> Book:
    """The book with this code (row-locked for writing if ``lock``), or BOOK_NOT_FOUND."""
    query = select(Book).where(col(Book.code) == code)
    if lock:
        query = query.with_for_update()
    book = session.scalars(query).first()
    if book is None:
        raise NotFound(f"no book with code {code!r}", "BOOK_NOT_FOUND", "book")
    if lock:
        session.refresh(book)
    return book


def open_account(session: Session, book_code: str, spec: AccountSpec) -> Account:
    """Open an account in a book (idempotent: the same spec again returns the account)."""
    book = get_book(session, book_code)
    problems: list[Problem] = []
    if spec.type not in ACCOUNT_TYPES:
        problems.append(Problem("ACCOUNT_TYPE_INVALID", f"type must be one of "
                                f"{', '.join(ACCOUNT_TYPES)}, got {spec.type!r}", "type"))
    if not spec.code or len(spec.code) > 128:
        problems.append(Problem("ACCOUNT_CODE_INVALID", "an account code of 1 to 128 characters "
                                "is required", "code"))
    if spec.debits_must_not_exceed_credits and spec.credits_must_not_exceed_debits:
        problems.append(Problem("ACCOUNT_LIMITS_CONFLICT", "an account cannot have both balance "
                                "limits", "debits_must_not_exceed_credits"))
    parent_id = None
    if spec.parent:
        parent = _account_by_code(session, book.id, spec.parent)
        if parent is None:
            problems.append(Problem("ACCOUNT_NOT_FOUND", f"parent account {spec.parent!r} does "
                                    "not exist in this book", "parent"))
        else:
            parent_id = parent.id
    if problems:
        raise SibError(problems)
    existing = _account_by_code(session, book.id, spec.code)
    if existing is not None:
        same = (existing.type == spec.type and existing.parent_id == parent_id and
                existing.debits_must_not_exceed_credits == spec.debits_must_not_exceed_credits and
                existing.credits_must_not_exceed_debits == spec.credits_must_not_exceed_debits)
        if not same:
            raise Conflict(f"account {spec.code} already exists with other terms",
                           "ACCOUNT_EXISTS", "code")
        return existing
    session.info.pop("ledger_accounts", None)
    account = Account(book_id=id_of(book), code=spec.code, name_ja=spec.name_ja,
                      name_en=spec.name_en, type=spec.type, parent_id=parent_id,
                      currency=book.currency, opened_on=spec.opened_on, closed_on=spec.closed_on,
                      party_ref=spec.party_ref,
                      debits_must_not_exceed_credits=spec.debits_must_not_exceed_credits,
                      credits_must_not_exceed_debits=spec.credits_must_not_exceed_debits)
    session.add(account)
    session.flush()
    session.add(AccountBalance(account_id=id_of(account)))
    session.flush()
    return account


def close_account(session: Session, book_code: str, code: str, closed_on: date) -> Account:
    """Close an account: no posting may be dated after ``closed_on``. Needs a zero balance."""
    book = get_book(session, book_code, lock=True)
    account = _account_by_code(session, book.id, code)
    if account is None:
        raise NotFound(f"no account {code!r} in book {book_code}", "ACCOUNT_NOT_FOUND", "account")
    bal = session.get(AccountBalance, account.id)
    if bal and (bal.debits_posted != bal.credits_posted or bal.debits_pending or
                bal.credits_pending):
        raise SibError(f"account {code} still has a balance or pending amounts",
                       "ACCOUNT_NOT_EMPTY", "account")
    account.closed_on = closed_on
    session.info.pop("ledger_accounts", None)
    session.add(account)
    session.flush()
    return account


def _account_by_code(session: Session, book_id: int | None, code: str) -> Account | None:
    return session.scalars(select(Account).where(col(Account.book_id) == book_id,
                                                 col(Account.code) == code)).first()


def accounts_of(session: Session, book_code: str) -> list[Account]:
    """Every account of a book, by code."""
    book = get_book(session, book_code)
    return list(session.scalars(select(Account).where(col(Account.book_id) == book.id)
                                .order_by(col(Account.code))))


# --------------------------------------------------------------------------- posting
#
# The posting path runs Core statements built once (below) on the session's connection: the
# ORM's per-statement machinery costs more than the database work on a two-posting entry.
# Whatever ORM instances the session holds for rows this path changes are expired afterwards.

_BOOK = table_of(Book)
_ACCOUNT = table_of(Account)
_ENTRY = table_of(Entry)
_POSTING = table_of(Posting)
_BALANCE = table_of(AccountBalance)

_KEY_HOLDER = (select(_ENTRY.c.id).where(_ENTRY.c.book_id == _BOOK.c.id,
                                         _ENTRY.c.idempotency_key == bindparam("key"))
               .scalar_subquery())
_KEY_CONTENT = (select(_ENTRY.c.content_hash)
                .where(_ENTRY.c.book_id == _BOOK.c.id,
                       _ENTRY.c.idempotency_key == bindparam("key")).scalar_subquery())
# One round trip: lock the book and look up the idempotency key.
_LOCK_BOOK = (select(_BOOK.c.id, _BOOK.c.code, _BOOK.c.head_hash, _BOOK.c.entry_count,
                     _BOOK.c.closed_through_on, _KEY_HOLDER.label("key_entry_id"),
                     _KEY_CONTENT.label("key_content_hash"))
              .where(_BOOK.c.code == bindparam("code")).with_for_update(of=_BOOK))
_FIND_KEY = select(_ENTRY.c.id, _ENTRY.c.content_hash).where(
    _ENTRY.c.book_id == bindparam("book_id"), _ENTRY.c.idempotency_key == bindparam("key"))
_ACCOUNTS = select(_ACCOUNT).where(_ACCOUNT.c.book_id == bindparam("book_id"),
                                   _ACCOUNT.c.code.in_(bindparam("codes", expanding=True)))
_BALANCES = select(_BALANCE).where(_BALANCE.c.account_id.in_(bindparam("ids", expanding=True)))
_INSERT_ENTRY = insert(_ENTRY).returning(_ENTRY.c.id)
_INSERT_POSTING = insert(_POSTING)
_EXTEND_CHAIN = (update(_BOOK).where(_BOOK.c.id == bindparam("bid"))
                 .values(entry_count=bindparam("count"), head_hash=bindparam("head")))


@dataclass(frozen=True)
class EntryRecord:
    """An entry as written: the same fields as the :class:`~ledger.schema.Entry` row.

    Entries never change once written, so the posting functions return this plain record
    instead of reading the row back through the ORM.
    """

    id: int
    book_id: int
    sequence: int
    idempotency_key: str
    content_hash: str
    kind: str
    status: str
    effective_on: date
    recorded_at: datetime
    description: str
    links: str
    resolves_entry_id: int | None
    reverses_entry_id: int | None
    prev_hash: str
    hash: str
    # Set only by the call that wrote the entry (not on a replay): the book's code and the
    # postings as written, in order, as (account code, side, amount in minor units, currency).
    # A reply can be built from them without reading the entry back; nothing can point at an
    # entry written in this very transaction yet.
    written_in: str | None = field(default=None, compare=False)
    postings: tuple[tuple[str, str, int, str], ...] | None = field(default=None, compare=False)

    @classmethod
    def of(cls, entry: Entry) -> EntryRecord:
        return cls(**{f.name: getattr(entry, f.name) for f in fields(cls) if f.compare})


@dataclass(frozen=True)
class BookState:
    """The locked book row a write works from: where the chain ends, what is closed."""

    id: int
    code: str
    head_hash: str
    entry_count: int
    closed_through_on: date | None

    @classmethod
    def of(cls, book: Book) -> BookState:
        return cls(book.id or 0, book.code, book.head_hash, book.entry_count,
                   book.closed_through_on)


def _lock_book(session: Session, code: str, key: str = "") -> tuple[BookState, Any]:
    """Row-lock the book (PostgreSQL: FOR UPDATE; SQLite: the write transaction) and find
    whether ``key`` was used in it already: ``(book, (entry id, content hash) or None)``."""
    row = session.connection().execute(_LOCK_BOOK, {"code": code, "key": key}).first()
    if row is None:
        raise NotFound(f"no book with code {code!r}", "BOOK_NOT_FOUND", "book")
    used = (row.key_entry_id, row.key_content_hash) if row.key_entry_id is not None else None
    return BookState(row.id, row.code, row.head_hash, row.entry_count,
                     row.closed_through_on), used


def _expire(session: Session, model: type, ids: Iterable[int]) -> None:
    """Expire session-held instances of rows changed with Core statements."""
    for key in ids:
        instance = session.identity_map.get(identity_key(model, key))
        if instance is not None:
            session.expire(instance)

@dataclass
class _Write:
    """What one entry will write: the entry's fields, its posting rows, the balance deltas."""

    book: BookState
    key: str
    content: str
    kind: str
    status: str
    effective_on: date
    description: str
    links: Mapping[str, Any]
    postings: list[tuple[Any, str, int]]  # (account row or Account, side, amount)
    deltas: dict[int, list[int]]  # account id → [d_posted, c_posted, d_pending, c_pending]
    resolves_entry_id: int | None = None
    reverses_entry_id: int | None = None


def post_entry(session: Session, draft: EntryDraft, pending: bool = False,
               now: datetime | None = None) -> EntryRecord:
    """Post an entry (or reserve it, if ``pending``), exactly once per idempotency key.

    Refused with every problem at once, and nothing written, when: fewer than two postings,
    debits ≠ credits per currency, an amount not positive, an unknown or closed account, a
    currency other than the account's, a date in a closed period or before an account opened,
    a balance limit broken, or the key already used for different content.
    """
    problems = validate_draft(draft)
    if any(p.code.startswith("AMOUNT") or p.code == "IDEMPOTENCY_KEY_INVALID" for p in problems):
        raise SibError(problems)
    status = PENDING if pending else POSTED
    content = content_hash(draft, status)
    book, used = _lock_book(session, draft.book, draft.idempotency_key)
    if used is None and session.connection().dialect.name == "postgresql":
        # PostgreSQL evaluated the key look-up with the snapshot taken before it waited for the
        # lock; a writer that held the lock may have committed this very key meanwhile.
        found = session.connection().execute(
            _FIND_KEY, {"book_id": book.id, "key": draft.idempotency_key}).first()
        used = (found.id, found.content_hash) if found is not None else None
    if used is not None:
        if used[1] != content:
            raise Conflict(f"idempotency key {draft.idempotency_key!r} was already used for a "
                           f"different entry (entry {used[0]})", "IDEMPOTENCY_CONFLICT",
                           "idempotency_key")
        return EntryRecord.of(session.get_one(Entry, used[0]))
    accounts = _accounts_for(session, book, [p.account for p in draft.postings])
    problems += _account_problems(book, accounts, draft.postings, draft.effective_on)
    problems += _period_problems(book, draft.effective_on)
    if problems:
        raise SibError(problems)
    rows = [(accounts[p.account], p.side, p.amount_minor) for p in draft.postings]
    deltas = _deltas(rows, pending)
    write = _Write(book, draft.idempotency_key, content, draft.kind, status, draft.effective_on,
                   draft.description, draft.links, rows, deltas)
    return _write(session, write, now)


def _replay(session: Session, book: BookState | Book, key: str,
            content: str) -> EntryRecord | None:
    """The entry already posted under ``key`` if the content matches; a conflict if not."""
    found = session.connection().execute(_FIND_KEY, {"book_id": book.id, "key": key}).first()
    if found is None:
        return None
    if found.content_hash != content:
        raise Conflict(f"idempotency key {key!r} was already used for a different entry "
                       f"(entry {found.id})", "IDEMPOTENCY_CONFLICT", "idempotency_key")
    return EntryRecord.of(session.get_one(Entry, found.id))


def _accounts_for(session: Session, book: BookState, codes: Iterable[str]) -> dict[str, Any]:
    """Account rows by code (Core rows: the same attribute names as :class:`Account`).

    Rows are kept for the rest of the database transaction (``session.info``, keyed by the
    transaction): opening or closing an account in this session drops them, and other writers
    cannot change an account of a book while this transaction holds the book's lock.
    """
    transaction = session.get_transaction()
    held: tuple[Any, dict[int, dict[str, Any]]] | None = session.info.get("ledger_accounts")
    if held is None or held[0] is not transaction:
        held = session.info["ledger_accounts"] = (transaction, {})
    cache: dict[str, Any] = held[1].setdefault(book.id, {})
    missing = sorted(set(codes) - cache.keys())
    if missing:
        for row in session.connection().execute(_ACCOUNTS, {"book_id": book.id,
                                                            "codes": missing}):
            cache[row.code] = row
    return cache


def _account_problems(book: BookState, accounts: Mapping[str, Any],
                      postings: Sequence[PostingDraft], effective_on: date) -> list[Problem]:
    problems: list[Problem] = []
    for i, posting in enumerate(postings):
        where = f"postings[{i}]"
        account = accounts.get(posting.account)
        if account is None:
            problems.append(Problem("ACCOUNT_NOT_FOUND", f"account {posting.account!r} does not "
                                    f"exist in book {book.code}", f"{where}.account"))
            continue
        if account.closed_on is not None and effective_on > account.closed_on:
            problems.append(Problem("ACCOUNT_CLOSED", f"account {account.code} was closed on "
                                    f"{account.closed_on}", f"{where}.account"))
        if effective_on < account.opened_on:
            problems.append(Problem("BEFORE_ACCOUNT_OPENED", f"account {account.code} opened on "
                                    f"{account.opened_on}, after the entry's date "
                                    f"{effective_on}", "effective_on"))
        if posting.currency != account.currency:
            problems.append(Problem("CURRENCY_MISMATCH", f"account {account.code} is kept in "
                                    f"{account.currency}, the posting is in {posting.currency}",
                                    f"{where}.amount"))
    return problems


def _period_problems(book: BookState | Book, effective_on: date) -> list[Problem]:
    if book.closed_through_on is not None and effective_on <= book.closed_through_on:
        return [Problem("PERIOD_CLOSED", f"the books of {book.code} are closed through "
                        f"{book.closed_through_on}; date the entry in an open period",
                        "effective_on")]
    return []


def _deltas(rows: Sequence[tuple[Account, str, int]], pending: bool,
            sign: int = 1) -> dict[int, list[int]]:
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for account, side, amount in rows:
        slot = (0 if side == DEBIT else 1) + (2 if pending else 0)
        deltas[account.id][slot] += sign * amount  # type: ignore[index]
    return deltas


def _merge(a: Mapping[int, list[int]], b: Mapping[int, list[int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for deltas in (a, b):
        for account_id, values in deltas.items():
            out[account_id] = [x + y for x, y in zip(out[account_id], values)]
    return out


def _limit_problems(session: Session, write: _Write) -> list[Problem]:
    """Balance limits checked against the balances the entry would leave behind."""
    limited = {a.id: a for a, _, _ in write.postings
               if a.debits_must_not_exceed_credits or a.credits_must_not_exceed_debits}
    if not limited:
        return []
    balances = {b.account_id: b for b in session.connection().execute(
        _BALANCES, {"ids": sorted(limited)})}
    problems = []
    for account_id, account in sorted(limited.items()):
        bal = balances[account_id]
        d_post, c_post, d_pend, c_pend = write.deltas.get(account_id, [0, 0, 0, 0])
        debits = bal.debits_posted + d_post + bal.debits_pending + d_pend
        credits = bal.credits_posted + c_post + bal.credits_pending + c_pend
        if account.debits_must_not_exceed_credits and debits > bal.credits_posted + c_post:
            problems.append(Problem("BALANCE_LIMIT_EXCEEDED", f"account {account.code} may not "
                                    f"have debits above its credits: this entry would bring "
                                    f"debits to {from_minor(debits, account.currency)} against "
                                    f"credits of "
                                    f"{from_minor(bal.credits_posted + c_post, account.currency)}",
                                    "postings"))
        if account.credits_must_not_exceed_debits and credits > bal.debits_posted + d_post:
            problems.append(Problem("BALANCE_LIMIT_EXCEEDED", f"account {account.code} may not "
                                    f"have credits above its debits: this entry would bring "
                                    f"credits to {from_minor(credits, account.currency)} against "
                                    f"debits of "
                                    f"{from_minor(bal.debits_posted + d_post, account.currency)}",
                                    "postings"))
    return problems


def _write(session: Session, write: _Write, now: datetime | None) -> EntryRecord:
    """Check the limits, then insert the entry and postings, move balances, extend the chain."""
    problems = _limit_problems(session, write)
    if problems:
        raise SibError(problems)
    book = write.book
    recorded_at = _aware(now or utc_now())
    sequence = book.entry_count + 1
    links = canonical_json(dict(write.links))
    posting_tuples = [(a.id, side, amount, a.currency) for a, side, amount in write.postings]
    digest = chain_hash(book.head_hash, book.code, sequence, write.key, write.kind, write.status,
                        write.effective_on, recorded_at, write.description, links,
                        write.resolves_entry_id, write.reverses_entry_id, posting_tuples)
    values: dict[str, Any] = dict(book_id=book.id, sequence=sequence, idempotency_key=write.key,
                  content_hash=write.content, kind=write.kind, status=write.status,
                  effective_on=write.effective_on, recorded_at=recorded_at,
                  description=write.description, links=links,
                  resolves_entry_id=write.resolves_entry_id,
                  reverses_entry_id=write.reverses_entry_id, prev_hash=book.head_hash,
                  hash=digest)
    connection = session.connection()
    entry_id = connection.execute(_INSERT_ENTRY, values).scalar_one()
    _to_seal(session, entry_id)
    if posting_tuples:
        connection.execute(_INSERT_POSTING, [dict(
            entry_id=entry_id, account_id=account_id, side=side, amount_minor=amount,
            currency=currency, effective_on=write.effective_on, status=write.status)
            for account_id, side, amount, currency in posting_tuples])
    _apply_deltas(session, write.deltas)
    connection.execute(_EXTEND_CHAIN, {"bid": book.id, "count": sequence, "head": digest})
    _expire(session, Book, [book.id])
    # The entry as written, without reading it back: entries never change.
    return EntryRecord(id=entry_id, **values, written_in=book.code,
                       postings=tuple((a.code, side, amount, a.currency)
                                      for a, side, amount in write.postings))


def _to_seal(session: Session, entry_id: int) -> None:
    """Name the entry among the rows the transaction seals when it commits (ledger.seals):
    its keyed seal covers its chain hash, so a chain recomputed without the key is found."""
    pending: dict[str, set[int] | None] = session.info.setdefault(PENDING_KEY, {})
    ids = pending.setdefault(Entry.__tablename__, set())
    if ids is not None:
        ids.add(entry_id)


_MOVES: dict[int, Any] = {}


def _move_statement(count: int) -> Any:
    """One UPDATE moving ``count`` balances (a CASE per column): one round trip per entry."""
    if count not in _MOVES:
        ids: list[BindParameter[int]] = [bindparam(f"a{i}") for i in range(count)]
        columns: dict[str, Any] = {}
        for column, slot in (("debits_posted", "dp"), ("credits_posted", "cp"),
                             ("debits_pending", "dq"), ("credits_pending", "cq")):
            delta = case(*[(_BALANCE.c.account_id == ids[i], bindparam(f"{slot}{i}"))
                           for i in range(count)], else_=0)
            columns[column] = _BALANCE.c[column] + delta
        _MOVES[count] = update(_BALANCE).where(_BALANCE.c.account_id.in_(ids)).values(**columns)
    return _MOVES[count]


def _apply_deltas(session: Session, deltas: Mapping[int, list[int]]) -> None:
    moves = [(account_id, d) for account_id, d in sorted(deltas.items()) if any(d)]
    if not moves:
        return
    params: dict[str, int] = {}
    for i, (account_id, d) in enumerate(moves):
        params.update({f"a{i}": account_id, f"dp{i}": d[0], f"cp{i}": d[1], f"dq{i}": d[2],
                       f"cq{i}": d[3]})
    session.connection().execute(_move_statement(len(moves)), params)
    _expire(session, AccountBalance, [account_id for account_id, _ in moves])


# --------------------------------------------------------------------------- two-phase

def post_pending(session: Session, book_code: str, pending_entry_id: int, idempotency_key: str,
                 effective_on: date, amount: Money | None = None,
                 postings: Sequence[PostingDraft] | None = None, description: str = "",
                 kind: str = "post_pending", links: Mapping[str, Any] | None = None,
                 now: datetime | None = None) -> EntryRecord:
    """Resolve a pending entry by posting it: in full, or for less (the rest is released).

    ``amount`` is a shorthand for entries whose postings all carry one amount (the usual
    two-posting reservation); ``postings`` gives the posted amount of each pending posting
    explicitly. Each posted amount is positive and at most the reserved amount.
    """
    return _resolve(session, book_code, pending_entry_id, idempotency_key, effective_on,
                    POSTED, amount, postings, description, kind, links or {}, now)


def void_pending(session: Session, book_code: str, pending_entry_id: int, idempotency_key: str,
                 effective_on: date, description: str = "", kind: str = "void_pending",
                 links: Mapping[str, Any] | None = None,
                 now: datetime | None = None) -> EntryRecord:
    """Resolve a pending entry by releasing all of it; the voiding entry has no postings."""
    return _resolve(session, book_code, pending_entry_id, idempotency_key, effective_on, VOIDED,
                    None, None, description, kind, links or {}, now)


def _resolve(session: Session, book_code: str, pending_entry_id: int, key: str,
             effective_on: date, status: str, amount: Money | None,
             postings: Sequence[PostingDraft] | None, description: str, kind: str,
             links: Mapping[str, Any], now: datetime | None) -> EntryRecord:
    book = get_book(session, book_code, lock=True)
    original = session.get(Entry, pending_entry_id)
    if original is None or original.book_id != book.id:
        raise NotFound(f"no entry {pending_entry_id} in book {book_code}", "PENDING_NOT_FOUND",
                       "pending_entry_id")
    reserved = _posting_rows(session, original.id)
    draft_postings = _resolution_postings(reserved, amount, postings, status)
    draft = EntryDraft(book_code, key, kind, effective_on, draft_postings, description, links)
    content = content_hash(draft, status, {"resolves": pending_entry_id})
    existing = _replay(session, book, key, content)
    if existing is not None:
        return existing
    problems: list[Problem] = []
    if original.status != PENDING:
        problems.append(Problem("NOT_PENDING", f"entry {original.id} is not a pending entry",
                                "pending_entry_id"))
    elif session.scalars(select(col(Entry.id)).where(
            col(Entry.resolves_entry_id) == original.id)).first() is not None:
        raise Conflict(f"pending entry {original.id} was already posted or voided",
                       "PENDING_ALREADY_RESOLVED", "pending_entry_id")
    if status == POSTED:
        problems += validate_draft(draft)
        problems += _within_reservation(reserved, draft_postings)
    problems += _period_problems(book, effective_on)
    if problems:
        raise SibError(problems)
    by_code = {a.code: a for a, _, _ in reserved}
    rows = [(by_code[p.account], p.side, p.amount_minor) for p in draft_postings]
    deltas = _merge(_deltas(reserved, pending=True, sign=-1), _deltas(rows, pending=False))
    write = _Write(BookState.of(book), key, content, kind, status, effective_on, description,
                   links, rows, deltas, resolves_entry_id=original.id)
    return _write(session, write, now)


def _posting_rows(session: Session, entry_id: int | None) -> list[tuple[Account, str, int]]:
    found = session.execute(select(Posting, Account)
                            .join(Account, col(Account.id) == col(Posting.account_id))
                            .where(col(Posting.entry_id) == entry_id)
                            .order_by(col(Posting.id)))
    return [(account, posting.side, posting.amount_minor) for posting, account in found]


def _resolution_postings(reserved: Sequence[tuple[Account, str, int]], amount: Money | None,
                         postings: Sequence[PostingDraft] | None,
                         status: str) -> list[PostingDraft]:
    if status == VOIDED:
        return []
    if postings is not None:
        return list(postings)
    if amount is None:
        return [PostingDraft(a.code, side, from_minor(minor, a.currency))
                for a, side, minor in reserved]
    if len({minor for _, _, minor in reserved}) != 1:
        raise SibError("this pending entry has postings of different amounts: give the posted "
                       "amount of each posting", "RESOLVE_AMOUNT_AMBIGUOUS", "amount")
    return [PostingDraft(a.code, side, amount) for a, side, _ in reserved]


def _within_reservation(reserved: Sequence[tuple[Account, str, int]],
                        postings: Sequence[PostingDraft]) -> list[Problem]:
    room: dict[tuple[str, str], int] = defaultdict(int)
    for account, side, minor in reserved:
        room[(account.code, side)] += minor
    problems = []
    for i, posting in enumerate(postings):
        left = room.get((posting.account, posting.side))
        if left is None:
            problems.append(Problem("RESOLVE_ACCOUNT_MISMATCH", f"{posting.account} "
                                    f"({posting.side}) is not a posting of the pending entry",
                                    f"postings[{i}].account"))
            continue
        if posting.amount_minor > left:
            problems.append(Problem("RESOLVE_EXCEEDS_PENDING", f"posting {posting.amount} on "
                                    f"{posting.account} is more than the "
                                    f"{from_minor(left, posting.currency)} reserved",
                                    f"postings[{i}].amount"))
        room[(posting.account, posting.side)] = left - posting.amount_minor
    return problems


# --------------------------------------------------------------------------- reversals

def reverse_entry(session: Session, book_code: str, entry_id: int, idempotency_key: str,
                  effective_on: date, description: str = "", kind: str = "reversal",
                  links: Mapping[str, Any] | None = None,
                 now: datetime | None = None) -> EntryRecord:
    """Correct a posted entry by a new entry that mirrors it (debits become credits).

    At most one reversal per original; the reversal is dated in an open period and points at
    the original (``reverses_entry_id``); the original finds it through ``reversal_of``.
    """
    book = get_book(session, book_code, lock=True)
    original = session.get(Entry, entry_id)
    if original is None or original.book_id != book.id:
        raise NotFound(f"no entry {entry_id} in book {book_code}", "ENTRY_NOT_FOUND", "entry_id")
    mirrored = [(a, CREDIT if side == DEBIT else DEBIT, minor)
                for a, side, minor in _posting_rows(session, original.id)]
    drafts = [PostingDraft(a.code, side, from_minor(minor, a.currency))
              for a, side, minor in mirrored]
    draft = EntryDraft(book_code, idempotency_key, kind, effective_on, drafts,
                       description or f"Reversal of entry {original.id}",
                       dict(links or {}, reverses=original.id))
    content = content_hash(draft, POSTED, {"reverses": entry_id})
    existing = _replay(session, book, idempotency_key, content)
    if existing is not None:
        return existing
    problems = []
    if original.status != POSTED or not mirrored:
        problems.append(Problem("NOT_REVERSIBLE", f"entry {original.id} is {original.status}: only "
                                "posted entries with postings can be reversed (void a pending "
                                "entry instead)", "entry_id"))
    elif original.reverses_entry_id is not None:
        problems.append(Problem("NOT_REVERSIBLE", f"entry {original.id} is itself a reversal; "
                                "post a new entry instead", "entry_id"))
    elif reversal_of(session, original.id) is not None:
        raise Conflict(f"entry {original.id} was already reversed", "ALREADY_REVERSED",
                       "entry_id")
    problems += _period_problems(book, effective_on)
    if problems:
        raise SibError(problems)
    write = _Write(BookState.of(book), idempotency_key, content, kind, POSTED, effective_on,
                   draft.description,
                   draft.links, mirrored, _deltas(mirrored, pending=False),
                   reverses_entry_id=original.id)
    return _write(session, write, now)


def reversal_of(session: Session, entry_id: int | None) -> Entry | None:
    """The entry that reverses ``entry_id``, if any (the link from the original's side)."""
    return session.scalars(select(Entry).where(col(Entry.reverses_entry_id) == entry_id)).first()


def resolution_of(session: Session, entry_id: int | None) -> Entry | None:
    """The entry that posted or voided the pending entry ``entry_id``, if any."""
    return session.scalars(select(Entry).where(col(Entry.resolves_entry_id) == entry_id)).first()


def entry_state(session: Session, entry: Entry | EntryRecord) -> str:
    """What an entry amounts to now: pending, posted, voided, reversed, or resolved-by-post."""
    if entry.status == PENDING:
        resolution = resolution_of(session, entry.id)
        if resolution is None:
            return "pending"
        return "voided" if resolution.status == VOIDED else "posted"
    if entry.status == POSTED and reversal_of(session, entry.id) is not None:
        return "reversed"
    return entry.status


def links_of(entry: Entry) -> dict[str, Any]:
    """The entry's links as a dict."""
    return dict(json.loads(entry.links or "{}"))
