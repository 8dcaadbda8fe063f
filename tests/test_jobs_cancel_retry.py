"""Jobs that stall, are cancelled and are retried (issue 15, item 4), on SQLite and PostgreSQL.

The test kind ``tally`` makes ``items`` units, ``per_task`` to a task (5 items, 2 per task: tasks
of 2, 2 and 1 units), like the queue's own tests' ``count``; an item listed in ``BROKEN`` fails
its task (a failure that goes away, as a full disk or a lost mount does), and a task may be
held at a gate between two units so that a test can cancel it while it runs.

Leases are 60 s (``api.jobs.LEASE_SECONDS``). A job is shown ``stalled`` when no task of it holds
a live lease and one holds a lease that ran out; a job of the inline queue (``sib statements``)
also when nothing happened to it for 60 s. Both are read at a given moment, never stored.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session, col

from api import db, job_worker, jobs
from api.jobs import JobKind, Plan, TaskRun, TaskSpec
from api.main import create_app
from api.tables import AuditRecord
from api.users import add_user, create_token
from ledger.errors import SibError

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
TALLY = "tally"
BROKEN: set[int] = set()
GATES: dict[int, tuple[threading.Event, threading.Event]] = {}  # item: (reached, go on)
ROOT = Path(__file__).resolve().parent.parent


def _plan(session: Session, params: Mapping[str, Any]) -> Plan:
    items, per_task = int(params["items"]), int(params.get("per_task", 2))
    return Plan({"items": items, "per_task": per_task, "tag": params.get("tag", "")},
                [TaskSpec({"first": start}, min(per_task, items - start))
                 for start in range(0, items, per_task)])


def _run_task(run: TaskRun) -> dict[str, Any]:
    first = int(run.task_params["first"])
    size = min(int(run.job_params["per_task"]), int(run.job_params["items"]) - first)
    for item in range(first, first + size):
        if item in GATES:
            reached, go_on = GATES[item]
            reached.set()
            assert go_on.wait(30)
        if item in BROKEN:
            raise SibError(f"item {item} cannot be tallied now", "ITEM_BROKEN", "item")
        run.advance(1)
    return {"tallied": size}


jobs.register(JobKind(TALLY, _plan, _run_task, "tally items (tests)"))


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    BROKEN.clear()
    GATES.clear()
    yield
    BROKEN.clear()
    for _, go_on in GATES.values():
        go_on.set()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("db_url" if request.param == "sqlite" else "own_pg_url"))


def _start(url: str, items: int = 5, queue: str = jobs.DEFAULT_QUEUE, at: datetime = T0,
           **params: Any) -> jobs.JobView:
    with db.unit_of_work(url) as s:
        return jobs.enqueue(s, TALLY, {"items": items, **params}, "alice", queue, now=at)


def _claim(url: str, worker: str, at: datetime = T0, job_id: int | None = None,
           queue: str = jobs.DEFAULT_QUEUE) -> jobs.Claim | None:
    with db.unit_of_work(url) as s:
        return jobs.claim(s, worker, queue, job_id, now=at)


def _view(url: str, job_id: int, at: datetime | None = None) -> jobs.JobView:
    with db.unit_of_work(url) as s:
        return jobs.get_job(s, job_id, at)


def _tasks(url: str, job_id: int) -> list[jobs.TaskView]:
    with db.unit_of_work(url) as s:
        return jobs.job_tasks(s, job_id)


def _listed(url: str, state: str, at: datetime) -> list[int]:
    with db.unit_of_work(url) as s:
        return [v.id for v in jobs.list_jobs(s, TALLY, state, now=at)[0]]


def _code(call: Any) -> str:
    with pytest.raises(SibError) as refused:
        call()
    return refused.value.problems[0].code


# --------------------------------------------------------------------------- stalled

def test_a_job_whose_worker_died_is_shown_stalled_until_a_worker_takes_it_over(url):
    job = _start(url)  # tasks of 2, 2 and 1
    held = _claim(url, "w-dead", T0)  # its lease runs to T0 + 60 s; the worker then dies
    assert held is not None
    assert _view(url, job.id, T0 + timedelta(seconds=59)).state == "running"
    stalled = _view(url, job.id, T0 + timedelta(seconds=61))
    assert (stalled.state, stalled.finished, stalled.cancellable, stalled.retryable) == (
        "stalled", False, True, True)
    at = T0 + timedelta(seconds=61)
    assert _listed(url, "stalled", at) == [job.id]
    assert _listed(url, "running", at) == []
    # A worker started again takes the task over: the job runs again.
    taken = _claim(url, "w-new", at)
    assert taken is not None and taken.task_id == held.task_id
    assert _view(url, job.id, at).state == "running"
    assert _listed(url, "stalled", at) == []


def test_one_dead_worker_among_live_ones_does_not_stall_the_job(url):
    job = _start(url)
    assert _claim(url, "w-dead", T0) is not None
    live = T0 + timedelta(seconds=50)
    assert _claim(url, "w-live", live) is not None  # leased to T0 + 110 s
    # The dead worker's lease ran out at T0 + 60 s, but a live worker is on the job (and will
    # take the task over when it looks for work): not stalled.
    assert _view(url, job.id, T0 + timedelta(seconds=70)).state == "running"


def test_a_killed_sib_statements_job_stalls_even_between_two_tasks(url):
    """The inline queue is served only by the command that started the job: killed before its
    first claim, or between two tasks, nothing would ever take it up."""
    never = _start(url, items=2, queue=jobs.INLINE_QUEUE)  # killed before its first claim
    assert _view(url, never.id, T0 + timedelta(seconds=59)).state == "queued"
    assert _view(url, never.id, T0 + timedelta(seconds=61)).state == "stalled"

    job = _start(url, items=4, queue=jobs.INLINE_QUEUE, tag="b")
    claim = _claim(url, "cli", T0 + timedelta(seconds=100), job.id, jobs.INLINE_QUEUE)
    assert claim is not None
    with db.unit_of_work(url) as s:
        jobs.complete(s, claim, {"tallied": 2}, now=T0 + timedelta(seconds=101))
    # Task 0 finished at T0 + 101 s; then the command was killed. Within 60 s of that moment
    # it may be between two tasks; after, nobody is on it.
    assert _view(url, job.id, T0 + timedelta(seconds=160)).state == "running"
    assert _view(url, job.id, T0 + timedelta(seconds=162)).state == "stalled"
    # A job of the workers' queue waiting for a worker is queued, not stalled.
    waiting = _start(url, items=2, tag="c")
    assert _view(url, waiting.id, T0 + timedelta(days=1)).state == "queued"


# --------------------------------------------------------------------------- cancel

def test_cancelling_stops_the_running_task_after_its_current_unit(url, monkeypatch):
    monkeypatch.setattr(jobs, "CANCEL_CHECK_SECONDS", 0.0)  # look at every unit
    job = _start(url, items=6, per_task=4)  # tasks of 4 and 2
    reached, go_on = GATES.setdefault(1, (threading.Event(), threading.Event()))
    worker = threading.Thread(target=job_worker.work, args=(url, "w"),
                              kwargs={"until_idle": True})
    worker.start()
    assert reached.wait(30)  # unit 0 made; the task is making unit 1
    cancelled = _view(url, job.id)
    assert cancelled.state == "running"
    with db.unit_of_work(url) as s:
        cancelled = jobs.cancel(s, job.id)
    # The second task, not started, is cancelled at once; the first still runs.
    assert (cancelled.state, cancelled.finished, cancelled.tasks_running) == ("cancelled", True, 1)
    assert [t.state for t in _tasks(url, job.id)] == ["running", "cancelled"]
    go_on.set()  # unit 1 is finished; the task looks, sees the cancel, and stops
    worker.join(30)
    assert not worker.is_alive()
    tasks = _tasks(url, job.id)
    assert [(t.state, t.units_done, t.units_total) for t in tasks] == [
        ("cancelled", 2, 4), ("cancelled", 0, 2)]
    view = _view(url, job.id)
    assert (view.state, view.units_done, view.tasks_running) == ("cancelled", 2, 0)
    assert not job_worker.run_one(url, "w2")  # nothing of a cancelled job is claimed


def test_cancel_is_refused_for_a_finished_job_and_changes_nothing_twice(url):
    job = _start(url, items=2)
    with db.unit_of_work(url) as s:
        first = jobs.cancel(s, job.id, now=T0)
    with db.unit_of_work(url) as s:
        again = jobs.cancel(s, job.id, now=T0 + timedelta(seconds=5))
    assert (first.state, again.state, again.finished_at) == ("cancelled", "cancelled", T0)
    done = _start(url, items=2, tag="d")
    job_worker.work(url, "w", until_idle=True)
    with db.unit_of_work(url) as s:
        assert _code(lambda: jobs.cancel(s, done.id)) == "JOB_FINISHED"
    with db.unit_of_work(url) as s:
        assert _code(lambda: jobs.cancel(s, 999)) == "JOB_NOT_FOUND"


def test_a_stalled_jobs_abandoned_task_is_cancelled_at_once(url):
    job = _start(url, items=4)
    assert _claim(url, "w-dead", T0) is not None
    with db.unit_of_work(url) as s:
        view = jobs.cancel(s, job.id, now=T0 + timedelta(seconds=61))
    assert (view.state, view.tasks_running) == ("cancelled", 0)
    assert [t.state for t in _tasks(url, job.id)] == ["cancelled", "cancelled"]


# --------------------------------------------------------------------------- retry

def test_retry_runs_the_failed_task_again_and_leaves_the_done_ones(url):
    BROKEN.add(3)  # in the second task
    job = _start(url, items=6)  # tasks 0–1, 2–3, 4–5
    assert job_worker.run_one(url, "w") and job_worker.run_one(url, "w")
    failed = _view(url, job.id)
    assert failed.state == "failed" and failed.error.startswith("task 1: ITEM_BROKEN")
    before = _tasks(url, job.id)
    assert [t.state for t in before] == ["done", "failed", "queued"]

    BROKEN.clear()  # whatever broke it is mended
    with db.unit_of_work(url) as s:
        again = jobs.retry(s, job.id)
    assert (again.state, again.error, again.finished_at) == ("running", "", None)
    after = _tasks(url, job.id)
    assert [(t.state, t.attempts, t.error) for t in after] == [
        ("done", 1, ""), ("queued", 0, ""), ("queued", 0, "")]
    assert after[0] == before[0]  # the done task untouched
    assert job_worker.work(url, "w", until_idle=True) == 2
    done = _view(url, job.id)
    # 2 + 2 + 2 tallied: the first task's 2 once, not twice.
    assert (done.state, done.units_done, done.result) == ("done", 6, {"tallied": 6})


def test_retry_of_a_cancelled_and_of_a_stalled_job(url):
    cancelled = _start(url, items=4)
    with db.unit_of_work(url) as s:
        jobs.cancel(s, cancelled.id)
    with db.unit_of_work(url) as s:
        assert jobs.retry(s, cancelled.id).state == "queued"  # nothing had begun
    assert job_worker.work(url, "w", until_idle=True) == 2
    assert _view(url, cancelled.id).state == "done"

    stalled = _start(url, items=4, queue=jobs.INLINE_QUEUE, tag="s")
    held = _claim(url, "cli-killed", T0, stalled.id, jobs.INLINE_QUEUE)
    assert held is not None
    at = T0 + timedelta(seconds=61)
    assert _view(url, stalled.id, at).state == "stalled"
    with db.unit_of_work(url) as s:
        retried = jobs.retry(s, stalled.id, now=at)
    # The abandoned task is queued again (its attempts start again), and the job goes to the
    # workers' queue: the command that ran it is gone.
    assert (retried.state, retried.queue) == ("queued", jobs.DEFAULT_QUEUE)
    assert [(t.state, t.attempts) for t in _tasks(url, stalled.id)] == [("queued", 0),
                                                                        ("queued", 0)]
    with db.unit_of_work(url) as s:  # the dead worker's late completion is refused
        assert _code(lambda: jobs.complete(s, held)) == "JOB_LEASE_LOST"
    assert job_worker.work(url, "w", until_idle=True) == 2
    assert _view(url, stalled.id).state == "done"


def test_retry_refusals_and_a_retry_of_a_running_job(url):
    running = _start(url, items=2)
    with db.unit_of_work(url) as s:  # queued, not stalled: nothing to do
        assert jobs.retry(s, running.id, now=T0).state == "queued"
    job_worker.work(url, "w", until_idle=True)
    with db.unit_of_work(url) as s:
        assert _code(lambda: jobs.retry(s, running.id)) == "JOB_FINISHED"

    BROKEN.add(0)
    failed = _start(url, items=2, tag="f")
    job_worker.work(url, "w", until_idle=True)
    assert _view(url, failed.id).state == "failed"
    same = _start(url, items=2, tag="f")  # the same work started anew meanwhile
    assert same.id != failed.id
    with db.unit_of_work(url) as s:
        assert _code(lambda: jobs.retry(s, failed.id)) == "JOB_ACTIVE"


def test_a_task_stopping_for_a_cancel_undone_by_a_retry_is_queued_again(url):
    job = _start(url, items=2)
    claim = _claim(url, "w", T0)
    assert claim is not None
    with db.unit_of_work(url) as s:
        jobs.cancel(s, job.id, now=T0 + timedelta(seconds=1))
    with db.unit_of_work(url) as s:
        assert jobs.retry(s, job.id, now=T0 + timedelta(seconds=2)).state == "running"
    with db.unit_of_work(url) as s:  # the worker saw the cancel before the retry
        jobs.stop_cancelled(s, claim, 1, now=T0 + timedelta(seconds=3))
    assert [(t.state, t.units_done) for t in _tasks(url, job.id)] == [("queued", 0)]
    assert job_worker.work(url, "w", until_idle=True) == 1
    assert _view(url, job.id).state == "done"


# --------------------------------------------------------------------------- over HTTP

@pytest.fixture
def client(db_url, monkeypatch) -> Iterator[TestClient]:
    monkeypatch.setattr("api.routes.jobs.kick", lambda url=None: None)  # the test runs jobs
    with db.unit_of_work(db_url) as s:
        tokens = {}
        for role in ("intermediary", "admin", "auditor", "finance_officer"):
            add_user(s, f"u-{role}", role, "ube" if role == "finance_officer" else None)
            tokens[role] = create_token(s, f"u-{role}")
    with TestClient(create_app(db_url)) as test_client:
        test_client.tokens = tokens  # type: ignore[attr-defined]
        yield test_client


def _post(client: TestClient, path: str, role: str, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {client.tokens[role]}"}  # type: ignore[attr-defined]
    if key:
        headers["Idempotency-Key"] = key
    return client.post(path, headers=headers)


def test_cancel_and_retry_endpoints(client, db_url):
    BROKEN.add(2)
    job = _start(db_url, items=4, at=datetime.now(UTC))
    assert job_worker.run_one(db_url, "w") and job_worker.run_one(db_url, "w")  # 2nd fails

    assert _post(client, f"/jobs/{job.id}/retry", "auditor", "r0").status_code == 403
    assert _post(client, f"/jobs/{job.id}/retry", "finance_officer", "r0").status_code == 403
    assert _post(client, f"/jobs/{job.id}/retry", "intermediary", None).status_code == 422
    refused = _post(client, f"/jobs/{job.id}/cancel", "intermediary", "c0")
    assert refused.status_code == 409 and "JOB_FINISHED" in refused.text
    BROKEN.clear()
    retried = _post(client, f"/jobs/{job.id}/retry", "intermediary", "r1")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["tasks_done"]) == ("running", 1)
    replay = _post(client, f"/jobs/{job.id}/retry", "intermediary", "r1")
    assert replay.headers.get("Idempotent-Replayed") == "true"

    cancelled = _post(client, f"/jobs/{job.id}/cancel", "admin", "c1")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    listed = client.get("/jobs?state=cancelled", headers={
        "Authorization": f"Bearer {client.tokens['auditor']}"})  # type: ignore[attr-defined]
    assert [j["id"] for j in listed.json()["items"]] == [job.id]
    assert _post(client, "/jobs/999/cancel", "admin", "c2").status_code == 404
    with db.unit_of_work(db_url) as s:
        audited = [(a.username, a.action, a.status) for a in s.scalars(
            select(AuditRecord).where(col(AuditRecord.action).startswith("job."))
            .order_by(col(AuditRecord.id)))]
    # Refused acts are in the log too (a role refused earlier is logged under its route).
    assert audited == [("u-intermediary", "job.cancel", 409), ("u-intermediary", "job.retry", 200),
                       ("u-admin", "job.cancel", 200), ("u-admin", "job.cancel", 404)]


# --------------------------------------------------------------------------- statements

@pytest.fixture(scope="module")
def story_file(tmp_path_factory) -> Path:
    from tests import test_jobs_statements as story
    path = tmp_path_factory.mktemp("cancel-story") / "story.db"
    db.upgrade(f"sqlite:///{path}")
    story._tell(f"sqlite:///{path}")
    return path


@pytest.fixture
def story(story_file, tmp_path) -> str:
    path = tmp_path / "sib.db"
    with closing(sqlite3.connect(story_file)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


def test_statements_cancelled_mid_task_then_retried_equal_a_clean_run(story, tmp_path,
                                                                       monkeypatch):
    """Five tasks (the contract's documents, then 30 holders 8 at a time). The job is
    cancelled while the second task writes its third document: that task stops after it,
    the three others never start. Retried, the job writes every document, and the folder is
    byte for byte what one uninterrupted run writes."""
    from investors import batch
    from tests import test_jobs_statements as js
    monkeypatch.setattr(jobs, "CANCEL_CHECK_SECONDS", 0.0)
    out = tmp_path / "job"
    with db.unit_of_work(story) as s:
        job = jobs.enqueue(s, "statements", {"contract": js.C, "fiscal_year": js.YEAR,
                                             "out": str(out), "holders_per_task": 8}, "alice")
    assert job.tasks_total == 5
    assert job_worker.run_one(story, "w")  # the contract's own documents
    contract_files = len(js._files(out))
    written: list[str] = []
    real_write = batch.write_job

    def write_then_cancel(folder: Path, todo: Any) -> None:
        real_write(folder, todo)
        written.append(todo.path)
        if len(written) == 3:
            with db.unit_of_work(story) as s:
                jobs.cancel(s, job.id)

    monkeypatch.setattr(batch, "write_job", write_then_cancel)
    assert job_worker.run_one(story, "w")
    assert not job_worker.run_one(story, "w")  # the job is cancelled: nothing to claim
    tasks = _tasks(story, job.id)
    assert [(t.state, t.units_done) for t in tasks] == [
        ("done", contract_files), ("cancelled", 3), ("cancelled", 0), ("cancelled", 0),
        ("cancelled", 0)]
    assert len(js._files(out)) == contract_files + 3

    monkeypatch.setattr(batch, "write_job", real_write)
    with db.unit_of_work(story) as s:
        assert jobs.retry(s, job.id).state == "running"
    assert job_worker.work(story, "w", until_idle=True) == 4
    view = _view(story, job.id)
    files = js._files(out)
    assert (view.state, view.units_done, view.result) == ("done", len(files),
                                                          {"documents": len(files)})
    assert files == js._reference(story, tmp_path / "reference")


def test_sib_job_cancel_retry_and_a_stalled_sib_statements(story, tmp_path):
    """A ``sib statements`` killed after its first task (its lease left to run out) is
    listed stalled; ``sib job retry --wait`` finishes it here, and the files are a clean
    run's. ``sib job cancel`` then refuses the done job."""
    from tests import test_jobs_statements as js

    def sib(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT,
                              env={**os.environ, "DATABASE_URL": story,
                                   "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=300)

    out = tmp_path / "cli"
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    with db.unit_of_work(story) as s:
        job = jobs.enqueue(s, "statements", {"contract": js.C, "fiscal_year": js.YEAR,
                                             "out": str(out), "langs": ["ja"],
                                             "holders_per_task": 10}, "cli:someone",
                           jobs.INLINE_QUEUE, now=long_ago)
    # Ten minutes ago the command claimed its first task and was killed (another machine's
    # process: nothing here can tell it is dead but its lease).
    with db.unit_of_work(story) as s:
        assert jobs.claim(s, "elsewhere:4242", jobs.INLINE_QUEUE, job.id, now=long_ago)

    listed = sib("job", "list", "--state", "stalled", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["state"]) for r in json.loads(listed.stdout)] == [(job.id, "stalled")]
    shown = sib("job", "show", str(job.id))
    assert f"job {job.id} (statements, {js.C} FY{js.YEAR}): stalled" in shown.stdout

    retried = sib("job", "retry", str(job.id), "--wait", "--processes", "1", "--json")
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["state"] == "done"
    shutil.rmtree(tmp_path / "reference", ignore_errors=True)
    with Session(db.get_engine(story)) as s:
        from investors.batch import jobs_for_year, write_documents
        todo = [t for t in jobs_for_year(s, js.C, js.YEAR) if t.lang == "ja"]
    write_documents(todo, tmp_path / "reference", processes=1)
    assert js._files(out) == js._files(tmp_path / "reference")

    refused = sib("job", "cancel", str(job.id))
    assert refused.returncode == 1 and "JOB_FINISHED" in refused.stderr
    with db.unit_of_work(story) as s:
        audited = [a.action for a in s.scalars(select(AuditRecord).where(
            col(AuditRecord.action).startswith("job ")))]
    assert audited == ["job retry"]  # the refused cancel wrote nothing, its record included


# --------------------------------------------------------------------------- the portal

def _signed_in(client: TestClient, url: str, username: str) -> str:
    """Sign ``username`` in with an API token; the CSRF token of the session's forms."""
    import re
    with db.unit_of_work(url) as s:
        token = create_token(s, username, 1)
    client.get("/portal/signin")
    client.post("/portal/signin", data={"csrf": str(client.cookies.get("sib_pre")),
                                        "code": token, "username": username})
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', client.get("/portal/audit").text)
    assert found is not None
    return found.group(1)


def test_the_job_page_shows_stalled_and_cancels_and_retries(client, db_url):
    job = _start(db_url, items=4, queue=jobs.INLINE_QUEUE,
                 at=datetime.now(UTC) - timedelta(minutes=5))  # a killed sib statements
    csrf = _signed_in(client, db_url, "u-admin")
    page = client.get(f"/portal/jobs/{job.id}")
    assert 'data-state="stalled"' in page.text and "停止" in page.text
    assert 'id="job-cancel"' in page.text and 'id="job-retry"' in page.text
    assert 'http-equiv="refresh"' not in page.text  # nothing will change by itself

    refused = client.post(f"/portal/jobs/{job.id}/cancel", data={"form_key": "k1"})
    assert refused.status_code == 403 and "CSRF_REFUSED" in refused.text
    done = client.post(f"/portal/jobs/{job.id}/cancel", data={"csrf": csrf, "form_key": "k1"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/portal/jobs/{job.id}"
    page = client.get(f"/portal/jobs/{job.id}")
    assert 'data-state="cancelled"' in page.text and 'id="job-cancel"' not in page.text
    client.post(f"/portal/jobs/{job.id}/retry", data={"csrf": csrf, "form_key": "k2"})
    page = client.get(f"/portal/jobs/{job.id}")
    assert 'data-state="queued"' in page.text and 'id="job-retry"' not in page.text

    auditor = TestClient(client.app)
    _signed_in(auditor, db_url, "u-auditor")  # follows jobs, starts none: no buttons
    page = auditor.get(f"/portal/jobs/{job.id}")
    assert 'data-state="queued"' in page.text and 'id="job-cancel"' not in page.text
