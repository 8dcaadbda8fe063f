"""Request dependencies: the unit of work, the current user, role checks, pagination."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api.db import SQLITE_NO_WAIT, get_engine
from api.security import FailedAuthLimiter
from api.tables import SCOPED_ROLES
from api.users import API, Caller, needs_touch, token_caller, touch_token
from contracts.model import PAYER_NOT_FOUND, Contract
from contracts.store import get_contract
from ledger.errors import Forbidden, NotFound, SibError
from ledger.service import utc_now

FULL_READ_ROLES = ("admin", "intermediary", "auditor", "evaluator")
MAX_ID = 2**63 - 1

# Path parameters the database can hold: a bigger number is a 422, not a crash.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
FiscalYearPath = Annotated[int, Path(ge=1900, le=2200)]


class Unauthorised(SibError):
    status = "unauthorised"


# Dependencies are async and do their short database calls on the event loop when the database
# is SQLite: it runs in this process, a call takes microseconds, and handing each dependency to
# the thread pool (and back) costs more than the call itself. On PostgreSQL a call is a network
# round trip, so it goes to the thread pool and the loop keeps serving other requests. Most
# endpoints are plain functions and run in the thread pool; the busiest (the trial balance,
# posting an entry) are async and use in_database / write_in_database below.

# SQLite has one writer at a time. Queuing this process's writers on a lock, rather than on
# SQLite's busy handler (which sleeps up to 100 ms between tries), keeps writes flowing. An
# asyncio lock (one per event loop): a waiting request holds no thread and can be cancelled.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = \
    weakref.WeakKeyDictionary()


def _writers_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _SQLITE_WRITERS.get(loop)
    if lock is None:
        lock = _SQLITE_WRITERS[loop] = asyncio.Lock()
    return lock


def _database_url(request: Request) -> str | None:
    return getattr(request.app.state, "database_url", None)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; writes commit explicitly, anything else is rolled back."""
    read_only = request.method in ("GET", "HEAD")
    engine = get_engine(_database_url(request), read_only=read_only)
    in_process = engine.dialect.name == "sqlite"
    queue = _writers_lock() if in_process and not read_only else None
    async with queue if queue is not None else contextlib.nullcontext():
        session = Session(engine, expire_on_commit=False)
        try:
            yield session
        finally:  # closing rolls back whatever was not committed
            if in_process:
                session.close()
            else:
                await run_in_threadpool(session.close)


SessionDep = Annotated[Session, Depends(get_session)]

T = TypeVar("T")


