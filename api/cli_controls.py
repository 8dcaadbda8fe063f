"""``sib bank-account set``, ``sib change list|approve|reject``, ``sib period reopen``: the
four-eyes acts at the command line.

A change is requested by one registered user (``--by``) and approved by another; both must be
admins or intermediaries of the service (``sib user add``). The audit log records each step
with the account numbers masked.
"""

from __future__ import annotations

from typing import Any

import typer
from sqlmodel import Session

from api import cli_audit
from api.output import print_json, print_table
from api.users import require_user_role

bank_app = typer.Typer(help="Parties' bank accounts (for Zengin files): a change takes effect "
                       "when another user approves it.", no_args_is_help=True)
change_app = typer.Typer(help="Change requests awaiting a second person (four eyes): list, "
                         "approve, reject.", no_args_is_help=True)
period_app = typer.Typer(help="Closed fiscal years: reopen (four eyes).", no_args_is_help=True)
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")
ContractOpt = typer.Option(..., "--contract", "-c")
ByOpt = typer.Option(..., "--by", help="the registered user (admin or intermediary) acting")
DECIDERS = ("admin", "intermediary")


def _row(r: Any) -> dict[str, Any]:
    from api.routes.changes import change_public
    return change_public(r).model_dump(mode="json")


def noted(session: Session, row: Any) -> dict[str, Any]:
    """The request as listings show it, its summary kept for the audit record."""
    shown = _row(row)
    session.info[cli_audit.DETAIL] = shown["summary"]
    return shown


@bank_app.command("set")
def bank_set(contract: str = ContractOpt, party: str = typer.Option(..., "--party"),
             bank: str = typer.Option(..., "--bank", help="4-digit bank code"),
             bank_name: str = typer.Option("", "--bank-name", help="kana"),
             branch: str = typer.Option(..., "--branch", help="3-digit branch code"),
             branch_name: str = typer.Option("", "--branch-name", help="kana"),
             account_type: str = typer.Option("1", "--type", help="1 普通, 2 当座, 4 貯蓄"),
             number: str = typer.Option(..., "--number"),
             holder: str = typer.Option(..., "--holder", help="口座名義 in kana"),
             requester_code: str = typer.Option("", "--requester-code"),
             by: str = ByOpt, reason: str = typer.Option("", "--reason"),
             as_json: bool = JsonOpt) -> None:
    """Ask for a party's bank account to be registered or replaced; it takes effect when
    another user approves it (sib change approve ID --by OTHER)."""
    from settlement.change_requests import request_bank_account

    def work(session: Session) -> dict[str, Any]:
        require_user_role(session, by, DECIDERS)
        return noted(session, request_bank_account(
            session, contract, party, by, reason, bank_code=bank, bank_name=bank_name,
            branch_code=branch, branch_name=branch_name, account_type=account_type,
            account_number=number, holder_kana=holder, requester_code=requester_code))
    row = cli_audit.run(work)
    if as_json:
        print_json(row)
    else:
        typer.echo(f"{row['summary']}\nit takes effect when another admin or intermediary "
                   f"approves it: sib change approve {row['id']} --by OTHER")


@change_app.command("list")
def change_list(contract: str | None = typer.Option(None, "--contract", "-c"),
                state: str | None = typer.Option(None, "--state",
                                                 help="requested, approved or rejected"),
                as_json: bool = JsonOpt) -> None:
    """Change requests, newest first (account numbers masked)."""
    from settlement.change_requests import change_requests
    rows = cli_audit.run(lambda s: [_row(r) for r in change_requests(s, contract, state)])
    if as_json:
        print_json(rows)
        return
    print_table("Change requests", ["id", "act", "contract", "subject", "state", "requested by",
                                    "decided by", "change"],
                [(r["id"], r["act"], r["contract"], r["subject"], r["state"],
                  r["requested_by"], r["decided_by"] or "",
                  _what(r)) for r in rows])


def _what(row: dict[str, Any]) -> str:
    if row["act"] == "bank_account.change":
        from settlement.change_requests import account_summary
        return f"{account_summary(row['previous'] or {})} -> {account_summary(row['proposed'])}"
    return str(row["summary"]).split(") ", 1)[-1].split("; requested by")[0]


@change_app.command("approve")
def change_approve(request_id: int, by: str = ByOpt, as_json: bool = JsonOpt) -> None:
    """Approve a change request and apply it: by a user other than the one who asked."""
    from settlement.change_requests import approve_change

    def work(session: Session) -> dict[str, Any]:
        require_user_role(session, by, DECIDERS)
        return noted(session, approve_change(session, request_id, by))
    row = cli_audit.run(work)
    print_json(row) if as_json else typer.echo(row["summary"])


@change_app.command("reject")
def change_reject(request_id: int, by: str = ByOpt,
                  reason: str = typer.Option(..., "--reason"), as_json: bool = JsonOpt) -> None:
    """Reject a change request, with a reason (its requester may withdraw it this way)."""
    from settlement.change_requests import reject_change

    def work(session: Session) -> dict[str, Any]:
        require_user_role(session, by, DECIDERS)
        return noted(session, reject_change(session, request_id, by, reason))
    row = cli_audit.run(work)
    print_json(row) if as_json else typer.echo(row["summary"])


@period_app.command("reopen")
def period_reopen(contract: str = ContractOpt,
                  year: int = typer.Option(..., "--year", "-y", min=1900, max=2200),
                  reason: str = typer.Option(..., "--reason"), by: str = ByOpt,
                  as_json: bool = JsonOpt) -> None:
    """Ask for the latest closed year to be reopened, with a reason; it reopens when another
    user approves it (sib change approve ID --by OTHER)."""
    from settlement.change_requests import request_period_reopen

    def work(session: Session) -> dict[str, Any]:
        require_user_role(session, by, DECIDERS)
        return noted(session, request_period_reopen(session, contract, year, by, reason))
    row = cli_audit.run(work)
    if as_json:
        print_json(row)
    else:
        typer.echo(f"{row['summary']}\nit reopens when another admin or intermediary "
                   f"approves it: sib change approve {row['id']} --by OTHER")
