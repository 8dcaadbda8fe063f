"""``sib kpi …``, ``sib settle``, ``sib close``, ``sib schedule``, ``sib pay`` and the money
movements of a contract year (draws, fees, payments received, distributions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from api import cli_audit, cli_retries
from api.output import money_json, money_text, print_json, print_table
from ledger.calendar import parse_date
from ledger.errors import SibError
from ledger.inputs import check_amount_minor
from ledger.money import amount_text, parse_major
from ledger.money_json import MoneyJSON

kpi_app = typer.Typer(help="KPI results: submit, import, audit, correct, list.",
                      no_args_is_help=True)
money_app = typer.Typer(help="Money movements: loan draws, fixed fees, payments received, "
                        "waterfall distributions.", no_args_is_help=True)
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")
ContractOpt = typer.Option(..., "--contract", "-c")
AMOUNT_HELP = ("in major units of the contract's currency, with at most its decimals: "
               "14146566 (JPY), 270000.00 (USD), 1250.50 (GBP)")
YearOpt = typer.Option(..., "--year", "-y", min=1990, max=2100,
                       help="fiscal year, e.g. 2019 for 令和元年度")
EVALUATOR = ("admin", "evaluator")
APPROVER = ("finance_officer", "admin")
TOKEN_HELP = "your own API token (sib token create): proves who is acting"


def _by_option(what: str) -> Any:
    return typer.Option(None, "--by", help=f"{what}: a registered user, checked against the "
                        "token's user")


def _token_option() -> Any:
    return typer.Option(None, "--token", envvar="SIB_TOKEN", help=TOKEN_HELP)


def evaluator(session: Any, by: str | None, token: str | None,
              contract_ids: Any = ()) -> str:
    """The evaluator (or admin) whose token signs a KPI act, scoped to the contracts its
    party evaluates, as the API scopes it: whoever audits a result is then proved to be
    someone other than whoever submitted it."""
    from api.cli_controls import signed_by
    from api.users import require_evaluator_of
    caller = signed_by(session, by, token, EVALUATOR, "a KPI result act")
    require_evaluator_of(session, caller, contract_ids)
    return str(caller.username)


_run = cli_audit.run


def _result_row(r: Any) -> dict[str, Any]:
    return {"id": r.id, "contract": r.contract_id, "fiscal_year": r.fiscal_year,
            "kpi": r.kpi_id, "payer": r.payer_id, "evaluation": r.evaluation,
            "version": r.version, "value": r.value, "state": r.state,
            "submitted_by": r.submitted_by, "audited_by": r.audited_by,
            "audited_at": r.audited_at, "reason": r.reason}


def _print_results(rows: list[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        print_json(rows)
    else:
        print_table(title, ["id", "FY", "kpi", "payer", "evaluation", "v", "value", "state",
                            "audited by"],
                    [(r["id"], r["fiscal_year"], r["kpi"], r["payer"] or "—", r["evaluation"],
                      r["version"], r["value"], r["state"], r["audited_by"] or "")
                     for r in rows], right=[6])


# --------------------------------------------------------------------------- KPI results

@kpi_app.command("submit")
def kpi_submit(contract: str = ContractOpt, year: int = YearOpt,
               kpi: str = typer.Option(..., "--kpi"), value: str = typer.Option(..., "--value"),
               payer: str = typer.Option("", "--payer"),
               evaluation: str = typer.Option("final", "--evaluation"),
               draft: bool = typer.Option(False, "--draft"),
               by: str | None = _by_option("who submits (the evaluator)"),
               token: str | None = _token_option(), as_json: bool = JsonOpt) -> None:
    """Submit one audited-to-be KPI result (state submitted, or draft), signed with the
    evaluator's own token."""
    from settlement.kpi import ResultInput
    from settlement.results import submit_results
    rows = _run(lambda s: [_result_row(r) for r in submit_results(
        s, [ResultInput(contract, year, kpi, value, payer, evaluation)],
        evaluator(s, by, token, [contract]), draft, "cli")])
    _print_results(rows, as_json, "Submitted")


@kpi_app.command("import")
def kpi_import(file: Path, by: str | None = _by_option("who submits (the evaluator)"),
               token: str | None = _token_option(), as_json: bool = JsonOpt) -> None:
    """Import results from a CSV/XLSX file; any bad row refuses the whole file. Signed with
    the evaluator's own token; every contract in the file must be one it evaluates."""
    from settlement.results import import_results_file

    def work(session: Any) -> list[dict[str, Any]]:
        who = evaluator(session, by, token)
        rows = import_results_file(session, file, who)
        evaluator(session, by, token, [r.contract_id for r in rows])
        return [_result_row(r) for r in rows]
    _print_results(_run(work), as_json, f"Imported from {file.name}")


