"""Long work in the background: a job queue kept in the database itself.

A job is planned when it is started — its parameters normalised and its work cut into tasks —
and every task is then claimed, run and completed by whichever worker gets it first. On
PostgreSQL, any number of ``sib worker`` processes on any number of machines share the tasks
(``FOR UPDATE SKIP LOCKED``: a worker passes over the rows another is claiming). On SQLite one
writer at a time is the rule anyway, and the server runs the work in a thread of its own
(:mod:`api.job_worker`).

What a kind of job does lives in :mod:`api.job_kinds`, registered here by name
(:func:`register`). Services take a session and do not commit: the caller owns the unit of work.

Life of a task: ``queued`` → claimed (``running``, a lease of :data:`LEASE_SECONDS` its worker
keeps renewing) → ``done``, or ``failed`` with its error. A task whose lease ran out is claimed
again (its worker was killed or lost its database); after :data:`MAX_ATTEMPTS` claims it fails.
A job is ``running`` from its first claim, ``done`` when every task is, ``failed`` as soon as
one task fails; its tasks still queued are then left alone.

Stalled, cancelled, retried. A job nobody works on any more is shown ``stalled`` (never stored:
read from the leases, :func:`stalled_jobs`): no task of it holds a live lease, and one holds a
lease that ran out (its worker died and no worker has taken the task over), or — for a job its
own command runs (the ``inline`` queue of ``sib statements``), which no other worker serves —
nothing has happened to it for a lease's length (the command was killed between two tasks and
not run again). :func:`cancel` cancels a queued, running or stalled job: its tasks not started
(and those of dead workers) at once; a running task at the end of the document (unit) it is
making, once its worker sees the cancel (:data:`CANCEL_CHECK_SECONDS`). :func:`retry` queues
again the failed, cancelled and abandoned tasks of a failed, cancelled or stalled job, for the
workers; its done tasks are left as they are (their documents are written, their rows are
imported), and a task run again writes what it would have written the first time.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, exists, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from api.job_tables import (
    ACTIVE_STATES,
    CANCELLED,
    DONE,
    FAILED,
    FINISHED_STATES,
    QUEUED,
    RUNNING,
    Job,
    JobTask,
)
from ledger.errors import Conflict, NotFound, SibError
from ledger.service import utc_now

DEFAULT_QUEUE = "default"
INLINE_QUEUE = "inline"
LEASE_SECONDS = 60.0
MAX_ATTEMPTS = 3
ERROR_LIMIT = 4000
# How often a running task looks whether its job was cancelled (a single-row read).
CANCEL_CHECK_SECONDS = 0.25
STALLED = "stalled"
"""A job's state as it is shown when nobody works on it any more (never stored)."""
SHOWN_STATES = (QUEUED, RUNNING, STALLED, DONE, FAILED, CANCELLED)
JOB_ACTIVE = "JOB_ACTIVE"
JOB_FINISHED = "JOB_FINISHED"


# --------------------------------------------------------------------------- kinds

@dataclass(frozen=True)
class TaskSpec:
    """One task of a plan: its own parameters and how many units (documents, rows) it makes."""

    params: Mapping[str, Any]
    units_total: int


@dataclass(frozen=True)
class Plan:
    """A job's parameters as the kind normalised them, and its work cut into tasks."""

    params: Mapping[str, Any]
    tasks: Sequence[TaskSpec]


class TaskRun(Protocol):
    """What a kind's task function is given by the worker running it."""

    job_id: int
    task_id: int
    job_params: Mapping[str, Any]
    task_params: Mapping[str, Any]

    def unit_of_work(self) -> AbstractContextManager[Session]:
        """A short database transaction (committed at the end of the block)."""

    def advance(self, units: int) -> None:
        """Count ``units`` more done (written to the database now and then)."""

    def set_total(self, units: int) -> None:
        """The task's units, once the task knows them better than its plan did."""

    def complete_in(self, session: Session, result: Mapping[str, Any] | None = None) -> None:
        """Mark the task done in ``session``: in the same transaction as the task's own
        writes, so that a task writing to the database is done exactly once."""


