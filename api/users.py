"""Users and tokens: created by ``sib user add`` / ``sib token create``; tokens stored hashed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select
from sqlmodel import Session

from api.tables import ROLES, SCOPED_ROLES, ApiToken, User
from ledger.errors import Conflict, NotFound, Problem, SibError
from ledger.schema import table_of
from ledger.service import utc_now


def hash_token(token: str) -> str:
    """SHA-256 of a token: what the database keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(session: Session, username: str, role: str, scope: str | None = None,
             display_name: str = "") -> User:
    """Create a user; scoped roles (finance officer, lender, investor) need their party."""
    problems = []
    if role not in ROLES:
        problems.append(Problem("ROLE_UNKNOWN", f"role must be one of {', '.join(ROLES)}",
                                "role"))
    if role in SCOPED_ROLES and not scope:
        problems.append(Problem("SCOPE_REQUIRED", f"a {role} acts for one "
                                f"{SCOPED_ROLES[role]}: give --scope", "scope"))
    if role not in SCOPED_ROLES and scope:
        problems.append(Problem("SCOPE_NOT_ALLOWED", f"a {role} is not bound to a party",
                                "scope"))
    if problems:
        raise SibError(problems)
    if session.scalars(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists", "USER_EXISTS", "username")
    user = User(username=username, role=role, scope=scope, display_name=display_name,
                created_at=utc_now())
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, username: str) -> str:
    """A new token for the user; returned once, stored only as its hash."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}", "USER_NOT_FOUND", "username")
    token = "sib_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:12],
                         created_at=utc_now()))
    session.flush()
    return token


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is making a request: the user behind a bearer token (read in one query)."""

    id: int
    username: str
    role: str
    scope: str | None


_USER, _TOKEN = table_of(User), table_of(ApiToken)
_CALLER = (select(_USER.c.id, _USER.c.username, _USER.c.role, _USER.c.scope)
           .select_from(_TOKEN.join(_USER, _USER.c.id == _TOKEN.c.user_id))
           .where(_TOKEN.c.token_hash == bindparam("digest"), _TOKEN.c.revoked_at.is_(None)))


def user_for_token(db: Session | Connection, token: str) -> Caller | None:
    """The user a bearer token belongs to, if the token is known and not revoked."""
    connection = db.connection() if isinstance(db, Session) else db
    row = connection.execute(_CALLER, {"digest": hash_token(token)}).first()
    return Caller(row.id, row.username, row.role, row.scope) if row is not None else None
