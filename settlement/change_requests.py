"""Four eyes: the acts that redirect or release money take effect only when a second person
approves them.

A change request records what one person asks for (a party's new bank account, the reopening
of a closed fiscal year, an amendment ending the contract's term sooner), what it replaces and
why; another person approves it, which applies the change in the same database transaction, or
rejects it. The row is the change's history.
Who may request and approve is the edge's business (roles in ``api/``); here, only that the
approver is not the requester.

:data:`SECOND_PERSON_ACTS` lists every act that needs a second person and how each is
enforced.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from contracts.chart import payers_book_code
from contracts.model import Contract
from contracts.store import amend_contract, document_json, get_contract
from ledger.errors import Conflict, Forbidden, NotFound, Problems, SibError
from ledger.periods import periods_of, reopen_period
from ledger.service import utc_now
from settlement.tables import ChangeRequest, PartyBankAccount


class Act(StrEnum):
    """What a change request changes."""

    BANK_ACCOUNT_CHANGE = "bank_account.change"
    PERIOD_REOPEN = "period.reopen"
    EARLY_TERMINATION = "contract.early_termination"


# Named refusals of the four-eyes rules (defined once; the API and CLI match on them).
APPROVER_IS_REQUESTER = "APPROVER_IS_REQUESTER"
KPI_AUDIT_BY_SUBMITTER = "KPI_AUDIT_BY_SUBMITTER"
APPROVER_IS_SETTLER = "APPROVER_IS_SETTLER"
CHANGE_REQUEST_NOT_FOUND = "CHANGE_REQUEST_NOT_FOUND"
CHANGE_REQUEST_DECIDED = "CHANGE_REQUEST_DECIDED"
CHANGE_REQUEST_PENDING = "CHANGE_REQUEST_PENDING"
CHANGE_REQUEST_STALE = "CHANGE_REQUEST_STALE"

# Every act that needs a second person, and how the second person is required.
SECOND_PERSON_ACTS: dict[str, str] = {
    "bank-account change": "a change request (sib bank-account set, PUT …/bank-account) that "
                           "another admin or intermediary approves (sib change approve, POST "
                           f"/change-requests/{{id}}/approval); else {APPROVER_IS_REQUESTER}",
    "period reopen": "a change request (sib period reopen, POST …/years/{fy}/reopen) that "
                     "another admin or intermediary approves; else " + APPROVER_IS_REQUESTER,
    "KPI audit": "audited by someone other than the result's submitter; else "
                 + KPI_AUDIT_BY_SUBMITTER,
    "settlement approval (a notice's 検査・承認)": "approved by someone other than whoever ran "
                                               "the year's settlement; else "
                                               + APPROVER_IS_SETTLER,
    "early termination": "an amendment ending the term sooner (sib contract amend, POST "
                         "…/amendments) is a change request another admin or intermediary "
                         "approves; applied directly it is refused "
                         "(EARLY_TERMINATION_NEEDS_APPROVAL)",
}


def get_change_request(session: Session, request_id: int,
                       for_decision: bool = False) -> ChangeRequest:
    """The request; ``for_decision`` locks its row (PostgreSQL) so that two decisions sent
    at once are taken one after the other, the second seeing the first."""
    row = session.get(ChangeRequest, request_id, with_for_update=for_decision)
    if row is None:
        raise NotFound(f"no change request {request_id}", CHANGE_REQUEST_NOT_FOUND,
                       "request_id")
    return row


def open_request(session: Session, contract_id: str, act: Act,
                 subject: str) -> ChangeRequest | None:
    """The request still awaiting a decision on this subject, if any (there is at most one)."""
    return session.scalars(select(ChangeRequest).where(
        col(ChangeRequest.contract_id) == contract_id, col(ChangeRequest.act) == act.value,
        col(ChangeRequest.subject) == subject, col(ChangeRequest.state) == "requested")).first()


def request_change(session: Session, act: Act, contract_id: str, subject: str,
                   proposed: dict[str, Any], previous: dict[str, Any] | None,
                   requested_by: str, reason: str = "",
                   now: datetime | None = None) -> ChangeRequest:
    """Record a request (state ``requested``). The same request again by the same person
    returns the first; another while one is open on the same subject is refused."""
    if not requested_by:
        raise SibError("the person requesting the change must be named", "REQUESTER_REQUIRED",
                       "requested_by")
    pending = open_request(session, contract_id, act, subject)
    if pending is not None:
        if pending.requested_by == requested_by and json.loads(pending.proposed) == proposed:
            return pending
        raise Conflict(f"change request {pending.id} ({act.value} of {subject}, requested by "
                       f"{pending.requested_by}) awaits a decision: approve or reject it "
                       "first (sib change approve|reject)", CHANGE_REQUEST_PENDING, "subject")
    row = ChangeRequest(act=act.value, contract_id=contract_id, subject=subject,
                        proposed=json.dumps(proposed, ensure_ascii=False, sort_keys=True),
                        previous=json.dumps(previous, ensure_ascii=False, sort_keys=True)
                        if previous is not None else "",
                        reason=reason, requested_by=requested_by,
                        requested_at=now or utc_now())
    session.add(row)
    session.flush()
    return row


def approve_change(session: Session, request_id: int, approved_by: str,
                   now: datetime | None = None) -> ChangeRequest:
    """Approve a request and apply its change, by someone other than the requester
    (approving again by the same person returns it)."""
    row = get_change_request(session, request_id, for_decision=True)
    if row.state == "approved" and row.decided_by == approved_by:
        return row
    _require_open(row)
    if not approved_by:
        raise SibError("the approver must be named", "APPROVER_REQUIRED", "approved_by")
    if approved_by == row.requested_by:
        raise Forbidden(f"change request {request_id} ({row.act} of {row.subject}) was "
                        f"requested by {approved_by}: another authorised user must approve it",
                        APPROVER_IS_REQUESTER, "approved_by")
    _APPLY[Act(row.act)](session, row, approved_by, now)
    row.state, row.decided_by, row.decided_at = "approved", approved_by, now or utc_now()
    session.add(row)
    session.flush()
    return row


def reject_change(session: Session, request_id: int, rejected_by: str, reason: str,
                  now: datetime | None = None) -> ChangeRequest:
    """Reject a request (its requester may withdraw it this way); nothing changes."""
    row = get_change_request(session, request_id, for_decision=True)
    if row.state == "rejected" and row.decided_by == rejected_by:
        return row
    _require_open(row)
    if not rejected_by:
        raise SibError("who rejects must be named", "APPROVER_REQUIRED", "rejected_by")
    if not reason.strip():
        raise SibError("a rejection needs a reason", "REASON_REQUIRED", "reason")
    row.state, row.decided_by, row.decided_at = "rejected", rejected_by, now or utc_now()
    row.decision_reason = reason
    session.add(row)
    session.flush()
    return row


def _require_open(row: ChangeRequest) -> None:
    if row.state != "requested":
        raise Conflict(f"change request {row.id} was already {row.state} by {row.decided_by}",
                       CHANGE_REQUEST_DECIDED, "request_id")


def change_requests(session: Session, contract_id: str | None = None,
                    state: str | None = None) -> list[ChangeRequest]:
    """Requests, newest first."""
    query = select(ChangeRequest)
    if contract_id is not None:
        query = query.where(col(ChangeRequest.contract_id) == contract_id)
    if state is not None:
        query = query.where(col(ChangeRequest.state) == state)
    return list(session.scalars(query.order_by(col(ChangeRequest.id).desc())))


# --------------------------------------------------------------------------- bank accounts

BANK_FIELDS = ("bank_code", "bank_name", "branch_code", "branch_name", "account_type",
               "account_number", "holder_kana", "requester_code")


def mask_number(number: str) -> str:
    """An account number as listings show it: all but the last three digits hidden."""
    return "*" * max(len(number) - 3, 1) + number[-3:] if number else ""


def masked(values: dict[str, Any]) -> dict[str, Any]:
    """Bank-account values with the account number masked (for listings and the audit log)."""
    return {**values, "account_number": mask_number(str(values.get("account_number", "")))} \
        if values else values


def account_summary(values: dict[str, Any]) -> str:
    """``0170-001 1 ****567 ｶ)ﾃｽﾄ``: the account, number masked."""
    if not values:
        return "none"
    return (f"{values.get('bank_code', '')}-{values.get('branch_code', '')} "
            f"{values.get('account_type', '')} {mask_number(values.get('account_number', ''))} "
            f"{values.get('holder_kana', '')}")


def bank_values(row: PartyBankAccount | None) -> dict[str, str] | None:
    """The registered values of an account (None when none is registered)."""
    return {name: str(getattr(row, name)) for name in BANK_FIELDS} if row is not None else None


def registered_account(session: Session, contract_id: str,
                       party: str) -> PartyBankAccount | None:
    return session.scalars(select(PartyBankAccount).where(
        col(PartyBankAccount.contract_id) == contract_id,
        col(PartyBankAccount.party) == party)).first()


_FORMATS = {"bank_code": (r"[0-9]{4}", "4 digits (金融機関コード)"),
            "branch_code": (r"[0-9]{3}", "3 digits (支店コード)"),
            "account_type": (r"[124]", "1 普通, 2 当座 or 4 貯蓄"),
            "account_number": (r"[0-9]{1,7}", "1 to 7 digits"),
            "holder_kana": (r".{1,40}", "1 to 40 characters of kana, as the bank holds it"),
            "bank_name": (r".{0,15}", "at most 15 characters"),
            "branch_name": (r".{0,15}", "at most 15 characters"),
            "requester_code": (r"([0-9]{10})?", "10 digits (振込依頼人コード), or nothing")}


def _check_bank_fields(fields: dict[str, str]) -> None:
    problems = Problems()
    for name in fields:
        if name not in _FORMATS:
            problems.add("BANK_ACCOUNT_FIELD_UNKNOWN", f"{name} is not a bank-account field "
                         f"(fields: {', '.join(BANK_FIELDS)})", name)
    for name, (pattern, wanted) in _FORMATS.items():
        if not re.fullmatch(pattern, fields.get(name, "")):
            problems.add("BANK_ACCOUNT_FIELD_INVALID", f"{name} must be {wanted}", name)
    problems.raise_if_any()


def request_bank_account(session: Session, contract_id: str, party: str, requested_by: str,
                         reason: str = "", now: datetime | None = None,
                         **fields: str) -> ChangeRequest:
    """Ask for a party's bank account to be registered or replaced: it takes effect when
    another authorised user approves the request (:func:`approve_change`)."""
    contract = get_contract(session, contract_id)
    if party not in {p.id for p in contract.parties}:
        raise NotFound(f"{contract_id} has no party {party!r}", "PARTY_NOT_FOUND", "party")
    proposed = {"bank_name": "", "branch_name": "", "account_type": "1", "requester_code": "",
                **fields}
    _check_bank_fields(proposed)
    previous = bank_values(registered_account(session, contract_id, party))
    if previous == proposed:
        raise SibError(f"{party}'s bank account is already {account_summary(proposed)}",
                       "BANK_ACCOUNT_UNCHANGED", "account_number")
    return request_change(session, Act.BANK_ACCOUNT_CHANGE, contract_id, party, proposed,
                          previous, requested_by, reason, now)


def _apply_bank_account(session: Session, row: ChangeRequest, approved_by: str,
                        now: datetime | None) -> None:
    """Register the proposed account, if the account is still the one the request replaces."""
    current = registered_account(session, row.contract_id, row.subject)
    previous = json.loads(row.previous) if row.previous else None
    if bank_values(current) != previous:
        raise Conflict(f"{row.subject}'s bank account changed after change request {row.id} "
                       "was made: reject it and request the change again",
                       CHANGE_REQUEST_STALE, "request_id")
    account = current or PartyBankAccount(contract_id=row.contract_id, party=row.subject,
                                          bank_code="", branch_code="", account_number="",
                                          holder_kana="")
    for name, value in json.loads(row.proposed).items():
        setattr(account, name, value)
    session.add(account)


# --------------------------------------------------------------------------- periods

def _apply_reopen(session: Session, row: ChangeRequest, approved_by: str,
                  now: datetime | None) -> None:
    """Reopen the fiscal year in the contract's book and its payers' book."""
    fiscal_year = int(json.loads(row.proposed)["fiscal_year"])
    reason = f"{row.reason} (requested by {row.requested_by}, approved by {approved_by})"
    reopen_period(session, payers_book_code(row.contract_id), fiscal_year, approved_by, reason,
                  now)
    reopen_period(session, row.contract_id, fiscal_year, approved_by, reason, now)


def request_period_reopen(session: Session, contract_id: str, fiscal_year: int,
                          requested_by: str, reason: str,
                          now: datetime | None = None) -> ChangeRequest:
    """Ask for a closed fiscal year to be reopened (the latest closed one), with a reason: it
    reopens when another authorised user approves the request."""
    if not reason.strip():
        raise SibError("reopening a closed period needs a reason", "REASON_REQUIRED", "reason")
    closed = [p for p in periods_of(session, contract_id) if p.status == "closed"]
    if not closed or closed[-1].fiscal_year != fiscal_year:
        latest = f"FY{closed[-1].fiscal_year}" if closed else "none"
        raise SibError(f"only the latest closed year of {contract_id} can be reopened "
                       f"(latest closed: {latest})", "PERIOD_NOT_LATEST", "fiscal_year")
    return request_change(session, Act.PERIOD_REOPEN, contract_id, f"FY{fiscal_year}",
                          {"fiscal_year": fiscal_year}, None, requested_by, reason, now)


# --------------------------------------------------------------------------- early termination

def request_amendment(session: Session, contract_id: str, amended: Contract, reason: str,
                      effective_from: int, requested_by: str,
                      now: datetime | None = None) -> ChangeRequest:
    """Ask for an amendment that ends the term sooner: checked now as the amendment itself
    would be (and nothing kept), applied when another authorised user approves it."""
    if not reason.strip():
        raise SibError("an early termination needs a reason", "REASON_REQUIRED", "reason")
    current = get_contract(session, contract_id)
    trial = session.begin_nested()
    try:
        amend_contract(session, contract_id, amended, reason, effective_from, now,
                       approved_by=requested_by)
    finally:
        trial.rollback()
    proposed = {"document": json.loads(document_json(amended)), "reason": reason,
                "effective_from": effective_from, "last_fiscal_year": amended.last_fiscal_year}
    previous = {"version": current.version, "last_fiscal_year": current.last_fiscal_year}
    return request_change(session, Act.EARLY_TERMINATION, contract_id, "term", proposed,
                          previous, requested_by, reason, now)


def _apply_amendment(session: Session, row: ChangeRequest, approved_by: str,
                     now: datetime | None) -> None:
    """Store the amendment, with the approver as the second person."""
    proposed = json.loads(row.proposed)
    amend_contract(session, row.contract_id, Contract.model_validate(proposed["document"]),
                   proposed["reason"], int(proposed["effective_from"]), now,
                   approved_by=approved_by)


_APPLY = {Act.BANK_ACCOUNT_CHANGE: _apply_bank_account, Act.PERIOD_REOPEN: _apply_reopen,
          Act.EARLY_TERMINATION: _apply_amendment}
