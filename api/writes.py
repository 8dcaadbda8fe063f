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
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.tables import AuditRecord, IdempotentResponse, User
from ledger.errors import Conflict, SibError


def _now() -> datetime:
    return datetime.now(timezone.utc)


def body_hash(method: str, path: str, body: Any) -> str:
    text = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{text}".encode()).hexdigest()


def audit(session: Session, user: User, action: str, target: str, key: str, status: int,
          request_id: str, detail: str = "") -> None:
    session.add(AuditRecord(at=_now(), username=user.username, role=user.role, action=action,
                            target=target, request_id=request_id, idempotency_key=key,
                            status=status, detail=detail[:2000]))


def _queue_same_key(session: Session, user: User, key: str) -> None:
    """PostgreSQL: wait for any transaction of this user holding this key (released at its
    commit or rollback), so that a concurrent retry sees the first request's response."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"idempotency:{user.id}:{key}".encode()).digest()
    session.execute(text("SELECT pg_advisory_xact_lock(:lock)"),
                    {"lock": int.from_bytes(digest[:8], "big", signed=True)})


def _stored(session: Session, user: User, key: str) -> IdempotentResponse | None:
    return session.scalars(select(IdempotentResponse).where(
        IdempotentResponse.user_id == user.id, IdempotentResponse.key == key)).first()


def _replay(stored: IdempotentResponse, digest: str, key: str,
            request_id: str) -> JSONResponse:
    if stored.body_hash != digest:
        raise Conflict(f"Idempotency-Key {key!r} was already used for a different request",
                       "IDEMPOTENCY_CONFLICT", "Idempotency-Key")
    return JSONResponse(json.loads(stored.body), status_code=stored.status,
                        headers={"Idempotent-Replayed": "true", "X-Request-Id": request_id})


def run_write(request: Request, session: Session, user: User, key: str | None, body: Any,
              action: str, work: Callable[[], tuple[int, Any]]) -> JSONResponse:
    """Run ``work`` once per (user, idempotency key); commit; return its JSON response."""
    if not key or len(key) > 200:
        raise SibError("every write needs an Idempotency-Key header (1 to 200 characters)",
                       "IDEMPOTENCY_KEY_REQUIRED", "Idempotency-Key")
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    path = request.url.path
    digest = body_hash(request.method, path, body)
    _queue_same_key(session, user, key)
    stored = _stored(session, user, key)
    if stored is not None:
        return _replay(stored, digest, key, request_id)
    try:
        try:
            status, payload = work()
            encoded = jsonable_encoder(payload)
            session.add(IdempotentResponse(user_id=user.id, key=key, method=request.method,
                                           path=path, body_hash=digest, status=status,
                                           body=json.dumps(encoded, ensure_ascii=False),
                                           created_at=_now()))
            audit(session, user, action, path, key, status, request_id)
            session.commit()
        except IntegrityError:
            session.rollback()
            stored = _stored(session, user, key)
            if stored is not None:
                return _replay(stored, digest, key, request_id)
            raise Conflict("this write collided with a concurrent one and was not recorded; "
                           "send it again", "CONCURRENT_WRITE", "Idempotency-Key") from None
    except SibError as error:
        session.rollback()
        audit(session, user, action, path, key, 0, request_id,
              "; ".join(str(p) for p in error.problems))
        session.commit()
        raise
    return JSONResponse(encoded, status_code=status, headers={"X-Request-Id": request_id})