@kpi_app.command("audit")
def kpi_audit(result_ids: list[int] = typer.Argument(None),
              contract: str | None = typer.Option(None, "--contract", "-c"),
              year: int | None = typer.Option(None, "--year", "-y"),
              by: str | None = _by_option("who signs off"),
              token: str | None = _token_option(), as_json: bool = JsonOpt) -> None:
    """Sign off submitted results: by id, or every submitted result of a contract year.
    Signed with the auditor's own token; nobody audits a result they submitted."""
    from ledger.schema import id_of
    from settlement.results import audit_result, get_result, pending_audit

    def work(session: Any) -> list[dict[str, Any]]:
        who = evaluator(session, by, token)
        ids = list(result_ids or [])
        if not ids and contract and year:
            for evaluation in ("interim", "final"):
                ids += [id_of(r) for r in pending_audit(session, contract, year, evaluation)
                        if r.state == "submitted"]
        if not ids:
            raise SibError("name result ids, or --contract and --year", "NOTHING_TO_AUDIT",
                           "result_ids")
        evaluator(session, by, token, [get_result(session, i).contract_id for i in ids])
        return [_result_row(audit_result(session, i, who)) for i in ids]
    _print_results(_run(work), as_json, "Audited")


@kpi_app.command("correct")
def kpi_correct(result_id: int, value: str = typer.Option(..., "--value"),
                reason: str = typer.Option(..., "--reason"),
                by: str | None = _by_option("who corrects (the evaluator)"),
                token: str | None = _token_option(), as_json: bool = JsonOpt) -> None:
    """Correct an audited or settled result: a new version, to be audited again (signed with
    the evaluator's own token)."""
    from settlement.results import correct_result, get_result
    rows = _run(lambda s: [_result_row(correct_result(
        s, result_id, value, reason,
        evaluator(s, by, token, [get_result(s, result_id).contract_id])))])
    _print_results(rows, as_json, "Correction submitted")


@kpi_app.command("list")
def kpi_list(contract: str = ContractOpt, year: int | None = typer.Option(None, "--year"),
             as_json: bool = JsonOpt) -> None:
    """Every version of every result of a contract."""
    from settlement.results import results_for
    rows = _run(lambda s: [_result_row(r) for r in results_for(s, contract, year)])
    _print_results(rows, as_json, f"KPI results of {contract}")


# --------------------------------------------------------------------------- settle, close

def _summary_rows(summary: dict[str, Any], currency: str) -> list[tuple[Any, ...]]:
    return [(payer, money_text(f["earned"], currency), money_text(f["tax"], currency),
             money_text(f["due"], currency), money_text(f["grant"], currency))
            for payer, f in summary["payers"].items()]


# The amounts of a settlement run's summary per payer (and per provider it routes to); the
# other figures are entry ids.
_PAYER_MONEY = ("earned", "tax", "due", "grant", "spv_due")


def _payer_figures_json(figures: dict[str, Any], currency: str) -> dict[str, Any]:
    """A payer's figures of a settlement for ``--json``: each amount as money, in major units."""
    out = {k: money_json(v, currency) if k in _PAYER_MONEY else v for k, v in figures.items()}
    if "providers" in figures:
        out["providers"] = {p: _payer_figures_json(f, currency)
                            for p, f in figures["providers"].items()}
    return out


