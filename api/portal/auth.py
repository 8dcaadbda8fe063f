"""Sign-in, sessions and CSRF for the portal.

A session is a token of the user (:func:`api.users.create_token`, one day long) marked a portal
session: the cookie holds it, :func:`api.users.token_caller` reads it back (as a portal session
only: it is no bearer token of the API, nor a sign-in code), and signing out revokes it
(:func:`api.users.revoke_token`), so an administrator sees and ends portal sessions with ``sib
token list`` / ``sib token revoke``. One signs in with one's user name and password (``sib user
password USER``, or an administrator's page of users), with a one-time link an administrator
made (``sib portal link USER``: a token marked a portal link, consumed — revoked — by its first
use, whatever the form says, in the transaction that opens the session) or with one of one's
own API tokens (not consumed). Setting the user's password ends its sessions and its unused
links. A failed sign-in (a used link among them) counts against the address's limit; one
naming a user who exists is recorded in the audit log (``portal.signin.refused``), one naming
nobody is not (it would let anyone fill the log). The CSRF token of a form is an
HMAC of the session token, so it needs no storage and a page of another site cannot know it;
the sign-in form, before any session, uses a random cookie it must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlmodel import Session, col

from api.audit_log import audit, request_id_of
from api.deps import SessionDep
from api.security import FailedAuthLimiter
from api.tables import User
from api.users import (
    API,
    PORTAL_LINK,
    PORTAL_SESSION,
    Caller,
    consume_link,
    create_token,
    revoke_token,
    token_caller,
    user_with_password,
)
from ledger.errors import Forbidden, SibError
from ledger.service import utc_now

SESSION_COOKIE = "sib_session"
PRE_SESSION_COOKIE = "sib_pre"
LANG_COOKIE = "sib_lang"
SESSION_DAYS = 1
CSRF_FIELD = "csrf"
LINK_LIFETIME = timedelta(days=1)
CSRF_REFUSED = "CSRF_REFUSED"
# The tokens a sign-in form takes as its code: one's own API token, or a one-time link
# (consumed). A portal session is not a code (it is the cookie).
SIGN_IN_PURPOSES = (API, PORTAL_LINK)


class SignInRequired(SibError):
    """No valid session: the page answers with the sign-in page (303)."""

    status = "unauthorised"


def csrf_token(session_token: str) -> str:
    """The CSRF token of every form of a session."""
    return hmac.new(session_token.encode(), b"sib-portal-csrf", hashlib.sha256).hexdigest()


def check_csrf(expected: str, given: str | None) -> None:
    """Refuse (403 ``CSRF_REFUSED``) a form without the session's CSRF token."""
    if not given or not hmac.compare_digest(expected, given):
        raise Forbidden("this form was not sent from the portal's own page (its CSRF token is "
                        "missing or wrong): reload the page and send it again", CSRF_REFUSED,
                        CSRF_FIELD)


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


def _limiter(request: Request) -> FailedAuthLimiter | None:
    return getattr(request.app.state, "auth_limiter", None)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def caller_of_token(session: Session, token: str, purposes: tuple[str, ...]) -> Caller | None:
    """The user whose active token ``token`` is, if it is for one of ``purposes``, else
    None."""
    caller, state = token_caller(session, token, utc_now(), purposes)
    return caller if caller is not None and state == "active" else None


def _as_caller(user: User) -> Caller:
    return Caller(user.id or 0, user.username, user.role, user.scope)


def sign_in(request: Request, session: Session, secret: str,
            username: str | None) -> tuple[Caller, str]:
    """Check ``secret`` — ``username``'s password, or a token of :data:`SIGN_IN_PURPOSES`
    (``username``'s, when one is given) — open a session (a new token of a day, marked a
    portal session) and record the sign-in. A one-time link (a token stored as one: never
    what the form says) is revoked in the same transaction; used again, it is refused as an
    unknown code. Returns the user and the session token. Commits."""
    limiter = _limiter(request)
    client = _client(request)
    if limiter is not None:
        limiter.check(client)
    name = (username or "").strip()
    caller: Caller | None = None
    how = "token"
    if name:
        user = user_with_password(session, name, secret)
        if user is not None:
            caller, how = _as_caller(user), "password"
    if caller is None:
        caller = caller_of_token(session, secret.strip(), SIGN_IN_PURPOSES)
        if caller is not None and name and caller.username != name:
            caller = None
        if caller is not None and caller.token_purpose == PORTAL_LINK:
            how = "one-time link"
            if not consume_link(session, caller):  # a concurrent sign-in used it first
                caller = None
    if caller is None:
        if limiter is not None:
            limiter.failed(client)
        _record_refusal(request, session, name)
        raise Forbidden("this user name and password, sign-in link or code is unknown, used, "
                        "expired or not yours: try again, or ask an administrator for a new "
                        "link", "SIGN_IN_REFUSED", "code")
    session_token = create_token(session, caller.username, SESSION_DAYS,
                                 purpose=PORTAL_SESSION)
    audit(session, caller, "portal.signin", request.url.path, "", 200, request_id_of(request),
          how)
    session.commit()
    return caller, session_token


def _record_refusal(request: Request, session: Session, username: str) -> None:
    """A refused sign-in naming a user who exists, in the audit log (committed now: the
    refusal rolls the request back)."""
    user = session.scalars(select(User).where(col(User.username) == username)).first() \
        if username else None
    if user is None:
        return
    audit(session, _as_caller(user), "portal.signin.refused", request.url.path, "", 403,
          request_id_of(request), "wrong password or code")
    session.commit()


def sign_out(request: Request, session: Session, caller: Caller) -> None:
    """Revoke the session's token and record it. Commits."""
    revoke_token(session, str(caller.token_id))
    audit(session, caller, "portal.signout", request.url.path, "", 200, request_id_of(request))
    session.commit()


def portal_user(request: Request, session: SessionDep) -> Caller:
    """The signed-in user of the request (its session cookie), or :class:`SignInRequired`."""
    token = request.cookies.get(SESSION_COOKIE)
    caller = caller_of_token(session, token, (PORTAL_SESSION,)) if token else None
    if caller is None or token is None:
        raise SignInRequired("sign in first", "SIGN_IN_REQUIRED", "session")
    request.state.caller = caller
    request.state.csrf = csrf_token(token)
    return caller


PortalUser = Annotated[Caller, Depends(portal_user)]


def link_token(session: Session, username: str) -> str:
    """A one-time sign-in token for ``username`` (valid a day, revoked by its first use)."""
    return create_token(session, username, int(LINK_LIFETIME.days), purpose=PORTAL_LINK)
