"""Benchmark: every document of a contract year for N holders as a background job on
PostgreSQL, served by one worker process and then by two (issue 15, acceptance 4).

A fresh PostgreSQL database (dropped afterwards) gets the settlement benchmark's contract with
N holders (``SIB_BENCH_JOB_HOLDERS``, default 20,000), its FY2019 settled and the holders paid.
Then, twice: a statements job is started (as ``sib job start statements`` does) and ``sib worker
--once`` processes are started beside it — one, then two, each a separate operating-system
process as on separate machines. Timed from the start of the job to its last task done, as a
person watching its progress would see it (the workers' start-up included). Progress is read
from the database as it goes, as the job's page reads it.

Figures: ``one_worker_s``, ``two_workers_s`` (the best of ``SIB_BENCH_JOB_ROUNDS`` rounds,
default 1, run alternately), ``speedup_2_vs_1`` (goal ≥ 1.6), the workers' CPU seconds, the
documents written (every run must write the same bytes: ``outputs_identical``), the progress
readings seen, and the machine's load average around each run (these machines are shared). The
workers' CPU seconds over the wall time (``cores_used``) say how much of the machine they got:
two workers sharing two cores with other work cannot use two.
``SIB_BENCH_JOB_LANGS`` (default ``ja,en``) chooses the languages, and
``SIB_BENCH_JOB_HOLDERS_PER_TASK`` (default 2,500) the size of a task.
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from api import jobs
from api.db import make_engine
from api.job_kinds import HOLDERS_PER_TASK, STATEMENTS
from bench.ledger_bench import database, postgres_server
from bench.settlement_bench import C, _settle_year, _setup

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2019
SPEEDUP_GOAL = 1.6


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _digests(folder: Path) -> dict[str, str]:
    """Every file's path and the hash of its bytes."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(p for p in folder.rglob("*") if p.is_file())}


def _differences(first: dict[str, str], other: dict[str, str]) -> list[str]:
    """The files that are not the same in both (at most ten named)."""
    names = sorted(name for name in first.keys() | other.keys()
                   if first.get(name) != other.get(name))
    return names[:10] + ([f"… {len(names) - 10} more"] if len(names) > 10 else [])


def _run_job(url: str, workers: int, out: Path, langs: tuple[str, ...]) -> dict[str, Any]:
    """Start the job, start ``workers`` worker processes, wait for the job to end."""
    engine = make_engine(url)
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    params = {"contract": C, "fiscal_year": YEAR, "langs": list(langs), "out": str(out),
              "holders_per_task": int(os.environ.get("SIB_BENCH_JOB_HOLDERS_PER_TASK",
                                                     HOLDERS_PER_TASK))}
    with Session(engine) as s:  # as `sib job start statements` starts it
        job = jobs.enqueue(s, STATEMENTS, params, "bench")
        s.commit()
    planned = time.perf_counter() - started
    cpu_before = _children_cpu()
    processes = [subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--once"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
    readings: list[tuple[float, int]] = []
    try:
        while True:
            with Session(engine) as s:
                view = jobs.get_job(s, job.id)
            readings.append((round(time.perf_counter() - started, 1), view.units_done))
            if view.finished:
                break
            if all(p.poll() is not None for p in processes):
                raise RuntimeError(f"the workers stopped with job {job.id} {view.state}")
            time.sleep(0.5)
        seconds = time.perf_counter() - started
    finally:
        for process in processes:
            process.wait(timeout=120)
        engine.dispose()
    assert view.state == "done", view.error
    with Session(make_engine(url)) as s:
        claims = sum(t.attempts for t in jobs.job_tasks(s, job.id))
    cpu = _children_cpu() - cpu_before
    return {"seconds": seconds, "plan_s": planned, "documents": view.units_done,
            "tasks": view.tasks_total, "claims": claims, "readings": readings,
            "worker_cpu_s": cpu, "cores_used": cpu / seconds, "load": _load()}


def _children_cpu() -> float:
    """CPU seconds (user and system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run() -> dict[str, Any]:
    if not postgres_server():
        return {"skipped": "needs PostgreSQL: set SIB_BENCH_POSTGRES_URL or "
                           "SIB_TEST_POSTGRES_URL"}
    holders = int(os.environ.get("SIB_BENCH_JOB_HOLDERS", "20000"))
    langs = tuple(os.environ.get("SIB_BENCH_JOB_LANGS", "ja,en").split(","))
    rounds = int(os.environ.get("SIB_BENCH_JOB_ROUNDS", "1"))
    load_before = _load()
    with database("postgresql") as url, tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        _setup(url, holders)
        _settle_year(url)
        setup_s = time.perf_counter() - started
        # Alternating rounds (1, 2, 2, 1, 1, 2, …) so that the load of a shared machine falls
        # on both alike; each run a new job writing to a folder of its own.
        order = [n for r in range(rounds) for n in ((1, 2) if r % 2 == 0 else (2, 1))]
        runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
        for index, workers in enumerate(order):
            runs[workers].append(_run_job(url, workers, Path(tmp) / f"out{index}", langs))
        first = _digests(Path(tmp) / "out0")
        differences = [_differences(first, _digests(Path(tmp) / f"out{index}"))
                       for index in range(1, len(order))]
    one = min(r["seconds"] for r in runs[1])
    two = min(r["seconds"] for r in runs[2])
    speedup = one / two
    return {
        "database": "postgresql", "holders": holders, "langs": ",".join(langs),
        "documents": runs[1][0]["documents"], "tasks": runs[1][0]["tasks"],
        "setup_s": round(setup_s, 1), "rounds": rounds,
        "one_worker_s": round(one, 1), "two_workers_s": round(two, 1),
        "one_worker_runs_s": [round(r["seconds"], 1) for r in runs[1]],
        "two_workers_runs_s": [round(r["seconds"], 1) for r in runs[2]],
        "one_worker_cpu_s": [round(r["worker_cpu_s"], 1) for r in runs[1]],
        "two_workers_cpu_s": [round(r["worker_cpu_s"], 1) for r in runs[2]],
        "load_after_each_run": [r["load"] for n in (1, 2) for r in runs[n]],
        "plan_s": round(max(r["plan_s"] for n in (1, 2) for r in runs[n]), 2),
        "speedup_2_vs_1": round(speedup, 2), "speedup_goal": SPEEDUP_GOAL,
        "outputs_identical": not any(differences),
        "files_differing": [name for names in differences for name in names][:10],
        "task_claims": [r["claims"] for n in (1, 2) for r in runs[n]],
        "one_worker_cores_used": [round(r["cores_used"], 2) for r in runs[1]],
        "two_workers_cores_used": [round(r["cores_used"], 2) for r in runs[2]],
        "progress_readings_two_workers": [f"{t}s:{n}"
                                          for t, n in runs[2][0]["readings"][::10]],
        "load_average_before": load_before, "load_average_after": _load(),
        "cores": os.cpu_count(),
        "goals": [{"database": "postgresql", "figure": f"statements job, {holders:,} holders: "
                   "2 workers against 1", "value": round(speedup, 2),
                   "goal": f"≥ {SPEEDUP_GOAL}", "met": speedup >= SPEEDUP_GOAL}],
    }


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
