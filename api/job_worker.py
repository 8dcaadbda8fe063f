"""Workers: the loop that claims a task, runs it and records how it ended.

Three ways to run it, one loop:

* ``sib worker`` — a process (or ``--concurrency`` processes) serving the queue, on any machine
  that reaches the database and the documents folder; the way on PostgreSQL.
* the service's own thread (:func:`kick`) — on SQLite the service runs jobs in-process: started
  when a job is started or looked at, it stops when nothing is left.
* :func:`run_inline` — a command that starts a job and waits for it (``sib statements``) runs its
  tasks itself, in as many processes as it is given, showing progress as they go.

While a task runs, a heartbeat renews its lease; progress is written at most every
:data:`PROGRESS_SECONDS`. A task that raises is recorded as failed with its error; a worker
killed mid-task leaves its lease to run out, and the task is claimed again. Every
:data:`api.jobs.CANCEL_CHECK_SECONDS` a task making units looks whether its job was cancelled
(so does the heartbeat); once it was, the task stops after the unit it has just made and is
recorded cancelled.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from sqlmodel import Session

from api import db, jobs
from api.job_tables import CANCELLED, DONE
from api.settings import get_settings
from ledger.errors import SibError

PROGRESS_SECONDS = 1.0
IDLE_POLL_SECONDS = 1.0
log = logging.getLogger("sib.jobs")


@contextmanager
def _session(url: str, read_only: bool = False) -> Iterator[Session]:
    with Session(db.get_engine(url, read_only=read_only), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class _Run:
    """A claimed task as its kind's function sees it (:class:`api.jobs.TaskRun`)."""

    def __init__(self, url: str, claim: jobs.Claim, lease_seconds: float) -> None:
        self.url, self.claim, self.lease_seconds = url, claim, lease_seconds
        self.job_id, self.task_id = claim.job_id, claim.task_id
        self.job_params: Mapping[str, Any] = claim.job_params
        self.task_params: Mapping[str, Any] = claim.task_params
        self.done = 0
        self.total: int | None = None
        self.completed = False
        self._flushed_at = self._checked_at = time.monotonic()
        self._lock = threading.Lock()
        self.cancelled = threading.Event()

    def unit_of_work(self, read_only: bool = False) -> Any:
        return _session(self.url, read_only)

    def advance(self, units: int) -> None:
        """Count units made; stop the task (:class:`api.jobs.JobCancelled`) here, after the
        unit just made, once the job is cancelled."""
        self.done += units
        now = time.monotonic()
        if not self.cancelled.is_set() and now - self._checked_at >= jobs.CANCEL_CHECK_SECONDS:
            self._checked_at = now
            with _session(self.url, read_only=True) as session:
                if jobs.cancel_requested(session, self.job_id):
                    self.cancelled.set()
        if self.cancelled.is_set():
            raise jobs.JobCancelled(f"job {self.job_id} was cancelled: task {self.claim.seq} "
                                    f"stopped after {self.done} of its units",
                                    "JOB_CANCELLED", "job")
        if now - self._flushed_at >= PROGRESS_SECONDS:
            self.flush()

    def set_total(self, units: int) -> None:
        self.total = units
        self.flush()

    def flush(self) -> None:
        """Write the progress (and renew the lease); a claim lost to another worker stops
        the task here."""
        with self._lock, _session(self.url) as session:
            held = jobs.renew(session, self.claim, self.done, self.total, self.lease_seconds)
            self._flushed_at = time.monotonic()
        if not held:
            raise jobs._lease_lost(self.claim)

    def heartbeat(self) -> bool:
        """Renew the lease (and note a cancel of the job); False once the claim is lost."""
        with self._lock, _session(self.url) as session:
            if jobs.cancel_requested(session, self.job_id):
                self.cancelled.set()
            return jobs.renew(session, self.claim, lease_seconds=self.lease_seconds)

    def complete_in(self, session: Session, result: Mapping[str, Any] | None = None) -> None:
        jobs.complete(session, self.claim, result)
        self.completed = True


