"""The ``sib`` command line. Commands are thin: open a unit of work, call a service, print.

Every read command takes ``--json``. A refusal prints every problem with its code and exits 1.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer._click.core import Context
from typer._click.exceptions import ClickException, UsageError
from typer.core import TyperGroup

from api import db
from api.output import money_json, money_text, print_json, print_table, report_error
from ledger.calendar import parse_date
from ledger.errors import SibError

EXIT_REFUSED = 1
EXIT_USAGE = 2  # as click: the command line itself is wrong
EXIT_INTERNAL = 70  # EX_SOFTWARE: a fault of ours, not of the input


class RefusingGroup(TyperGroup):
    """The root command: whatever a command raises ends as named problems, never a traceback.

    A refusal (:class:`SibError`) prints its problems and exits 1; a database whose tables do
    not exist yet says to run ``sib db upgrade``; anything else is reported as
    ``INTERNAL_ERROR`` (exit 70) with its type — ``SIB_DEBUG=1`` shows the traceback.
    """

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as error:  # an option missing or of the wrong type: named too
            param = getattr(error, "param", None)
            report_error(SibError(error.format_message(), "OPTION_INVALID",
                                  getattr(param, "name", None)))
            raise typer.Exit(EXIT_USAGE) from None
        except (typer.Exit, typer.Abort, ClickException, typer.TyperException):
            raise
        except SibError as error:
            report_error(error)
            raise typer.Exit(EXIT_REFUSED) from None
        except OverflowError:  # a number typed beyond what the database can store
            report_error(SibError("a number given is too large to be stored; check the "
                                  "figures typed", "NUMBER_TOO_LARGE"))
            raise typer.Exit(EXIT_REFUSED) from None
        except Exception as error:
            if db.schema_missing(error):
                report_error(db.not_migrated())
                raise typer.Exit(EXIT_REFUSED) from None
            if os.environ.get("SIB_DEBUG"):
                raise
            report_error(SibError(f"an unexpected error stopped the command "
                                  f"({type(error).__name__}); the database was left as it was. "
                                  "Run it again with SIB_DEBUG=1 to see where, and report it",
                                  "INTERNAL_ERROR"))
            raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(help="SIB settlement: ledger, contracts, settlement, investors.",
                  no_args_is_help=True, cls=RefusingGroup)
db_app = typer.Typer(help="Database schema (migrations).", no_args_is_help=True)
ledger_app = typer.Typer(help="Read and check the ledger.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")


def _register_subcommands() -> None:
    from api import cli_settlement as st
    from api.cli_contracts import contract_app
    app.add_typer(contract_app, name="contract")
    app.add_typer(st.kpi_app, name="kpi")
    app.add_typer(st.money_app, name="money")
    from api import cli_controls as controls
    app.add_typer(controls.bank_app, name="bank-account")
    app.add_typer(controls.change_app, name="change")
    app.add_typer(controls.period_app, name="period")
    app.command("settle")(st.settle_command)
    app.command("close")(st.close_command)
    app.command("schedule")(st.schedule_command)
    app.command("pay")(st.pay_command)
    app.command("approve")(st.approve_command)
    from api import cli_investors as inv
    app.add_typer(inv.holder_app, name="holder")
    app.add_typer(inv.tax_app, name="tax")
    app.command("statements")(inv.statements_command)
    app.command("export")(inv.export_command)
    from api.cli_loans import loan_app
    app.add_typer(loan_app, name="loan")
    from api.cli_verify import verify_command
    app.command("verify")(verify_command)
    from api import cli_jobs, cli_simulate
    cli_simulate.register(app)
    cli_jobs.register(app)
    from api.portal.cli import app as portal_app
    app.add_typer(portal_app, name="portal")


_register_subcommands()

JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")


def refusals_exit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a domain refusal into its problems on stderr and exit status 1."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SibError as error:
            report_error(error)
            raise typer.Exit(1) from None
    return wrapper


# --------------------------------------------------------------------------- db

@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Create or migrate the schema (the only way the schema is created)."""
    db.upgrade(revision=revision)
    typer.echo(f"database migrated to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target revision, e.g. base")) -> None:
    """Migrate the schema down (drops data of the tables removed)."""
    db.downgrade(revision=revision)
    typer.echo(f"database migrated down to {revision}")