def settle_command(contract: str = ContractOpt, year: int = YearOpt,
                   evaluation: str = typer.Option("final", "--evaluation"),
                   preview: bool = typer.Option(False, "--preview",
                                                help="compute and show traces; post nothing"),
                   on: str | None = typer.Option(None, "--on", help="posting date "
                                                    "(default: the fiscal year's last day)"),
                   by: str = typer.Option("", "--by"), as_json: bool = JsonOpt,
                   assume: list[str] | None = typer.Option(
                       None, "--assume", help="with --preview: a projected KPI value, "
                       "kpi=value[,payer] (repeat it); the figures are a projection, nothing "
                       "is stored")) -> None:
    """Settle a contract year from its audited KPI results (idempotent)."""
    from contracts.store import get_contract
    from settlement.runs import preview as preview_run
    from settlement.runs import settle

    if assume and not preview:
        from api.output import report_error
        report_error(SibError("--assume projects values for a preview only: add --preview "
                              "(a settlement is made from audited results alone)",
                              "ASSUMPTION_NEEDS_PREVIEW", "assume"))
        raise typer.Exit(1)

    def work(session: Any) -> dict[str, Any]:
        currency = get_contract(session, contract).currency
        if preview and assume:
            return _projection(session, contract, year, evaluation, assume, currency)
        if preview:
            result = preview_run(session, contract, year, evaluation)
            return {"preview": True, "currency": currency,
                    "payers": {p: {"earned": t.earned_minor, "tax": t.tax_minor,
                                   "due": t.due_minor, "grant": t.grant_minor}
                               for p, t in result.payers.items()},
                    "problems": [str(p) for p in result.problems],
                    "traces": [t.as_dict() for t in result.traces],
                    "trace_lines": [ln for t in result.traces for ln in t.lines(currency)]}
        outcome = settle(session, contract, year, evaluation,
                         parse_date(on, "on") if on else None, by)
        run = outcome.run
        return {"preview": False, "currency": currency, "run": run.id, "run_no": run.run_no,
                "created": outcome.created, "contract_version": run.contract_version,
                **json.loads(run.summary), "traces": json.loads(run.trace)}
    data = _run(work)
    cur = data["currency"]
    if as_json:
        data["payers"] = {p: _payer_figures_json(f, cur) for p, f in data["payers"].items()}
        if "earned" in data:
            data["earned"] = money_json(data["earned"], cur)
        data.pop("trace_lines", None)
        if data.get("projection"):
            data["budget"] = {p: {k: (money_json(v, cur) if isinstance(v, int) else v)
                                  for k, v in b.items()} for p, b in data["budget"].items()}
            for name in ("debt_service_due", "debt_service_funded"):
                data[name] = money_json(data[name], cur)
        print_json(data)
        return
    if data.get("projection"):
        typer.echo("PROJECTION — assumed values, not audited, nothing stored: "
                   + ", ".join(data["assumptions"]))
    if data["preview"]:
        for line in data["trace_lines"]:
            typer.echo(line)
        for problem in data["problems"]:
            typer.echo(f"PROBLEM {problem}", err=True)
    else:
        typer.echo(f"settlement run {data['run']} (run {data['run_no']}) "
                   f"{'posted' if data['created'] else 'already posted — nothing changed'}")
    print_table(f"{contract} FY{year} {evaluation} ({cur})"
                + (" — PROJECTION" if data.get("projection") else ""),
                ["payer", "earned", "tax", "due", "grant covers"], _summary_rows(data, cur),
                right=[1, 2, 3, 4])
    if data.get("projection"):
        budget = data["budget"]
        print_table(f"Budget headroom, FY{data['budget_fiscal_year']} budget — PROJECTION",
                    ["payer", "authorised", "projected due", "headroom"],
                    [(p, money_text(b["authorised"], cur) if b["authorised"] is not None
                      else "—", money_text(b["due"], cur),
                      money_text(b["headroom"], cur) if b["headroom"] is not None else "—")
                     for p, b in budget.items()], right=[1, 2, 3])
        typer.echo(f"debt service due in FY{data['budget_fiscal_year']}: "
                   f"{money_text(data['debt_service_due'], cur)}; the projected payments "
                   f"would fund {money_text(data['debt_service_funded'], cur)} of it")


def _projection(session: Any, contract: str, year: int, evaluation: str,
                assume: list[str], currency: str) -> dict[str, Any]:
    """``--preview --assume``: the year settled with projected values (api.portal.whatif),
    as the preview's data plus the budget headroom and the debt service funded."""
    from api.portal import whatif
    found = whatif.project(session, contract, year,
                           [whatif.parse_assumption(a) for a in assume], evaluation)
    result = found.result
    return {"preview": True, "projection": True, "currency": currency,
            "assumptions": [f"{a.kpi}={a.value}" + (f",{a.payer}" if a.payer else "")
                            for a in found.assumptions],
            "payers": {p.payer: {"earned": p.earned_minor, "tax": p.tax_minor,
                                 "due": p.due_minor, "grant": p.grant_minor}
                       for p in found.payers},
            "budget_fiscal_year": found.payers[0].budget_fiscal_year if found.payers
            else year,
            "budget": {p.payer: {"authorised": p.authorised_minor, "due": p.due_minor,
                                 "headroom": p.headroom_minor} for p in found.payers},
            "debt_service_due": found.debt_service_due_minor,
            "debt_service_funded": found.debt_service_funded_minor,
            "problems": [str(p) for p in result.problems],
            "traces": [t.as_dict() for t in result.traces],
            "trace_lines": [ln for t in result.traces for ln in t.lines(currency)]}


