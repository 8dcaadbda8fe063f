"""When a fiscal year may be closed: every result audited, every paying KPI with a result.

Closing locks the year's dates, so a year closed with results still awaiting audit, or with a
KPI that decides a payment and has no result at all, would lock the books before the money is
known. The close refuses then, unless it is forced with a reason (kept in the period's log and
the audit log). Pure reads; the close itself is :func:`settlement.close.close_year`.
"""

from __future__ import annotations

from sqlmodel import Session

from contracts.model import Contract
from ledger.errors import Problem, SibError
from settlement.results import current_audited, pending_audit

PERIOD_RESULTS_UNAUDITED = "PERIOD_RESULTS_UNAUDITED"
PERIOD_NOT_SETTLED = "PERIOD_NOT_SETTLED"


def closing_problems(session: Session, contract: Contract, fiscal_year: int) -> list[Problem]:
    """Why FY ``fiscal_year`` cannot be closed yet (empty: it can)."""
    problems = []
    for evaluation in ("interim", "final"):
        for row in pending_audit(session, contract.id, fiscal_year, evaluation):
            problems.append(Problem(
                PERIOD_RESULTS_UNAUDITED,
                f"result {row.id} ({row.kpi_id} {row.payer_id or 'contract'} {evaluation} "
                f"FY{fiscal_year}, version {row.version}) is {row.state}: it must be audited "
                "(sib kpi audit) before the year closes", "fiscal_year"))
    audited = set(current_audited(session, contract.id, fiscal_year))
    pending = {(row.kpi_id, row.payer_id)
               for row in pending_audit(session, contract.id, fiscal_year)}
    for kpi, payer in _results_needed(contract, fiscal_year):
        if (kpi, payer) not in audited and (kpi, payer) not in pending:
            whose = f" for {payer}" if payer else ""
            problems.append(Problem(
                PERIOD_NOT_SETTLED,
                f"{kpi}{whose} decides a payment for FY{fiscal_year} and has no audited "
                "result: the year cannot be settled; submit and audit it before closing",
                "fiscal_year"))
    return problems


def _results_needed(contract: Contract, fiscal_year: int) -> list[tuple[str, str]]:
    """(KPI, payer) of every final result a payment of the year depends on (payer ``""`` for
    a KPI measured for the whole contract)."""
    needed: set[tuple[str, str]] = set()
    for tranche in contract.tranches_in(fiscal_year):
        if tranche.evaluation != "final":
            continue
        for kpi_id in tranche.kpi_ids:
            if contract.kpi(kpi_id).measured == "per_payer":
                needed |= {(kpi_id, p) for p in tranche.payers or contract.payer_ids}
            else:
                needed.add((kpi_id, ""))
    return sorted(needed)


def require_closable(session: Session, contract: Contract, fiscal_year: int,
                     force_reason: str | None) -> None:
    """Refuse the close while :func:`closing_problems` finds any, unless forced with a
    reason."""
    if force_reason is not None:
        if not force_reason.strip():
            raise SibError("a forced close needs a reason", "REASON_REQUIRED", "reason")
        return
    problems = closing_problems(session, contract, fiscal_year)
    if problems:
        raise SibError(problems)
