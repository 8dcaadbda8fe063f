"""Users, tokens and portal passwords: created by ``sib user add`` / ``sib token create`` /
``sib user password``; tokens stored hashed (SHA-256), passwords as salted scrypt keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update
from sqlmodel import Session, col

from api.settings import get_settings
from api.tables import CONTRACT_SCOPED_ROLES, ROLES, SCOPED_ROLES, ApiToken, User
from ledger.errors import Conflict, Forbidden, NotFound, Problem, SibError
from ledger.schema import table_of
from ledger.service import utc_now

MAX_TOKEN_LIFETIME_DAYS = 3650


def hash_token(token: str) -> str:
    """SHA-256 of a token: what the database keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(session: Session, username: str, role: str, scope: str | None = None,
             display_name: str = "") -> User:
    """Create a user; scoped roles (finance officer, lender, investor, evaluator) need their
    party."""
    problems = []
    if role not in ROLES:
        problems.append(Problem("ROLE_UNKNOWN", f"role must be one of {', '.join(ROLES)}",
                                "role"))
    party_kinds = SCOPED_ROLES | CONTRACT_SCOPED_ROLES
    if role in party_kinds and not scope:
        problems.append(Problem("SCOPE_REQUIRED", f"a {role} acts for one "
                                f"{party_kinds[role]} party: give --scope", "scope"))
    if role not in party_kinds and scope:
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


API = "api"
PORTAL_SESSION = "portal_session"
PORTAL_LINK = "portal_link"
TOKEN_PURPOSES = (API, PORTAL_SESSION, PORTAL_LINK)
# What each purpose authenticates: an ``api`` token, a bearer request and a command line act
# (and a portal sign-in, not consumed); a ``portal_session``, the portal's cookie only; a
# ``portal_link``, one portal sign-in (consumed by it, :func:`consume_link`). A token is only
# ever read back for the purposes its reader names (:func:`token_caller`): any other is taken
# for unknown.


def create_token(session: Session, username: str, lifetime_days: int | None = None,
                 now: datetime | None = None, purpose: str = API) -> str:
    """A new token for the user, valid ``lifetime_days`` (default: the settings' token
    lifetime); returned once, stored only as its hash. ``purpose`` says what it is for
    (:data:`TOKEN_PURPOSES`): a portal session is ended when the user's password changes."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}", "USER_NOT_FOUND", "username")
    days = get_settings().token_lifetime_days if lifetime_days is None else lifetime_days
    if not 1 <= days <= MAX_TOKEN_LIFETIME_DAYS:
        raise SibError(f"a token is valid for 1 to {MAX_TOKEN_LIFETIME_DAYS} days, not {days}",
                       "TOKEN_LIFETIME_INVALID", "days")
    token = "sib_" + secrets.token_urlsafe(32)
    moment = now or utc_now()
    if purpose not in TOKEN_PURPOSES:
        raise SibError(f"a token is for {', '.join(TOKEN_PURPOSES)}, not {purpose!r}",
                       "TOKEN_PURPOSE_UNKNOWN", "purpose")
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:12],
                         created_at=moment, expires_at=moment + timedelta(days=days),
                         purpose=purpose))
    session.flush()
    return token


def require_user_role(session: Session, username: str, roles: tuple[str, ...]) -> User:
    """The registered user ``username`` if its role is one of ``roles`` (the command line's
    ``--by`` for an act a second person approves: both people must be users of the
    service)."""
    user = session.scalars(select(User).where(col(User.username) == username)).first()
    if user is None:
        raise NotFound(f"{username!r} is not a user of the service (sib user add)",
                       "USER_NOT_FOUND", "by")
    if user.role not in roles:
        raise Forbidden(f"{username} is a {user.role}; this needs a user who is "
                        f"{' or '.join(roles)}", "ROLE_FORBIDDEN", "by")
    return user


@dataclass(frozen=True)
class TokenRow:
    """A token as ``sib token list`` shows it (never the token itself).

    Attributes:
        state: ``active``, ``expired`` or ``revoked``.
    """

    id: int
    prefix: str
    username: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: str


def _state(expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def list_tokens(session: Session, username: str | None = None,
                now: datetime | None = None) -> list[TokenRow]:
    """Every token (of one user, if given), oldest first."""
    moment = now or utc_now()
    query = (select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
             .order_by(col(ApiToken.id)))
    if username is not None:
        query = query.where(col(User.username) == username)
    return [TokenRow(t.id or 0, t.prefix, u.username, u.role, t.created_at, t.expires_at,
                     t.last_used_at, t.revoked_at, _state(t.expires_at, t.revoked_at, moment))
            for t, u in session.execute(query).tuples()]


def revoke_token(session: Session, token_ref: str, now: datetime | None = None) -> TokenRow:
    """Revoke a token named by its id or its prefix (``sib_AbCdEfGh``); revoking it again
    changes nothing."""
    query = select(ApiToken)
    query = query.where(col(ApiToken.id) == int(token_ref)) if token_ref.isdigit() else \
        query.where(col(ApiToken.prefix) == token_ref)
    found = list(session.scalars(query))
    if not found:
        raise NotFound(f"no token {token_ref!r} (see sib token list)", "TOKEN_NOT_FOUND",
                       "token")
    if len(found) > 1:
        raise SibError(f"{len(found)} tokens start with {token_ref!r}: give the id",
                       "TOKEN_AMBIGUOUS", "token")
    token = found[0]
    if token.revoked_at is None:
        token.revoked_at = now or utc_now()
        session.add(token)
        session.flush()
    return next(t for t in list_tokens(session, now=now) if t.id == token.id)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is making a request: the user behind a bearer token (read in one query).

    Attributes:
        token_purpose: what the token read back is for (:data:`TOKEN_PURPOSES`).
    """

    id: int
    username: str
    role: str
    scope: str | None
    token_id: int = 0
    token_last_used_at: datetime | None = None
    token_purpose: str = API


