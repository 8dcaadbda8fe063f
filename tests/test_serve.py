"""``sib serve`` answers with its OpenAPI docs, and the README's token steps work as written."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sib(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_serve_with_a_token_created_as_the_readme_says(tmp_path):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
               SIB_PORT=str(port))
    _sib(env, "db", "upgrade")
    _sib(env, "user", "add", "alice", "--role", "intermediary")
    token = _sib(env, "token", "create", "alice").splitlines()[-1]
    assert token.startswith("sib_")
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        docs = httpx.get(f"{base}/docs", timeout=5)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        schema = httpx.get(f"{base}/openapi.json", timeout=5).json()
        assert "/contracts" in schema["paths"]
        listed = httpx.get(f"{base}/contracts", headers={"Authorization": f"Bearer {token}"},
                           timeout=5)
        assert listed.status_code == 200 and listed.json()["total"] == 0
        refused = httpx.get(f"{base}/contracts", headers={"Authorization": "Bearer nope"},
                            timeout=5)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
    finally:
        server.terminate()
        server.wait(timeout=10)
