"""Database wiring: engines, the unit of work, and migrations (the only way to create schema).

On SQLite, every transaction starts with ``BEGIN IMMEDIATE`` so writers are serialised and a
read-then-write never fails half-way; foreign keys are enforced. On PostgreSQL, the ledger takes
row locks itself.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

import api.seals  # noqa: F401  (seals the records that decide money as they are written)
from api.settings import get_settings
from ledger.errors import SibError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_engines: dict[str, Engine] = {}

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option: begin this SQLite transaction only if the database is free right now
# (BEGIN IMMEDIATE with no busy wait): "database is locked" at once instead of waiting.
SQLITE_NO_WAIT = "sib_sqlite_no_wait"
# Fault injection for the crash tests (tests/test_crash_retry.py), off unless set: the process
# dies at once (no rollback, no clean-up, as under SIGKILL) before its N-th SQL statement.
FAULT_AFTER_STATEMENTS = "SIB_FAULT_AFTER_STATEMENTS"


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file (``var/`` on a fresh clone) so it can be opened."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, read_only: bool = False) -> Engine:
    """A new engine for ``url`` with the project's SQLite pragmas and transaction mode.

    On SQLite, a writing engine starts every transaction with ``BEGIN IMMEDIATE`` (writers wait
    for each other up front instead of failing half-way); a ``read_only`` engine starts plain
    deferred transactions, so that reads never queue behind writers (WAL lets them run
    side by side).
    """
    engine = _make_engine(url, read_only)
    if os.environ.get(FAULT_AFTER_STATEMENTS):
        _die_before_statement(engine, int(os.environ[FAULT_AFTER_STATEMENTS]))
    return engine


def _make_engine(url: str, read_only: bool) -> Engine:
    if url.startswith("sqlite"):
        ensure_sqlite_folder(url)
        # LIFO: the connection used last is handed out next, so its page cache is warm (a
        # rotating pool re-reads pages on every connection another one has written behind).
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                               pool_use_lifo=True)
        _sqlite_immediate(engine, "BEGIN" if read_only else "BEGIN IMMEDIATE")
        return engine
    return create_engine(url, pool_pre_ping=True)


def _die_before_statement(engine: Engine, statements: int) -> None:
    """Exit the process (status 137, like SIGKILL) before the ``statements``-th statement."""
    seen = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):  # type: ignore[no-untyped-def]
        seen[0] += 1
        if seen[0] >= statements:
            os._exit(137)


def _sqlite_immediate(engine: Engine, begin: str = "BEGIN IMMEDIATE") -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        # Straight on the driver's connection: these run before every transaction, and
        # SQLAlchemy's statement machinery costs more than SQLite does here.
        driver = conn.connection.driver_connection
        if not conn.get_execution_options().get(SQLITE_NO_WAIT):
            driver.execute(begin)
            return
        driver.execute("PRAGMA busy_timeout=0")
        try:
            driver.execute(begin)
        except sqlite3.OperationalError as error:  # "database is locked"
            raise OperationalError(begin, None, error) from error
        finally:
            driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def get_engine(url: str | None = None, read_only: bool = False) -> Engine:
    """The process-wide engine for ``url`` (default: the settings' database); ``read_only``
    gives the engine for requests that write nothing."""
    url = url or get_settings().database_url
    key = f"{url}#read" if read_only else url
    if key not in _engines:
        _engines[key] = make_engine(url, read_only)
    return _engines[key]


@contextmanager
def unit_of_work(url: str | None = None) -> Iterator[Session]:
    """One database transaction: committed if the block succeeds, rolled back otherwise."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def schema_missing(error: BaseException) -> bool:
    """Whether ``error`` says a table of ours does not exist: a database never migrated, or
    migrated to an older revision than the code (SQLite "no such table", PostgreSQL
    ``undefined_table``)."""
    if not isinstance(error, DBAPIError):
        return False
    text = str(error.orig)
    return ("no such table" in text
            or getattr(error.orig, "sqlstate", None) == "42P01")  # undefined_table


def not_migrated(url: str | None = None) -> SibError:
    """The refusal for a command run on a database whose schema is missing or behind."""
    where = (url or get_settings().database_url).split("@")[-1]  # no password in messages
    return SibError(f"the database {where} has not been set up for this version: run "
                    "`sib db upgrade` first (it creates or migrates the tables; data is kept)",
                    "DATABASE_NOT_MIGRATED", "database")


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration pointing at our migrations and ``url``."""
    ensure_sqlite_folder(url or get_settings().database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrate the database down to ``revision``."""
    command.downgrade(alembic_config(url), revision)