# --------------------------------------------------------------------------- ledger

@ledger_app.command("books")
@refusals_exit
def ledger_books(as_json: bool = JsonOpt) -> None:
    """List the books."""
    from sqlalchemy import select

    from ledger.schema import Book
    with db.unit_of_work() as session:
        books = list(session.scalars(select(Book).order_by(Book.code)))
        rows = [{"code": b.code, "name_ja": b.name_ja, "name_en": b.name_en,
                 "currency": b.currency, "entries": b.entry_count,
                 "closed_through_on": b.closed_through_on, "head_hash": b.head_hash}
                for b in books]
    if as_json:
        print_json(rows)
    else:
        print_table("Books", ["code", "name", "currency", "entries", "closed through"],
                    [(r["code"], r["name_en"] or r["name_ja"], r["currency"], r["entries"],
                      r["closed_through_on"] or "") for r in rows], right=[3])


@ledger_app.command("trial-balance")
@refusals_exit
def ledger_trial_balance(book: str = typer.Option(..., "--book", "-b"),
                         as_of: str | None = typer.Option(None, "--as-of",
                                                             help="YYYY-MM-DD"),
                         as_json: bool = JsonOpt) -> None:
    """Trial balance of a book (posted balances; pending shown apart)."""
    from ledger.reports import trial_balance
    with db.unit_of_work() as session:
        tb = trial_balance(session, book, parse_date(as_of, "as_of") if as_of else None)
    cur = tb.currency
    if as_json:
        print_json({"book": tb.book, "as_of": tb.as_of, "balanced": tb.balanced,
                    "total_debit": money_json(tb.total_debit_minor, cur),
                    "total_credit": money_json(tb.total_credit_minor, cur),
                    "rows": [{"account": r.code, "name_ja": r.name_ja, "name_en": r.name_en,
                              "type": r.type, "debit": money_json(r.debit_minor, cur),
                              "credit": money_json(r.credit_minor, cur),
                              "pending_debits": money_json(r.debits_pending, cur),
                              "pending_credits": money_json(r.credits_pending, cur)}
                             for r in tb.rows]})
        return
    rows = [(r.code, r.name_ja, r.type, money_text(r.debit_minor, cur) if r.debit_minor else "",
             money_text(r.credit_minor, cur) if r.credit_minor else "",
             money_text(r.debits_pending - r.credits_pending, cur)
             if r.debits_pending or r.credits_pending else "") for r in tb.rows]
    rows.append(("TOTAL", "合計", "", money_text(tb.total_debit_minor, cur),
                 money_text(tb.total_credit_minor, cur), ""))
    print_table(f"Trial balance {tb.book}" + (f" as of {tb.as_of}" if tb.as_of else ""),
                ["account", "name", "type", f"debit ({cur})", f"credit ({cur})",
                 f"pending, net debit ({cur})"], rows,
                right=[3, 4, 5])
    typer.echo("debits equal credits" if tb.balanced else "NOT BALANCED")