def _heartbeat(run: _Run, stop: threading.Event) -> None:
    while not stop.wait(run.lease_seconds / 4):
        try:
            if not run.heartbeat():
                return
        except Exception:  # the database is busy or away: the next beat tries again
            log.warning("job %s task %s: lease not renewed", run.job_id, run.claim.seq,
                        exc_info=True)


def run_one(url: str, worker: str, queue: str = jobs.DEFAULT_QUEUE, job_id: int | None = None,
            lease_seconds: float = jobs.LEASE_SECONDS) -> bool:
    """Claim one task and run it to its end (done or failed); False if there was none."""
    with _session(url) as session:
        claim = jobs.claim(session, worker, queue, job_id, lease_seconds)
    if claim is None:
        return False
    run = _Run(url, claim, lease_seconds)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(run, stop), daemon=True,
                            name=f"heartbeat-{claim.task_id}")
    beat.start()
    try:
        result = jobs.kind_of(claim.kind).run_task(run)
        if not run.completed:
            with _session(url) as session:
                jobs.complete(session, claim, result)
    except jobs.LeaseLost as error:
        log.warning("%s", error)
    except jobs.JobCancelled as error:
        log.info("%s", error)
        try:
            with _session(url) as session:
                jobs.stop_cancelled(session, claim, run.done)
        except Exception:  # its lease runs out; the task is cancelled (or claimed) then
            log.warning("job %s task %s: stop not recorded", claim.job_id, claim.seq,
                        exc_info=True)
    except Exception as error:
        log.warning("job %s task %s failed: %s", claim.job_id, claim.seq, error)
        try:
            with _session(url) as session:
                jobs.fail(session, claim, jobs.error_message(error), run.done)
        except jobs.LeaseLost as lost:
            log.warning("%s", lost)
    finally:
        stop.set()
        beat.join()
    return True


def work(url: str, worker: str, queue: str = jobs.DEFAULT_QUEUE, job_id: int | None = None,
         until_idle: bool = False, lease_seconds: float = jobs.LEASE_SECONDS,
         stop: threading.Event | None = None) -> int:
    """Run tasks until ``stop`` is set — or, with ``until_idle``, until none is left to claim.
    Returns how many tasks it ran."""
    ran = 0
    stop = stop or threading.Event()
    while not stop.is_set():
        if run_one(url, worker, queue, job_id, lease_seconds):
            ran += 1
        elif until_idle:
            break
        else:
            stop.wait(IDLE_POLL_SECONDS)
    return ran


def release_dead(url: str, job_id: int | None = None) -> int:
    """Requeue the tasks of this machine's dead workers (see :func:`jobs.release_dead_local`)."""
    with _session(url) as session:
        return jobs.release_dead_local(session, job_id)


# --------------------------------------------------------------------------- processes