def close_command(contract: str = ContractOpt, year: int = YearOpt,
                  by: str = typer.Option("", "--by"),
                  force: bool = typer.Option(False, "--force", help="close although results "
                                             "await audit or the year is not settled"),
                  reason: str = typer.Option("", "--reason", help="why, with --force"),
                  as_json: bool = JsonOpt) -> None:
    """Year-end close: accrue interest to 31 March, settle what is audited, build the
    settlement pack, close the period and carry balances forward. Refused while a result
    awaits audit or a paying KPI has none, unless --force with a --reason (recorded)."""
    from contracts.store import contract_for_year
    from settlement.close import build_pack, close_year

    def work(session: Any) -> dict[str, Any]:
        if cli_retries.year_closed(session, contract, year):  # a retry: say what is there
            terms = contract_for_year(session, contract, year)
            found = build_pack(session, terms, year)
            return {**(found.as_json() if as_json else found.as_dict()), "already_closed": True}
        if force:
            session.info[cli_audit.DETAIL] = f"forced: {reason}"
        closed = close_year(session, contract, year, by, force_reason=reason if force else None)
        return closed.as_json() if as_json else closed.as_dict()
    pack = _run(work)
    if as_json:
        print_json(pack)
        return
    cur = pack["currency"]
    done = "was already closed — nothing changed" if pack.get("already_closed") else "closed"
    typer.echo(f"{contract} FY{year} {done}; ledger hash {pack['ledger_hash']}")
    print_table("Payers", ["payer", "authorised", "earned", "due", "grant", "paid",
                           "outstanding"],
                [(p["payer"], money_text(p["authorised_total"], cur),
                  money_text(p["earned"], cur), money_text(p["due"], cur),
                  money_text(p["grant"], cur), money_text(p["paid"], cur),
                  money_text(p["outstanding"], cur)) for p in pack["payers"]],
                right=[1, 2, 3, 4, 5, 6])
    print_table("Lenders", ["loan", "drawn", "repaid", "outstanding", "interest accrued",
                            "interest paid"],
                [(ln["loan"], money_text(ln["drawn"], cur), money_text(ln["repaid"], cur),
                  money_text(ln["outstanding"], cur),
                  money_text(ln["interest_accrued_year"], cur),
                  money_text(ln["interest_paid_year"], cur)) for ln in pack["lenders"]],
                right=[1, 2, 3, 4, 5])


def schedule_command(contract: str = ContractOpt,
                     loan: str | None = typer.Option(None, "--loan"),
                     as_of: str | None = typer.Option(
                         None, "--as-of", help="the state at the end of this day (default: "
                         "the latest date in the contract's books)"),
                     as_json: bool = JsonOpt) -> None:
    """Each loan's instalments against what the ledger records: scheduled, paid (and when),
    overdue, 遅延損害金 and status, and the balance after each due date."""
    from contracts.store import get_contract
    from settlement.debt_service import books_date, schedule_against_actual

    def work(session: Any) -> list[dict[str, Any]]:
        terms = get_contract(session, contract)
        on = parse_date(as_of, "as_of") if as_of else books_date(session, terms.id)
        out = []
        for item in terms.loans:
            if loan and item.id != loan:
                continue
            rows = schedule_against_actual(session, terms, item, on)
            out.append({"loan": item.id, "lender": item.lender, "currency": terms.currency,
                        "profile": item.repayment.profile, "as_of": on,
                        "rows": [dict(number=r.number, due_on=r.due_on,
                                      scheduled_principal=r.scheduled_principal,
                                      actual_principal=r.paid_principal,
                                      scheduled_interest=r.scheduled_interest,
                                      actual_interest=r.paid_interest,
                                      paid_on=list(r.paid_on), overdue=r.overdue,
                                      default_interest=r.default_interest, status=r.status,
                                      scheduled_closing=r.scheduled_closing,
                                      actual_closing=r.actual_closing)
                                 for r in rows]})
        if loan and not out:
            raise SibError(f"{contract} has no loan {loan!r}", "LOAN_NOT_FOUND", "loan")
        return out
    data = _run(work)
    if as_json:
        print_json([{**item, "rows": [_money_fields(r, _SCHEDULE_MONEY, item["currency"])
                                      for r in item["rows"]]} for item in data])
        return
    for item in data:
        cur = item["currency"]
        print_table(f"{item['loan']} ({item['lender']}, {item['profile']}) — schedule against "
                    f"actual at {item['as_of']}, {cur}",
                    ["#", "due", "principal", "paid", "interest", "paid", "paid on", "overdue",
                     "default int.", "status", "actual closing"],
                    [(r["number"], r["due_on"], money_text(r["scheduled_principal"], cur),
                      money_text(r["actual_principal"], cur),
                      money_text(r["scheduled_interest"], cur),
                      money_text(r["actual_interest"], cur),
                      ", ".join(str(d) for d in r["paid_on"]),
                      money_text(r["overdue"], cur), money_text(r["default_interest"], cur),
                      r["status"].replace("_", " "),
                      "" if r["actual_closing"] is None else money_text(r["actual_closing"], cur))
                     for r in item["rows"]],
                    right=[2, 3, 4, 5, 7, 8, 10])


