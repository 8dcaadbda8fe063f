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
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api import db
from api.output import report_error
from api.tables import AuditRecord
from ledger.errors import Conflict, SibError

WRITE_COMMANDS = {
    ("contract", "load"), ("contract", "amend"), ("kpi", "submit"), ("kpi", "import"),
    ("kpi", "audit"), ("kpi", "correct"), ("settle", None), ("close", None), ("money", "draw"),
    ("money", "fees"), ("money", "receive"), ("money", "distribute"),
    ("money", "service"), ("money", "prepay"), ("money", "pay-provider"),
    ("money", "contributions"), ("money", "grant-receive"), ("money", "donation"),
    ("tax", "remit"),
    ("approve", None), ("change", "approve"), ("change", "reject"), ("period", "reopen"),
    ("bank-account", "set"), ("token", "revoke"), ("holder", "add"), ("holder", "subscribe"),
    ("holder", "pay"),
    ("user", "add"), ("token", "create"),
    ("user", "password"), ("job", "cancel"), ("job", "retry"),
}


# A command may put what its audit record should say beyond its arguments here, in
# ``session.info`` (a change request's old and new account, masked).
DETAIL = "sib_audit_detail"
# Options whose values the audit log keeps masked (an account number shows its last 3 digits).
MASKED_OPTIONS = ("--number",)
# Options never written to the audit log (a token proves who acts: it is replaced by ***).
SECRET_OPTIONS = ("--token",)
# ``session.info`` key: the registered user a command proved it acts for (its token's user).
ACTING_USER = "sib_audit_acting_user"


def _masked_arguments(argv: list[str]) -> str:
    from settlement.change_requests import mask_number
    words = list(argv)
    for i, word in enumerate(words):
        if word in SECRET_OPTIONS and i + 1 < len(words):
            words[i + 1] = "***"
        for option in SECRET_OPTIONS:
            if word.startswith(option + "="):
                words[i] = option + "=***"
        if word in MASKED_OPTIONS and i + 1 < len(words):
            words[i + 1] = mask_number(words[i + 1])
        for option in MASKED_OPTIONS:
            if word.startswith(option + "="):
                words[i] = option + "=" + mask_number(word.split("=", 1)[1])
    return " ".join(words)


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
                at=datetime.now(UTC), username=_who(session), role="cli",
                action=" ".join(part for part in command if part),
                target=_masked_arguments(sys.argv[1:])[:2000], request_id=uuid.uuid4().hex,
                idempotency_key="", status=0,
                detail=str(session.info.get(DETAIL, "sib command line"))))


def _who(session: Session) -> str:
    """``cli:<system user>``, and the registered user it proved it acts for, if any."""
    acting = session.info.get(ACTING_USER)
    return (f"cli:{getpass.getuser()}" + (f" as {acting}" if acting else ""))[:128]


def run(work: Callable[[Session], Any]) -> Any:
    """Run ``work`` as one unit of work; a refusal prints every problem and exits 1."""
    try:
        with unit_of_work() as session:
            return work(session)
    except SibError as error:
        report_error(error)
        raise typer.Exit(1) from None
    except IntegrityError:
        # Another command wrote the same thing at the same moment and won: nothing of this
        # one was written (its transaction rolled back), and running it again is safe.
        report_error(Conflict("another command wrote the same record at the same time; nothing "
                              "of this one was written: run it again", "CONCURRENT_WRITE",
                              "command"))
        raise typer.Exit(1) from None