@dataclass(frozen=True)
class JobKind:
    """A kind of job: how to plan it (in the starter's transaction) and run one of its tasks
    (in a worker).

    Attributes:
        plan: ``(session, params) -> Plan``; refuses bad parameters with a :class:`SibError`.
        run_task: does one task's work; returns what the task reports (merged into the job's
            result when the job is done).
        title: a short English description for listings.
    """

    name: str
    plan: Callable[[Session, Mapping[str, Any]], Plan]
    run_task: Callable[[TaskRun], Mapping[str, Any] | None]
    title: str = ""


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Make ``kind`` startable by name. The registration point for new kinds (the simulation
    of issue 16 registers itself here the same way: a plan and a task function)."""
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> JobKind:
    import api.job_kinds  # noqa: F401  (registers the built-in kinds)
    try:
        return KINDS[name]
    except KeyError:
        raise SibError(f"there is no job kind {name!r} (known: {', '.join(sorted(KINDS))})",
                       "JOB_KIND_UNKNOWN", "kind") from None


# --------------------------------------------------------------------------- views

@dataclass(frozen=True)
class JobView:
    """A job as a page, the API and ``sib job show`` present it: progress summed over its
    tasks.

    Attributes:
        state: as stored, except ``stalled`` for a queued or running job nobody works on
            any more (see the module's notes).
        units_done, units_total: documents (or rows) made and to make; the job's progress.
        tasks_*: its tasks by state.
    """

    id: int
    kind: str
    state: str
    params: dict[str, Any]
    queue: str
    started_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str
    result: dict[str, Any]
    units_done: int
    units_total: int
    tasks_total: int
    tasks_done: int
    tasks_running: int
    tasks_failed: int

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled (nothing more will happen to it unless retried)."""
        return self.state in FINISHED_STATES

    @property
    def cancellable(self) -> bool:
        return self.state in (QUEUED, RUNNING, STALLED)

    @property
    def retryable(self) -> bool:
        return self.state in (FAILED, CANCELLED, STALLED)


@dataclass(frozen=True)
class TaskView:
    """One task of a job, for ``sib job show`` and the job's page."""

    seq: int
    state: str
    units_done: int
    units_total: int
    attempts: int
    claimed_by: str
    lease_expires_at: datetime | None
    error: str


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _progress_rows(session: Session, job_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    if not job_ids:
        return {}
    rows = session.execute(
        select(JobTask.job_id, func.coalesce(func.sum(JobTask.units_done), 0),
               func.coalesce(func.sum(JobTask.units_total), 0), func.count(),
               *(func.coalesce(func.sum(case((col(JobTask.state) == state, 1), else_=0)), 0)
                 for state in (DONE, RUNNING, FAILED)))
        .where(col(JobTask.job_id).in_(job_ids)).group_by(JobTask.job_id))
    return {row[0]: tuple(int(v) for v in row[1:]) for row in rows}


def _stalled_condition(moment: datetime) -> Any:
    """SQL: the job (row of ``job``) is queued or running and nobody works on it any more."""
    task = JobTask.__table__.alias("stall_task")  # type: ignore[attr-defined]
    mine = task.c.job_id == Job.id
    running = mine & (task.c.state == RUNNING)
    cutoff = moment - timedelta(seconds=LEASE_SECONDS)
    live = exists().where(running & (task.c.lease_expires_at >= moment))
    ran_out = exists().where(running & (task.c.lease_expires_at < moment))
    lately = exists().where(mine & ((task.c.started_at >= cutoff)
                                    | (task.c.finished_at >= cutoff)))
    idle_inline = (col(Job.queue) == INLINE_QUEUE) & (col(Job.created_at) < cutoff) & ~lately
    return col(Job.state).in_(ACTIVE_STATES) & ~live & (ran_out | idle_inline)


def stalled_jobs(session: Session, job_ids: Sequence[int],
                 now: datetime | None = None) -> set[int]:
    """Which of ``job_ids`` are stalled: queued or running, and no worker holds a live lease
    on any of their tasks while one task's lease ran out (or, on the inline queue, nothing
    happened for :data:`LEASE_SECONDS`)."""
    if not job_ids:
        return set()
    return set(session.scalars(select(Job.id).where(col(Job.id).in_(job_ids),
                                                    _stalled_condition(now or utc_now()))))


def _view(job: Job, progress: tuple[int, ...] | None, stalled: bool = False) -> JobView:
    done, total, tasks, tasks_done, running, failed = progress or (0, 0, 0, 0, 0, 0)
    return JobView(job.id or 0, job.kind, STALLED if stalled else job.state,
                   json.loads(job.params), job.queue,
                   job.started_by, job.created_at, job.started_at, job.finished_at, job.error,
                   json.loads(job.result) if job.result else {}, done, total, tasks,
                   tasks_done, running, failed)


def get_job(session: Session, job_id: int, now: datetime | None = None) -> JobView:
    """A job and its progress; ``JOB_NOT_FOUND`` if there is none with this id."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"there is no job {job_id}", "JOB_NOT_FOUND", "job")
    return _view(job, _progress_rows(session, [job_id]).get(job_id),
                 job_id in stalled_jobs(session, [job_id], now))


def list_jobs(session: Session, kind: str | None = None, state: str | None = None,
              offset: int = 0, limit: int = 50,
              now: datetime | None = None) -> tuple[list[JobView], int]:
    """Jobs, newest first, with their progress; and how many match in all. ``state`` is a
    shown state: ``stalled`` selects the stalled jobs, ``queued`` and ``running`` the others."""
    moment = now or utc_now()
    if state is not None and state not in SHOWN_STATES:
        raise SibError(f"state must be one of {', '.join(SHOWN_STATES)}", "JOB_STATE_UNKNOWN",
                       "state")
    where = [col(Job.kind) == kind] if kind else []
    if state == STALLED:
        where.append(_stalled_condition(moment))
    elif state in ACTIVE_STATES:
        where += [col(Job.state) == state, ~_stalled_condition(moment)]
    elif state:
        where.append(col(Job.state) == state)
    total = session.scalar(select(func.count()).select_from(Job).where(*where)) or 0
    jobs = list(session.scalars(select(Job).where(*where).order_by(col(Job.id).desc())
                                .offset(offset).limit(limit)))
    ids = [j.id or 0 for j in jobs]
    progress, stalled = _progress_rows(session, ids), stalled_jobs(session, ids, moment)
    return [_view(j, progress.get(j.id or 0), j.id in stalled) for j in jobs], int(total)


def job_tasks(session: Session, job_id: int) -> list[TaskView]:
    """A job's tasks in order."""
    return [TaskView(t.seq, t.state, t.units_done, t.units_total, t.attempts, t.claimed_by,
                     t.lease_expires_at, t.error)
            for t in session.scalars(select(JobTask).where(col(JobTask.job_id) == job_id)
                                     .order_by(col(JobTask.seq)))]


# --------------------------------------------------------------------------- starting

def dedupe_key(kind: str, queue: str, params: Mapping[str, Any]) -> str:
    """The key under which at most one job is queued or running at a time."""
    return hashlib.sha256(f"{kind}\n{queue}\n{_canonical(params)}".encode()).hexdigest()


def _active_with_key(session: Session, key: str) -> Job | None:
    return session.scalars(select(Job).where(col(Job.dedupe_key) == key,
                                             col(Job.state).in_(ACTIVE_STATES))).first()


def _queue_same_key(session: Session, key: str) -> None:
    """PostgreSQL: starts of the same work wait for each other (until the first commits), so
    the second finds the first's job; SQLite has one writer at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        lock = int.from_bytes(hashlib.sha256(f"job:{key}".encode()).digest()[:8], "big",
                              signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})


def enqueue(session: Session, kind: str, params: Mapping[str, Any], started_by: str,
            queue: str = DEFAULT_QUEUE, now: datetime | None = None) -> JobView:
    """Start a job of ``kind``: plan it and queue its tasks. Starting the same work (same
    kind, queue and normalised parameters) while a job for it is queued or running returns
    that job, so a retry never runs it twice; once it is done or failed, the same start is a
    new job."""
    job_kind = kind_of(kind)
    plan = job_kind.plan(session, params)
    key = dedupe_key(kind, queue, plan.params)
    _queue_same_key(session, key)
    existing = _active_with_key(session, key)
    if existing is not None:
        return get_job(session, existing.id or 0)
    if not plan.tasks:
        raise SibError(f"a {kind} job with these parameters has nothing to do",
                       "JOB_EMPTY", "params")
    moment = now or utc_now()
    job = Job(kind=kind, params=_canonical(plan.params), queue=queue, dedupe_key=key,
              state=QUEUED, started_by=started_by[:128], created_at=moment)
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # a backstop: the lock above (or SQLite's one writer) queues starts
        existing = _active_with_key(session, key)
        if existing is None:
            raise Conflict("this job was started at the same moment by another request; "
                           "start it again", "CONCURRENT_WRITE", "job") from None
        return get_job(session, existing.id or 0)
    session.execute(JobTask.__table__.insert(), [  # type: ignore[attr-defined]
        dict(job_id=job.id, seq=seq, params=_canonical(spec.params), state=QUEUED,
             units_total=spec.units_total, units_done=0, attempts=0, claimed_by="",
             error="") for seq, spec in enumerate(plan.tasks)])
    return get_job(session, job.id or 0)


# --------------------------------------------------------------------------- claiming

def worker_name(suffix: str = "") -> str:
    """This process's name as a worker: ``host:pid`` (and a suffix for a thread of it)."""
    return f"{socket.gethostname()}:{os.getpid()}" + (f":{suffix}" if suffix else "")


@dataclass(frozen=True)
class Claim:
    """A task a worker holds: run it, then complete or fail it with the same ``attempt``
    (a worker whose claim was taken over by another is refused ``JOB_LEASE_LOST``)."""

    task_id: int
    job_id: int
    seq: int
    kind: str
    attempt: int
    worker: str
    job_params: dict[str, Any] = field(default_factory=dict)
    task_params: dict[str, Any] = field(default_factory=dict)


def fail_abandoned(session: Session, now: datetime | None = None) -> int:
    """Fail the tasks whose workers died :data:`MAX_ATTEMPTS` times running them (and their
    jobs), rather than let a task that kills its worker take every worker down in turn."""
    moment = now or utc_now()
    abandoned = ((col(JobTask.state) == RUNNING) & (col(JobTask.lease_expires_at) < moment)
                 & (col(JobTask.attempts) >= MAX_ATTEMPTS))
    message = (f"its worker stopped {MAX_ATTEMPTS} times while running it (killed, out of "
               "memory or cut off from the database); see the workers' logs")
    # Read without locking: the job's row is locked before the task's, as everywhere.
    rows = list(session.execute(select(JobTask.id, JobTask.job_id, JobTask.seq)
                                .where(abandoned)))
    return sum(_fail(session, job_id, seq, message, moment,
                     (col(JobTask.id) == task_id) & abandoned)
               for task_id, job_id, seq in rows)


def claim(session: Session, worker: str, queue: str = DEFAULT_QUEUE, job_id: int | None = None,
          lease_seconds: float = LEASE_SECONDS, now: datetime | None = None) -> Claim | None:
    """Claim the next task of ``queue`` (of job ``job_id`` only, if given): a queued one, or one
    whose lease ran out (its worker died). ``None`` when there is nothing to do. The caller
    commits at once, so that the claim is seen by the other workers."""
    moment = now or utc_now()
    fail_abandoned(session, moment)
    _cancel_orphans(session, moment)
    where = [col(Job.state).in_(ACTIVE_STATES),
             (col(JobTask.state) == QUEUED)
             | ((col(JobTask.state) == RUNNING) & (col(JobTask.lease_expires_at) < moment))]
    where.append(col(Job.id) == job_id if job_id is not None else col(Job.queue) == queue)
    row = session.execute(
        select(JobTask.id, JobTask.job_id, JobTask.seq, JobTask.attempts, JobTask.params,
               Job.kind, Job.params).join(Job, col(Job.id) == col(JobTask.job_id))
        .where(*where).order_by(col(JobTask.job_id), col(JobTask.seq)).limit(1)
        .with_for_update(skip_locked=True, of=JobTask)).first()
    if row is None:
        return None
    task_id, owner, seq, attempts, task_params, kind, job_params = row
    session.execute(update(JobTask).where(col(JobTask.id) == task_id).values(
        state=RUNNING, attempts=attempts + 1, claimed_by=worker[:128],
        lease_expires_at=moment + timedelta(seconds=lease_seconds), started_at=moment,
        units_done=0, error=""))
    # The job is running from its first claim. Two first claims at once: one marks it, the
    # other passes over the job's row rather than wait for it (SKIP LOCKED again).
    first = select(Job.id).where(col(Job.id) == owner, col(Job.state) == QUEUED) \
        .with_for_update(skip_locked=True).scalar_subquery()
    session.execute(update(Job).where(col(Job.id) == first)
                    .values(state=RUNNING, started_at=moment))
    return Claim(task_id, owner, seq, kind, attempts + 1, worker, json.loads(job_params),
                 json.loads(task_params))


def _held(claim: Claim) -> Any:
    """The condition that the task is still this claim's (not taken over after its lease)."""
    return ((col(JobTask.id) == claim.task_id) & (col(JobTask.state) == RUNNING)
            & (col(JobTask.attempts) == claim.attempt) & (col(JobTask.claimed_by) == claim.worker))


class LeaseLost(SibError):
    """The task was claimed by another worker after this one's lease ran out."""


def _lease_lost(claim: Claim) -> LeaseLost:
    return LeaseLost(f"task {claim.seq} of job {claim.job_id} was taken over by another worker "
                     "(this worker's lease ran out); its work here is dropped",
                     "JOB_LEASE_LOST", "task")


def renew(session: Session, claim: Claim, units_done: int | None = None,
          units_total: int | None = None, lease_seconds: float = LEASE_SECONDS,
          now: datetime | None = None) -> bool:
    """Extend the claim's lease and record its progress; False if the task is no longer this
    claim's."""
    values: dict[str, Any] = {
        "lease_expires_at": (now or utc_now()) + timedelta(seconds=lease_seconds)}
    if units_done is not None:
        values["units_done"] = units_done
    if units_total is not None:
        values["units_total"] = units_total
    result = session.execute(update(JobTask).where(_held(claim)).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _lock_job(session: Session, job_id: int) -> Job:
    """The job's row, locked: tasks finishing at the same moment on two workers take turns
    to decide whether the job is done."""
    job = session.scalars(select(Job).where(col(Job.id) == job_id).with_for_update()
                          .execution_options(populate_existing=True)).one()
    return job


def complete(session: Session, claim: Claim, result: Mapping[str, Any] | None = None,
             now: datetime | None = None) -> JobView:
    """Mark the claimed task done (all its units made); the job is done when its last task
    is. Refused ``JOB_LEASE_LOST`` if another worker took the task over."""
    moment = now or utc_now()
    job = _lock_job(session, claim.job_id)
    done = session.execute(update(JobTask).where(_held(claim)).values(
        state=DONE, units_done=JobTask.units_total, finished_at=moment,
        lease_expires_at=None))
    if not done.rowcount:  # type: ignore[attr-defined]
        raise _lease_lost(claim)
    merged = json.loads(job.result) if job.result else {}
    for name, value in (result or {}).items():
        merged[name] = merged.get(name, 0) + value if isinstance(value, int) \
            and not isinstance(value, bool) else value
    left = session.scalar(select(func.count()).select_from(JobTask).where(
        col(JobTask.job_id) == claim.job_id, col(JobTask.state) != DONE)) or 0
    job.result = _canonical(merged) if merged else job.result
    # A job cancelled while its last task was finishing: nothing was left to cancel.
    if left == 0 and job.state in (*ACTIVE_STATES, CANCELLED):
        job.state, job.finished_at = DONE, moment
    session.add(job)
    session.flush()
    return get_job(session, claim.job_id)


def _fail(session: Session, job_id: int, seq: int, message: str, moment: datetime,
          task: Any, units_done: int | None = None) -> bool:
    """Fail the task matching ``task`` and its job (the job's row locked first); False if no
    task matches (any more)."""
    job = _lock_job(session, job_id)
    values: dict[str, Any] = dict(state=FAILED, error=message[:ERROR_LIMIT], finished_at=moment,
                                  lease_expires_at=None)
    if units_done is not None:
        values["units_done"] = units_done
    failed = session.execute(update(JobTask).where(task).values(**values))
    if not failed.rowcount:  # type: ignore[attr-defined]
        return False
    if job.state in ACTIVE_STATES:
        job.state, job.finished_at = FAILED, moment
        job.error = f"task {seq}: {message}"[:ERROR_LIMIT]
        session.add(job)
    session.flush()
    return True


def fail(session: Session, claim: Claim, message: str, units_done: int | None = None,
         now: datetime | None = None) -> None:
    """Record that the claimed task failed with ``message`` (after making ``units_done``
    units); the job fails with it. Refused ``JOB_LEASE_LOST`` if another worker took the
    task over."""
    if not _fail(session, claim.job_id, claim.seq, message, now or utc_now(), _held(claim),
                 units_done):
        raise _lease_lost(claim)


def error_message(error: BaseException) -> str:
    """What a failed task records: a refusal's problems with their codes; for anything else,
    its type and text (for whoever reads the workers' logs)."""
    if isinstance(error, SibError):
        return "; ".join(f"{p.code}: {p.message}" for p in error.problems)
    return f"{type(error).__name__}: {error}"


def release_dead_local(session: Session, job_id: int | None = None) -> int:
    """Put back in the queue the running tasks claimed by processes of this machine that no
    longer exist, without waiting for their leases to run out (a worker restarted, a
    ``sib statements`` killed and run again)."""
    prefix = f"{socket.gethostname()}:"
    where = [col(JobTask.state) == RUNNING, col(JobTask.claimed_by).startswith(prefix)]
    if job_id is not None:
        where.append(col(JobTask.job_id) == job_id)
    dead = [(task_id, state) for task_id, worker, state in session.execute(
        select(JobTask.id, JobTask.claimed_by, Job.state)
        .join(Job, col(Job.id) == col(JobTask.job_id)).where(*where))
        if not _alive(int(worker.split(":")[1]))]
    for cancelled in (False, True):  # a cancelled job's task is not queued again
        ids = [task_id for task_id, state in dead if (state == CANCELLED) == cancelled]
        if ids:
            session.execute(update(JobTask).where(col(JobTask.id).in_(ids),
                                                  col(JobTask.state) == RUNNING)
                            .values(state=CANCELLED if cancelled else QUEUED, claimed_by="",
                                    lease_expires_at=None))
    return len(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True


def active_jobs(session: Session, queue: str = DEFAULT_QUEUE) -> Iterator[int]:
    """Ids of the queue's jobs still queued or running."""
    yield from session.scalars(select(Job.id).where(col(Job.queue) == queue,
                                                    col(Job.state).in_(ACTIVE_STATES)))


def started_by_cli() -> str:
    """Who a command-line start is recorded as: ``cli:<OS user>``, like the audit log."""
    import getpass
    return f"cli:{getpass.getuser()}"


# --------------------------------------------------------------------------- cancel, retry

class JobCancelled(SibError):
    """Raised in a running task (by :meth:`TaskRun.advance`) once its job is cancelled: the
    task stops after the unit it has just made."""


def _job_for_update(session: Session, job_id: int) -> Job:
    job = session.scalars(select(Job).where(col(Job.id) == job_id).with_for_update()
                          .execution_options(populate_existing=True)).first()
    if job is None:
        raise NotFound(f"there is no job {job_id}", "JOB_NOT_FOUND", "job")
    return job


def _cancel_orphans(session: Session, moment: datetime) -> None:
    """Running tasks of cancelled jobs whose workers died (their leases ran out): cancelled,
    as a live worker would have stopped them."""
    session.execute(update(JobTask).where(
        col(JobTask.state) == RUNNING, col(JobTask.lease_expires_at) < moment,
        col(JobTask.job_id).in_(select(Job.id).where(col(Job.state) == CANCELLED)))
        .values(state=CANCELLED, finished_at=moment, lease_expires_at=None))


def cancel(session: Session, job_id: int, now: datetime | None = None) -> JobView:
    """Cancel a queued, running or stalled job: its tasks not started, and those whose
    workers died, are cancelled now; a task running stops at the end of the unit it is
    making (its worker sees the cancel within :data:`CANCEL_CHECK_SECONDS`, then records it
    cancelled with the units it made). Cancelling a cancelled job changes nothing; a done or
    failed one is refused ``JOB_FINISHED``."""
    moment = now or utc_now()
    job = _job_for_update(session, job_id)
    if job.state == CANCELLED:
        return get_job(session, job_id, moment)
    if job.state not in ACTIVE_STATES:
        raise Conflict(f"job {job_id} is already {job.state}: there is nothing left to cancel "
                       f"(sib job retry {job_id} runs its failed tasks again)", JOB_FINISHED,
                       "job")
    session.execute(update(JobTask).where(
        col(JobTask.job_id) == job_id,
        (col(JobTask.state) == QUEUED)
        | ((col(JobTask.state) == RUNNING) & (col(JobTask.lease_expires_at) < moment)))
        .values(state=CANCELLED, finished_at=moment, lease_expires_at=None))
    job.state, job.finished_at = CANCELLED, moment
    session.add(job)
    session.flush()
    return get_job(session, job_id, moment)


def retry(session: Session, job_id: int, now: datetime | None = None) -> JobView:
    """Queue again the failed and cancelled tasks of a failed or cancelled job, and the
    abandoned ones (lease run out) of a stalled one; its done tasks are left alone. The job
    goes to the workers' queue (a job of ``sib statements`` too: ``sib worker``, or the
    service's own thread on SQLite, takes it up; ``sib job retry --wait`` runs it here).
    Retrying a job that is queued or running and not stalled changes nothing; a done job is
    refused ``JOB_FINISHED``, and a job whose work another job started since is doing
    (queued or running) ``JOB_ACTIVE``."""
    moment = now or utc_now()
    job = _job_for_update(session, job_id)
    stalled = job_id in stalled_jobs(session, [job_id], moment)
    if job.state == DONE:
        raise Conflict(f"job {job_id} is done: every task of it ran; there is nothing to "
                       "retry", JOB_FINISHED, "job")
    if job.state in ACTIVE_STATES and not stalled:
        return get_job(session, job_id, moment)
    if job.state not in ACTIVE_STATES:
        _queue_same_key(session, job.dedupe_key)
        other = _active_with_key(session, job.dedupe_key)
        if other is not None:
            raise Conflict(f"job {other.id} does the same work and is {other.state}: follow "
                           "it instead", JOB_ACTIVE, "job")
    session.execute(update(JobTask).where(
        col(JobTask.job_id) == job_id,
        col(JobTask.state).in_((FAILED, CANCELLED))
        | ((col(JobTask.state) == RUNNING) & (col(JobTask.lease_expires_at) < moment)))
        .values(state=QUEUED, attempts=0, claimed_by="", lease_expires_at=None,
                started_at=None, finished_at=None, units_done=0, error=""))
    begun = session.scalar(select(func.count()).select_from(JobTask).where(
        col(JobTask.job_id) == job_id, col(JobTask.state).in_((DONE, RUNNING)))) or 0
    job.state = RUNNING if begun else QUEUED
    job.started_at = job.started_at if begun else None
    job.finished_at, job.error = None, ""
    job.queue = DEFAULT_QUEUE
    session.add(job)
    session.flush()
    return get_job(session, job_id, moment)


def cancel_requested(session: Session, job_id: int) -> bool:
    """Whether the job was cancelled (what a running task looks at now and then)."""
    return session.scalar(select(Job.state).where(col(Job.id) == job_id)) == CANCELLED


def stop_cancelled(session: Session, claim: Claim, units_done: int,
                   now: datetime | None = None) -> None:
    """Record that the claimed task stopped for its job's cancel, after ``units_done``
    units; if the job was retried meanwhile, the task is queued again instead (the next
    claim runs it from its start)."""
    moment = now or utc_now()
    job = _lock_job(session, claim.job_id)
    values: dict[str, Any] = (
        dict(state=CANCELLED, units_done=units_done, finished_at=moment, lease_expires_at=None)
        if job.state == CANCELLED else
        dict(state=QUEUED, units_done=0, claimed_by="", lease_expires_at=None))
    session.execute(update(JobTask).where(_held(claim)).values(**values))
    session.flush()
