"""Benchmark: the HTTP service against a bare FastAPI endpoint on the same server settings.

Two uvicorn servers on 127.0.0.1 (free ports, one worker each, the same settings): the
service on a temporary SQLite database, and a bare FastAPI app answering a constant JSON. A
client with a few concurrent connections sends a bounded number of requests:
- read: ``GET /ledger/books/{book}/trial-balance`` against the bare endpoint (goal ≥ 0.5×);
- write: ``POST /ledger/books/{book}/entries`` with a fresh Idempotency-Key each (goal
  ≥ 300/s on SQLite), also next to the bare endpoint (POST).
Requests per second and p50/p99 latency are reported. Loopback only, bounded, stops itself.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = int(os.environ.get("SIB_BENCH_REQUESTS", "1500"))
CONNECTIONS = 4
BARE_APP = textwrap.dedent("""
    from fastapi import FastAPI
    app = FastAPI()

    @app.get("/bare")
    def bare() -> dict:
        return {"ok": True, "figures": list(range(20))}

    @app.post("/bare")
    def bare_post(body: dict) -> dict:
        return {"ok": True, "echo": len(body)}
""")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
                                "--port", str(port), "--workers", "1", "--log-level",
                                "warning", "--no-access-log"], env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app} did not start")


def _load(send: Callable[[httpx.Client], httpx.Response], total: int) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    per_worker = total // CONNECTIONS

    def worker() -> None:
        nonlocal failures
        with httpx.Client(timeout=30) as client:
            for _ in range(per_worker):
                started = time.perf_counter()
                response = send(client)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if response.status_code >= 300:
                        failures += 1

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "failures": failures,
            "rps": round(len(latencies) / wall, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}


def _prepare(url: str) -> tuple[str, str]:
    env = dict(os.environ, DATABASE_URL=url)
    for args in (["db", "upgrade"], ["user", "add", "bench", "--role", "intermediary"]):
        subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT,
                       check=True, capture_output=True)
    token = subprocess.run([sys.executable, "-m", "api.cli", "token", "create", "bench"],
                           env=env, cwd=ROOT, check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1]
    return token, "bench-book"


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.db'}"
        token, book = _prepare(url)
        auth = {"Authorization": f"Bearer {token}"}
        service_port, bare_port = _port(), _port()
        (Path(tmp) / "bare_app.py").write_text(BARE_APP)
        env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=f"{ROOT}:{tmp}")
        service = _serve("api.main:app", service_port, env, ROOT)
        bare = _serve("bare_app:app", bare_port, env, Path(tmp))
        try:
            base = f"http://127.0.0.1:{service_port}"
            setup = [("/ledger/books", {"code": book, "currency": "JPY"}),
                     (f"/ledger/books/{book}/accounts", {"code": "cash", "type": "asset"}),
                     (f"/ledger/books/{book}/accounts", {"code": "fees", "type": "expense"})]
            for path, body in setup:
                httpx.post(base + path, json=body,
                           headers=auth | {"Idempotency-Key": uuid.uuid4().hex}).raise_for_status()
            entry = {"kind": "fee", "effective_on": "2020-04-01",
                     "postings": [{"account": "fees", "side": "D",
                                   "amount": {"amount": "1000", "currency": "JPY"}},
                                  {"account": "cash", "side": "C",
                                   "amount": {"amount": "1000", "currency": "JPY"}}]}
            write = _load(lambda c: c.post(
                f"{base}/ledger/books/{book}/entries", json=entry,
                headers=auth | {"Idempotency-Key": uuid.uuid4().hex}), REQUESTS)
            read = _load(lambda c: c.get(f"{base}/ledger/books/{book}/trial-balance",
                                         headers=auth), REQUESTS)
            bare_get = _load(lambda c: c.get(f"http://127.0.0.1:{bare_port}/bare"), REQUESTS)
            bare_post = _load(lambda c: c.post(f"http://127.0.0.1:{bare_port}/bare",
                                               json=entry), REQUESTS)
        finally:
            for process in (service, bare):
                process.terminate()
                process.wait(timeout=10)
    return {"connections": CONNECTIONS, "read_trial_balance": read, "bare_get": bare_get,
            "read_ratio_to_bare": round(read["rps"] / bare_get["rps"], 3),
            "read_goal_ratio": 0.5, "write_post_entry": write, "bare_post": bare_post,
            "write_ratio_to_bare": round(write["rps"] / bare_post["rps"], 3),
            "write_goal_rps": 300}


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