def approve_command(contract: str = ContractOpt, year: int = YearOpt,
                    payer: str = typer.Option(..., "--payer"),
                    by: str | None = _by_option("the approving finance officer"),
                    token: str | None = _token_option(),
                    inspected_on: str = typer.Option("", "--inspected-on",
                                                     help="the day of the 検査 (default today)"),
                    as_json: bool = JsonOpt) -> None:
    """Record a finance office's inspection (検査) and approval of a year's payment notice at
    the amount it states (the payer's Zengin file pays only approved amounts). Signed with
    the officer's own token: a finance officer approves only its own municipality's notice."""
    from api.cli_controls import signed_by
    from contracts.store import get_contract
    from ledger.errors import NotFound
    from settlement.approvals import approve_notice

    def work(session: Any) -> dict[str, Any]:
        inspected = parse_date(inspected_on, "inspected_on") if inspected_on else None
        caller = signed_by(session, by, token, APPROVER, "an approval")
        if caller.role == "finance_officer" and caller.scope != payer:
            raise NotFound(f"no payer {payer!r} in {contract} that you may see",
                           "PAYER_NOT_FOUND", "payer")
        row = approve_notice(session, contract, year, payer, caller.username, inspected)
        currency = get_contract(session, contract).currency
        return {"contract": contract, "fiscal_year": year, "payer": payer,
                "amount": money_json(row.amount_minor, currency),
                "inspected_on": row.inspected_on.isoformat(), "approved_by": row.approved_by}
    data = _run(work)
    if as_json:
        print_json(data)
        return
    typer.echo(f"FY{year} notice of {payer} approved for {_wire_text(data['amount'])} "
               f"(inspected {data['inspected_on']}, by {data['approved_by']})")


def pay_command(contract: str = ContractOpt,
                payer: str | None = typer.Option(None, "--payer", help="write the payer's "
                                                    "transfer of what it owes to the SPV"),
                distribution_on: str | None = typer.Option(
                    None, "--distribution", help="write the SPV's transfers of the waterfall "
                    "run of this date (YYYY-MM-DD)"),
                on: str = typer.Option(..., "--on", help="transfer date (a business day)"),
                out: Path = typer.Option(..., "--out", "-o"),
                line_ending: str = typer.Option("CRLF", "--line-ending"),
                eof_mark: bool = typer.Option(False, "--eof-mark"),
                as_json: bool = JsonOpt) -> None:
    """Write a Zengin (全銀協) 総合振込 file for a payment run. A payee whose bank account
    changed since the last file is named in a notice (BANK_ACCOUNT_CHANGED, on stderr and in
    the JSON): confirm the new account before uploading."""
    from contracts.store import get_contract
    from settlement.transfers import (
        TransferFile,
        distribution_transfer_file,
        payer_transfer_file,
        record_transfer_file,
    )
    from settlement.zengin import BankProfile
    profile = BankProfile(record_separator=line_ending, eof_mark=eof_mark)
    when = parse_date(on, "on")

    def work(session: Any) -> tuple[TransferFile, str]:
        if payer:
            found = payer_transfer_file(session, contract, payer, when, profile=profile)
        elif distribution_on:
            found = distribution_transfer_file(
                session, contract, parse_date(distribution_on, "distribution"), profile)
        else:
            raise SibError("give --payer or --distribution", "PAYMENT_RUN_UNKNOWN", "payer")
        record_transfer_file(session, contract, found.payees, when, "cli")
        return found, get_contract(session, contract).currency
    found, currency = _run(work)
    data, total = found.data, found.amount_minor
    from investors.files import write_atomic
    write_atomic(out, data)  # a killed command never leaves half a transfer file to upload
    records = len(data) // 120
    for notice in found.notices:
        typer.echo(f"NOTICE {notice.code}: {notice.message()}", err=True)
    if as_json:
        print_json({"file": str(out), "bytes": len(data), "total": money_json(total, currency),
                    "notices": [{"code": n.code, "party": n.party, "previous": n.previous,
                                 "current": n.current, "message": n.message()}
                                for n in found.notices]})
    else:
        typer.echo(f"wrote {out}: {len(data)} bytes, about {records} records, total "
                   f"{amount_text(total, currency)}{' yen' if currency == 'JPY' else ''}")


# --------------------------------------------------------------------------- money movements

@money_app.command("draw")
def draw(contract: str = ContractOpt, through: str = typer.Option(..., "--through")) -> None:
    """Post every loan draw dated on or before --through."""
    from settlement.payments import draw_loans
    through_on = parse_date(through, "through")
    entries = _run(lambda s: [e.id for e in draw_loans(s, contract, through_on)])
    typer.echo(f"{len(entries)} loan draws posted (or already posted)")


