"""KPI results, settlement, year-end close, loan schedules and Zengin files over HTTP.

The evaluator submits and audits results, only for the contracts naming its party as their
evaluator and never its own submissions, but cannot settle; only the intermediary (and admin)
settles and closes; a finance officer downloads and approves only its own municipality's
share (the lead payer reads every payer's KPI results where the contract grants it); a bank
reads only its own loans.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.db import unit_of_work
from api.deps import (
    FULL_READ_ROLES,
    ContractYear,
    CurrentUser,
    Id,
    PageDep,
    SessionDep,
    payers_visible_to,
    require,
    require_own_payer,
)
from api.schemas import PageOf, file_responses
from api.users import require_evaluator_of
from api.writes import run_write
from contracts.store import get_contract
from ledger.errors import Forbidden, NotFound
from ledger.money_json import MoneyJSON
from settlement import close as closing
from settlement import results, runs
from settlement.approvals import approve_notice
from settlement.debt_service import books_date, schedule_against_actual
from settlement.kpi import ResultInput
from settlement.transfers import (
    TransferFile,
    distribution_transfer_file,
    payer_transfer_file,
    record_transfer_file,
)

router = APIRouter(tags=["settlement"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
EVALUATOR = ("admin", "evaluator")
SETTLER = ("admin", "intermediary")
ZENGIN = file_responses("application/octet-stream", "The 総合振込 (Zengin) transfer file")


class ResultCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fiscal_year: int = Field(ge=1900, le=2200)
    kpi: str = Field(min_length=1)
    value: str = Field(min_length=1, description="exact decimal text, e.g. \"83.5\"")
    payer: str = ""
    evaluation: str = "final"
    draft: bool = False
    outcomes_per_person: list[int] | None = Field(
        default=None, max_length=100_000,
        description="for a rate card: each person's number of outcomes (they add up to value)")


class ResultCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class ResultPublic(BaseModel):
    id: int
    contract: str
    fiscal_year: int
    kpi: str
    payer: str
    evaluation: str
    version: int
    value: str
    state: str
    submitted_by: str
    audited_by: str | None
    reason: str


class PayerFigures(BaseModel):
    earned: MoneyJSON
    tax: MoneyJSON
    due: MoneyJSON
    grant: MoneyJSON


class SettlementPublic(BaseModel):
    contract: str
    fiscal_year: int
    evaluation: str
    run: int | None
    run_no: int | None
    created: bool
    payers: dict[str, PayerFigures]
    problems: list[str] = []
    traces: list[dict[str, Any]]


class SettleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evaluation: str = "final"
    on: date | None = None


class CloseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: bool = Field(False, description="close although results await audit or the year is "
                                           "not settled")
    reason: str = Field("", max_length=2000, description="why, when forcing (required then)")


class ScheduleRowPublic(BaseModel):
    number: int
    due_on: date
    scheduled_principal: MoneyJSON
    actual_principal: MoneyJSON
    scheduled_interest: MoneyJSON
    actual_interest: MoneyJSON
    paid_on: list[date] = Field(description="the dates of the payments against this due date")
    overdue: MoneyJSON = Field(description="principal and interest still unpaid after the "
                                           "due date")
    default_interest: MoneyJSON = Field(description="遅延損害金 it ran up")
    status: str = Field(description="paid_on_time, paid_late, prepaid, overdue, written_down, "
                                    "recovered, part_recovered or not_due")


class SchedulePublic(BaseModel):
    loan: str
    lender: str
    rows: list[ScheduleRowPublic]


def _public(r: Any) -> ResultPublic:
    return ResultPublic(id=r.id, contract=r.contract_id, fiscal_year=r.fiscal_year,
                        kpi=r.kpi_id, payer=r.payer_id, evaluation=r.evaluation,
                        version=r.version, value=r.value, state=r.state,
                        submitted_by=r.submitted_by, audited_by=r.audited_by, reason=r.reason)


def _evaluates(session: SessionDep, user: Any, contract_ids: Any) -> None:
    """An evaluator acts only on the contracts naming its party as their evaluator."""
    require_evaluator_of(session, user, contract_ids)


def _figures(payers: dict[str, dict[str, int]], cur: str) -> dict[str, PayerFigures]:
    return {p: PayerFigures(**{k: MoneyJSON.from_minor(f[k], cur)
                               for k in ("earned", "tax", "due", "grant")})
            for p, f in payers.items()}


# --------------------------------------------------------------------------- KPI results

@router.post("/contracts/{contract_id}/kpi-results", status_code=201,
             response_model=list[ResultPublic])
def submit(contract_id: str, body: ResultCreate, request: Request, session: SessionDep,
           user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Submit a result (evaluator)."""
    require(user, *EVALUATOR)
    _evaluates(session, user, [contract_id])

    def work() -> tuple[int, Any]:
        per_person = None if body.outcomes_per_person is None \
            else tuple(body.outcomes_per_person)
        rows = results.submit_results(session, [ResultInput(
            contract_id, body.fiscal_year, body.kpi, body.value, body.payer, body.evaluation,
            per_person)],
            user.username, body.draft, "api")
        return 201, [_public(r) for r in rows]
    return run_write(request, session, user, idempotency_key, body, "kpi.submit", work)


