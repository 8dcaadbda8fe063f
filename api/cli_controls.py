"""``sib bank-account set``, ``sib change list|approve|reject``, ``sib period reopen``: the
four-eyes acts at the command line.

A change is requested by one registered user and approved by another; both must be admins or
intermediaries of the service (``sib user add``). Each proves who they are with their own API
token (``--token``, or ``SIB_TOKEN``; ``sib token create``): a name typed at the command line
(``--by``) is only checked against it, so nobody at the keyboard can approve as someone else.
The audit log records each step with the account numbers masked.
"""

from __future__ import annotations

from typing import Any

import typer
from sqlmodel import Session

from api import cli_audit
from api.output import print_json, print_table
from api.users import require_user_role
from ledger.errors import SibError

bank_app = typer.Typer(help="Parties' bank accounts (for Zengin files): a change takes effect "
                       "when another user approves it.", no_args_is_help=True)
change_app = typer.Typer(help="Change requests awaiting a second person (four eyes): list, "
                         "approve, reject.", no_args_is_help=True)
period_app = typer.Typer(help="Closed fiscal years: reopen (four eyes).", no_args_is_help=True)
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")
ContractOpt = typer.Option(..., "--contract", "-c")
ByOpt = typer.Option(None, "--by", help="the registered user acting (checked against the "
                     "token's user)")
TokenOpt = typer.Option(None, "--token", envvar="SIB_TOKEN",
                        help="your own API token (sib token create): proves who is acting")
DECIDERS = ("admin", "intermediary")


def acting(session: Session, by: str | None, token: str | None) -> str:
    """The registered admin or intermediary whose token this is (see :func:`signed_by`)."""
    return str(signed_by(session, by, token, DECIDERS, "a four-eyes act").username)


def signed_by(session: Session, by: str | None, token: str | None, roles: tuple[str, ...],
              act: str) -> Any:
    """The registered user whose own API token signs this command, if its role is one of
    ``roles``; refused without a token (``TOKEN_REQUIRED``), with an unknown, expired or
    revoked one (``TOKEN_INVALID``), when ``--by`` names someone else (``TOKEN_NOT_BY``) and
    for another role (``ROLE_FORBIDDEN``). The audit log then names the user proved."""
    from api.users import user_for_token
    if not token:
        raise SibError(f"{act} at the command line is signed with the acting user's own API "
                       "token: pass --token (or set SIB_TOKEN); sib token create USER gives "
                       "one", "TOKEN_REQUIRED", "token")
    caller = user_for_token(session, token)
    if caller is None:
        raise SibError("the token is not known, or has expired or been revoked",
                       "TOKEN_INVALID", "token")
    if by and by != caller.username:
        raise SibError(f"the token is {caller.username}'s, not {by}'s: each person acts with "
                       "their own", "TOKEN_NOT_BY", "by")
    require_user_role(session, caller.username, roles)
    session.info[cli_audit.ACTING_USER] = caller.username
    return caller


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
             by: str | None = ByOpt, token: str | None = TokenOpt,
             reason: str = typer.Option("", "--reason"), as_json: bool = JsonOpt) -> None:
    """Ask for a party's bank account to be registered or replaced; it takes effect when
    another user approves it (sib change approve ID --token THEIRS)."""
    from settlement.change_requests import request_bank_account

    def work(session: Session) -> dict[str, Any]:
        who = acting(session, by, token)
        return noted(session, request_bank_account(
            session, contract, party, who, reason, bank_code=bank, bank_name=bank_name,
            branch_code=branch, branch_name=branch_name, account_type=account_type,
            account_number=number, holder_kana=holder, requester_code=requester_code))
    row = cli_audit.run(work)
    if as_json:
        print_json(row)
    else:
        typer.echo(f"{row['summary']}\nit takes effect when another admin or intermediary "
                   f"approves it: sib change approve {row['id']} --token THEIRS")


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
def change_approve(request_id: int, by: str | None = ByOpt, token: str | None = TokenOpt,
                   as_json: bool = JsonOpt) -> None:
    """Approve a change request and apply it: by a user other than the one who asked."""
    from settlement.change_requests import approve_change

    def work(session: Session) -> dict[str, Any]:
        who = acting(session, by, token)
        return noted(session, approve_change(session, request_id, who))
    row = cli_audit.run(work)
    print_json(row) if as_json else typer.echo(row["summary"])


@change_app.command("reject")
def change_reject(request_id: int, by: str | None = ByOpt, token: str | None = TokenOpt,
                  reason: str = typer.Option(..., "--reason"), as_json: bool = JsonOpt) -> None:
    """Reject a change request, with a reason (its requester may withdraw it this way)."""
    from settlement.change_requests import reject_change

    def work(session: Session) -> dict[str, Any]:
        who = acting(session, by, token)
        return noted(session, reject_change(session, request_id, who, reason))
    row = cli_audit.run(work)
    print_json(row) if as_json else typer.echo(row["summary"])


@period_app.command("reopen")
def period_reopen(contract: str = ContractOpt,
                  year: int = typer.Option(..., "--year", "-y", min=1900, max=2200),
                  reason: str = typer.Option(..., "--reason"), by: str | None = ByOpt,
                  token: str | None = TokenOpt, as_json: bool = JsonOpt) -> None:
    """Ask for the latest closed year to be reopened, with a reason; it reopens when another
    user approves it (sib change approve ID --token THEIRS)."""
    from settlement.change_requests import request_period_reopen

    def work(session: Session) -> dict[str, Any]:
        who = acting(session, by, token)
        return noted(session, request_period_reopen(session, contract, year, who, reason))
    row = cli_audit.run(work)
    if as_json:
        print_json(row)
    else:
        typer.echo(f"{row['summary']}\nit reopens when another admin or intermediary "
                   f"approves it: sib change approve {row['id']} --token THEIRS")
