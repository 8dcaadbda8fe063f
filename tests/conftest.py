"""Shared fixtures: a migrated SQLite database per test, and a PostgreSQL one when available.

PostgreSQL tests are marked ``postgres``. They run against ``SIB_TEST_POSTGRES_URL`` (CI sets
it); each test session creates its own database there and drops it at the end. Without the URL
they are skipped — unless ``SIB_REQUIRE_POSTGRES=1`` (CI), where a missing server fails them.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from api.db import make_engine, upgrade

PG_URL = os.environ.get("SIB_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("SIB_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """One SQLite database migrated to head per test session (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("migrated") / "sib.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(migrated_sqlite, tmp_path) -> str:
    """A fresh SQLite file at head: a copy of the session's migrated database."""
    path = tmp_path / "sib.db"
    with closing(sqlite3.connect(migrated_sqlite)) as source, \
            closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A new, migrated PostgreSQL database for this test session (dropped afterwards)."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SIB_REQUIRE_POSTGRES=1 but SIB_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need SIB_TEST_POSTGRES_URL")
    name = f"sib_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is not there
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {PG_URL} cannot be used: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} cannot be used: {exc}")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from api.db import _engines
        for key in [k for k in _engines if name in k]:
            _engines.pop(key).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_server_url) -> str:
    """The session's PostgreSQL database, migrated to head."""
    upgrade(pg_server_url)
    return pg_server_url


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own, migrated to head (for stories whose ids are
    fixed, or that need real concurrency); dropped afterwards."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SIB_REQUIRE_POSTGRES=1 but SIB_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need SIB_TEST_POSTGRES_URL")
    from api import db
    name = f"sib_own_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    try:
        yield url
    finally:
        for key in [k for k in db._engines if name in k]:
            db._engines.pop(key).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001, ARG001
    """Say how many PostgreSQL-marked tests ran, so CI output shows they did not skip."""
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            keywords = getattr(report, "keywords", {})
            if "postgres" in keywords and getattr(report, "when", "call") in ("call", "setup"):
                if outcome == "passed" and report.when != "call":
                    continue
                counts[outcome] = counts.get(outcome, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none collected"
    terminalreporter.write_line(f"PostgreSQL-marked tests: {summary}")


@pytest.fixture(scope="session")
def demo_story(tmp_path_factory) -> tuple[str, list[tuple[object, ...]]]:
    """The demo's five years told in-process, the way `make demo` tells them but without its
    PDFs, on a database of its own: (its URL, the demo's summary rows). Shared by every test
    that reads the demo's books; those tests only read it."""
    from api import demo
    from api.settings import get_settings

    tmp = tmp_path_factory.mktemp("demo-story")
    url = f"sqlite:///{tmp / 'demo.db'}"
    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    summary: list[tuple[object, ...]] = []
    try:
        demo.fresh_database()
        demo.set_up()
        for year in range(2019, 2024):
            if year == 2021:
                demo.sell_units()
            demo.run_year(year, tmp / "out", summary)
    finally:
        if before is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = before
        get_settings.cache_clear()
    return url, summary