@router.post("/kpi-results/upload", status_code=201, response_model=list[ResultPublic])
def upload(request: Request, session: SessionDep, user: CurrentUser,
           file: UploadFile = File(...), idempotency_key: IdemKey = None) -> Response:
    """Import a CSV/XLSX of results; any bad row refuses the whole file (row and column
    named). A plain (not async) endpoint: the import runs in the thread pool, never on the
    event loop, so a large file does not hold up the other requests."""
    require(user, *EVALUATOR)
    data = file.file.read()
    name = Path(file.filename or "results.csv").name

    def work() -> tuple[int, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            rows = results.import_results_file(session, path, user.username)
        _evaluates(session, user, [r.contract_id for r in rows])
        return 201, [_public(r) for r in rows]
    import hashlib
    return run_write(request, session, user, idempotency_key,
                     {"file": name, "sha256": hashlib.sha256(data).hexdigest()}, "kpi.upload",
                     work)


@router.post("/kpi-results/{result_id}/audit", status_code=200, response_model=ResultPublic)
def audit_result(result_id: Id, request: Request, session: SessionDep, user: CurrentUser,
                 idempotency_key: IdemKey = None) -> Response:
    """Sign off a submitted result (evaluator of the contract, admin); records who and when.
    Someone other than its submitter audits it (else 403 KPI_AUDIT_BY_SUBMITTER)."""
    require(user, *EVALUATOR)

    def work() -> tuple[int, Any]:
        _evaluates(session, user, [results.get_result(session, result_id).contract_id])
        return 200, _public(results.audit_result(session, result_id, user.username))
    return run_write(request, session, user, idempotency_key, {"id": result_id}, "kpi.audit",
                     work)


@router.post("/kpi-results/{result_id}/corrections", status_code=201,
             response_model=ResultPublic)
def correct(result_id: Id, body: ResultCorrection, request: Request, session: SessionDep,
            user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Correct an audited or settled result: a new version with a reason."""
    require(user, *EVALUATOR)

    def work() -> tuple[int, Any]:
        _evaluates(session, user, [results.get_result(session, result_id).contract_id])
        return 201, _public(results.correct_result(session, result_id, body.value,
                                                   body.reason, user.username))
    return run_write(request, session, user, idempotency_key, body, "kpi.correct", work)


@router.get("/contracts/{contract_id}/kpi-results", response_model=PageOf[ResultPublic])
def list_results(contract_id: str, session: SessionDep, user: CurrentUser, page: PageDep,
                 fiscal_year: Annotated[int | None, Query(ge=1900, le=2200)] = None
                 ) -> PageOf[ResultPublic]:
    """Every version of every result: the roles that read the whole contract, and the lead
    payer's finance officer where the contract lets it read every payer's (its list is every
    payer's results; another finance officer reads its own on its notices)."""
    if user.role != "finance_officer":
        require(user, *FULL_READ_ROLES)
    else:
        contract = get_contract(session, contract_id)
        if payers_visible_to(user, contract) != frozenset(contract.payer_ids):
            raise Forbidden(f"a finance officer reads {contract_id}'s KPI results only as its "
                            "lead payer, where the contract grants it "
                            "(lead_payer_sees_all_payers); your own are on your notices",
                            "ROLE_FORBIDDEN", "role")
    rows = results.results_for(session, contract_id, fiscal_year)
    return PageOf[ResultPublic](items=[_public(r) for r in rows[page.offset:page.offset +
                                                                 page.limit]],
                                total=len(rows), limit=page.limit, offset=page.offset)


# --------------------------------------------------------------------------- settlement

@router.get("/contracts/{contract_id}/years/{fiscal_year}/settlement/preview",
            response_model=SettlementPublic)
def preview(contract_id: str, fiscal_year: ContractYear, session: SessionDep, user: CurrentUser,
            evaluation: str = "final") -> SettlementPublic:
    """What settling would post now, with every trace; writes nothing."""
    require(user, "admin", "intermediary", "auditor")
    result = runs.preview(session, contract_id, fiscal_year, evaluation)
    cur = get_contract(session, contract_id).currency
    return SettlementPublic(
        contract=contract_id, fiscal_year=fiscal_year, evaluation=evaluation, run=None,
        run_no=None, created=False,
        payers=_figures({p: {"earned": t.earned_minor, "tax": t.tax_minor, "due": t.due_minor,
                             "grant": t.grant_minor} for p, t in result.payers.items()}, cur),
        problems=[str(p) for p in result.problems],
        traces=[t.as_dict() for t in result.traces])


@router.post("/contracts/{contract_id}/years/{fiscal_year}/settlement", status_code=201,
             response_model=SettlementPublic)
def settle(contract_id: str, fiscal_year: ContractYear, body: SettleRequest, request: Request,
           session: SessionDep, user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """Settle from the audited results (intermediary); the same inputs return the first run."""
    require(user, *SETTLER)

    def work() -> tuple[int, Any]:
        outcome = runs.settle(session, contract_id, fiscal_year, body.evaluation, body.on,
                              user.username)
        run = outcome.run
        cur = get_contract(session, contract_id).currency
        return 201, SettlementPublic(
            contract=contract_id, fiscal_year=fiscal_year, evaluation=run.evaluation,
            run=run.id, run_no=run.run_no, created=outcome.created,
            payers=_figures(json.loads(run.summary)["payers"], cur),
            traces=json.loads(run.trace))
    return run_write(request, session, user, idempotency_key, body, "settlement.run", work)


@router.post("/contracts/{contract_id}/years/{fiscal_year}/close", status_code=201)
def close(contract_id: str, fiscal_year: ContractYear, request: Request, session: SessionDep,
          user: CurrentUser, body: CloseRequest | None = None,
          idempotency_key: IdemKey = None) -> Response:
    """Year-end close (intermediary): returns the settlement pack data. Refused while a result
    of the year awaits audit or the year is not settled, unless ``force`` with a ``reason``
    (recorded in the audit log and the period's log)."""
    require(user, *SETTLER)
    force = body.reason if body is not None and body.force else None
    return run_write(request, session, user, idempotency_key,
                     {"fy": fiscal_year} | ({"force": force} if force is not None else {}),
                     "settlement.close" if force is None else "settlement.close.forced",
                     lambda: (201, closing.close_year(session, contract_id, fiscal_year,
                                                      user.username,
                                                      force_reason=force).as_json()),
                     detail=(lambda _: f"forced: {force}") if force is not None else None)


@router.get("/contracts/{contract_id}/years/{fiscal_year}/pack")
def pack(contract_id: str, fiscal_year: ContractYear, session: SessionDep,
         user: CurrentUser) -> dict[str, Any]:
    """The settlement pack data of a year (intermediary, auditor, admin)."""
    require(user, "admin", "intermediary", "auditor")
    contract = get_contract(session, contract_id)
    return closing.build_pack(session, contract, fiscal_year).as_json()


@router.post("/contracts/{contract_id}/years/{fiscal_year}/payers/{payer}/approval",
             status_code=201)
def approve(contract_id: str, fiscal_year: ContractYear, payer: str, request: Request,
            session: SessionDep, user: CurrentUser, idempotency_key: IdemKey = None) -> Response:
    """A finance officer records its inspection (検査) and approval of its own municipality's
    notice for a settled year, at the amount it states; the payer's Zengin file is produced
    only for approved amounts. The lead payer's view of the other payers is read-only: each
    approves its own."""
    require_own_payer(user, contract_id, payer)
    require(user, "finance_officer", "admin")

    def work() -> tuple[int, Any]:
        approval = approve_notice(session, contract_id, fiscal_year, payer, user.username)
        return 201, {"contract": contract_id, "fiscal_year": fiscal_year, "payer": payer,
                     "approved_by": approval.approved_by,
                     "inspected_on": approval.inspected_on.isoformat(),
                     "due": MoneyJSON.wire(approval.amount_minor, get_contract(
                         session, contract_id).currency)}
    return run_write(request, session, user, idempotency_key,
                     {"fy": fiscal_year, "payer": payer}, "settlement.payer.approve", work)


# --------------------------------------------------------------------------- schedules, Zengin

@router.get("/contracts/{contract_id}/loans", response_model=list[SchedulePublic])
def schedules(contract_id: str, session: SessionDep, user: CurrentUser) -> list[SchedulePublic]:
    """Each loan's schedule against actual; a bank sees only its own loans."""
    contract = get_contract(session, contract_id)
    if user.role == "lender":
        loans = [loan for loan in contract.loans if loan.lender == user.scope]
    else:
        require(user, *FULL_READ_ROLES)
        loans = list(contract.loans)
    cur = contract.currency
    out = []
    on = books_date(session, contract.id)
    for loan in loans:
        rows = schedule_against_actual(session, contract, loan, on)
        out.append(SchedulePublic(loan=loan.id, lender=loan.lender, rows=[ScheduleRowPublic(
            number=r.number, due_on=r.due_on,
            scheduled_principal=MoneyJSON.from_minor(r.scheduled_principal, cur),
            actual_principal=MoneyJSON.from_minor(r.paid_principal, cur),
            scheduled_interest=MoneyJSON.from_minor(r.scheduled_interest, cur),
            actual_interest=MoneyJSON.from_minor(r.paid_interest, cur),
            paid_on=list(r.paid_on), overdue=MoneyJSON.from_minor(r.overdue, cur),
            default_interest=MoneyJSON.from_minor(r.default_interest, cur),
            status=r.status) for r in rows]))
    return out


@router.get("/contracts/{contract_id}/loans/{loan_id}", response_model=SchedulePublic)
def schedule(contract_id: str, loan_id: str, session: SessionDep,
             user: CurrentUser) -> SchedulePublic:
    """One loan; another bank's loan answers 404 exactly like a loan that does not exist."""
    for item in schedules(contract_id, session, user):
        if item.loan == loan_id:
            return item
    raise NotFound(f"no loan {loan_id!r} in {contract_id} that you may see", "LOAN_NOT_FOUND",
                   "loan_id")


@router.get("/contracts/{contract_id}/payers/{payer}/zengin", response_class=Response,
            responses=ZENGIN)
def payer_zengin(contract_id: str, payer: str, on: date, request: Request, session: SessionDep,
                 user: CurrentUser) -> Response:
    """The payer's 総合振込 file paying the SPV what it owes (its finance officer, the
    intermediary; the auditor reads it). A finance officer takes only its own, whatever it
    may read."""
    require_own_payer(user, contract_id, payer)
    require(user, "finance_officer", "intermediary", "admin", "auditor")
    found = payer_transfer_file(session, contract_id, payer, on)
    _record_file(request, user, contract_id, found, on)
    return Response(found.data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{contract_id}-{payer}-{on}.txt"',
        **_notice_headers(found)})


@router.get("/contracts/{contract_id}/distributions/{on}/zengin", response_class=Response,
            responses=ZENGIN)
def distribution_zengin(contract_id: str, on: date, request: Request, session: SessionDep,
                        user: CurrentUser) -> Response:
    """The SPV's 総合振込 file for the waterfall run of a date (intermediary; the auditor
    reads it)."""
    require(user, "intermediary", "admin", "auditor")
    found = distribution_transfer_file(session, contract_id, on)
    _record_file(request, user, contract_id, found, on)
    return Response(found.data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{contract_id}-distribution-{on}.txt"',
        **_notice_headers(found)})


def _notice_headers(found: TransferFile) -> dict[str, str]:
    """``Sib-Notice``: a JSON list (ASCII) of the payees whose account changed since the last
    file, each with its code, party, masked accounts and message; absent when none did."""
    if not found.notices:
        return {}
    return {"Sib-Notice": json.dumps([{"code": n.code, "party": n.party, "previous": n.previous,
                                       "current": n.current, "message": n.message()}
                                      for n in found.notices])}


def _record_file(request: Request, user: Any, contract_id: str, found: TransferFile,
                 on: date) -> None:
    """A file fetched by whoever pays with it (not the auditor, who only reads) is recorded:
    the next file's notices compare with its payees' accounts. In a transaction of its own,
    as the request itself writes nothing."""
    if user.role == "auditor":
        return
    with unit_of_work(getattr(request.app.state, "database_url", None)) as session:
        record_transfer_file(session, contract_id, found.payees, on, user.username)
