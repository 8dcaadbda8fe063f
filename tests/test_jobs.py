"""The job queue (issue 15, long jobs in the background), on SQLite and on PostgreSQL.

A job of the test kind ``count`` makes ``items`` units, ``per_task`` to a task: 5 items, 2 per
task, is three tasks of 2, 2 and 1 units. Its tasks are claimed in order, each by one worker;
progress is the sum of the tasks' units; a task that raises fails the job with its error; a
task whose worker stopped renewing its lease is claimed again, and the first worker's late
completion is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from api import db, jobs
from api.job_worker import run_one, work
from api.jobs import JobKind, Plan, TaskRun, TaskSpec
from ledger.errors import SibError

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
COUNT = "count"


def _plan(session: Session, params: Mapping[str, Any]) -> Plan:
    items, per_task = int(params["items"]), int(params.get("per_task", 2))
    return Plan({"items": items, "per_task": per_task, "fail_at": params.get("fail_at")},
                [TaskSpec({"first": start}, min(per_task, items - start))
                 for start in range(0, items, per_task)])


def _run_task(run: TaskRun) -> dict[str, Any]:
    first = int(run.task_params["first"])
    size = min(int(run.job_params["per_task"]), int(run.job_params["items"]) - first)
    for item in range(first, first + size):
        if item == run.job_params.get("fail_at"):
            raise SibError(f"item {item} cannot be counted", "ITEM_BAD", "item")
        run.advance(1)
    return {"counted": size}


jobs.register(JobKind(COUNT, _plan, _run_task, "count items (tests)"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    """A database at head: a fresh SQLite file, or a PostgreSQL database of the test's own."""
    return str(request.getfixturevalue("db_url" if request.param == "sqlite" else "own_pg_url"))


def _start(url: str, items: int = 5, **params: Any) -> jobs.JobView:
    with db.unit_of_work(url) as s:
        return jobs.enqueue(s, COUNT, {"items": items, **params}, "alice", now=T0)


def _claim(url: str, worker: str, at: datetime = T0, lease: float = 60) -> jobs.Claim | None:
    with db.unit_of_work(url) as s:
        return jobs.claim(s, worker, lease_seconds=lease, now=at)


def _view(url: str, job_id: int, at: datetime = T0) -> jobs.JobView:
    """The job as seen at ``at`` (the tests' clock: a lease taken at T0 is live then, and a
    job is shown ``stalled`` only once its leases ran out)."""
    with db.unit_of_work(url) as s:
        return jobs.get_job(s, job_id, at)


def test_a_job_is_claimed_task_by_task_and_done_when_its_last_task_is(url):
    job = _start(url)
    assert (job.state, job.tasks_total, job.units_done, job.units_total) == ("queued", 3, 0, 5)
    assert (job.started_by, job.created_at) == ("alice", T0)

    first = _claim(url, "w1")
    assert first is not None and (first.seq, first.attempt) == (0, 1)
    second = _claim(url, "w2")
    assert second is not None and second.seq == 1  # the first is held: the next one
    view = _view(url, job.id)
    assert (view.state, view.tasks_running, view.started_at) == ("running", 2, T0)

    with db.unit_of_work(url) as s:  # progress: one unit of the first task
        assert jobs.renew(s, first, units_done=1, now=T0)
    assert _view(url, job.id).units_done == 1
    with db.unit_of_work(url) as s:
        jobs.complete(s, first, {"counted": 2}, now=T0 + timedelta(seconds=5))
    view = _view(url, job.id)
    assert (view.state, view.units_done, view.tasks_done) == ("running", 2, 1)

    third = _claim(url, "w1")
    assert third is not None and third.seq == 2
    assert _claim(url, "w3") is None  # nothing left to claim
    for claim, counted in ((third, 1), (second, 2)):
        with db.unit_of_work(url) as s:
            jobs.complete(s, claim, {"counted": counted}, now=T0 + timedelta(seconds=9))
    view = _view(url, job.id)
    assert (view.state, view.units_done, view.units_total) == ("done", 5, 5)
    assert view.result == {"counted": 5}  # 2 + 1 + 2
    assert view.finished_at == T0 + timedelta(seconds=9)


def test_a_worker_runs_every_task_and_reports_progress(url):
    job = _start(url, items=7, per_task=3)  # tasks of 3, 3 and 1
    assert work(url, "w", until_idle=True) == 3
    view = _view(url, job.id)
    assert (view.state, view.units_done, view.units_total, view.tasks_done) == ("done", 7, 7, 3)
    assert view.result == {"counted": 7}


