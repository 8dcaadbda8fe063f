"""Benchmark: the HTTP service next to a bare FastAPI endpoint on the same server settings.

Two uvicorn servers on 127.0.0.1 (free ports; one worker each, the same command-line settings as
``sib serve``): the service on a temporary SQLite database, and a bare FastAPI app answering a
small constant JSON. The service's database holds the five-municipality contract, loaded through
the API, so the trial balance read is that of a real SPV book. A client with a few concurrent
connections (one thread and one keep-alive connection each) sends, after a warm-up, a bounded
number of requests to each endpoint — and stops a phase early if it runs past its time bound.
The service and the bare endpoints take turns, ``SIB_BENCH_API_ROUNDS`` (3) rounds each, and
the median round is reported:

- write: ``POST /ledger/books/{book}/entries`` (a provider fee accrued), a fresh
  Idempotency-Key each; goal ≥ 300 requests/s on SQLite; the bare ``POST`` alongside;
- read: ``GET /ledger/books/{book}/trial-balance``; goal ≥ 0.5× the bare ``GET`` (a plain
  ``def`` endpoint, as FastAPI's tutorials write one). The same constant from an ``async def``
  endpoint (no thread-pool hand-off) is measured too, and the ratio to it printed beside.

Reported per endpoint: requests, failures (any status ≥ 300), the median round's requests/s,
p50 and p99 latency in ms, and each round's requests/s; then the ratios and whether each goal
is met. ``SIB_BENCH_CONNECTIONS`` sets the number of concurrent connections (4). Loopback only;
the servers are stopped (killed if need be) before ``run`` returns. ``SIB_BENCH_API_REQUESTS``
sets the count.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_FILE = ROOT / "contracts" / "examples" / "sib-2019-five-municipalities.yaml"
BOOK = "sib-2019-five-municipalities"
REQUESTS = int(os.environ.get("SIB_BENCH_API_REQUESTS", "1500"))
WARM_UP = 100
ROUNDS = int(os.environ.get("SIB_BENCH_API_ROUNDS", "3"))  # service and bare, alternating
CONNECTIONS = int(os.environ.get("SIB_BENCH_CONNECTIONS", "4"))
PHASE_SECONDS = 60.0  # a phase stops here even if its requests are not all sent
READ_GOAL_RATIO = 0.5
WRITE_GOAL_RPS = 300.0
BARE_APP = textwrap.dedent("""
    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/bare")
    def bare() -> dict:
        return {"ok": True, "figures": list(range(20))}


    @app.get("/bare-async")
    async def bare_async() -> dict:
        return {"ok": True, "figures": list(range(20))}


    @app.post("/bare", status_code=201)
    def bare_post(body: dict) -> dict:
        return {"ok": True, "fields": len(body)}