@money_app.command("fees")
def fees(contract: str = ContractOpt, year: int = YearOpt, on: str = typer.Option(..., "--on")) \
        -> None:
    """Pay the providers' fixed fees of a year."""
    from settlement.payments import pay_fixed_fees
    paid_on = parse_date(on, "on")
    entries = _run(lambda s: [e.id for e in pay_fixed_fees(s, contract, year, paid_on)])
    typer.echo(f"{len(entries)} fixed fees posted (or already posted)")


@money_app.command("contributions")
def contributions(contract: str = ContractOpt, year: int = YearOpt,
                  on: str = typer.Option(..., "--on")) -> None:
    """Book the year's contributions (cash, or in kind at their stated value), once."""
    from settlement.payments import record_contributions
    on_day = parse_date(on, "on")
    entries = _run(lambda s: [e.id for e in record_contributions(s, contract, year, on_day)])
    typer.echo(f"{len(entries)} contributions posted (or already posted)")


@money_app.command("grant-receive")
def grant_receive(contract: str = ContractOpt, payer: str = typer.Option(..., "--payer"),
                  amount: str = typer.Option(..., "--amount", help=AMOUNT_HELP),
                  on: str = typer.Option(..., "--on"),
                  reference: str = typer.Option(..., "--reference",
                                                help="the 交付決定 or payment reference")) -> None:
    """Record a grant received by a municipality (its grant receivable is settled)."""
    from settlement.payments import receive_grant
    on_day = parse_date(on, "on")

    def work(session: Any) -> str:
        amount_minor, currency = _amount_minor(session, contract, amount)
        receive_grant(session, contract, payer, amount_minor, on_day, reference)
        return amount_text(amount_minor, currency)
    typer.echo(f"grant of {_run(work)} received by {payer} recorded")


@money_app.command("donation")
def donation(contract: str = ContractOpt,
             donation_id: str = typer.Option(..., "--donation",
                                             help="the contract's donation instrument"),
             payer: str = typer.Option(..., "--payer", help="the municipality that received it"),
             amount: str = typer.Option(..., "--amount", help=AMOUNT_HELP),
             on: str = typer.Option(..., "--on", help="the day received"),
             donor: str = typer.Option(..., "--donor"),
             reference: str = typer.Option(..., "--reference",
                                           help="the donation's receipt (受領証) number"),
             as_json: bool = JsonOpt) -> None:
    """Record a donation made through a municipality for the programme (寄附（自治体経由）:
    ふるさと納税, 企業版ふるさと納税): the municipality's revenue designated for it."""
    from contracts.store import get_contract
    from settlement.donations import record_donation
    on_day = parse_date(on, "on")

    def work(session: Any) -> dict[str, Any]:
        amount_minor, currency = _amount_minor(session, contract, amount)
        entry = record_donation(session, contract, donation_id, payer, amount_minor, on_day,
                                reference, donor)
        return {"entry": entry.id, "payer": payer, "donor": donor.strip(),
                "fiscal_year": get_contract(session, contract).fiscal_year_of(on_day),
                "amount": money_json(amount_minor, currency)}
    data = _run(work)
    if as_json:
        print_json(data)
        return
    typer.echo(f"donation of {_wire_text(data['amount'])} from {data['donor']} received by "
               f"{payer} (FY{data['fiscal_year']}) recorded")


@money_app.command("donations")
def donations(contract: str = ContractOpt, as_json: bool = JsonOpt) -> None:
    """Donations received for the programme, by municipality and fiscal year."""
    from contracts.store import get_contract
    from settlement.donations import donations_by_year

    def work(session: Any) -> tuple[str, list[Any]]:
        return (get_contract(session, contract).currency,
                donations_by_year(session, get_contract(session, contract)))
    currency, rows = _run(work)
    if as_json:
        print_json([{"payer": r.payer, "fiscal_year": r.fiscal_year, "count": r.count,
                     "amount": money_json(r.amount_minor, currency)} for r in rows])
        return
    print_table(f"Donations for {contract}", ["payer", "FY", "donations", "amount"],
                [(r.payer, r.fiscal_year, r.count, money_text(r.amount_minor, currency))
                 for r in rows], right=[2, 3])


