"""Statements and KPI files as background jobs (issue 15, item 4), end to end.

The story: the settlement benchmark's five-municipality contract with 30 citizen holders, each
holding units of the one class ``citizen-units``, FY2019 settled and the holders paid. A year's
documents are then 30 investor statements in two languages — 60 files — and the contract's own
documents (year-end report, notices, lender statements, balance confirmations). Written by a
job — in pieces, by any worker, even one killed half-way — they are the very bytes that
``sib statements`` wrote before it ran through jobs (``write_documents(jobs_for_year(…))``).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import db, job_worker, jobs
from api.job_kinds import KPI_IMPORT, start_statements
from api.main import create_app
from api.settings import get_settings
from api.users import add_user, create_token
from bench.settlement_bench import C, _settle_year, _setup
from investors.batch import jobs_for_year, write_documents
from ledger.errors import SibError

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2019
HOLDERS = 30
INVESTOR_FILES = HOLDERS * 2  # one class each, ja and en


def _tell(url: str, holders: int = HOLDERS) -> None:
    _setup(url, holders)
    _settle_year(url)


@pytest.fixture(scope="module")
def story_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("jobs-story") / "story.db"
    db.upgrade(f"sqlite:///{path}")
    _tell(f"sqlite:///{path}")
    return path


@pytest.fixture
def story(story_file, tmp_path) -> str:
    """A copy of the told story for this test."""
    path = tmp_path / "sib.db"
    with closing(sqlite3.connect(story_file)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _reference(url: str, folder: Path) -> dict[str, bytes]:
    """What ``sib statements`` wrote before jobs: every document, in one process."""
    with Session(db.get_engine(url)) as s:
        todo = jobs_for_year(s, C, YEAR)
    write_documents(todo, folder, processes=1)
    return _files(folder)


def _env(url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), **extra}


def test_a_statements_job_in_pieces_writes_what_sib_statements_wrote(story, tmp_path):
    with db.unit_of_work(story) as s:
        job = jobs.enqueue(s, "statements", {"contract": C, "fiscal_year": YEAR,
                                             "out": str(tmp_path / "job"),
                                             "holders_per_task": 8}, "alice")
    # The contract's documents, then holders 8 at a time: 8, 8, 8 and 6.
    assert job.tasks_total == 5
    assert job.state == "queued" and job.units_done == 0
    assert job_worker.work(story, "w", until_idle=True) == 5
    with db.unit_of_work(story) as s:
        done = jobs.get_job(s, job.id)
        tasks = jobs.job_tasks(s, job.id)
    assert [t.units_total for t in tasks[1:]] == [16, 16, 16, 12]  # holders × 2 languages
    written = _files(tmp_path / "job")
    assert sum(1 for name in written if name.startswith("investors/")) == INVESTOR_FILES
    assert (done.state, done.units_done, done.units_total) == ("done", len(written),
                                                                len(written))
    assert done.result == {"documents": len(written)}
    assert written == _reference(story, tmp_path / "reference")


def test_sib_statements_runs_a_job_and_writes_the_same_files(story, tmp_path):
    ran = subprocess.run([sys.executable, "-m", "api.cli", "statements", "-c", C, "-y",
                          str(YEAR), "--out", str(tmp_path / "cli"), "--processes", "2"],
                         cwd=ROOT, env=_env(story), capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr
    written = _files(tmp_path / "cli")
    assert f"wrote {len(written)} documents to {tmp_path / 'cli'}" in ran.stdout
    assert written == _reference(story, tmp_path / "reference")
    with db.unit_of_work(story) as s:
        [view], _ = jobs.list_jobs(s)
    assert (view.kind, view.queue, view.state, view.units_done) == (
        "statements", "inline", "done", len(written))
    assert view.started_by.startswith("cli:")


def test_the_documents_wait_for_the_books_they_were_started_on(story, tmp_path):
    """A job started on one ledger state refuses to write documents of another: an entry
    posted between the start and the work fails the job with LEDGER_CHANGED."""
    from datetime import date

    from moneyed import Money

    from contracts.chart import Code, Kind
    from ledger.entries import EntryDraft, credit, debit
    from ledger.service import post_entry
    with db.unit_of_work(story) as s:
        job = start_statements(s, C, YEAR, "alice", out=tmp_path / "out")
    with db.unit_of_work(story) as s:
        yen = Money(1, "JPY")
        post_entry(s, EntryDraft(C, "test:late", Kind.INVESTOR_DISTRIBUTION, date(2020, 6, 1),
                                 [debit(Code.distributions("citizen-units"), yen),
                                  credit(Code.distributions_payable("citizen-units"), yen)],
                                 "posted after the job was started",
                                 {"unit_class": "citizen-units"}))
    job_worker.work(story, "w", until_idle=True)
    with db.unit_of_work(story) as s:
        view = jobs.get_job(s, job.id)
    assert view.state == "failed"
    assert view.error.startswith("task 0: LEDGER_CHANGED: the books of")


# --------------------------------------------------------------------------- over HTTP

@pytest.fixture
def client(story, tmp_path, monkeypatch) -> Iterator[TestClient]:
    monkeypatch.setenv("SIB_OUT_DIR", str(tmp_path / "served"))
    get_settings.cache_clear()
    with db.unit_of_work(story) as s:
        tokens = {}
        for role in ("intermediary", "auditor", "investor"):
            add_user(s, f"u-{role}", role, "h000001" if role == "investor" else None)
            tokens[role] = create_token(s, f"u-{role}")
    with TestClient(create_app(story)) as test_client:
        test_client.tokens = tokens  # type: ignore[attr-defined]
        yield test_client
    get_settings.cache_clear()


def _headers(client: TestClient, role: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {client.tokens[role]}"}  # type: ignore[attr-defined]
    return {**headers, "Idempotency-Key": key} if key else headers


def _start(client: TestClient, key: str, role: str = "intermediary", body: object = None):
    return client.post(f"/contracts/{C}/years/{YEAR}/statement-jobs", json=body or {},
                       headers=_headers(client, role, key))


def test_progress_is_visible_through_the_endpoint(client, story, monkeypatch, tmp_path):
    monkeypatch.setattr("api.routes.jobs.kick", lambda url=None: None)  # the test runs it
    started = _start(client, "k1")
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["state"], job["tasks_total"], job["units_done"], job["percent"]) == (
        "queued", 2, 0, 0)
    assert job["started_by"] == "u-intermediary"
    assert job["params"]["out"] == str(tmp_path / "served" / C / f"FY{YEAR}")

    assert job_worker.run_one(story, "w")  # the contract's own documents
    page = client.get(f"/jobs/{job['id']}", headers=_headers(client, "auditor")).json()
    contract_files = len(_files(tmp_path / "served" / C / f"FY{YEAR}"))
    assert (page["state"], page["tasks_done"], page["units_done"]) == (
        "running", 1, contract_files)
    assert page["units_total"] == contract_files + INVESTOR_FILES
    assert page["percent"] == 100 * contract_files // (contract_files + INVESTOR_FILES)

    assert job_worker.run_one(story, "w")  # the 30 holders
    page = client.get(f"/jobs/{job['id']}", headers=_headers(client, "auditor")).json()
    assert (page["state"], page["percent"], page["units_done"]) == (
        "done", 100, contract_files + INVESTOR_FILES)
    listed = client.get("/jobs", headers=_headers(client, "intermediary")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == job["id"]


def test_starting_again_is_idempotent(client, monkeypatch):
    monkeypatch.setattr("api.routes.jobs.kick", lambda url=None: None)
    first = _start(client, "k1").json()
    replay = _start(client, "k1")  # the same request sent again: its first response
    assert replay.status_code == 202 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == first["id"]
    other_key = _start(client, "k2")  # another request for the same work while it waits
    assert other_key.status_code == 202 and other_key.json()["id"] == first["id"]
    english = _start(client, "k3", body={"langs": ["en"]})  # other work: another job
    assert english.json()["id"] != first["id"]
    assert _start(client, "k1", body={"langs": ["en"]}).status_code == 409  # key reused


def test_who_may_start_and_see_jobs(client, monkeypatch):
    monkeypatch.setattr("api.routes.jobs.kick", lambda url=None: None)
    assert _start(client, "a1", role="auditor").status_code == 403
    assert client.post(f"/contracts/{C}/years/{YEAR}/statement-jobs", json={},
                       headers=_headers(client, "intermediary")).status_code == 422  # no key
    assert client.get("/jobs", headers=_headers(client, "investor")).status_code == 403
    assert client.get("/jobs/99", headers=_headers(client, "auditor")).status_code == 404
    assert client.get("/jobs").status_code == 401
    outside = client.post(f"/contracts/{C}/years/2040/statement-jobs", json={},
                          headers=_headers(client, "intermediary", "o1"))
    assert outside.status_code == 404


def test_on_sqlite_the_service_runs_the_job_itself(client, tmp_path):
    job = _start(client, "k1").json()
    deadline = time.monotonic() + 120
    while True:
        page = client.get(f"/jobs/{job['id']}", headers=_headers(client, "auditor")).json()
        if page["state"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert page["state"] == "done", page
    written = _files(tmp_path / "served" / C / f"FY{YEAR}")
    assert page["units_done"] == len(written)
    assert sum(1 for name in written if name.startswith("investors/")) == INVESTOR_FILES


# --------------------------------------------------------------------------- KPI files

def _results_file(path: Path, participants: str) -> Path:
    path.write_text("contract,fiscal_year,kpi,value\n"
                    f"{C},2020,participants,{participants}\n"
                    f"{C},2020,inactive-share,51.5\n", encoding="utf-8")
    return path


def _evaluators(url: str) -> None:
    """The contract's evaluator, and one of another party (who may not import its results)."""
    with db.unit_of_work(url) as s:
        add_user(s, "evaluator", "evaluator", "tsukuba-kuno-lab")
        add_user(s, "other-lab", "evaluator", "elsewhere")


