"""The finance office's 検査 (inspection) and approval of a year's payment notice, and the rule
that a payer's Zengin file pays only approved amounts.

A notice asks a municipality for what the settlement runs posted to its receivable for the
year's results (:mod:`settlement.payer_ledger`). Its finance office inspects it and approves it
for that amount; a settlement corrected afterwards changes the amount, which must then be
approved again. The payer's transfer file is refused while any year it still owes is not
approved at its current amount.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from contracts.model import Contract
from contracts.store import get_contract
from ledger.errors import Forbidden, SibError
from ledger.service import utc_now
from settlement.change_requests import APPROVER_IS_SETTLER
from settlement.payer_ledger import (
    read_payer_history,
    read_payer_years,
    read_payments_by_results_year,
)
from settlement.tables import NoticeApproval, SettlementRun


def approve_notice(session: Session, contract_id: str, fiscal_year: int, payer: str,
                   approved_by: str, inspected_on: date | None = None,
                   now: datetime | None = None) -> NoticeApproval:
    """Record the payer's approval of its FY notice for the amount the ledger says it owes
    for the year's results (approving the same amount again returns the first approval)."""
    contract = get_contract(session, contract_id)
    contract.require_payer(payer)
    if not approved_by:
        raise SibError("the approving officer must be named", "APPROVER_REQUIRED",
                       "approved_by")
    _require_not_settler(session, contract.id, fiscal_year, approved_by)
    owed = read_payer_years(session, contract.id, [payer], fiscal_year)[payer].receivable_minor
    if owed <= 0:
        raise SibError(f"FY{fiscal_year} of {contract_id} asks nothing of {payer}: there is no "
                       "settled notice to approve", "NOT_SETTLED", "fiscal_year")
    found = session.scalars(select(NoticeApproval).where(
        col(NoticeApproval.contract_id) == contract.id,
        col(NoticeApproval.fiscal_year) == fiscal_year,
        col(NoticeApproval.payer_id) == payer,
        col(NoticeApproval.amount_minor) == owed)).first()
    if found is not None:
        return found
    moment = now or utc_now()
    row = NoticeApproval(contract_id=contract.id, fiscal_year=fiscal_year, payer_id=payer,
                         amount_minor=owed, inspected_on=inspected_on or moment.date(),
                         approved_by=approved_by, approved_at=moment)
    session.add(row)
    session.flush()
    return row


def _require_not_settler(session: Session, contract_id: str, fiscal_year: int,
                         approved_by: str) -> None:
    """Four eyes: whoever ran a settlement of the year does not approve its notice."""
    settlers = set(session.scalars(select(col(SettlementRun.created_by)).where(
        col(SettlementRun.contract_id) == contract_id,
        col(SettlementRun.fiscal_year) == fiscal_year)))
    if approved_by in settlers:
        raise Forbidden(f"{approved_by} ran the FY{fiscal_year} settlement of {contract_id}: "
                        "someone else approves its notice (four eyes)", APPROVER_IS_SETTLER,
                        "approved_by")


def unapproved_years(session: Session, contract: Contract, payer: str) -> list[int]:
    """The results years the payer still owes something for whose notice is not approved at
    the amount the ledger now says (oldest first)."""
    paid = read_payments_by_results_year(session, contract, payer)
    approved = {(a.fiscal_year, a.amount_minor) for a in session.scalars(
        select(NoticeApproval).where(col(NoticeApproval.contract_id) == contract.id,
                                     col(NoticeApproval.payer_id) == payer))}
    out = []
    history = read_payer_history(session, contract.id, payer, contract.fiscal_years)
    for year, figures in history.items():
        owed = figures.receivable_minor
        if owed - paid.get(year, 0) > 0 and (year, owed) not in approved:
            out.append(year)
    return out


def require_approved(session: Session, contract: Contract, payer: str) -> None:
    """Refuse (``NOTICE_NOT_APPROVED``) while the payer owes for a year its finance office has
    not approved at the current amount."""
    missing = unapproved_years(session, contract, payer)
    if missing:
        years = ", ".join(f"FY{y}" for y in missing)
        raise SibError(f"{payer} has not approved its notice for {years} at the amount it now "
                       "states: its finance office inspects and approves it first "
                       "(sib approve)", "NOTICE_NOT_APPROVED", "payer")