@ledger_app.command("statement")
@refusals_exit
def ledger_statement(book: str = typer.Option(..., "--book", "-b"),
                     account: str = typer.Option(..., "--account", "-a"),
                     from_on: str | None = typer.Option(None, "--from"),
                     to_on: str | None = typer.Option(None, "--to"),
                     as_json: bool = JsonOpt) -> None:
    """Posted movements of one account with a running balance."""
    from ledger.reports import account_statement
    with db.unit_of_work() as session:
        st = account_statement(session, book, account,
                               parse_date(from_on, "from") if from_on else None,
                               parse_date(to_on, "to") if to_on else None)
    cur = st.currency
    if as_json:
        print_json({"book": st.book, "account": st.account, "type": st.type,
                    "opening": money_json(st.opening_minor, cur),
                    "closing": money_json(st.closing_minor, cur),
                    "pending_debits": money_json(st.pending_debits_minor, cur),
                    "pending_credits": money_json(st.pending_credits_minor, cur),
                    "lines": [{"effective_on": ln.effective_on, "entry_id": ln.entry_id,
                               "kind": ln.kind, "description": ln.description,
                               "debit": money_json(ln.debit_minor, cur),
                               "credit": money_json(ln.credit_minor, cur),
                               "balance": money_json(ln.balance_minor, cur)}
                              for ln in st.lines]})
        return
    rows = [(ln.effective_on, ln.entry_id, ln.kind, ln.description[:40],
             money_text(ln.debit_minor, cur) if ln.debit_minor else "",
             money_text(ln.credit_minor, cur) if ln.credit_minor else "",
             money_text(ln.balance_minor, cur)) for ln in st.lines]
    typer.echo(f"opening balance {money_text(st.opening_minor, cur, True)}")
    print_table(f"{st.account} {st.name_ja} ({st.type})",
                ["date", "entry", "kind", "description", f"debit ({cur})", f"credit ({cur})",
                 f"balance ({cur})"], rows,
                right=[4, 5, 6])
    typer.echo(f"closing balance {money_text(st.closing_minor, cur, True)}")


@ledger_app.command("verify")
def ledger_verify(book: str | None = typer.Option(None, "--book", "-b"),
                  as_json: bool = JsonOpt) -> None:
    """Recompute hash chains, entry balances and maintained balances; exit 1 if anything is off."""
    from ledger.verify import verify
    with db.unit_of_work() as session:
        report = verify(session, book)
    if as_json:
        print_json({"ok": report.ok, "books": report.books,
                    "problems": [{"code": p.code, "field": p.field, "message": p.message}
                                 for p in report.problems]})
    else:
        for code, info in report.books.items():
            typer.echo(f"book {code}: {info['entries']} entries, chain head {info['head_hash']}")
        for problem in report.problems:
            typer.echo(f"{problem.code}: {problem.message}", err=True)
        typer.echo("ledger verified: OK" if report.ok else "ledger verification FAILED")
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command("export")
@refusals_exit
def ledger_export(book: str = typer.Option(..., "--book", "-b"),
                  fmt: str = typer.Option("beancount", "--format"),
                  out: Path | None = typer.Option(None, "--out", "-o")) -> None:
    """Write a book as a beancount file (stdout unless --out)."""
    from investors.files import write_text_atomic
    from ledger.export import export_beancount
    if fmt != "beancount":
        raise SibError(f"unknown export format {fmt!r}; use beancount", "FORMAT_UNKNOWN",
                       "format")
    with db.unit_of_work() as session:
        text = export_beancount(session, book)
    if out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(out, text)
        typer.echo(f"wrote {out}")


@ledger_app.command("entries")
@refusals_exit
def ledger_entries(book: str = typer.Option(..., "--book", "-b"),
                   limit: int = typer.Option(50, "--limit"), offset: int = typer.Option(0),
                   as_json: bool = JsonOpt) -> None:
    """List entries of a book in sequence order, with their current state."""
    from sqlalchemy import select
    from sqlmodel import col

    from ledger.schema import Entry
    from ledger.service import entry_state, get_book
    with db.unit_of_work() as session:
        b = get_book(session, book)
        entries = list(session.scalars(select(Entry).where(col(Entry.book_id) == b.id)
                                       .order_by(col(Entry.sequence)).offset(offset)
                                       .limit(limit)))
        rows: list[dict[str, Any]] = [
            {"id": e.id, "sequence": e.sequence, "effective_on": e.effective_on,
             "kind": e.kind, "status": e.status, "state": entry_state(session, e),
             "description": e.description, "hash": e.hash} for e in entries]
    if as_json:
        print_json(rows)
    else:
        print_table(f"Entries of {book}", ["#", "id", "date", "kind", "state", "description"],
                    [(r["sequence"], r["id"], r["effective_on"], r["kind"], r["state"],
                      r["description"][:50]) for r in rows])


