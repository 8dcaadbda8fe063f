"""Tables of the job queue: a job (what was asked, by whom) and its tasks (the pieces workers
claim).

The queue is these two tables and nothing else: no broker, no server to run. A worker claims a
task by locking its row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers on any number of
machines pass over each other's claims; SQLite has one writer at a time anyway) and holds it
for a lease it keeps renewing; a task whose lease ran out belongs to a worker that died and is
claimed again. Progress is kept per task (each worker writes only its own rows) and summed on
reading, so it survives a page reload and a worker restart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
JOB_STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
ACTIVE_STATES = (QUEUED, RUNNING)
FINISHED_STATES = (DONE, FAILED, CANCELLED)


class Job(SQLModel, table=True):
    """One piece of long work somebody started: every statement of a year, a KPI file.

    Attributes:
        kind: the registered kind that knows how to plan and run it (``api.job_kinds``).
        params: its parameters as canonical JSON, as the kind normalised them (the statements'
            time stamp and folder included, so a worker anywhere writes the same bytes).
        queue: ``default`` for the workers of ``sib worker``; ``inline`` for a job the command
            that started it runs itself (``sib statements``).
        dedupe_key: SHA-256 of kind, queue and params. At most one job per key is queued or
            running: starting the same work again while it runs returns that job.
        state: ``queued`` until a worker claims its first task, ``running``, then ``done``
            when every task is, or ``failed`` as soon as one task fails (``error`` says why),
            or ``cancelled`` (``sib job cancel``); a retry (``sib job retry``) makes it
            ``queued`` again. ``stalled`` is never stored: it is read from the leases
            (``api.jobs.stalled``).
        started_by: who asked (a user name, or ``cli:<OS user>``).
        result: JSON a kind reports when the job is done (the folder written, rows imported).
    """

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_created_at", "created_at"),
        Index("ux_job_active_key", "dedupe_key", unique=True,
              sqlite_where=text("state IN ('queued', 'running')"),
              postgresql_where=text("state IN ('queued', 'running')")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    params: str
    queue: str = Field(max_length=32)
    dedupe_key: str = Field(max_length=64)
    state: str = Field(max_length=16)
    started_by: str = Field(max_length=128)
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str = ""
    result: str = ""


class JobTask(SQLModel, table=True):
    """A piece of a job a worker claims and runs on its own (statements of 500 holders).

    Attributes:
        seq: its place in the job (0, 1, …), the order tasks are claimed in.
        params: the piece's own parameters (JSON), e.g. the holder codes it covers.
        units_total: documents (or rows) it has to produce; ``units_done`` how many it has.
        attempts: how many times it was claimed; a task whose worker died this many times
            (``api.jobs.MAX_ATTEMPTS``) fails instead of being claimed again.
        claimed_by: the worker holding it (``host:pid``); ``lease_expires_at`` until when,
            renewed while the worker is alive.
    """

    __tablename__ = "job_task"
    __table_args__ = (
        UniqueConstraint("job_id", "seq"),
        Index("ix_job_task_claim", "state", "lease_expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id")
    seq: int
    params: str
    state: str = Field(max_length=16)
    units_total: int = 0
    units_done: int = 0
    attempts: int = 0
    claimed_by: str = Field(default="", max_length=128)
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str = ""