@money_app.command("receive")
def receive(contract: str = ContractOpt, payer: str = typer.Option(..., "--payer"),
            amount: str = typer.Option(..., "--amount", help=AMOUNT_HELP),
            on: str = typer.Option(..., "--on"),
            reference: str = typer.Option(..., "--reference"),
            fiscal_year: int | None = typer.Option(
                None, "--fiscal-year", help="the results year it settles (default: the year "
                "the reference names, else the date's year with the closing period)")) -> None:
    """Record a payer's payment received by the SPV (value date --on)."""
    from settlement.payments import record_payment
    on_day = parse_date(on, "on")

    def work(session: Any) -> tuple[bool, str]:
        amount_minor, currency = _amount_minor(session, contract, amount)
        shown = amount_text(amount_minor, currency)
        if cli_retries.payment_recorded(session, contract, payer, amount_minor, on_day,
                                        reference):
            return False, shown  # a retry of this very payment
        record_payment(session, contract, payer, amount_minor, on_day, reference, fiscal_year)
        return True, shown
    created, shown = _run(work)
    typer.echo(f"payment of {shown} from {payer} "
               f"{'recorded' if created else 'already recorded — nothing changed'}")


@money_app.command("pay-provider")
def pay_provider(contract: str = ContractOpt, payer: str = typer.Option(..., "--payer"),
                 provider: str = typer.Option(..., "--provider"),
                 amount: str = typer.Option(..., "--amount", help=AMOUNT_HELP),
                 on: str = typer.Option(..., "--on"),
                 reference: str = typer.Option(..., "--reference"),
                 fiscal_year: int | None = typer.Option(
                     None, "--fiscal-year", help="the results year it settles")) -> None:
    """Record a payer's payment made directly to a provider a tranche routes it to (its
    payable to the provider, the provider's receivable, is settled)."""
    from settlement.payments import record_provider_payment
    on_day = parse_date(on, "on")

    def work(session: Any) -> str:
        amount_minor, currency = _amount_minor(session, contract, amount)
        record_provider_payment(session, contract, payer, provider, amount_minor, on_day,
                                reference, fiscal_year)
        return amount_text(amount_minor, currency)
    typer.echo(f"payment of {_run(work)} from {payer} to {provider} recorded")


@money_app.command("service")
def service_command(contract: str = ContractOpt,
                    through: str = typer.Option(..., "--through",
                                                help="service every due date up to this day"),
                    as_json: bool = JsonOpt) -> None:
    """Pay every loan instalment falling due up to --through on its own due date, from the
    cash the vehicle had then; what cannot be paid stays overdue with 遅延損害金 and is paid
    on the next date cash comes in. Dates already serviced are not serviced again."""
    from api.routes.debt_service import service_public
    from contracts.store import get_contract
    from settlement.debt_service import service
    through_on = parse_date(through, "through")

    def work(session: Any) -> dict[str, Any]:
        currency = get_contract(session, contract).currency
        return service_public(service(session, contract, through_on), currency) \
            .model_dump(mode="json")
    data = _run(work)
    if as_json:
        print_json(data)
        return
    for day in data["days"]:
        for paid in day["paid"]:
            late = f" (due {paid['due_on']}, paid late)" if paid["late"] else ""
            typer.echo(f"{day['on']} {paid['loan']} {paid['component']}: "
                       f"{_wire_text(paid['amount'])}{late}")
    for due in data["overdue"]:
        typer.echo(f"OVERDUE {due['loan']} {due['component']} due {due['due_on']}: "
                   f"{_wire_text(due['amount'])}")
    typer.echo(f"serviced through {data['through']}: {len(data['entries'])} entries posted")


@money_app.command("prepay")
def prepay_command(contract: str = ContractOpt, loan: str = typer.Option(..., "--loan"),
                   amount: str = typer.Option(..., "--amount", help=AMOUNT_HELP),
                   on: str = typer.Option(..., "--on"), as_json: bool = JsonOpt) -> None:
    """Prepay a loan (期限前弁済) under its prepayment terms; the remaining schedule is
    rebuilt (a shorter term or lower instalments, as the terms say)."""
    from api.routes.debt_service import instalments_json
    from settlement.debt_service import prepay
    on_day = parse_date(on, "on")

    def work(session: Any) -> dict[str, Any]:
        amount_minor, currency = _amount_minor(session, contract, amount)
        result = prepay(session, contract, loan, amount_minor, on_day)
        return {"loan": result.loan_id, "on": result.on.isoformat(),
                "amount": money_json(result.amount_minor, currency),
                "fee": money_json(result.fee_minor, currency),
                "currency": currency, "entries": list(result.entries),
                "instalments": instalments_json(result.schedule_after, currency)}
    data = _run(work)
    if as_json:
        print_json(data)
        return
    typer.echo(f"prepaid {_wire_text(data['amount'])} of {loan} on {data['on']} "
               f"(fee {_wire_text(data['fee'])})")
    for row in data["instalments"]:
        if row["status"] == "not_due":
            typer.echo(f"  {row['due_on']}: principal {_wire_text(row['principal'])}")


