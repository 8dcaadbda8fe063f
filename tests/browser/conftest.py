"""The portal in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright,
against the service run by uvicorn in a thread on a free port of 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = Path(__file__).resolve().parents[2] / "out" / "screens"


@dataclass
class Portal:
    """A running service: its address and database."""

    base: str
    db_url: str
    tokens: dict[str, str]

    def sign_in(self, page, username: str) -> None:  # noqa: ANN001
        page.goto(f"{self.base}/portal/signin")
        page.get_by_label("ユーザー名").fill(username)
        page.locator("#code").fill(self.tokens[username])
        page.get_by_role("button", name="サインイン").click()
        page.wait_for_load_state()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_sqlite(url: str, target: Path) -> str:
    """A consistent copy of a SQLite database (the backup API: WAL pages included)."""
    source = sqlite3.connect(url.split("///", 1)[1])
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return f"sqlite:///{target}"


def add_users(url: str, users: list[tuple[str, str, str | None]]) -> dict[str, str]:
    """Users of the database and a token each (what they sign in with)."""
    from api.db import unit_of_work
    from api.users import add_user, create_token
    tokens = {}
    with unit_of_work(url) as session:
        for username, role, scope in users:
            add_user(session, username, role, scope)
            tokens[username] = create_token(session, username, 1)
    return tokens


def serve(url: str) -> Iterator[str]:
    import uvicorn

    from api.main import create_app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (apt-get install -y chromium; "
                    ".ci/run does it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


__all__ = ["Portal", "SCREENS", "add_users", "copy_sqlite", "serve", "shutil"]
