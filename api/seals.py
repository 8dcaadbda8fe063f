"""Which records are sealed, and the wiring that seals them as they are written.

Every table below decides money (who is paid what, on which terms, into which account) or
records who did so. A row of one of them is sealed (:mod:`ledger.seals`) in the same database
transaction that writes it: a session event collects the rows each flush wrote, and bulk
inserts or updates of a sealed table, and seals them just before the commit. The deciding
columns are listed here, frozen: a migration adding a deciding column must reseal.

``sib verify`` checks the ledger and every seal; ``--checkpoint`` writes a file of every
chain's head signed with the key, ``--against`` checks the chains still extend those heads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, event, select, text
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlmodel import SQLModel, col

import api.models  # noqa: F401  (every table on the metadata)
from api.settings import get_settings
from ledger.errors import Problem, SibError
from ledger.schema import Book, Entry
from ledger.seals import (
    PENDING_KEY,
    SEALED,
    SealReport,
    seal_at,
    seal_rows,
    sign,
    verify_seals,
)
from ledger.verify import VerifyReport, verify

# session.info: table name -> row ids to seal, or None for "compare every row" (bulk writes).
_PENDING = PENDING_KEY
# PostgreSQL: one transaction at a time appends seals (held to its commit), so chains never fork.
_PG_SEAL_LOCK = 0x5EA15EA1


def chain_key() -> bytes | None:
    """The sealing key from the settings (None: seals are unkeyed SHA-256)."""
    key = get_settings().chain_key
    return key.encode() if key else None


def sealed_tables() -> dict[str, Table]:
    """The sealed tables, by name."""
    tables = SQLModel.metadata.tables
    return {name: tables[name] for name in SEALED}


def seal_pending(connection: Connection, pending: Mapping[str, set[int] | None],
                 backfill: bool = False) -> None:
    """Seal the rows written in this transaction: those named, and for ``None`` (a bulk
    insert, whose ids the session does not see) every row without a seal yet — never a row
    already sealed whose content changed behind the service's back (verify reports it).
    ``backfill``: every row not matching its seal (the migration's first sealing)."""
    if not pending:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SEAL_LOCK})
    tables, key = sealed_tables(), chain_key()
    for name in sorted(pending):
        seal_rows(connection, key, tables[name], SEALED[name], pending[name],
                  unsealed_only=pending[name] is None and not backfill)


def seal_all(connection: Connection) -> None:
    """Seal every row of every sealed table that its latest seal does not match (the
    migration's backfill)."""
    seal_pending(connection, {name: None for name in SEALED}, backfill=True)


def _mark(session: Session, table_name: str, row_id: int | None) -> None:
    pending: dict[str, set[int] | None] = session.info.setdefault(_PENDING, {})
    if table_name not in pending:
        pending[table_name] = set()
    ids = pending[table_name]
    if ids is None:
        return
    if row_id is None:
        pending[table_name] = None
    else:
        ids.add(row_id)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    for obj in list(session.new) + list(session.dirty):
        table = getattr(obj, "__table__", None)
        if table is not None and table.name in SEALED:
            _mark(session, table.name, getattr(obj, "id", None))


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in SEALED:
        _mark(state.session, str(name), None)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()  # the rows the commit would flush are sealed too
    pending = session.info.pop(_PENDING, None)
    if pending:
        seal_pending(session.connection(), pending)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def verify_everything(session: Session) -> tuple[VerifyReport, SealReport]:
    """The ledger's chains and balances, and every sealed record."""
    ledger = verify(session)
    records = verify_seals(session.connection(), chain_key(), sealed_tables(), SEALED)
    return ledger, records


def heads(ledger: VerifyReport, records: SealReport) -> dict[str, Any]:
    """Every chain's head: what a checkpoint records."""
    return {"books": {code: {"entries": info["entries"], "head": info["head_hash"]}
                      for code, info in sorted(ledger.books.items())},
            "records": {name: {"seals": info["seals"], "head": info["head"]}
                        for name, info in sorted(records.chains.items())}}


def required_key() -> bytes:
    key = chain_key()
    if key is None:
        raise SibError("a checkpoint is signed with the chain key: set SIB_CHAIN_KEY (kept "
                       "outside the database) and run again", "CHAIN_KEY_MISSING")
    return key


def write_checkpoint(path: Path, ledger: VerifyReport, records: SealReport) -> dict[str, Any]:
    """Write the signed head file of a verified state."""
    key = required_key()
    body = heads(ledger, records)
    document = {"written_at": datetime.now(UTC).isoformat(), "heads": body,
                "signature": sign(key, body)}
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    temporary.replace(path)
    return document


def check_checkpoint(session: Session, path: Path) -> list[Problem]:
    """Check that every chain still passes through the heads the signed file records: a chain
    recomputed (even with the key) or truncated since the checkpoint does not."""
    key = required_key()
    try:
        document = json.loads(path.read_text())
        body, signature = document["heads"], document["signature"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [Problem("CHECKPOINT_UNREADABLE", f"{path}: not a checkpoint file ({error})")]
    if sign(key, body) != signature:
        return [Problem("CHECKPOINT_SIGNATURE_INVALID", f"{path}: its signature does not "
                        "match (edited, or signed with another key)")]
    problems = [p for code, info in body.get("books", {}).items()
                if (p := _book_extends(session, code, int(info["entries"]), info["head"]))]
    connection = session.connection()
    for name, info in body.get("records", {}).items():
        count = int(info["seals"])
        if count and seal_at(connection, name, count) != info["head"]:
            problems.append(Problem("CHECKPOINT_NOT_EXTENDED", f"{name}: the chain no longer "
                                    f"passes through seal {count} of the checkpoint "
                                    "(recomputed or truncated since)", name))
    return problems


def _book_extends(session: Session, code: str, entries: int, head: str) -> Problem | None:
    if entries == 0:
        return None
    found = session.scalars(
        select(col(Entry.hash)).join(Book, col(Book.id) == col(Entry.book_id))
        .where(col(Book.code) == code, col(Entry.sequence) == entries)).first()
    if found == head:
        return None
    return Problem("CHECKPOINT_NOT_EXTENDED", f"book {code}: the chain no longer passes "
                   f"through entry {entries} of the checkpoint (recomputed or truncated "
                   "since)", code)