async def in_database(session: Session, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, a short piece of database work for an async endpoint: on the event loop
    when the database is SQLite, in the thread pool on PostgreSQL (see above)."""
    if session.get_bind().dialect.name == "sqlite":
        return call(*args)
    return await run_in_threadpool(call, *args)


async def write_in_database(session: Session, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, short work of a write request. On SQLite, on the event loop once the
    write transaction is open, and it is opened there only if the database's write lock can be
    had at once (this process's writers are already queued on the lock above, so it usually
    can); while another process is writing, in the thread pool, where waiting for it holds up
    nobody else. On PostgreSQL, in the thread pool."""
    if session.get_bind().dialect.name == "sqlite" and (session.in_transaction()
                                                         or _begin_at_once(session)):
        return call(*args)
    return await run_in_threadpool(call, *args)


def _begin_at_once(session: Session) -> bool:
    """Open the session's SQLite write transaction if nobody else holds the write lock."""
    try:
        session.connection(execution_options={SQLITE_NO_WAIT: True})
    except OperationalError:  # "database is locked": another process is writing
        session.close()
        return False
    return True


_REFUSED_TOKEN = {
    "unknown": ("the token is unknown", "UNAUTHENTICATED"),
    "expired": ("the token has expired: ask for a new one (`sib token create`)",
                "TOKEN_EXPIRED"),
    "revoked": ("the token was revoked: ask for a new one (`sib token create`)",
                "TOKEN_REVOKED"),
}


async def get_current_user(request: Request, session: SessionDep,
                           authorization: Annotated[str | None, Header()] = None) -> Caller:
    """The user of the bearer token, or 401 (429 for an address that failed too often).
    Read in the request's own transaction: for a write, the token is checked in the same
    transaction that writes. Only an API token is a bearer token: a portal session (the
    portal's cookie; its pages call the routes in-process with the cookie's user, not through
    this) or a one-time link is refused as unknown."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorised("send 'Authorization: Bearer <token>' (create one with "
                           "`sib token create`)", "UNAUTHENTICATED", "authorization")
    client = request.client.host if request.client else "unknown"
    limiter: FailedAuthLimiter | None = getattr(request.app.state, "auth_limiter", None)
    if limiter is not None:
        limiter.check(client)
    token = authorization.split(" ", 1)[1].strip()
    now = utc_now()
    read_only = request.method in ("GET", "HEAD")
    run = in_database if read_only else write_in_database
    user, state = await run(session, token_caller, session, token, now, (API,))
    if user is None or state != "active":
        if limiter is not None:
            limiter.failed(client)
        message, code = _REFUSED_TOKEN[state]
        raise Unauthorised(message, code, "authorization")
    if needs_touch(user, now):
        await _record_use(request, session, user, now, read_only)
    request.state.caller = user  # for the audit record of a write refused later on
    return user


async def _record_use(request: Request, session: Session, user: Caller, now: Any,
                      read_only: bool) -> None:
    """The token's last-used time: in a write's own transaction; for a read (whose session
    writes nothing), in a short transaction of its own, skipped if the database is busy
    writing (the time is kept to the minute, the next request records it)."""
    if not read_only:
        await write_in_database(session, lambda: touch_token(session.connection(), user, now))
        return
    engine = get_engine(_database_url(request))

    def touch_apart() -> None:
        try:
            with engine.connect().execution_options(**{SQLITE_NO_WAIT: True}) as connection, \
                    connection.begin():
                touch_token(connection, user, now)
        except OperationalError:
            return
    await in_database(session, touch_apart)


CurrentUser = Annotated[Caller, Depends(get_current_user)]


def contract_year(contract_id: str, fiscal_year: FiscalYearPath, session: SessionDep,
                  user: CurrentUser) -> int:
    """The ``fiscal_year`` of a ``/contracts/{contract_id}/years/{fiscal_year}`` path, if the
    contract's term covers it; 404 otherwise, as for any other object that does not exist.

    Depends on the current user so that a request without a token is still a 401.
    """
    contract = get_contract(session, contract_id)
    if not contract.first_fiscal_year <= fiscal_year <= contract.last_fiscal_year:
        raise NotFound(f"{contract_id} runs from FY{contract.first_fiscal_year} to "
                       f"FY{contract.last_fiscal_year}; it has no FY{fiscal_year}",
                       "FISCAL_YEAR_OUTSIDE_TERM", "fiscal_year")
    return fiscal_year


ContractYear = Annotated[int, Depends(contract_year)]


def require(user: Caller, *roles: str) -> None:
    """Refuse (403) unless the user has one of ``roles``."""
    if user.role not in roles:
        raise Forbidden(f"a {user.role} may not do this (allowed: {', '.join(roles)})",
                        "ROLE_FORBIDDEN", "role")


def party_ref(user: Caller) -> str | None:
    """The ledger party reference a scoped user may see (``lender:yamaguchi``), else None."""
    prefix = SCOPED_ROLES.get(user.role)
    return f"{prefix}:{user.scope}" if prefix else None


def payers_visible_to(user: Caller, contract: Contract) -> frozenset[str]:
    """The payers of ``contract`` whose share (債務負担行為 table), payment notices and KPI
    results ``user`` may read — the one rule every route and portal page asks.

    A finance officer reads its own municipality's; the lead payer's (the first of the
    contract's payers) reads every payer's where the contract grants it
    (``lead_payer_sees_all_payers``). Reading only: acting on a payer's notice stays with
    its own finance officer (:func:`require_own_payer`). The roles that read a whole contract
    read every payer (a route still asks whether the role may call it at all); a bank or an
    investor, none."""
    everyone = frozenset(contract.payer_ids)
    if user.role in FULL_READ_ROLES:
        return everyone
    if user.role != "finance_officer" or user.scope not in everyone:
        return frozenset()
    if contract.lead_payer_sees_all_payers and user.scope == contract.payer_ids[0]:
        return everyone
    return frozenset({user.scope})


def require_visible_payer(user: Caller, contract: Contract, payer: str,
                          code: str = PAYER_NOT_FOUND, field: str = "payer") -> None:
    """404 unless ``payer`` is one of :func:`payers_visible_to` the user: another party's
    payer answers exactly as one that does not exist."""
    if payer not in payers_visible_to(user, contract):
        raise NotFound(f"no payer {payer!r} in {contract.id} that you may see", code, field)


def require_own_payer(user: Caller, contract_id: str, payer: str) -> None:
    """A finance officer acts — inspects and approves a notice, takes the Zengin file that
    pays it, records a donation — only for its own municipality, whatever it may read:
    another payer answers 404, as one that does not exist. Other roles pass (the route asks
    whether the role may act at all)."""
    if user.role == "finance_officer" and user.scope != payer:
        raise NotFound(f"no payer {payer!r} in {contract_id} that you may act for",
                       PAYER_NOT_FOUND, "payer")


class Page(BaseModel):
    limit: int
    offset: int


async def pagination(limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(pagination)]