""")
FEE = {"kind": "provider_fee_accrual", "effective_on": "2020-04-30",
       "description": "benchmark: a provider fee accrued",
       "postings": [{"account": "fees:thl", "side": "D",
                     "amount": {"amount": "1000", "currency": "JPY"}},
                    {"account": "payable:thl", "side": "C",
                     "amount": {"amount": "1000", "currency": "JPY"}}]}

Send = Callable[[httpx.Client], httpx.Response]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sib(url: str, *args: str) -> str:
    """Run the ``sib`` command line on ``url``, as an operator would; its standard output."""
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, check=True,
                          env=dict(os.environ, DATABASE_URL=url), capture_output=True,
                          text=True).stdout


def _prepare(url: str) -> str:
    """Migrate, add an intermediary, return a token for it."""
    _sib(url, "db", "upgrade")
    _sib(url, "user", "add", "bench", "--role", "intermediary")
    return _sib(url, "token", "create", "bench").strip().splitlines()[-1]


def _start(app: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """uvicorn with the settings of ``sib serve`` (one worker), answering when returned."""
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--log-level", "warning", "--no-access-log"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    _stop(process)
    raise RuntimeError(f"{app} did not start on port {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def _servers(tmp: Path, url: str) -> Iterator[tuple[str, str]]:
    """The service and the bare app, both started the same way: their base URLs."""
    (tmp / "bare_app.py").write_text(BARE_APP)
    env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=os.pathsep.join((str(ROOT), str(tmp))))
    service_port, bare_port = _free_port(), _free_port()
    service = _start("api.main:app", service_port, env, ROOT)
    try:
        bare = _start("bare_app:app", bare_port, env, tmp)
        try:
            yield f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{bare_port}"
        finally:
            _stop(bare)
    finally:
        _stop(service)


def _percentile(sorted_values: list[float], share: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def _measure(send: Send, total: int = REQUESTS) -> dict[str, Any]:
    """Warm up, then ``total`` requests over ``CONNECTIONS`` connections (or until the phase's
    time bound): requests, failures, requests/s, p50 and p99 in ms."""
    with httpx.Client(timeout=30) as client:
        for _ in range(WARM_UP):
            send(client)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + PHASE_SECONDS

    def connection() -> None:
        nonlocal failures
        with httpx.Client(timeout=30) as client:
            for _ in range(total // CONNECTIONS):
                if time.perf_counter() > stop_at:
                    return
                started = time.perf_counter()
                status = send(client).status_code
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    failures += status >= 300

    threads = [threading.Thread(target=connection) for _ in range(CONNECTIONS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "failures": failures,
            "rps": round(len(latencies) / wall, 1),
            "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2)}


def _alternate(sends: dict[str, Send]) -> dict[str, dict[str, Any]]:
    """Measure each endpoint ``ROUNDS`` times, taking turns (this machine's speed drifts: a
    ratio of two phases measured minutes apart says more about the drift than the code).
    Per endpoint: all requests and failures, and the median round's requests/s, p50 and p99,
    with every round's requests/s."""
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in sends}
    for _ in range(ROUNDS):
        for name, send in sends.items():
            rounds[name].append(_measure(send, max(CONNECTIONS, REQUESTS // ROUNDS)))
    out = {}
    for name, runs in rounds.items():
        median = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        out[name] = median | {"requests": sum(r["requests"] for r in runs),
                              "failures": sum(r["failures"] for r in runs),
                              "rounds_rps": [r["rps"] for r in runs]}
    return out


def _load_contract(base: str, auth: dict[str, str]) -> None:
    import yaml  # the contract file as a client sends it: JSON, dates as ISO strings
    document = json.loads(json.dumps(yaml.safe_load(CONTRACT_FILE.read_text(encoding="utf-8")),
                                     default=str))
    httpx.post(f"{base}/contracts", json=document, timeout=60,
               headers=auth | {"Idempotency-Key": "bench-load"}).raise_for_status()


def run() -> dict[str, Any]:
    """Measure the service against the bare endpoint; the figures, ratios and goals."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.db'}"
        auth = {"Authorization": f"Bearer {_prepare(url)}"}
        with _servers(Path(tmp), url) as (service, bare):
            _load_contract(service, auth)
            entries = f"{service}/ledger/books/{BOOK}/entries"
            writes = _alternate({
                "write": lambda c: c.post(entries, json=FEE, headers=auth | {
                    "Idempotency-Key": uuid.uuid4().hex}),
                "bare_post": lambda c: c.post(f"{bare}/bare", json=FEE)})
            write, bare_post = writes["write"], writes["bare_post"]
            trial_balance = f"{service}/ledger/books/{BOOK}/trial-balance"
            accounts = len(httpx.get(trial_balance, headers=auth).json()["rows"])
            reads = _alternate({
                "read": lambda c: c.get(trial_balance, headers=auth),
                "bare_get": lambda c: c.get(f"{bare}/bare"),
                "bare_get_async": lambda c: c.get(f"{bare}/bare-async")})
            read, bare_get, bare_get_async = reads["read"], reads["bare_get"], \
                reads["bare_get_async"]
    read_ratio = round(read["rps"] / bare_get["rps"], 3)
    goals = [{"database": "sqlite", "figure": "POST entry with Idempotency-Key (requests/s)",
              "value": write["rps"], "goal": f">= {WRITE_GOAL_RPS:g}",
              "met": write["rps"] >= WRITE_GOAL_RPS},
             {"database": "sqlite", "figure": "GET trial balance / bare GET (requests/s ratio)",
              "value": read_ratio, "goal": f">= {READ_GOAL_RATIO}",
              "met": read_ratio >= READ_GOAL_RATIO}]
    return {"goals": goals, "connections": CONNECTIONS, "rounds": ROUNDS, "database": "sqlite",
            "write_post_entry": write, "bare_post": bare_post,
            "write_ratio_to_bare": round(write["rps"] / bare_post["rps"], 3),
            "write_goal_rps": WRITE_GOAL_RPS, "write_goal_met": write["rps"] >= WRITE_GOAL_RPS,
            "read_trial_balance": read | {"accounts": accounts}, "bare_get": bare_get,
            "read_ratio_to_bare": read_ratio, "read_goal_ratio": READ_GOAL_RATIO,
            "bare_get_async": bare_get_async,
            "read_ratio_to_bare_async": round(read["rps"] / bare_get_async["rps"], 3),
            "read_goal_met": read_ratio >= READ_GOAL_RATIO}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
