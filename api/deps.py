"""Request dependencies: the unit of work, the current user, role checks, pagination."""

from __future__ import annotations

import threading
from typing import Annotated, Iterator

from fastapi import Depends, Header, Path, Query, Request
from pydantic import BaseModel
from sqlmodel import Session

from api.db import get_engine
from api.tables import SCOPED_ROLES, User
from api.users import user_for_token
from contracts.store import get_contract
from ledger.errors import Forbidden, NotFound, SibError

FULL_READ_ROLES = ("admin", "intermediary", "auditor", "evaluator")
MAX_ID = 2**63 - 1

# Path parameters the database can hold: a bigger number is a 422, not a crash.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
FiscalYearPath = Annotated[int, Path(ge=1900, le=2200)]


class Unauthorised(SibError):
    status = "unauthorised"


# SQLite has one writer at a time. Queuing this process's writers on a lock, rather than on
# SQLite's busy handler (which sleeps up to 100 ms between tries), keeps writes flowing.
_SQLITE_WRITERS = threading.Lock()


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; writes commit explicitly, anything else is rolled back."""
    read_only = request.method in ("GET", "HEAD")
    engine = get_engine(getattr(request.app.state, "database_url", None), read_only=read_only)
    queue = _SQLITE_WRITERS if engine.dialect.name == "sqlite" and not read_only else None
    if queue is not None:
        queue.acquire()
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.rollback()
    finally:
        if queue is not None:
            queue.release()


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(session: SessionDep,
                     authorization: Annotated[str | None, Header()] = None) -> User:
    """The user of the bearer token, or 401."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorised("send 'Authorization: Bearer <token>' (create one with "
                           "`sib token create`)", "UNAUTHENTICATED", "authorization")
    user = user_for_token(session, authorization.split(" ", 1)[1].strip())
    if user is None:
        raise Unauthorised("the token is unknown or revoked", "UNAUTHENTICATED",
                           "authorization")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


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


def require(user: User, *roles: str) -> None:
    """Refuse (403) unless the user has one of ``roles``."""
    if user.role not in roles:
        raise Forbidden(f"a {user.role} may not do this (allowed: {', '.join(roles)})",
                        "ROLE_FORBIDDEN", "role")


def party_ref(user: User) -> str | None:
    """The ledger party reference a scoped user may see (``lender:yamaguchi``), else None."""
    prefix = SCOPED_ROLES.get(user.role)
    return f"{prefix}:{user.scope}" if prefix else None


class Page(BaseModel):
    limit: int
    offset: int


def pagination(limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(pagination)]