# --------------------------------------------------------------------------- users, service

user_app = typer.Typer(help="Users of the service.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


@user_app.command("add")
@refusals_exit
def user_add(username: str, role: str = typer.Option(..., "--role", help=
             "admin, intermediary, evaluator, finance_officer, lender, investor or auditor"),
             scope: str | None = typer.Option(None, "--scope", help=
             "the party a finance officer (payer id), lender (bank id), evaluator (its party "
             "id) or investor (holder id) acts for"),
             name: str = typer.Option("", "--name")) -> None:
    """Add a user with a role."""
    from api import cli_audit
    from api.users import add_user
    with cli_audit.unit_of_work() as session:
        user = add_user(session, username, role, scope, name)
        typer.echo(f"user {user.username} ({user.role}{' for ' + user.scope if user.scope else ''})"
                   " added")


@user_app.command("password")
@refusals_exit
def user_password(username: str, password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from the first line of standard "
        "input (for scripts) instead of asking for it twice")) -> None:
    """Set a user's portal password (at least 12 characters, not containing the user name);
    stored as a salted scrypt key. Every portal session the user has open is ended."""
    import sys

    from api import cli_audit
    from api.users import set_password
    if password_stdin:
        password, repeated = sys.stdin.readline().rstrip("\r\n"), None
    else:
        password = typer.prompt("New password", hide_input=True)
        repeated = typer.prompt("New password again", hide_input=True)
    with cli_audit.unit_of_work() as session:
        ended = set_password(session, username, password, repeated)
    typer.echo(f"password of {username} set; {ended} portal session(s) ended")


@token_app.command("create")
@refusals_exit
def token_create(username: str, days: int | None = typer.Option(
        None, "--days", help="valid for this many days (default: SIB_TOKEN_LIFETIME_DAYS, "
        "90)")) -> None:
    """Create an API token for a user; it is printed once and stored only as a hash."""
    from api import cli_audit
    from api.users import create_token
    with cli_audit.unit_of_work() as session:
        token = create_token(session, username, days)
    typer.echo(token)


@token_app.command("list")
@refusals_exit
def token_list(user: str | None = typer.Option(None, "--user"),
               as_json: bool = JsonOpt) -> None:
    """Every token (never the token itself): its prefix, user, expiry, last use, state."""
    from dataclasses import asdict

    from api.users import list_tokens
    with db.unit_of_work() as session:
        rows = [asdict(t) for t in list_tokens(session, user)]
    if as_json:
        print_json(rows)
        return
    print_table("Tokens", ["id", "prefix", "user", "role", "created", "expires", "last used",
                           "state"],
                [(r["id"], r["prefix"], r["username"], r["role"], _minute(r["created_at"]),
                  _minute(r["expires_at"]), _minute(r["last_used_at"]), r["state"])
                 for r in rows])


def _minute(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


@token_app.command("revoke")
@refusals_exit
def token_revoke(token: str = typer.Argument(..., help="the token's id or prefix "
                                             "(sib token list)")) -> None:
    """Revoke a token: refused from now on (revoking it again changes nothing)."""
    from api import cli_audit
    from api.users import revoke_token
    with cli_audit.unit_of_work() as session:
        row = revoke_token(session, token)
    typer.echo(f"token {row.id} ({row.prefix}…) of {row.username} revoked")


@app.command("serve")
def serve(host: str | None = typer.Option(None), port: int | None = typer.Option(None),
          workers: int = typer.Option(1)) -> None:
    """Start the HTTP service (OpenAPI docs at /docs)."""
    import uvicorn

    from api.settings import get_settings
    settings = get_settings()
    uvicorn.run("api.main:app", host=host or settings.host, port=port or settings.port,
                workers=workers, log_level=settings.log_level.lower())


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
