"""KPI results in the database: submit, audit, correct; file imports that are all or nothing.

States move draft → submitted → audited → settled. Submitting the same result again is a no-op
(idempotent); a different value for a result already on file is a duplicate unless it is a
correction, which needs a reason and creates a new version to be audited again. Services never
commit; a refusal writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from contracts.store import contract_for_year
from ledger.errors import Conflict, Forbidden, NotFound, Problem, SibError
from ledger.service import utc_now
from settlement.change_requests import KPI_AUDIT_BY_SUBMITTER
from settlement.imports import read_results_file
from settlement.kpi import ResultInput, check_result, parse_value
from settlement.tables import KpiResult


def _canonical(value: str) -> str:
    parsed = parse_value(value)
    return format(parsed.normalize(), "f") if parsed is not None else value


def _latest(session: Session, r: ResultInput) -> KpiResult | None:
    return session.scalars(select(KpiResult).where(
        col(KpiResult.contract_id) == r.contract, col(KpiResult.fiscal_year) == r.fiscal_year,
        col(KpiResult.kpi_id) == r.kpi, col(KpiResult.payer_id) == r.payer,
        col(KpiResult.evaluation) == r.evaluation)
        .order_by(col(KpiResult.version).desc())).first()


def import_results_file(session: Session, path: Path, submitted_by: str) -> list[KpiResult]:
    """Submit every row of a CSV/XLSX file, or none: every bad row is reported (row and
    column), those that cannot be read together with those that break the contract's rules."""
    unreadable: list[Problem] = []
    inputs, sources = read_results_file(path, unreadable)
    return submit_results(session, inputs, submitted_by, source=path.name, sources=sources,
                          problems=unreadable)


def submit_results(session: Session, results: Iterable[ResultInput], submitted_by: str,
                   draft: bool = False, source: str = "",
                   sources: list[str] | None = None,
                   problems: list[Problem] | None = None) -> list[KpiResult]:
    """Record results (state ``submitted``, or ``draft``); all are checked before any is
    written, and every problem is reported with its row/field (``problems`` may bring those
    found while reading a file)."""
    results = list(results)
    problems = list(problems or [])
    seen: set[tuple[str, int, str, str, str]] = set()
    for i, r in enumerate(results):
        where = sources[i] if sources else source
        try:
            contract = contract_for_year(session, r.contract, r.fiscal_year)
        except SibError as error:  # an unknown contract: report it on its row, go on
            problems += [Problem(p.code, p.message, "contract", where or None)
                         for p in error.problems]
            continue
        problems += check_result(contract, r, where)
        key = (r.contract, r.fiscal_year, r.kpi, r.payer, r.evaluation)
        if key in seen:
            problems.append(Problem("KPI_RESULT_DUPLICATE", f"{r.kpi} FY{r.fiscal_year} "
                                    f"{r.payer or 'contract'} {r.evaluation} appears twice",
                                    "kpi", where or None))
        seen.add(key)
        latest = _latest(session, r)
        if latest is not None and not _same(latest, r):
            problems.append(Problem("KPI_RESULT_DUPLICATE", f"a result for {r.kpi} "
                                    f"FY{r.fiscal_year} {r.payer or 'contract'} {r.evaluation} "
                                    f"is already {latest.state} (version {latest.version}); "
                                    "send a correction with a reason", "value", where or None))
    if problems:
        raise SibError(problems)
    out = []
    for r in results:
        latest = _latest(session, r)
        if latest is not None:  # the same result again: nothing to do
            out.append(latest)
            continue
        row = KpiResult(contract_id=r.contract, fiscal_year=r.fiscal_year, kpi_id=r.kpi,
                        payer_id=r.payer, evaluation=r.evaluation, version=1,
                        value=_canonical(r.value),
                        outcomes_per_person=json.dumps(list(r.outcomes_per_person))
                        if r.outcomes_per_person is not None else None,
                        state="draft" if draft else "submitted", submitted_by=submitted_by,
                        submitted_at=utc_now(), source=source)
        session.add(row)
        out.append(row)
    session.flush()
    return out


def _same(row: KpiResult, r: ResultInput) -> bool:
    per_person = json.dumps(list(r.outcomes_per_person)) if r.outcomes_per_person is not None \
        else None
    return row.value == _canonical(r.value) and row.outcomes_per_person == per_person


def get_result(session: Session, result_id: int) -> KpiResult:
    row = session.get(KpiResult, result_id)
    if row is None:
        raise NotFound(f"no KPI result {result_id}", "KPI_RESULT_NOT_FOUND", "result_id")
    return row


def submit_draft(session: Session, result_id: int) -> KpiResult:
    """draft → submitted."""
    row = get_result(session, result_id)
    if row.state != "draft":
        raise Conflict(f"result {result_id} is {row.state}, not a draft", "KPI_RESULT_STATE",
                       "state")
    row.state = "submitted"
    session.add(row)
    session.flush()
    return row


