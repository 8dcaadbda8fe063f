"""``sib contract …``: validate, load, show, amend, list contracts; publish the schema."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from api import cli_audit, db
from api.output import money_json, money_text, print_json, print_table, report_error
from ledger.errors import Problem, SibError

if TYPE_CHECKING:  # contracts are imported when a command needs them, not at start-up
    from contracts.instruments import Instrument
    from contracts.model import Contract

contract_app = typer.Typer(help="Contract terms as data (YAML).", no_args_is_help=True)
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _validated(path: Path) -> Contract:
    from contracts.validate import load_contract_file
    contract, problems = load_contract_file(path)
    if problems or contract is None:
        raise SibError(problems or [Problem("CONTRACT_INVALID", "the file is not a contract",
                                            None, str(path))])
    return contract


@contract_app.command("validate")
def validate(file: Path, as_json: bool = JsonOpt) -> None:
    """Check a contract file; report every problem with its field path. Writes nothing."""
    from contracts.validate import load_contract_file
    contract, problems = load_contract_file(file)
    if as_json:
        print_json({"ok": not problems, "contract": contract.id if contract else None,
                    "problems": [{"code": p.code, "source": p.source, "field": p.field,
                                  "message": p.message} for p in problems]})
    elif problems:
        report_error(SibError(problems))
        typer.echo(f"{len(problems)} problem(s); nothing loaded", err=True)
    else:
        assert contract is not None
        typer.echo(f"{file}: contract {contract.id} v{contract.version} is valid "
                   f"({len(contract.payers)} payers, {len(contract.kpis)} KPIs, "
                   f"{len(contract.tranches)} tranches, {len(contract.instruments)} instruments)")
    if problems:
        raise typer.Exit(1)


@contract_app.command("load")
def load(file: Path, as_json: bool = JsonOpt) -> None:
    """Validate and load a contract: store it, open its books, reserve its tranches."""
    from contracts.store import load_contract
    result = cli_audit.run(lambda session: load_contract(session, _validated(file), str(file)))
    if as_json:
        print_json({"contract": result.contract_id, "version": result.version,
                    "created": result.created, "commitments": result.commitments})
    else:
        typer.echo(f"contract {result.contract_id} v{result.version} "
                   f"{'loaded' if result.created else 'already loaded (nothing changed)'}: "
                   f"books {result.contract_id} and {result.contract_id}:payers, "
                   f"{result.commitments} tranche commitments pending")


@contract_app.command("amend")
def amend(contract_id: str, file: Path, reason: str = typer.Option(..., "--reason"),
          effective_from: int | None = typer.Option(
              None, "--effective-from", help="first fiscal year the new terms govern "
              "(default: the last amendment listed in the file)"),
          by: str | None = typer.Option(None, "--by", help="the registered user asking, for "
                                        "an early termination (another approves it)"),
          token: str | None = typer.Option(None, "--token", envvar="SIB_TOKEN",
                                           help="the asking user's own API token"),
          as_json: bool = JsonOpt) -> None:
    """Store a new version of a contract governing later fiscal years. One that ends the term
    sooner is an early termination: a change request (--by) another user approves."""
    from contracts.store import amend_contract, ends_sooner
    try:
        contract = _validated(file)
    except SibError as error:
        report_error(error)
        raise typer.Exit(1) from None
    year = effective_from
    if year is None and contract.amendments:
        year = contract.amendments[-1].effective_from
    if year is None:
        report_error(SibError("give --effective-from or list the amendment in the file",
                              "EFFECTIVE_FROM_REQUIRED", "effective_from"))
        raise typer.Exit(1)
    first_year = year

    def work(session: Any) -> Any:
        if not ends_sooner(session, contract_id, contract):
            return amend_contract(session, contract_id, contract, reason, first_year)
        from api.cli_controls import acting, noted
        from settlement.change_requests import request_amendment
        if not by and not token:
            raise SibError("the amendment ends the term sooner: an early termination is a "
                           "change request another user approves; give --by and --token",
                           "REQUESTER_REQUIRED", "by")
        who = acting(session, by, token)
        return noted(session, request_amendment(session, contract_id, contract, reason,
                                                first_year, who))
    result = cli_audit.run(work)
    if isinstance(result, dict):  # an early termination, asked for
        if as_json:
            print_json(result)
        else:
            typer.echo(f"{result['summary']}\nit takes effect when another admin or "
                       f"intermediary approves it: sib change approve {result['id']} --by OTHER")
        return
    if as_json:
        print_json({"contract": result.contract_id, "version": result.version,
                    "created": result.created, "commitments": result.commitments})
    else:
        typer.echo(f"contract {result.contract_id} amended: version {result.version} governs "
                   f"FY{year} onwards; {result.commitments} commitments reserved again")


@contract_app.command("list")
def list_(as_json: bool = JsonOpt) -> None:
    """Every contract with its newest version."""
    from contracts.store import list_contracts
    with db.unit_of_work() as session:
        rows = [{"contract": r.contract_id, "version": r.version, "name_ja": r.name_ja,
                 "name_en": r.name_en, "currency": r.currency, "loaded_at": r.loaded_at}
                for r in list_contracts(session)]
    if as_json:
        print_json(rows)
    else:
        print_table("Contracts", ["id", "version", "name", "currency"],
                    [(r["contract"], r["version"], r["name_ja"], r["currency"]) for r in rows])


@contract_app.command("show")
def show(contract_id: str, as_json: bool = JsonOpt) -> None:
    """Parties, instruments, per payer and year the maximum liability against its
    authorisation (債務負担行為), and the version history."""
    from contracts.store import contract_from_row, versions
    from contracts.terms import authorisation_table
    from settlement.budget import planned_by_budget_year
    from settlement.payer_ledger import paid_by_budget_year, read_payments_by_results_year
    try:
        with db.unit_of_work() as session:
            history = versions(session, contract_id)
            contract = contract_from_row(history[-1])
            paid = {p: paid_by_budget_year(contract, read_payments_by_results_year(
                session, contract, p)) for p in contract.payer_ids}
    except SibError as error:
        report_error(error)
        raise typer.Exit(1) from None
    cur = contract.currency
    table = authorisation_table(contract)
    budget = [(p, year, planned, limit, paid[p].get(year, 0))
              for p in contract.payer_ids
              for year, (planned, limit) in sorted(planned_by_budget_year(contract, p).items())]
    if as_json:
        print_json({
            "contract": contract.id, "version": contract.version, "name_ja": contract.name_ja,
            "name_en": contract.name_en, "currency": cur,
            "parties": [{"id": p.id, "name_ja": p.name_ja, "name_en": p.name_en,
                         "roles": list(p.roles)} for p in contract.parties],
            "instruments": [{"type": i.type, "id": i.id} for i in contract.instruments],
            "authorisation": [{"payer": r.payer, "fiscal_year": r.fiscal_year,
                               "max_liability": money_json(r.max_liability_minor, cur),
                               "authorised": money_json(r.authorised_minor, cur)
                               if r.authorised_minor is not None else None,
                               "headroom": money_json(r.headroom_minor, cur)
                               if r.headroom_minor is not None else None} for r in table],
            "budget_years": [{"payer": p, "budget_year": year,
                              "planned": money_json(planned, cur),
                              "limit": money_json(limit, cur) if limit is not None else None,
                              "paid": money_json(amount, cur)}
                             for p, year, planned, limit, amount in budget],
            "versions": [{"version": v.version, "effective_from": v.effective_from,
                          "reason": v.reason, "loaded_at": v.loaded_at} for v in history]})
        return
    typer.echo(f"{contract.id} — {contract.name_ja} / {contract.name_en}")
    first_day, last_day = contract.fiscal_year_bounds(contract.first_fiscal_year)
    typer.echo(f"currency {cur}, FY{contract.first_fiscal_year}–FY{contract.last_fiscal_year} "
               f"(FY{contract.first_fiscal_year} = {first_day} – {last_day}: years named by "
               f"the year they {contract.fiscal_year_named_by} in), "
               f"rounding {contract.rounding.mode.value} / "
               f"{contract.rounding.remainder_policy.value}")
    print_table("Parties", ["id", "名称", "name", "roles"],
                [(p.id, p.name_ja, p.name_en, ", ".join(p.roles)) for p in contract.parties])
    print_table("Instruments", ["type", "id", "party / terms"],
                [(i.type, i.id, _instrument_text(i, cur)) for i in contract.instruments])
    print_table(f"Maximum liability against authorisation (債務負担行為), {cur}",
                ["payer", "fiscal year", "maximum liability", "authorised", "headroom"],
                [(r.payer, f"FY{r.fiscal_year}" if r.fiscal_year else "TOTAL",
                  money_text(r.max_liability_minor, cur),
                  money_text(r.authorised_minor, cur) if r.authorised_minor is not None else "—",
                  money_text(r.headroom_minor, cur) if r.headroom_minor is not None else "—")
                 for r in table], right=[2, 3, 4])
    print_table(f"債務負担行為 by budget year: planned, limit and paid, {cur}",
                ["payer", "budget year", "planned", "limit", "paid"],
                [(p, f"FY{year}", money_text(planned, cur),
                  money_text(limit, cur) if limit is not None else "—", money_text(amount, cur))
                 for p, year, planned, limit, amount in budget], right=[2, 3, 4])
    print_table("Versions", ["version", "effective from", "reason", "loaded at"],
                [(v.version, f"FY{v.effective_from}", v.reason, v.loaded_at) for v in history])


def _instrument_text(instrument: Instrument, cur: str) -> str:
    from contracts.instruments import Grant, Guarantee, Loan, UnitClass
    if isinstance(instrument, Loan):
        return (f"{instrument.lender}: {money_text(instrument.commitment_minor, cur)} at "
                f"{instrument.rate_annual}, {instrument.repayment.profile}")
    if isinstance(instrument, Grant):
        return f"{instrument.grantor}: {instrument.rate} of {', '.join(instrument.subsidises)}"
    if isinstance(instrument, UnitClass):
        return (f"{instrument.units_offered} units × "
                f"{money_text(instrument.unit_price_minor, cur)}, {instrument.principal}, "
                f"from FY{instrument.first_sale_fiscal_year}")
    if isinstance(instrument, Guarantee):
        return f"{instrument.guarantor} covers {instrument.covers}"
    return ""


@contract_app.command("schema")
def schema() -> None:
    """Print the published JSON Schema of contract documents."""
    from contracts.schema import schema_text
    sys.stdout.write(schema_text())
