"""``sib verify``: the ledger's chains and balances and every sealed record, in one check."""

from __future__ import annotations

from pathlib import Path

import typer

from api import db
from api.output import print_json, report_error
from ledger.errors import Problem, SibError


def verify_command(
        checkpoint: Path | None = typer.Option(
            None, "--checkpoint", help="write the signed heads of every chain to this file "
            "(only when everything verifies)"),
        against: Path | None = typer.Option(
            None, "--against", help="check every chain still extends the heads of this "
            "checkpoint file"),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Check the ledger and every record that decides money; exit 1 if anything is off."""
    from api.seals import check_checkpoint, required_key, verify_everything, write_checkpoint
    try:
        if checkpoint is not None or against is not None:
            required_key()
    except SibError as error:
        report_error(error)
        raise typer.Exit(1) from None
    with db.unit_of_work() as session:
        ledger, records = verify_everything(session)
        problems: list[Problem] = [*ledger.problems, *records.problems]
        if against is not None:
            problems += check_checkpoint(session, against)
    if checkpoint is not None and not problems:
        write_checkpoint(checkpoint, ledger, records)
    _report(problems, ledger.books, records.chains, as_json)
    if problems:
        raise typer.Exit(1)


def _report(problems: list[Problem], books: dict[str, dict[str, object]],
            chains: dict[str, dict[str, object]], as_json: bool) -> None:
    if as_json:
        print_json({"ok": not problems, "books": books, "records": chains,
                    "problems": [{"code": p.code, "field": p.field, "message": p.message}
                                 for p in problems]})
        return
    for code, info in books.items():
        typer.echo(f"book {code}: {info['entries']} entries, chain head {info['head_hash']}")
    for name, info in chains.items():
        typer.echo(f"{name}: {info['seals']} seals, chain head {info['head']}")
    for problem in problems:
        typer.echo(f"{problem.code}: {problem.message}", err=True)
    typer.echo("verified: OK" if not problems else "verification FAILED")