@money_app.command("distribute")
def distribute_command(contract: str = ContractOpt, on: str = typer.Option(..., "--on"),
                       reference: str = typer.Option(
                           "", "--reference", help="only the receipts recorded under this "
                           "reference (default: every receipt not yet distributed)"),
                       final: bool = typer.Option(False, "--final"),
                       trace: bool = typer.Option(False, "--trace",
                                                  help="print how each owed figure was "
                                                       "obtained"),
                       as_json: bool = JsonOpt) -> None:
    """Run the waterfall on the outcome payments received under --reference and not yet
    distributed: each receipt is spent once."""
    from contracts.store import get_contract
    from settlement.payments import distribute
    on_day = parse_date(on, "on")

    def work(session: Any) -> dict[str, Any]:
        terms = get_contract(session, contract)
        try:
            result = distribute(session, contract, on_day, final, reference)
        except SibError as error:  # a retry: what the first run applied and paid
            if error.code != cli_retries.ALREADY_DISTRIBUTED:
                raise
            return cli_retries.distribution_done(session, contract, on_day, reference)
        return {"currency": terms.currency, "available": result.waterfall.available_minor,
                "applied": [{"receipt_entry": r.entry_id, "payer": r.payer,
                             "reference": r.reference, "received_on": r.received_on.isoformat(),
                             "received": r.amount_minor, "applied": amount}
                            for r, amount in result.applied],
                "left": result.waterfall.left_minor,
                "allocations": [{"step": a.claim.step, "instrument": a.claim.instrument,
                                 "party": a.claim.party, "owed": a.claim.amount_minor,
                                 "paid": a.paid_minor} for a in result.waterfall.allocations],
                "losses": [{"instrument": x.instrument, "unpaid": x.unpaid_minor,
                            "guaranteed": x.guaranteed_minor,
                            "written_down": x.written_down_minor} for x in result.losses],
                "traces": [t.as_dict() for t in result.traces],
                "trace_lines": [line for t in result.traces
                                for line in t.lines(terms.currency)]}
    data = _run(work)
    cur = data["currency"]
    if as_json:
        data.pop("trace_lines")
        print_json(_distribution_json(data, cur))
        return
    if data.get("already_distributed"):
        typer.echo(f"the waterfall of {on} was already posted — nothing changed; what it paid:")
    print_table(f"Waterfall on {on} ({cur}): {money_text(data['available'], cur)} available",
                ["step", "instrument", "owed", "paid"],
                [(a["step"], a["instrument"],
                  "—" if a["owed"] is None else money_text(a["owed"], cur),
                  money_text(a["paid"], cur)) for a in data["allocations"]], right=[2, 3])
    if trace:
        for line in data["trace_lines"]:
            typer.echo(line)


# --------------------------------------------------------------------------- money for people

# The amounts of a schedule row and of a distribution's rows (the other fields are numbers,
# dates, names and states).
_SCHEDULE_MONEY = ("scheduled_principal", "actual_principal", "scheduled_interest",
                   "actual_interest", "overdue", "default_interest", "scheduled_closing",
                   "actual_closing")
_DISTRIBUTION_MONEY = {"applied": ("received", "applied"), "allocations": ("owed", "paid"),
                       "losses": ("unpaid", "guaranteed", "written_down")}


def _amount_minor(session: Any, contract: str, amount: str) -> tuple[int, str]:
    """``--amount`` as a person types it, in major units of the contract's currency, as
    integer minor units (refused with AMOUNT_PRECISION when it has more decimals than the
    currency: ``270000.001`` USD, ``1.5`` JPY), and the currency."""
    from contracts.store import get_contract
    currency = get_contract(session, contract).currency
    amount_minor = parse_major(amount, currency, "amount")
    check_amount_minor(amount_minor, "amount", currency)
    return amount_minor, currency


def _wire_text(money: dict[str, str]) -> str:
    """A ``{"amount", "currency"}`` money value as a CLI line writes it (``£1,250.50``)."""
    return amount_text(MoneyJSON(**money).to_minor(), money["currency"])


def _money_fields(row: dict[str, Any], keys: tuple[str, ...], currency: str) -> dict[str, Any]:
    """``row`` with the amounts under ``keys`` as money (None stays None)."""
    return {k: money_json(v, currency) if k in keys and v is not None else v
            for k, v in row.items()}


def _distribution_json(data: dict[str, Any], currency: str) -> dict[str, Any]:
    """A distribution for ``--json``: every amount as money, in major units."""
    out = {**data, "available": money_json(data["available"], currency),
           "left": None if data["left"] is None else money_json(data["left"], currency)}
    for name, keys in _DISTRIBUTION_MONEY.items():
        out[name] = [_money_fields(row, keys, currency) for row in data[name]]
    return out