def _context() -> Any:
    """Fork where there is fork (fast; the children drop the parent's connections), else
    spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _child(url: str, queue: str, job_id: int | None, until_idle: bool,
           lease_seconds: float) -> None:
    for engine in db._engines.values():  # the parent's connections are the parent's
        engine.dispose(close=False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with suppress(KeyboardInterrupt):
        work(url, jobs.worker_name(), queue, job_id, until_idle, lease_seconds)


def start_processes(count: int, url: str, queue: str = jobs.DEFAULT_QUEUE,
                    job_id: int | None = None, until_idle: bool = False,
                    lease_seconds: float = jobs.LEASE_SECONDS) -> list[Any]:
    """``count`` worker processes, started."""
    context = _context()
    processes = [context.Process(target=_child, name=f"sib-worker-{i}",
                                 args=(url, queue, job_id, until_idle, lease_seconds))
                 for i in range(count)]
    for process in processes:
        process.start()
    return processes


def serve(url: str, concurrency: int = 1, queue: str = jobs.DEFAULT_QUEUE,
          until_idle: bool = False, lease_seconds: float = jobs.LEASE_SECONDS) -> None:
    """``sib worker``: requeue what this machine's dead workers held, then work in
    ``concurrency`` processes until interrupted (or, with ``until_idle``, until the queue is
    empty)."""
    release_dead(url)
    if concurrency == 1:
        work(url, jobs.worker_name(), queue, None, until_idle, lease_seconds)
        return
    processes = start_processes(concurrency, url, queue, None, until_idle, lease_seconds)
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()
        raise


def run_inline(url: str, job_id: int, processes: int,
               on_progress: Callable[[jobs.JobView], None] | None = None) -> jobs.JobView:
    """Run job ``job_id``'s tasks here, in ``processes`` workers (this process and
    ``processes - 1`` others), calling ``on_progress`` as it goes, until the job is done or
    failed. Tasks a dead run of the same job left are taken up again. Refused ``JOB_FAILED``
    with the job's error if it failed."""
    release_dead(url, job_id)
    others = start_processes(processes - 1, url, job_id=job_id, until_idle=True) \
        if processes > 1 else []
    view: jobs.JobView | None = None
    try:
        view = _drive(url, job_id, on_progress)
    finally:
        for process in others:
            # Failed or interrupted: stop the others. Cancelled: each stops by itself at the
            # end of its document, and records it.
            if view is None or view.state not in (DONE, CANCELLED):
                process.terminate()
            process.join()
    if view.state == CANCELLED:
        raise SibError(f"job {job_id} was cancelled (sib job retry {job_id} runs what is left)",
                       "JOB_CANCELLED", "job")
    if view.state != DONE:
        raise SibError(f"job {job_id} failed: {view.error}", "JOB_FAILED", "job")
    return view


def _drive(url: str, job_id: int, on_progress: Callable[[jobs.JobView], None] | None
           ) -> jobs.JobView:
    """Work on the job in a thread of this process, reporting progress, until it ends."""
    thread: threading.Thread | None = None
    while True:
        with _session(url, read_only=True) as session:
            view = jobs.get_job(session, job_id)
        if on_progress is not None:
            on_progress(view)
        if view.finished:
            if view.state == CANCELLED and thread is not None:
                thread.join()  # its task stops at the end of its document
            return view
        if thread is None or not thread.is_alive():
            # Nothing left to claim now, tasks still running elsewhere: look again later
            # (a task whose worker died is claimable when its lease runs out).
            thread = threading.Thread(target=work, args=(url, jobs.worker_name("inline"),
                                                         jobs.INLINE_QUEUE, job_id, True),
                                      daemon=True)
            thread.start()
        time.sleep(0.2)


# --------------------------------------------------------------------------- the service's thread

_threads: dict[str, threading.Thread] = {}
_wake: dict[str, threading.Event] = {}
_guard = threading.Lock()


def _serve_in_process(url: str) -> None:
    worker = jobs.worker_name("service")
    while True:
        try:
            ran = run_one(url, worker)
        except Exception:  # the database is away: stop, the next kick starts again
            log.exception("the service's job thread stopped")
            ran = False
            with _guard:
                _threads.pop(url, None)
            return
        if ran:
            continue
        with _guard:
            if _wake[url].is_set():
                _wake[url].clear()
                continue
            _threads.pop(url, None)
            return


def in_process(url: str) -> bool:
    """Whether the service itself runs the jobs of ``url`` (SQLite: one machine, one writer)."""
    return url.startswith("sqlite")


def kick(url: str | None = None) -> None:
    """Make sure the service's job thread is running for ``url`` (SQLite only): called when a
    job is started or looked at, so work left by a restart is taken up again."""
    url = url or get_settings().database_url
    if not in_process(url):
        return
    with _guard:
        _wake.setdefault(url, threading.Event()).set()
        thread = _threads.get(url)
        if thread is not None and thread.is_alive():
            return
        _wake[url].clear()
        release_dead(url)
        thread = threading.Thread(target=_serve_in_process, args=(url,), daemon=True,
                                  name="sib-jobs")
        _threads[url] = thread
        thread.start()