def audit_result(session: Session, result_id: int, audited_by: str,
                 now: datetime | None = None) -> KpiResult:
    """submitted → audited, recording who signed off and when (``now``: the moment of the
    audit when it is recorded after the fact; auditing twice is a no-op). The auditor is not
    the submitter (four eyes)."""
    row = get_result(session, result_id)
    if row.state == "audited" and row.audited_by == audited_by:
        return row
    if row.state != "submitted":
        raise Conflict(f"result {result_id} is {row.state}: only a submitted result can be "
                       "audited", "KPI_RESULT_STATE", "state")
    if not audited_by:
        raise SibError("the auditor must be named", "AUDITOR_REQUIRED", "audited_by")
    if audited_by == row.submitted_by:
        raise Forbidden(f"result {result_id} was submitted by {audited_by}: someone else must "
                        "audit it (four eyes)", KPI_AUDIT_BY_SUBMITTER, "audited_by")
    row.state, row.audited_by, row.audited_at = "audited", audited_by, now or utc_now()
    session.add(row)
    session.flush()
    return row


def correct_result(session: Session, result_id: int, value: str, reason: str,
                   submitted_by: str,
                   outcomes_per_person: tuple[int, ...] | None = None) -> KpiResult:
    """A new version of an audited or settled result, with a reason; it must be audited again.
    The earlier version is kept unchanged."""
    row = get_result(session, result_id)
    if not reason.strip():
        raise SibError("a correction needs a reason", "REASON_REQUIRED", "reason")
    latest = _latest(session, _as_input(row))
    if latest is not None and latest.id != row.id:
        raise Conflict(f"result {result_id} was already corrected by version {latest.version} "
                       f"(result {latest.id})", "KPI_RESULT_SUPERSEDED", "result_id")
    if row.state not in ("audited", "settled"):
        raise Conflict(f"result {result_id} is {row.state}: resubmit it instead of correcting",
                       "KPI_RESULT_STATE", "state")
    proposed = ResultInput(row.contract_id, row.fiscal_year, row.kpi_id, value, row.payer_id,
                           row.evaluation, outcomes_per_person)
    problems = check_result(contract_for_year(session, row.contract_id, row.fiscal_year),
                            proposed)
    if problems:
        raise SibError(problems)
    new = KpiResult(contract_id=row.contract_id, fiscal_year=row.fiscal_year, kpi_id=row.kpi_id,
                    payer_id=row.payer_id, evaluation=row.evaluation, version=row.version + 1,
                    value=_canonical(value),
                    outcomes_per_person=json.dumps(list(outcomes_per_person))
                    if outcomes_per_person is not None else None,
                    state="submitted", submitted_by=submitted_by, submitted_at=utc_now(),
                    reason=reason, supersedes_id=row.id)
    session.add(new)
    session.flush()
    return new


def _as_input(row: KpiResult) -> ResultInput:
    return ResultInput(row.contract_id, row.fiscal_year, row.kpi_id, row.value, row.payer_id,
                       row.evaluation)


def results_for(session: Session, contract_id: str, fiscal_year: int | None = None,
                evaluation: str | None = None) -> list[KpiResult]:
    """Every version of the results, oldest first."""
    query = select(KpiResult).where(col(KpiResult.contract_id) == contract_id)
    if fiscal_year is not None:
        query = query.where(col(KpiResult.fiscal_year) == fiscal_year)
    if evaluation is not None:
        query = query.where(col(KpiResult.evaluation) == evaluation)
    return list(session.scalars(query.order_by(
        col(KpiResult.fiscal_year), col(KpiResult.kpi_id), col(KpiResult.payer_id),
        col(KpiResult.version))))


def current_audited(session: Session, contract_id: str, fiscal_year: int,
                    evaluation: str = "final") -> dict[tuple[str, str], KpiResult]:
    """(KPI, payer) → the newest version when it is audited or settled (what settlement uses).
    A newer version still awaiting audit holds the key back: settlement waits for it."""
    latest: dict[tuple[str, str], KpiResult] = {}
    for row in results_for(session, contract_id, fiscal_year, evaluation):
        latest[(row.kpi_id, row.payer_id)] = row
    return {k: r for k, r in latest.items() if r.state in ("audited", "settled")}


def pending_audit(session: Session, contract_id: str, fiscal_year: int,
                  evaluation: str = "final") -> list[KpiResult]:
    """Newest versions not yet audited (drafts and submitted)."""
    latest: dict[tuple[str, str], KpiResult] = {}
    for row in results_for(session, contract_id, fiscal_year, evaluation):
        latest[(row.kpi_id, row.payer_id)] = row
    return [r for r in latest.values() if r.state in ("draft", "submitted")]
