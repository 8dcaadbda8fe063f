"""Background jobs over HTTP (issue 15, long jobs): start writing a year's documents, follow a
job's progress, list jobs.

Starting is a write like any other (Idempotency-Key, audit record); starting the same work
again while it is queued or running answers the same job. On SQLite the service runs the jobs
itself, in a thread; on PostgreSQL ``sib worker`` processes do, wherever they run. Progress is
read from the database, so a page reloaded (or a worker restarted) shows where the job is.
The intermediary and the admin start jobs, and cancel or retry them (``POST /jobs/{id}/cancel``,
``/retry``: writes like any other, audited); they and the auditor see them. A job nobody works
on any more is shown ``stalled`` (read from its tasks' leases, never stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api import jobs
from api.deps import ContractYear, CurrentUser, Id, PageDep, SessionDep, require
from api.job_kinds import start_statements
from api.job_worker import kick
from api.schemas import PageOf
from api.writes import run_write

router = APIRouter(tags=["jobs"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
STARTERS = ("admin", "intermediary")
READERS = ("admin", "intermediary", "auditor")


class StatementsJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    langs: list[Literal["ja", "en"]] = Field(default=["ja", "en"], min_length=1, max_length=2)


class JobPublic(BaseModel):
    """A job and its progress (``units_done`` of ``units_total`` documents or rows)."""

    id: int
    kind: str
    state: str = Field(description="queued, running, stalled (queued or running, but no "
                                   "worker holds its tasks any more), done, failed or "
                                   "cancelled")
    params: dict[str, Any]
    started_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    units_done: int
    units_total: int
    percent: int = Field(description="units_done as a whole percentage of units_total")
    tasks_total: int
    tasks_done: int
    tasks_running: int
    tasks_failed: int
    error: str = Field(description="why it failed (the failed task's error)")
    result: dict[str, Any]


def job_public(view: jobs.JobView) -> JobPublic:
    """A job as the API (and the portal) shows it."""
    percent = 100 * view.units_done // view.units_total if view.units_total else 0
    return JobPublic(id=view.id, kind=view.kind, state=view.state, params=view.params,
                     started_by=view.started_by, created_at=view.created_at,
                     started_at=view.started_at, finished_at=view.finished_at,
                     units_done=view.units_done, units_total=view.units_total, percent=percent,
                     tasks_total=view.tasks_total, tasks_done=view.tasks_done,
                     tasks_running=view.tasks_running, tasks_failed=view.tasks_failed,
                     error=view.error, result=view.result)


def _database_url(request: Request) -> str | None:
    return getattr(request.app.state, "database_url", None)


@router.post("/contracts/{contract_id}/years/{fiscal_year}/statement-jobs", status_code=202,
             response_model=JobPublic)
def start_statements_job(contract_id: str, fiscal_year: ContractYear, body: StatementsJobCreate,
                         request: Request, session: SessionDep, user: CurrentUser,
                         idempotency_key: IdemKey = None) -> Response:
    """Start writing every document of the year (PDF) in the background (intermediary): 202
    with the job; follow it at ``/jobs/{id}``. Started again while it runs: the same job."""
    require(user, *STARTERS)
    response = run_write(
        request, session, user, idempotency_key, body, "job.statements",
        lambda: (202, job_public(start_statements(session, contract_id, fiscal_year,
                                                  user.username, body.langs))))
    kick(_database_url(request))
    return response


@router.get("/jobs", response_model=PageOf[JobPublic])
def list_jobs(request: Request, session: SessionDep, user: CurrentUser, page: PageDep,
              kind: str | None = Query(None, max_length=32),
              state: Literal["queued", "running", "stalled", "done", "failed",
                             "cancelled"] | None = None
              ) -> PageOf[JobPublic]:
    """Jobs, newest first, with their progress."""
    require(user, *READERS)
    views, total = jobs.list_jobs(session, kind, state, page.offset, page.limit)
    if any(not v.finished for v in views):
        kick(_database_url(request))
    return PageOf[JobPublic](items=[job_public(v) for v in views], total=total,
                             limit=page.limit, offset=page.offset)


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: Id, request: Request, session: SessionDep, user: CurrentUser) -> JobPublic:
    """A job's progress: how many documents (or rows) of how many, its state, who started it
    and when, and its error if it failed."""
    require(user, *READERS)
    view = jobs.get_job(session, job_id)
    if not view.finished:
        kick(_database_url(request))  # on SQLite: work left by a restart is taken up again
    return job_public(view)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: Id, request: Request, session: SessionDep, user: CurrentUser,
               idempotency_key: IdemKey = None) -> Response:
    """Cancel a queued, running or stalled job (intermediary, admin): its tasks not started
    are cancelled at once; a running task stops at the end of the document it is writing.
    Cancelling it again changes nothing; a done or failed job is refused 409
    ``JOB_FINISHED``."""
    require(user, *STARTERS)
    return run_write(request, session, user, idempotency_key, {"job": job_id}, "job.cancel",
                     lambda: (200, job_public(jobs.cancel(session, job_id))))


@router.post("/jobs/{job_id}/retry", response_model=JobPublic)
def retry_job(job_id: Id, request: Request, session: SessionDep, user: CurrentUser,
              idempotency_key: IdemKey = None) -> Response:
    """Queue again the failed, cancelled or abandoned tasks of a failed, cancelled or stalled
    job (intermediary, admin); its done tasks are left as they are, and the documents it
    writes are those a clean run writes. A done job is refused 409 ``JOB_FINISHED``; a job
    whose work another job is doing, 409 ``JOB_ACTIVE``."""
    require(user, *STARTERS)
    response = run_write(request, session, user, idempotency_key, {"job": job_id},
                         "job.retry", lambda: (200, job_public(jobs.retry(session, job_id))))
    kick(_database_url(request))
    return response
