"""Alembic environment: the same metadata as the application, batch mode for SQLite.

Every upgrade runs in one database transaction, on SQLite too (which supports transactional
DDL, but whose Python driver commits DDL as it goes unless told to leave transactions to us):
a killed ``sib db upgrade`` leaves the schema it started from, and running it again completes.
The revision table is written in the same transaction, so it never names a revision whose
tables are not there. ``config.attributes["on_version_apply"]``, when given, is called after
each revision (the fault-injection test kills the process there).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine, event, pool
from sqlmodel import SQLModel

import api.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "",
                               poolclass=pool.NullPool)
        if engine.dialect.name == "sqlite":
            _sqlite_transactional_ddl(engine)
        with engine.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _sqlite_transactional_ddl(engine: Engine) -> None:
    """Let SQLAlchemy, not the driver, begin SQLite transactions, so that CREATE, ALTER and
    DROP are inside them (SQLAlchemy's documented recipe for pysqlite)."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    hooks = config.attributes.get("on_version_apply")
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, transactional_ddl=True,
                      transaction_per_migration=False,
                      **({"on_version_apply": hooks} if hooks else {}))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