def test_a_kpi_file_is_imported_by_a_job_once(story, tmp_path):
    from settlement.results import results_for
    _evaluators(story)
    good = _results_file(tmp_path / "fy2020.csv", "7100")
    with db.unit_of_work(story) as s:
        job = jobs.enqueue(s, KPI_IMPORT, {"file": str(good), "by": "evaluator"}, "alice")
    job_worker.work(story, "w", until_idle=True)
    with db.unit_of_work(story) as s:
        view = jobs.get_job(s, job.id)
        rows = results_for(s, C, 2020)
    assert (view.state, view.result) == ("done", {"rows": 2})
    assert sorted((r.kpi_id, r.value, r.state, r.submitted_by) for r in rows) == [
        ("inactive-share", "51.5", "submitted", "evaluator"),
        ("participants", "7100", "submitted", "evaluator")]


def test_a_refused_kpi_file_fails_its_job_and_imports_nothing(story, tmp_path):
    from settlement.results import results_for
    _evaluators(story)
    bad = _results_file(tmp_path / "bad.csv", "many")
    with db.unit_of_work(story) as s:
        job = jobs.enqueue(s, KPI_IMPORT, {"file": str(bad), "by": "evaluator"}, "alice")
    job_worker.work(story, "w", until_idle=True)
    with db.unit_of_work(story) as s:
        view = jobs.get_job(s, job.id)
        assert results_for(s, C, 2020) == []
    assert view.state == "failed"
    assert view.error.startswith("task 0: ") and "many" in view.error