_USER, _TOKEN = table_of(User), table_of(ApiToken)
_CALLER = (select(_USER.c.id, _USER.c.username, _USER.c.role, _USER.c.scope,
                  _TOKEN.c.id.label("token_id"), _TOKEN.c.expires_at, _TOKEN.c.revoked_at,
                  _TOKEN.c.last_used_at, _TOKEN.c.purpose)
           .select_from(_TOKEN.join(_USER, _USER.c.id == _TOKEN.c.user_id))
           .where(_TOKEN.c.token_hash == bindparam("digest")))
_TOUCH = (update(_TOKEN).where(_TOKEN.c.id == bindparam("token_id"))
          .values(last_used_at=bindparam("at")))
# A token's last use is written at most this often (a write on every request would cost more
# than the request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_caller(db: Session | Connection, token: str, now: datetime | None = None,
                 purposes: tuple[str, ...] = (API,)) -> tuple[Caller | None, str]:
    """The user a token belongs to and the token's state (``active``, ``expired``,
    ``revoked``, or ``unknown`` with no user). A token whose purpose is not one of
    ``purposes`` (by default an API token only: a bearer token) is ``unknown``: a portal
    session or a one-time link is no bearer token."""
    connection = db.connection() if isinstance(db, Session) else db
    row = connection.execute(_CALLER, {"digest": hash_token(token)}).first()
    if row is None or row.purpose not in purposes:
        return None, "unknown"
    state = _state(_aware(row.expires_at), row.revoked_at, now or utc_now())
    return Caller(row.id, row.username, row.role, row.scope, row.token_id,
                  _aware(row.last_used_at), row.purpose), state


def user_for_token(db: Session | Connection, token: str) -> Caller | None:
    """The user an API token belongs to, if the token is known, unexpired and not revoked
    (what signs an act at the command line: never a portal session nor a one-time link)."""
    caller, state = token_caller(db, token, purposes=(API,))
    return caller if state == "active" else None


def consume_link(session: Session, caller: Caller, now: datetime | None = None) -> bool:
    """Revoke the one-time link ``caller`` was read from, if it is still unrevoked; whether
    it was (False: a concurrent sign-in used it first, or it is no link). One conditional
    UPDATE, in the caller's transaction: of two sign-ins racing with the same link, the
    second finds it revoked (PostgreSQL re-reads the row once the first commits; SQLite has
    one writer at a time). Does not commit."""
    used = session.execute(update(ApiToken).where(
        col(ApiToken.id) == caller.token_id, col(ApiToken.purpose) == PORTAL_LINK,
        col(ApiToken.revoked_at).is_(None)).values(revoked_at=now or utc_now()))
    return int(used.rowcount) == 1  # type: ignore[attr-defined]


def needs_touch(caller: Caller, now: datetime) -> bool:
    """Whether the token's last-used time is older than its resolution."""
    last = caller.token_last_used_at
    return last is None or now - last >= LAST_USED_RESOLUTION


def touch_token(connection: Connection, caller: Caller, now: datetime) -> None:
    """Record that the caller's token was used ``now``."""
    connection.execute(_TOUCH, {"token_id": caller.token_id, "at": now})


