"""Outcome simulation over HTTP (issues 15 and 16).

* ``POST /contracts/{id}/simulations`` draws the scenarios and answers the summary at once
  (money as ``{"amount", "currency"}``), up to 10,000 runs. Nothing is written. The summary
  shows every payer's, lender's and class's figures, so it is for the roles that read the
  whole contract (admin, intermediary, auditor, evaluator).
* ``POST /contracts/{id}/simulation-jobs`` starts the same simulation as a background job of
  batches (:mod:`api.job_simulation`; up to 1,000,000 runs), as the portal's form does: the
  assumptions checked (every problem with its field path) and the parameters too before
  anything is queued; a write like any other (Idempotency-Key, audited). 202 with the job.
  The finance office, the intermediary and the admin start one.
* ``GET /contracts/{id}/simulation-jobs/{job}`` follows it and, once done, answers its
  summary; ``…/report.pdf`` and ``…/report.xlsx`` are its report and workbook. Each is cut
  to the reader (:func:`reader_scope`, the portal's rule): the roles that read the whole
  contract get every figure; a finance officer only the payers
  :func:`api.deps.payers_visible_to` gives it, and no loan, lender, fixed fee, class or
  public-cost figure. A bank or an investor is refused (403); a finance officer of a
  contract that does not name its municipality gets 404, as for a contract that does not
  exist.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.deps import FULL_READ_ROLES, CurrentUser, Id, SessionDep, payers_visible_to, require
from api.jobs import JobView
from api.routes.jobs import JobPublic, job_public
from api.users import Caller
from contracts.model import Contract
from contracts.store import get_contract
from ledger.errors import NotFound, SibError
from settlement.simulation import as_json, summarise
from settlement.simulation_batches import RUNS_PER_BATCH
from settlement.simulation_scope import WHOLE, Scope, scoped
from settlement.simulation_service import run_simulation

router = APIRouter(tags=["simulation"])
MAX_API_RUNS = 10_000
JOB_STARTERS = ("admin", "intermediary", "finance_officer")
JOB_READERS = (*FULL_READ_ROLES, "finance_officer")
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SimulationCreate(BaseModel):
    """A simulation request: the assumptions (the simulation file's content, as a JSON object
    or as YAML text), the runs and the seed."""

    model_config = ConfigDict(extra="forbid")
    assumptions: dict[str, Any] | str
    runs: int = Field(1000, ge=1, le=MAX_API_RUNS)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    from_fiscal_year: int | None = Field(None, ge=1900, le=2200)


@router.post("/contracts/{contract_id}/simulations", status_code=200)
def create_simulation(contract_id: str, body: SimulationCreate, session: SessionDep,
                      user: CurrentUser) -> dict[str, Any]:
    """Simulate the contract's outcomes from the assumptions; the same seed, the same
    answer."""
    require(user, *FULL_READ_ROLES)
    document: Any = body.assumptions
    if isinstance(document, str):
        try:
            document = yaml.safe_load(document)
        except yaml.YAMLError as error:
            raise SibError(f"the assumptions are not valid YAML: {error}", "YAML_INVALID",
                           "assumptions") from None
    sim = run_simulation(session, contract_id, document, "request", body.runs, body.seed,
                         body.from_fiscal_year)
    return as_json(summarise(sim), sim.contract.currency)


# --------------------------------------------------------------------------- as a job

def visible_contract(session: Session, user: Caller, contract_id: str) -> Contract:
    """The contract, if the user reads it whole or is the finance office of one of its
    payers (:func:`api.deps.payers_visible_to`); otherwise 404, as for a contract that does
    not exist."""
    contract = get_contract(session, contract_id)
    if user.role not in FULL_READ_ROLES and not payers_visible_to(user, contract):
        raise NotFound(f"no contract {contract_id!r} that you may see", "CONTRACT_NOT_FOUND",
                       "contract")
    return contract


def reader_scope(user: Caller, contract: Contract) -> Scope:
    """What ``user`` may see of a simulation of ``contract``: everything for the roles that
    read the whole contract; for a finance officer, the payers it may read and nothing
    contract-wide."""
    if user.role in FULL_READ_ROLES:
        return WHOLE
    return Scope(payers_visible_to(user, contract), whole=False)


class SimulationJobCreate(BaseModel):
    """A simulation to run in the background: the assumptions — the simulation file's text
    (YAML) or the name of an example file (``contracts/examples/simulations``, named after its
    contract) — the runs, the seed, the first simulated year and the runs per batch."""

    model_config = ConfigDict(extra="forbid")
    assumptions: str | None = Field(None, max_length=1_000_000,
                                    description="the simulation file's content (YAML text)")
    example: str | None = Field(None, max_length=200,
                                description="instead: the example file's name, e.g. the "
                                            "contract's id")
    runs: int = Field(10_000, description="1 to 1,000,000")
    seed: int = Field(0, description="0 to 2**63 - 1")
    from_fiscal_year: int | None = Field(None, description="within the contract's term; "
                                                           "default: the file's, else the "
                                                           "first year")
    batch_size: int = Field(RUNS_PER_BATCH, description="runs a batch (a task)")


class SimulationJobPublic(JobPublic):
    """A simulation job, its progress and — once done — its figures as the reader may see
    them (the synchronous endpoint's form: money as ``{"amount", "currency"}``)."""

    scope: dict[str, Any] = Field(description="what the summary shows: payers (the payers "
                                              "shown) and whole (the contract-wide figures)")
    summary: dict[str, Any] | None = Field(None, description="the report's figures, once "
                                                             "the job is done")


def _assumptions_text(body: SimulationJobCreate) -> tuple[str, str]:
    if (body.assumptions is None) == (body.example is None):
        raise SibError("give either the simulation file's text (assumptions) or the name of "
                       "an example file (example)", "ASSUMPTIONS_MISSING", "assumptions")
    if body.example is not None:
        from api.job_simulation import example_assumptions
        return example_assumptions(body.example)
    return body.assumptions or "", "assumptions.yaml"


def simulation_job_public(view: JobView, contract: Contract, scope: Scope,
                          summary: dict[str, Any] | None = None) -> SimulationJobPublic:
    """The job as this route shows it: its parameters without the file's text and the
    folder the workers write to, the summary cut to ``scope``."""
    public = job_public(view)
    params = {k: v for k, v in view.params.items() if k not in ("assumptions", "out")}
    params["assumptions_sha256"] = hashlib.sha256(
        str(view.params.get("assumptions", "")).encode()).hexdigest()
    payers = [p for p in contract.payer_ids if scope.shows_payer(p)]
    return SimulationJobPublic(
        **public.model_dump(exclude={"params"}), params=params,
        scope={"payers": payers, "whole": scope.whole},
        summary=as_json(scoped(summary, scope), str(summary["currency"]))
        if summary is not None else None)


@router.post("/contracts/{contract_id}/simulation-jobs", status_code=202,
             response_model=SimulationJobPublic)
def start_simulation_job(contract_id: str, body: SimulationJobCreate, request: Request,
                         session: SessionDep, user: CurrentUser,
                         idempotency_key: IdemKey = None) -> Response:
    """Start the simulation as a background job (finance office, intermediary, admin): 202
    with the job; follow it at ``…/simulation-jobs/{id}``. Refused with every problem and
    its field path (422) before anything is queued; the same simulation started again while
    it runs is the same job."""
    from api.job_simulation import start_simulation
    from api.job_worker import kick
    from api.writes import run_write
    require(user, *JOB_STARTERS)

    def work() -> tuple[int, SimulationJobPublic]:
        contract = visible_contract(session, user, contract_id)
        text, source = _assumptions_text(body)
        view = start_simulation(session, contract.id, text, source, body.runs, body.seed,
                                user.username, body.from_fiscal_year, body.batch_size)
        return 202, simulation_job_public(view, contract, reader_scope(user, contract))

    response = run_write(request, session, user, idempotency_key, body, "job.simulation", work)
    kick(getattr(request.app.state, "database_url", None))
    return response


def _job(session: Session, user: Caller, contract_id: str, job_id: int
         ) -> tuple[JobView, Contract, Scope]:
    from api.job_simulation import simulation_job
    require(user, *JOB_READERS)
    contract = visible_contract(session, user, contract_id)
    view = simulation_job(session, job_id)
    if view.params.get("contract") != contract.id:
        raise NotFound(f"{contract.id} has no simulation job {job_id}", "JOB_NOT_FOUND", "job")
    return view, contract, reader_scope(user, contract)


@router.get("/contracts/{contract_id}/simulation-jobs/{job_id}",
            response_model=SimulationJobPublic)
def get_simulation_job(contract_id: str, job_id: Id, request: Request, session: SessionDep,
                       user: CurrentUser) -> SimulationJobPublic:
    """A simulation job's progress (runs drawn of the runs asked) and, once it is done, its
    summary as the reader may see it."""
    from api.job_simulation import job_summary
    from api.job_worker import kick
    view, contract, scope = _job(session, user, contract_id, job_id)
    if not view.finished:
        kick(getattr(request.app.state, "database_url", None))
    summary = job_summary(session, view)[0] if view.state == "done" else None
    return simulation_job_public(view, contract, scope, summary)


@router.get("/contracts/{contract_id}/simulation-jobs/{job_id}/report.pdf")
def simulation_job_pdf(contract_id: str, job_id: Id, session: SessionDep, user: CurrentUser,
                       lang: Literal["ja", "en"] = "ja") -> Response:
    """The finished simulation's PDF report, cut to the reader (409 ``JOB_NOT_DONE``
    before)."""
    from api.job_simulation import job_summary
    from investors.pdf_simulation import render
    view, _, scope = _job(session, user, contract_id, job_id)
    summary, contract = job_summary(session, view)
    return Response(render(summary, contract, lang, scope), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="simulation-'
                             f'{contract.id}-job{view.id}-{lang}.pdf"'})


@router.get("/contracts/{contract_id}/simulation-jobs/{job_id}/report.xlsx")
def simulation_job_xlsx(contract_id: str, job_id: Id, session: SessionDep, user: CurrentUser,
                        lang: Literal["ja", "en"] = "ja") -> Response:
    """The finished simulation's workbook (its figures and every scenario), cut to the
    reader."""
    from api.job_simulation import job_summary, merged_simulation
    from investors.simulation_xlsx import write
    view, _, scope = _job(session, user, contract_id, job_id)
    summary, contract = job_summary(session, view)
    return Response(write(summary, merged_simulation(session, view), lang, scope),
                    media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="simulation-'
                             f'{contract.id}-job{view.id}.xlsx"'})