def test_a_failed_task_records_its_error_and_the_job_fails(url):
    job = _start(url, items=6, per_task=2, fail_at=3)  # item 3 is in the second task
    assert run_one(url, "w") and run_one(url, "w")
    view = _view(url, job.id)
    assert view.state == "failed"
    assert view.error == "task 1: ITEM_BAD: item 3 cannot be counted"
    assert (view.tasks_done, view.tasks_failed, view.units_done) == (1, 1, 3)
    with db.unit_of_work(url) as s:
        tasks = jobs.job_tasks(s, job.id)
    assert [t.state for t in tasks] == ["done", "failed", "queued"]
    assert tasks[1].error == "ITEM_BAD: item 3 cannot be counted"
    assert not run_one(url, "w")  # the failed job's last task is not run


def test_a_task_whose_worker_died_is_claimed_again_after_its_lease(url):
    job = _start(url, items=2)  # one task
    dead = _claim(url, "w-dead", T0, lease=60)
    assert dead is not None
    assert _claim(url, "w2", T0 + timedelta(seconds=59)) is None  # still leased
    taken = _claim(url, "w2", T0 + timedelta(seconds=61))
    assert taken is not None and (taken.task_id, taken.attempt) == (dead.task_id, 2)
    with db.unit_of_work(url) as s, pytest.raises(jobs.LeaseLost):
        jobs.complete(s, dead)  # the dead worker's late completion is refused
    with db.unit_of_work(url) as s:
        jobs.complete(s, taken, {"counted": 2})
    assert _view(url, job.id).state == "done"


def test_a_task_that_kills_its_worker_three_times_fails(url):
    job = _start(url, items=1)
    at = T0
    for attempt in (1, 2, 3):
        claim = _claim(url, f"w{attempt}", at, lease=10)
        assert claim is not None and claim.attempt == attempt
        at += timedelta(seconds=11)
    assert _claim(url, "w4", at) is None
    view = _view(url, job.id)
    assert view.state == "failed" and "stopped 3 times" in view.error


def test_starting_the_same_work_while_it_runs_gives_the_same_job(url):
    first = _start(url, items=4)
    assert _start(url, items=4).id == first.id
    other = _start(url, items=5)
    assert other.id != first.id
    work(url, "w", until_idle=True)
    again = _start(url, items=4)  # done: the same start is new work
    assert again.id not in (first.id, other.id) and again.state == "queued"
    with db.unit_of_work(url) as s:
        views, total = jobs.list_jobs(s, kind=COUNT)
    assert total == 3 and [v.id for v in views] == [again.id, other.id, first.id]


def test_unknown_kind_and_empty_job_are_refused(url):
    with db.unit_of_work(url) as s, pytest.raises(SibError) as unknown:
        jobs.enqueue(s, "nothing", {}, "alice")
    assert unknown.value.problems[0].code == "JOB_KIND_UNKNOWN"
    with db.unit_of_work(url) as s, pytest.raises(SibError) as empty:
        jobs.enqueue(s, COUNT, {"items": 0}, "alice")
    assert empty.value.problems[0].code == "JOB_EMPTY"


@pytest.mark.postgres
def test_two_workers_on_postgresql_pass_over_each_others_claim(own_pg_url):
    """Worker 1's claim is not yet committed (its row is locked): worker 2 does not wait for
    it, nor take the same task, but takes the next (SKIP LOCKED)."""
    job = _start(own_pg_url, items=4)  # tasks 0 and 1
    engine = db.get_engine(own_pg_url)
    with Session(engine) as one, Session(engine) as two:
        first = jobs.claim(one, "w1", now=T0)
        two.connection().exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        second = jobs.claim(two, "w2", now=T0)
        assert first is not None and second is not None
        assert (first.seq, second.seq) == (0, 1)
        one.commit()
        two.commit()
    assert _view(own_pg_url, job.id).tasks_running == 2


@pytest.mark.postgres
def test_many_workers_on_postgresql_never_claim_the_same_task(own_pg_url):
    job = _start(own_pg_url, items=60, per_task=1)  # 60 tasks
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        claimed[name] = []
        barrier.wait()
        while (claim := _claim(own_pg_url, name)) is not None:
            claimed[name].append(claim.task_id)
            with db.unit_of_work(own_pg_url) as s:
                jobs.complete(s, claim)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [task for tasks in claimed.values() for task in tasks]
    assert len(every) == 60 and len(set(every)) == 60
    assert sum(1 for tasks in claimed.values() if tasks) >= 2  # the work was shared
    view = _view(own_pg_url, job.id)
    assert (view.state, view.tasks_done, view.units_done) == ("done", 60, 60)
