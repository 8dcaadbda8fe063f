"""Ledger endpoints: books, accounts, entries (two-phase, reversals), balances, verify.

Thin routes: check the role, call ``ledger.service`` / ``ledger.reports``, shape the response.
Scoped users (a bank, a municipality, a holder) see only accounts carrying their party
reference; anything else answers 404, so that nobody learns whether another party's object
exists.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from api.deps import (
    FULL_READ_ROLES,
    CurrentUser,
    Id,
    PageDep,
    SessionDep,
    in_database,
    party_ref,
    require,
    write_in_database,
)
from api.responses import FastJSONResponse
from api.schemas import (
    AccountCreate,
    AccountPublic,
    BookCreate,
    BookPublic,
    EntryCreate,
    EntryPublic,
    PageOf,
    PostingIn,
    PostingPublic,
    ResolveRequest,
    ReverseRequest,
    StatementLinePublic,
    StatementPublic,
    TrialBalancePublic,
    VerifyPublic,
    file_responses,
)
from api.users import Caller
from api.writes import run_write
from ledger import reports, service
from ledger.accounts import AccountSpec
from ledger.entries import EntryDraft, PostingDraft
from ledger.errors import NotFound
from ledger.export import export_beancount
from ledger.money_json import MoneyJSON
from ledger.schema import Account, AccountBalance, Book, Entry, Posting, table_of
from ledger.verify import verify

router = APIRouter(prefix="/ledger", tags=["ledger"])
WRITERS = ("admin", "intermediary")
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _m(amount_minor: int, currency: str) -> MoneyJSON:
    return MoneyJSON.from_minor(int(amount_minor), currency)


def _book_public(book: Book) -> BookPublic:
    return BookPublic(code=book.code, currency=book.currency, name_ja=book.name_ja,
                      name_en=book.name_en, fiscal_year_start_month=book.fiscal_year_start_month,
                      fiscal_year_named_by=book.fiscal_year_named_by,
                      entries=book.entry_count, closed_through_on=book.closed_through_on,
                      head_hash=book.head_hash)


def _visible_account(session: Session, user: Caller, book_code: str, code: str) -> Account:
    """The account if this user may see it; 404 otherwise (also for other parties')."""
    book = service.get_book(session, book_code) if party_ref(user) is None else \
        session.scalars(select(Book).where(Book.code == book_code)).first()
    account = session.scalars(select(Account).where(
        Account.book_id == (book.id if book else -1), Account.code == code)).first()
    scope = party_ref(user)
    if account is None or (scope is not None and account.party_ref != scope):
        raise NotFound(f"no account {code!r} in book {book_code} that you may see",
                       "ACCOUNT_NOT_FOUND", "account")
    return account


def _account_public(account: Account, balance: AccountBalance) -> AccountPublic:
    sign = reports.normal_sign(account.type)
    return AccountPublic(code=account.code, type=account.type, name_ja=account.name_ja,
                         name_en=account.name_en, currency=account.currency,
                         opened_on=account.opened_on, closed_on=account.closed_on,
                         party_ref=account.party_ref,
                         posted_balance=_m(sign * (balance.debits_posted - balance.credits_posted),
                                           account.currency),
                         pending_debits=_m(balance.debits_pending, account.currency),
                         pending_credits=_m(balance.credits_pending, account.currency))


_P, _A, _E, _B = table_of(Posting), table_of(Account), table_of(Entry), table_of(Book)
_ENTRY_POSTINGS = (select(_P.c.side, _P.c.amount_minor, _P.c.currency, _A.c.code)
                   .join(_A, _A.c.id == _P.c.account_id)
                   .where(_P.c.entry_id == bindparam("entry_id")).order_by(_P.c.id))
# Who points back at an entry: its reversal, or the entry that posted or voided it.
_POINTING = select(_E.c.id, _E.c.status, _E.c.reverses_entry_id).where(
    (_E.c.reverses_entry_id == bindparam("entry_id"))
    | (_E.c.resolves_entry_id == bindparam("entry_id")))
_BOOK_CODE = select(_B.c.code).where(_B.c.id == bindparam("book_id"))


def entry_public(session: Session, entry: Entry | service.EntryRecord) -> EntryPublic:
    """An entry with its postings and both directions of its links. An entry this request has
    just written is answered as recorded (nothing can point at it yet); any other is read."""
    reversed_by = resolved_by = None
    state = entry.status
    if isinstance(entry, service.EntryRecord) and entry.postings is not None:
        book, postings = entry.written_in, entry.postings
    else:
        connection = session.connection()
        book = connection.execute(_BOOK_CODE, {"book_id": entry.book_id}).scalar()
        postings = tuple((r.code, r.side, r.amount_minor, r.currency) for r in
                         connection.execute(_ENTRY_POSTINGS, {"entry_id": entry.id}))
        pointing = connection.execute(_POINTING, {"entry_id": entry.id}).all()
        reversal = next((r for r in pointing if r.reverses_entry_id == entry.id), None)
        resolution = next((r for r in pointing if r.reverses_entry_id != entry.id), None)
        reversed_by = reversal.id if reversal else None
        resolved_by = resolution.id if resolution else None
        if entry.status == "pending" and resolution is not None:
            state = "voided" if resolution.status == "voided" else "posted"
        elif entry.status != "pending" and reversal is not None:
            state = "reversed"
    return EntryPublic(
        id=entry.id or 0, book=book or "", sequence=entry.sequence,
        idempotency_key=entry.idempotency_key, kind=entry.kind, status=entry.status,
        state=state, effective_on=entry.effective_on,
        recorded_at=entry.recorded_at.isoformat(), description=entry.description,
        links=service.links_of(entry), resolves_entry_id=entry.resolves_entry_id,
        reverses_entry_id=entry.reverses_entry_id, reversed_by_entry_id=reversed_by,
        resolved_by_entry_id=resolved_by, hash=entry.hash,
        postings=[PostingPublic(account=code, side=side, amount=_m(amount, currency))
                  for code, side, amount, currency in postings])


# --------------------------------------------------------------------------- books

@router.get("/books", response_model=PageOf[BookPublic])
def list_books(session: SessionDep, user: CurrentUser, page: PageDep) -> PageOf[BookPublic]:
    """Books; a scoped user sees the books where it has accounts."""
    query = select(Book).order_by(Book.code)
    scope = party_ref(user)
    if scope is not None:
        query = query.where(Book.id.in_(select(Account.book_id).where(
            Account.party_ref == scope)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    books = session.scalars(query.offset(page.offset).limit(page.limit))
    return PageOf[BookPublic](items=[_book_public(b) for b in books], total=total,
                              limit=page.limit, offset=page.offset)


@router.post("/books", status_code=201, response_model=BookPublic)
def create_book(body: BookCreate, request: Request, session: SessionDep, user: CurrentUser,
                idempotency_key: IdemKey = None) -> Response:
    """Open a book (admin, intermediary)."""
    require(user, *WRITERS)

    def work() -> tuple[int, Any]:
        book = service.create_book(session, body.code, body.currency, body.name_ja,
                                   body.name_en, body.fiscal_year_start_month,
                                   fiscal_year_named_by=body.fiscal_year_named_by)
        return 201, _book_public(book)
    return run_write(request, session, user, idempotency_key, body, "ledger.book.create", work)


# --------------------------------------------------------------------------- accounts

@router.get("/books/{book}/accounts", response_model=PageOf[AccountPublic])
def list_accounts(book: str, session: SessionDep, user: CurrentUser,
                  page: PageDep) -> PageOf[AccountPublic]:
    """Accounts of a book with balances; a scoped user sees only its own."""
    scope = party_ref(user)
    found = session.scalars(select(Book).where(Book.code == book)).first()
    if found is None and scope is None:
        service.get_book(session, book)
    query = (select(Account, AccountBalance)
             .join(AccountBalance, AccountBalance.account_id == Account.id)
             .where(Account.book_id == (found.id if found else -1)).order_by(Account.code))
    if scope is not None:
        query = query.where(Account.party_ref == scope)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.offset(page.offset).limit(page.limit))
    return PageOf[AccountPublic](items=[_account_public(a, b) for a, b in rows], total=total,
                                 limit=page.limit, offset=page.offset)


@router.post("/books/{book}/accounts", status_code=201, response_model=AccountPublic)
def open_account(book: str, body: AccountCreate, request: Request, session: SessionDep,
                 user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Open an account (admin, intermediary)."""
    require(user, *WRITERS)

    def work() -> tuple[int, Any]:
        account = service.open_account(session, book, AccountSpec(**body.model_dump()))
        return 201, _account_public(account, session.get_one(AccountBalance, account.id))
    return run_write(request, session, user, idempotency_key, body, "ledger.account.open", work)


@router.get("/books/{book}/accounts/{account}/statement", response_model=StatementPublic)
def account_statement(book: str, account: str, session: SessionDep, user: CurrentUser,
                      page: PageDep, from_on: date | None = None,
                      to_on: date | None = None) -> StatementPublic:
    """Posted movements of one account with a running balance."""
    found = _visible_account(session, user, book, account)
    st = reports.account_statement(session, book, found.code, from_on, to_on)
    cur = st.currency
    lines = [StatementLinePublic(effective_on=ln.effective_on, entry_id=ln.entry_id, kind=ln.kind,
                                 description=ln.description, debit=_m(ln.debit_minor, cur),
                                 credit=_m(ln.credit_minor, cur),
                                 balance=_m(ln.balance_minor, cur))
             for ln in st.lines]
    return StatementPublic(book=book, account=account, opening=_m(st.opening_minor, cur),
                           closing=_m(st.closing_minor, cur),
                           lines=PageOf[StatementLinePublic](
                               items=lines[page.offset:page.offset + page.limit],
                               total=len(lines), limit=page.limit, offset=page.offset))


# --------------------------------------------------------------------------- entries

@router.get("/books/{book}/entries", response_model=PageOf[EntryPublic])
def list_entries(book: str, session: SessionDep, user: CurrentUser,
                 page: PageDep) -> PageOf[EntryPublic]:
    """Entries of a book in sequence order (full-read roles)."""
    require(user, *FULL_READ_ROLES)
    found = service.get_book(session, book)
    total = found.entry_count
    entries = session.scalars(select(Entry).where(Entry.book_id == found.id)
                              .order_by(Entry.sequence).offset(page.offset).limit(page.limit))
    return PageOf[EntryPublic](items=[entry_public(session, e) for e in entries], total=total,
                               limit=page.limit, offset=page.offset)


@router.get("/books/{book}/entries/{entry_id}", response_model=EntryPublic)
def get_entry(book: str, entry_id: Id, session: SessionDep, user: CurrentUser) -> EntryPublic:
    """One entry; a scoped user only if it touches one of its accounts."""
    entry = session.get(Entry, entry_id)
    found = session.scalars(select(Book).where(Book.code == book)).first()
    visible = entry is not None and found is not None and entry.book_id == found.id
    scope = party_ref(user)
    if visible and scope is not None:
        visible = (session.scalar(select(func.count()).select_from(Posting).join(
            Account, Account.id == Posting.account_id).where(
            Posting.entry_id == entry_id, Account.party_ref == scope)) or 0) > 0
    if not visible or entry is None:
        raise NotFound(f"no entry {entry_id} in book {book} that you may see",
                       "ENTRY_NOT_FOUND", "entry_id")
    return entry_public(session, entry)


def _drafts(postings: list[PostingIn]) -> list[PostingDraft]:
    return [PostingDraft(p.account, p.side, p.amount.to_money()) for p in postings]


@router.post("/books/{book}/entries", status_code=201, response_model=EntryPublic)
async def post_entry(book: str, body: EntryCreate, request: Request, session: SessionDep,
                     user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Post (or reserve, with ``pending``) an entry; the Idempotency-Key is the ledger's key."""
    require(user, *WRITERS)

    def work() -> tuple[int, Any]:
        draft = EntryDraft(book, idempotency_key or "", body.kind, body.effective_on,
                           _drafts(body.postings), body.description, body.links)
        entry = service.post_entry(session, draft, pending=body.pending)
        return 201, entry_public(session, entry)
    return await write_in_database(session, run_write, request, session, user, idempotency_key,
                                   body, "ledger.entry.post", work)


@router.post("/books/{book}/entries/{entry_id}/post", status_code=201, response_model=EntryPublic)
def post_pending(book: str, entry_id: Id, body: ResolveRequest, request: Request,
                 session: SessionDep, user: CurrentUser,
                 idempotency_key: IdemKey = None) -> Response:
    """Post a pending entry, in full or for a smaller amount (the rest is released)."""
    require(user, *WRITERS)

    def work() -> tuple[int, Any]:
        entry = service.post_pending(
            session, book, entry_id, idempotency_key or "", body.effective_on,
            amount=body.amount.to_money() if body.amount else None,
            postings=_drafts(body.postings) if body.postings else None,
            description=body.description)
        return 201, entry_public(session, entry)
    return run_write(request, session, user, idempotency_key, body, "ledger.entry.post_pending",
                     work)


@router.post("/books/{book}/entries/{entry_id}/void", status_code=201, response_model=EntryPublic)
def void_pending(book: str, entry_id: Id, body: ReverseRequest, request: Request,
                 session: SessionDep, user: CurrentUser,
                 idempotency_key: IdemKey = None) -> Response:
    """Void a pending entry: release everything it reserved."""
    require(user, *WRITERS)

    def work() -> tuple[int, Any]:
        entry = service.void_pending(session, book, entry_id, idempotency_key or "",
                                     body.effective_on, body.description)
        return 201, entry_public(session, entry)
    return run_write(request, session, user, idempotency_key, body, "ledger.entry.void", work)


@router.post("/books/{book}/entries/{entry_id}/reverse", status_code=201,
             response_model=EntryPublic)
def reverse_entry(book: str, entry_id: Id, body: ReverseRequest, request: Request,
                  session: SessionDep, user: CurrentUser,
                  idempotency_key: IdemKey = None) -> Response:
    """Correct a posted entry with a mirror entry (once)."""
    require(user, *WRITERS)

    def work() -> tuple[int, Any]:
        entry = service.reverse_entry(session, book, entry_id, idempotency_key or "",
                                      body.effective_on, body.description)
        return 201, entry_public(session, entry)
    return run_write(request, session, user, idempotency_key, body, "ledger.entry.reverse", work)


# --------------------------------------------------------------------------- reports

@router.get("/books/{book}/trial-balance", response_model=TrialBalancePublic)
async def trial_balance(book: str, session: SessionDep, user: CurrentUser,
                        as_of: date | None = None) -> FastJSONResponse:
    """Trial balance of a book, now or as of a date (full-read roles)."""
    require(user, *FULL_READ_ROLES)
    return await in_database(session, _trial_balance, session, book, as_of)


def _trial_balance(session: Session, book: str, as_of: date | None) -> FastJSONResponse:
    tb = reports.trial_balance(session, book, as_of)
    money = MoneyJSON.writer(tb.currency)
    # Written straight to JSON (the shape of TrialBalancePublic, checked in the tests): the
    # amounts are integers of minor units, exact by construction, and re-validating a
    # response model of a few hundred amounts costs more than the query behind it.
    return FastJSONResponse({
        "book": tb.book, "as_of": tb.as_of.isoformat() if tb.as_of else None,
        "balanced": tb.balanced, "total_debit": money(tb.total_debit_minor),
        "total_credit": money(tb.total_credit_minor),
        "rows": [{"account": r.code, "name_ja": r.name_ja, "name_en": r.name_en, "type": r.type,
                  "debit": money(r.debit_minor), "credit": money(r.credit_minor),
                  "pending_debits": money(r.debits_pending),
                  "pending_credits": money(r.credits_pending)} for r in tb.rows]})


@router.get("/books/{book}/export", response_class=Response,
            responses=file_responses("text/plain", "The book in beancount syntax"))
def export_book(book: str, session: SessionDep, user: CurrentUser) -> Response:
    """The whole book in beancount syntax, for an auditor's own tools (intermediary,
    auditor)."""
    require(user, "admin", "intermediary", "auditor")
    service.get_book(session, book)
    return Response(export_beancount(session, book), media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{book}.beancount"'})


@router.get("/verify", response_model=VerifyPublic)
def verify_ledger(session: SessionDep, user: CurrentUser, book: str | None = None) -> VerifyPublic:
    """Recompute chains and balances (admin, intermediary, auditor)."""
    require(user, "admin", "intermediary", "auditor")
    report = verify(session, book)
    return VerifyPublic(ok=report.ok, books=report.books,
                        problems=[{"code": p.code, "field": p.field, "message": p.message}
                                  for p in report.problems])
