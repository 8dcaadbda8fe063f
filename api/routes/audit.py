"""The audit log: who did what, when (auditor and admin)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from api.deps import CurrentUser, PageDep, SessionDep, require
from api.schemas import AuditPublic, PageOf
from api.tables import AuditRecord

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=PageOf[AuditPublic])
def audit_log(session: SessionDep, user: CurrentUser, page: PageDep) -> PageOf[AuditPublic]:
    """Every write attempt, newest first."""
    require(user, "auditor", "admin")
    total = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
    rows = session.scalars(select(AuditRecord).order_by(AuditRecord.id.desc())
                           .offset(page.offset).limit(page.limit))
    return PageOf[AuditPublic](items=[AuditPublic(
        at=r.at.isoformat(), username=r.username, role=r.role, action=r.action, target=r.target,
        request_id=r.request_id, idempotency_key=r.idempotency_key, status=r.status,
        detail=r.detail) for r in rows], total=total, limit=page.limit, offset=page.offset)