def test_a_kpi_import_job_is_signed_by_an_evaluator_of_the_contract(story, tmp_path):
    """As ``sib kpi import``: the job's submitter must be a registered evaluator (refused when
    the job is started), and one of the contracts in the file (its job fails, nothing is
    imported)."""
    from settlement.results import results_for
    _evaluators(story)
    good = _results_file(tmp_path / "fy2020.csv", "7100")
    with db.unit_of_work(story) as s, pytest.raises(SibError) as refused:
        jobs.enqueue(s, KPI_IMPORT, {"file": str(good), "by": "someone"}, "alice")
    assert refused.value.code == "USER_NOT_FOUND"
    with db.unit_of_work(story) as s:
        job = jobs.enqueue(s, KPI_IMPORT, {"file": str(good), "by": "other-lab"}, "alice")
    job_worker.work(story, "w", until_idle=True)
    with db.unit_of_work(story) as s:
        view = jobs.get_job(s, job.id)
        assert results_for(s, C, 2020) == []
    assert view.state == "failed" and "EVALUATOR_NOT_OF_CONTRACT" in view.error


# --------------------------------------------------------------------------- a worker killed

@pytest.mark.postgres
def test_a_killed_workers_task_is_taken_up_again(own_pg_url, tmp_path):
    """``sib worker`` killed (SIGKILL) in the middle of a job of ten tasks; a worker started
    again on the same machine takes up the task the dead one held at once, and the job's
    files are the reference's."""
    _tell(own_pg_url, 36)
    with db.unit_of_work(own_pg_url) as s:
        job = jobs.enqueue(s, "statements", {"contract": C, "fiscal_year": YEAR,
                                             "out": str(tmp_path / "job"),
                                             "holders_per_task": 4}, "alice")
    assert job.tasks_total == 10
    worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--once"],
                              cwd=ROOT, env=_env(own_pg_url), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        with db.unit_of_work(own_pg_url) as s:
            view = jobs.get_job(s, job.id)
        if view.tasks_done >= 2 and view.tasks_running == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    with db.unit_of_work(own_pg_url) as s:
        killed = jobs.get_job(s, job.id)
        held = [t for t in jobs.job_tasks(s, job.id) if t.state == "running"]
    assert killed.state == "running" and killed.tasks_done < 10
    assert [t.claimed_by for t in held] in ([], [f"{os.uname().nodename}:{worker.pid}"])

    again = subprocess.run([sys.executable, "-m", "api.cli", "worker", "--once"], cwd=ROOT,
                           env=_env(own_pg_url), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    with db.unit_of_work(own_pg_url) as s:
        done = jobs.get_job(s, job.id)
        tasks = jobs.job_tasks(s, job.id)
    assert (done.state, done.tasks_done) == ("done", 10)
    assert [t.attempts for t in tasks if t.attempts > 1] == [2] * len(held)
    shutil.rmtree(tmp_path / "reference", ignore_errors=True)
    assert _files(tmp_path / "job") == _reference(own_pg_url, tmp_path / "reference")


# --------------------------------------------------------------------------- the command line

def test_sib_job_start_worker_and_show(story, tmp_path):
    """``sib job start statements`` queues the year for the workers; ``sib worker --once``
    serves the queue and stops when it is empty; ``sib job show`` tells how it went."""
    import json

    def sib(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT,
                              env=_env(story), capture_output=True, text=True, timeout=300)

    started = sib("job", "start", "statements", "-c", C, "-y", str(YEAR), "--lang", "ja",
                  "--out", str(tmp_path / "out"), "--holders-per-task", "10", "--json")
    assert started.returncode == 0, started.stderr
    job = json.loads(started.stdout)
    # The contract's documents, then 30 holders 10 at a time, in Japanese only.
    assert (job["state"], job["tasks_total"], job["started_by"][:4]) == ("queued", 4, "cli:")
    again = sib("job", "start", "statements", "-c", C, "-y", str(YEAR), "--lang", "ja",
                "--out", str(tmp_path / "out"), "--holders-per-task", "10", "--json")
    assert json.loads(again.stdout)["id"] == job["id"]  # queued already: the same job

    served = sib("worker", "--once")
    assert served.returncode == 0, served.stderr
    shown = json.loads(sib("job", "show", str(job["id"]), "--json").stdout)
    written = _files(tmp_path / "out")
    assert (shown["state"], shown["percent"], shown["units_done"]) == ("done", 100,
                                                                        len(written))
    assert [t["units_total"] for t in shown["tasks"][1:]] == [10, 10, 10]
    assert sum(1 for name in written if name.startswith("investors/")) == HOLDERS
    listed = sib("job", "list")
    assert listed.returncode == 0 and f"{C} FY{YEAR}" in listed.stdout

    missing = sib("job", "show", "999")
    assert missing.returncode == 1 and "JOB_NOT_FOUND" in missing.stderr
    # Results are submitted by an evaluator proved by its own token, as with sib kpi import.
    unsigned = sib("job", "start", "kpi-import", str(tmp_path / "none.csv"), "--by", "x")
    assert unsigned.returncode == 1 and "TOKEN_REQUIRED" in unsigned.stderr
