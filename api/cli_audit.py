"""The command line's unit of work, recording write commands in the audit log.

Every write made through ``sib`` is recorded like an HTTP write (who: ``cli:<OS user>``, what:
the command and its arguments, when), in the same database transaction as the write itself.
"""

from __future__ import annotations

import getpass
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from sqlmodel import Session

from api import db
from api.output import report_error
from api.tables import AuditRecord
from ledger.errors import SibError

WRITE_COMMANDS = {
    ("contract", "load"), ("contract", "amend"), ("kpi", "submit"), ("kpi", "import"),
    ("kpi", "audit"), ("kpi", "correct"), ("settle", None), ("close", None), ("money", "draw"),
    ("money", "fees"), ("money", "receive"), ("money", "distribute"),
    ("money", "contributions"), ("money", "grant-receive"), ("tax", "remit"),
    ("approve", None),
    ("bank-account", "set"), ("holder", "add"), ("holder", "subscribe"), ("holder", "pay"),
    ("user", "add"), ("token", "create"),
}


def _command(argv: list[str]) -> tuple[str, str | None]:
    words = [a for a in argv[1:] if not a.startswith("-")]
    first = words[0] if words else ""
    second = words[1] if len(words) > 1 else None
    return (first, None) if (first, None) in WRITE_COMMANDS else (first, second)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """``db.unit_of_work`` plus an audit record when the running command is a write."""
    command = _command(sys.argv)
    with db.unit_of_work() as session:
        yield session
        if command in WRITE_COMMANDS and "--preview" not in sys.argv:
            session.add(AuditRecord(
                at=datetime.now(UTC), username=f"cli:{getpass.getuser()}", role="cli",
                action=" ".join(part for part in command if part),
                target=" ".join(sys.argv[1:])[:2000], request_id=uuid.uuid4().hex,
                idempotency_key="", status=0, detail="sib command line"))


def run(work: Callable[[Session], Any]) -> Any:
    """Run ``work`` as one unit of work; a refusal prints every problem and exits 1."""
    try:
        with unit_of_work() as session:
            return work(session)
    except SibError as error:
        report_error(error)
        raise typer.Exit(1) from None
