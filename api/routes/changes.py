"""Four eyes over HTTP: change requests (a party's bank account, a closed year's reopening)
that another admin or intermediary approves before they take effect.

The same services as ``sib bank-account set``, ``sib period reopen`` and ``sib change
list|approve|reject``. Listings and the audit log show account numbers masked.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ContractYear, CurrentUser, Id, PageDep, SessionDep, require
from api.schemas import PageOf
from api.writes import run_write
from settlement.change_requests import (
    Act,
    account_summary,
    approve_change,
    change_requests,
    masked,
    reject_change,
    request_period_reopen,
)
from settlement.tables import CHANGE_STATES, ChangeRequest

router = APIRouter(tags=["four eyes"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
DECIDERS = ("admin", "intermediary")
READERS = ("admin", "intermediary", "auditor")


class ChangeRequestPublic(BaseModel):
    """A change request; bank-account numbers masked."""

    id: int
    act: str
    contract: str
    subject: str
    state: str
    proposed: dict[str, Any]
    previous: dict[str, Any] | None
    reason: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str
    summary: str = Field(description="what changes, in a sentence (account numbers masked)")


class ReopenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class RejectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


def _summary(row: ChangeRequest, previous: dict[str, Any] | None,
             proposed: dict[str, Any]) -> str:
    if row.act == Act.BANK_ACCOUNT_CHANGE.value:
        what = (f"{row.subject}'s bank account: {account_summary(previous or {})} -> "
                f"{account_summary(proposed)}")
    elif row.act == Act.EARLY_TERMINATION.value:
        what = (f"end {row.contract_id} after FY{proposed['last_fiscal_year']} instead of "
                f"FY{(previous or {}).get('last_fiscal_year')} (terms from "
                f"FY{proposed['effective_from']}): {row.reason}")
    else:
        what = f"reopen {row.subject} of {row.contract_id}: {row.reason}"
    decided = f", {row.state} by {row.decided_by}" if row.decided_by else ""
    return f"change request {row.id} ({row.act}) {what}; requested by {row.requested_by}" \
           f"{decided}"


def change_public(row: ChangeRequest) -> ChangeRequestPublic:
    """The request as the service shows it: account numbers masked."""
    previous = json.loads(row.previous) if row.previous else None
    proposed = json.loads(row.proposed)
    # An amendment's full document is not repeated in listings (GET /contracts/{id} shows
    # the terms once approved).
    shown = {k: v for k, v in proposed.items() if k != "document"}
    return ChangeRequestPublic(
        id=row.id or 0, act=row.act, contract=row.contract_id, subject=row.subject,
        state=row.state, proposed=masked(shown), previous=masked(previous) if previous
        else None, reason=row.reason, requested_by=row.requested_by,
        requested_at=row.requested_at, decided_by=row.decided_by, decided_at=row.decided_at,
        decision_reason=row.decision_reason, summary=_summary(row, previous, proposed))


def change_detail(payload: Any) -> str:
    """The audit record's detail of a change request's step: its summary (masked)."""
    return str(payload.summary)


@router.get("/change-requests", response_model=PageOf[ChangeRequestPublic])
def list_change_requests(session: SessionDep, user: CurrentUser, page: PageDep,
                         contract: str | None = None,
                         state: Annotated[str | None, Query(
                             pattern="^(" + "|".join(CHANGE_STATES) + ")$")] = None,
                         ) -> PageOf[ChangeRequestPublic]:
    """Change requests, newest first (admin, intermediary, auditor)."""
    require(user, *READERS)
    rows = change_requests(session, contract, state)
    return PageOf[ChangeRequestPublic](
        items=[change_public(r) for r in rows[page.offset:page.offset + page.limit]],
        total=len(rows), limit=page.limit, offset=page.offset)


@router.post("/change-requests/{request_id}/approval", response_model=ChangeRequestPublic)
def approve(request_id: Id, request: Request, session: SessionDep, user: CurrentUser,
            idempotency_key: IdemKey = None) -> Response:
    """Approve a change request and apply it: by an admin or intermediary other than the one
    who asked (else 403 APPROVER_IS_REQUESTER)."""
    require(user, *DECIDERS)
    return run_write(request, session, user, idempotency_key, {"id": request_id},
                     "change_request.approve",
                     lambda: (200, change_public(approve_change(session, request_id,
                                                                user.username))),
                     detail=change_detail)


@router.post("/change-requests/{request_id}/rejection", response_model=ChangeRequestPublic)
def reject(request_id: Id, body: RejectionRequest, request: Request, session: SessionDep,
           user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Reject a change request, with a reason (its requester may withdraw it this way)."""
    require(user, *DECIDERS)
    return run_write(request, session, user, idempotency_key, body, "change_request.reject",
                     lambda: (200, change_public(reject_change(session, request_id,
                                                               user.username, body.reason))),
                     detail=change_detail)


@router.post("/contracts/{contract_id}/years/{fiscal_year}/reopen", status_code=202,
             response_model=ChangeRequestPublic)
def reopen(contract_id: str, fiscal_year: ContractYear, body: ReopenRequest, request: Request,
           session: SessionDep, user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Ask for the latest closed year to be reopened, with a reason (intermediary, admin): it
    reopens when another of them approves the request."""
    require(user, *DECIDERS)
    return run_write(request, session, user, idempotency_key, body, "period.reopen.request",
                     lambda: (202, change_public(request_period_reopen(
                         session, contract_id, fiscal_year, user.username, body.reason))),
                     detail=change_detail)