def _aware(moment: datetime | None) -> datetime | None:
    """A timestamp read back as UTC (SQLite keeps no zone)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None \
        else moment


EVALUATOR_NOT_OF_CONTRACT = "EVALUATOR_NOT_OF_CONTRACT"


def require_evaluator_of(session: Session, user: Caller | User,
                         contract_ids: Iterable[str]) -> None:
    """An evaluator acts only on the contracts naming its party as their evaluator (the API
    and the command line alike); other roles pass."""
    from contracts.store import get_contract
    if user.role != "evaluator":
        return
    for contract_id in sorted(set(contract_ids)):
        contract = get_contract(session, contract_id)
        if user.scope not in {p.id for p in contract.parties_with_role("evaluator")}:
            raise Forbidden(f"{user.username} evaluates for {user.scope}, which is not an "
                            f"evaluator of {contract_id}: its results are submitted and audited "
                            "by its own evaluator", EVALUATOR_NOT_OF_CONTRACT, "contract")


# --------------------------------------------------------------------------- passwords

# scrypt at N = 2^15, r = 8, p = 3: one of the OWASP Password Storage Cheat Sheet's equivalent
# minimum settings (32 MiB of memory; about 0.24 s on our machines), a 16-byte random salt and
# a 32-byte key. The parameters are kept with each key, so raising them later leaves the keys
# already stored readable.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 3
SCRYPT_KEY_BYTES, SALT_BYTES = 32, 16
SCRYPT_MAXMEM = 64 * 1024 * 1024
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024
PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"
PASSWORD_TOO_LONG = "PASSWORD_TOO_LONG"
PASSWORD_CONTAINS_USERNAME = "PASSWORD_CONTAINS_USERNAME"
PASSWORDS_DIFFER = "PASSWORDS_DIFFER"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=max(SCRYPT_MAXMEM, 256 * r * n), dklen=length)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$key`` (salt and key in base64) of ``password``, with a fresh random
    salt unless one is given."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def password_matches(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (compared in constant time).
    With nothing stored, a key is still derived, so that a user without a password (or who
    does not exist) takes as long to refuse as one with a wrong password."""
    try:
        scheme, n, r, p, salt, key = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = base64.b64decode(key, validate=True)
        derived = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r),
                          int(p), len(expected))
    except ValueError:
        _scrypt(password, b"\0" * SALT_BYTES, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_BYTES)
        return False
    return hmac.compare_digest(derived, expected)


def check_new_password(username: str, password: str, repeated: str | None = None) -> None:
    """Refuse a password shorter than :data:`PASSWORD_MIN_LENGTH` characters, absurdly long,
    containing the user name (in any case), or not typed the same twice."""
    problems = []
    if repeated is not None and not hmac.compare_digest(password.encode(), repeated.encode()):
        problems.append(Problem(PASSWORDS_DIFFER, "the two passwords typed differ",
                                "password"))
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(Problem(PASSWORD_TOO_SHORT, f"a password has at least "
                                f"{PASSWORD_MIN_LENGTH} characters (this one has "
                                f"{len(password)})", "password"))
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(Problem(PASSWORD_TOO_LONG, f"a password has at most "
                                f"{PASSWORD_MAX_LENGTH} characters", "password"))
    if username.strip() and username.strip().casefold() in password.casefold():
        problems.append(Problem(PASSWORD_CONTAINS_USERNAME, "a password must not contain the "
                                "user name", "password"))
    if problems:
        raise SibError(problems)


def set_password(session: Session, username: str, password: str,
                 repeated: str | None = None, now: datetime | None = None) -> int:
    """Set ``username``'s portal password (checked by :func:`check_new_password`) and end
    every portal session the user has open, and every one-time link not yet used
    (:func:`end_portal_sessions`), so that whoever knew the old one is signed out. Returns how
    many sessions were ended. Does not commit."""
    user = session.scalars(select(User).where(col(User.username) == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}", "USER_NOT_FOUND", "username")
    check_new_password(username, password, repeated)
    moment = now or utc_now()
    user.password_hash, user.password_set_at = hash_password(password), moment
    session.add(user)
    ended = end_portal_sessions(session, user, moment)
    session.flush()
    return ended


def end_portal_sessions(session: Session, user: User, now: datetime | None = None) -> int:
    """Revoke the user's open portal sessions and its unused one-time links (its API tokens
    are left alone); how many sessions were ended. Does not commit."""
    moment = now or utc_now()
    ended = session.execute(update(ApiToken).where(
        col(ApiToken.user_id) == user.id, col(ApiToken.purpose) == PORTAL_SESSION,
        col(ApiToken.revoked_at).is_(None)).values(revoked_at=moment))
    session.execute(update(ApiToken).where(
        col(ApiToken.user_id) == user.id, col(ApiToken.purpose) == PORTAL_LINK,
        col(ApiToken.revoked_at).is_(None)).values(revoked_at=moment))
    return int(ended.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UserRow:
    """A user as an administrator's listing shows it (never the password)."""

    username: str
    role: str
    scope: str | None
    display_name: str
    created_at: datetime
    password_set_at: datetime | None


def list_users(session: Session) -> list[UserRow]:
    """Every user, by name."""
    return [UserRow(u.username, u.role, u.scope, u.display_name, u.created_at,
                    _aware(u.password_set_at))
            for u in session.scalars(select(User).order_by(col(User.username)))]


def user_with_password(session: Session, username: str, password: str) -> User | None:
    """The user ``username`` if ``password`` is its password, else None (no such user, no
    password set, or another password: all take the same time)."""
    user = session.scalars(select(User).where(col(User.username) == username)).first()
    matches = password_matches(password, user.password_hash if user is not None else None)
    return user if user is not None and matches else None
