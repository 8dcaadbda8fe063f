"""Small reads the portal needs that no service offers yet (each a candidate for its
package's store): the recorded approvals of a payer's notices."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from settlement.tables import NoticeApproval


def notice_approvals(session: Session, contract_id: str, payer: str,
                     fiscal_year: int) -> list[NoticeApproval]:
    """The payer's 検査・承認 acts of a year's notice (an amount changed by a correction is
    approved anew), oldest first."""
    return list(session.scalars(select(NoticeApproval).where(
        col(NoticeApproval.contract_id) == contract_id,
        col(NoticeApproval.payer_id) == payer,
        col(NoticeApproval.fiscal_year) == fiscal_year).order_by(col(NoticeApproval.id))))
