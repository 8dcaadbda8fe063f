"""Every write goes through :func:`run_write`: idempotency key, one unit of work, audit record.

Same key and same body → the first response, replayed; same key, other body → 409. The
response and the audit record are stored in the same database transaction as the write itself,
so a failure leaves neither half-written. Refused writes are audited too, in a transaction of
their own.

Retries can arrive together (a client timing out and sending again). On PostgreSQL the requests
of one user with one key are queued on a transaction-scoped advisory lock, so the second finds
the first's stored response and replays it; SQLite has one writer at a time anyway. A write that
still collides on a unique constraint with a concurrent one is answered with the stored response
if the other one stored it, else 409 CONCURRENT_WRITE (nothing written; send it again), never a
500.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.audit_log import audit, request_id_of
from api.problems import status_of
from api.tables import IdempotentResponse
from api.users import Caller
from ledger.errors import Conflict, SibError
from ledger.schema import table_of
from ledger.service import utc_now


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (a pydantic model dumped by pydantic itself: much faster
    than walking it with ``jsonable_encoder``, and the same result)."""
    return value.model_dump(mode="json", by_alias=True) if isinstance(value, BaseModel) else \
        jsonable_encoder(value)


def body_hash(method: str, path: str, body: Any) -> str:
    text = json.dumps(_plain(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{text}".encode()).hexdigest()


_IDEMPOTENCY = table_of(IdempotentResponse)
_INSERT_RESPONSE = insert(_IDEMPOTENCY)
_STORED = select(_IDEMPOTENCY.c.body_hash, _IDEMPOTENCY.c.status, _IDEMPOTENCY.c.body).where(
    _IDEMPOTENCY.c.user_id == bindparam("user_id"), _IDEMPOTENCY.c.key == bindparam("key"))


def _queue_same_key(session: Session, user: Caller, key: str) -> None:
    """PostgreSQL: wait for any transaction of this user holding this key (released at its
    commit or rollback), so that a concurrent retry sees the first request's response."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"idempotency:{user.id}:{key}".encode()).digest()
    session.execute(text("SELECT pg_advisory_xact_lock(:lock)"),
                    {"lock": int.from_bytes(digest[:8], "big", signed=True)})


def _stored(session: Session, user: Caller, key: str) -> Any:
    """The stored first response to this user's ``key`` (body_hash, status, body), if any."""
    return session.connection().execute(_STORED, {"user_id": user.id, "key": key}).first()


def _replay(stored: Any, digest: str, key: str, request_id: str) -> Response:
    if stored.body_hash != digest:
        raise Conflict(f"Idempotency-Key {key!r} was already used for a different request",
                       "IDEMPOTENCY_CONFLICT", "Idempotency-Key")
    return Response(stored.body.encode(), status_code=stored.status,
                    media_type="application/json",
                    headers={"Idempotent-Replayed": "true", "X-Request-Id": request_id})


def run_write(request: Request, session: Session, user: Caller, key: str | None, body: Any,
              action: str, work: Callable[[], tuple[int, Any]],
              detail: Callable[[Any], str] | None = None) -> Response:
    """Run ``work`` once per (user, idempotency key); commit; return its JSON response.
    ``detail`` says, from the response's payload, what the audit record should hold beyond
    who, what and when (a bank account's old and new values, masked; a forced close's
    reason)."""
    if not key or len(key) > 200:
        raise SibError("every write needs an Idempotency-Key header (1 to 200 characters)",
                       "IDEMPOTENCY_KEY_REQUIRED", "Idempotency-Key")
    request_id = request_id_of(request)
    path = request.url.path
    digest = body_hash(request.method, path, body)
    _queue_same_key(session, user, key)
    stored = _stored(session, user, key)
    if stored is not None:
        return _replay(stored, digest, key, request_id)
    try:
        try:
            status, payload = work()
            content = json.dumps(_plain(payload), ensure_ascii=False, separators=(",", ":"))
            session.connection().execute(_INSERT_RESPONSE, dict(
                user_id=user.id, key=key, method=request.method, path=path, body_hash=digest,
                status=status, body=content, created_at=utc_now()))
            audit(session, user, action, path, key, status, request_id,
                  detail(payload) if detail is not None else "")
            session.commit()
            request.state.audited = True
        except IntegrityError:
            session.rollback()
            stored = _stored(session, user, key)
            if stored is not None:
                return _replay(stored, digest, key, request_id)
            raise Conflict("this write collided with a concurrent one and was not recorded; "
                           "send it again", "CONCURRENT_WRITE", "Idempotency-Key") from None
    except SibError as error:
        session.rollback()
        audit(session, user, action, path, key, status_of(error), request_id,
              "; ".join(str(p) for p in error.problems))
        session.commit()
        request.state.audited = True
        raise
    except Exception as error:
        # An unexpected failure is a write that did not happen: still one the log records
        # (status 500), in a transaction of its own after the failed one is rolled back.
        session.rollback()
        try:
            audit(session, user, action, path, key, 500, request_id,
                  f"internal error ({type(error).__name__}); nothing was written")
            session.commit()
            request.state.audited = True
        except Exception:  # the database itself is failing: the 500 still goes out
            session.rollback()
        raise
    return Response(content.encode(), status_code=status, media_type="application/json",
                    headers={"X-Request-Id": request_id})
