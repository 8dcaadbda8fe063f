"""The audit log: who did what, when — one row per write request, refused ones too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import insert
from sqlmodel import Session

from api.db import unit_of_work
from api.tables import AuditRecord
from api.users import Caller
from ledger.errors import Problem
from ledger.schema import table_of

_INSERT_AUDIT = insert(table_of(AuditRecord))


def audit(session: Session, user: Caller, action: str, target: str, key: str, status: int,
          request_id: str, detail: str = "") -> None:
    """One row of the log, in the session's transaction (with the write it records)."""
    session.connection().execute(_INSERT_AUDIT, dict(
        at=datetime.now(UTC), username=user.username, role=user.role, action=action,
        target=target, request_id=request_id, idempotency_key=key, status=status,
        detail=detail[:2000]))


WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
REQUEST_ID_MAX = 64
"""The audit log keeps a caller's X-Request-Id up to this length (its column's)."""


def request_id_of(request: Request) -> str:
    """The caller's X-Request-Id as the log can hold it: printable ASCII, at most 64
    characters (a longer one is cut, never a reason to lose the audit record); a fresh id
    when none is given."""
    given = request.headers.get("X-Request-Id", "")
    kept = "".join(ch for ch in given if " " < ch <= "~")[:REQUEST_ID_MAX]
    return kept or uuid.uuid4().hex


def audit_refusal(request: Request, status: int, problems: list[Problem]) -> None:
    """Record a write refused before it reached :func:`run_write` (a role that may not do it,
    another party's object, an invalid body, a reused key), in a transaction of its own.

    Only for a caller whose token was accepted: a request without a valid token names nobody,
    and recording each would let anyone fill the log.
    """
    caller = getattr(request.state, "caller", None)
    if (request.method not in WRITE_METHODS or caller is None
            or getattr(request.state, "audited", False)):
        return
    route = request.scope.get("route")
    action = f"{request.method} {getattr(route, 'path', request.url.path)}"
    with unit_of_work(getattr(request.app.state, "database_url", None)) as session:
        audit(session, caller, action, request.url.path,
              request.headers.get("Idempotency-Key", "")[:200], status,
              request_id_of(request),
              "; ".join(str(p) for p in problems))
    request.state.audited = True
