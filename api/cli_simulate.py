"""``sib simulate`` (issue 16): draw scenarios of a contract's outcomes and settle each with the
contract's own rules, writing nothing to the ledger; print the figures (or JSON) and write the
workbook and the PDF report when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlmodel import Session

from api import cli_audit
from api.output import print_json, print_table, report_error
from contracts.source import read_document
from ledger.errors import SibError
from ledger.money import format_plain, from_minor

MAX_RUNS = 1_000_000


def register(app: typer.Typer) -> None:
    """Adds the simulation commands to ``app``."""

    @app.command("simulate")
    def simulate_command(
            contract: str | None = typer.Option(None, "--contract", "-c"),
            assumptions: Path | None = typer.Option(None, "--assumptions",
                                                    help="the simulation file (YAML)"),
            runs: int = typer.Option(1000, "--runs", min=1, max=MAX_RUNS),
            seed: int = typer.Option(0, "--seed", min=0, help="the same seed, the same output"),
            from_year: int | None = typer.Option(
                None, "--from-year", help="first fiscal year simulated; the audited results "
                "of earlier years are used as they are"),
            as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
            xlsx: Path | None = typer.Option(None, "--xlsx", help="write the workbook here"),
            pdf: Path | None = typer.Option(None, "--pdf", help="write the PDF report here"),
            lang: str = typer.Option("ja", "--lang", help="ja or en (PDF and workbook)"),
            batch_size: int | None = typer.Option(
                None, "--batch-size", min=1, help="run as a job in batches of this many runs "
                "(the result depends on it: see settlement.simulation_batches)"),
            processes: int | None = typer.Option(
                None, "--processes", min=1, help="with --batch-size: processes drawing the "
                "batches here (default: one per core)"),
            background: bool = typer.Option(
                False, "--background", help="queue the batches for the workers (sib worker) "
                "and return; read the result later with --job"),
            job: int | None = typer.Option(
                None, "--job", min=1, help="the result of a finished simulation job")) -> None:
        """Simulate the contract's outcomes: payments per payer and year against their
        債務負担行為, debt-service shortfalls and lender losses, investor returns."""
        if lang not in ("ja", "en"):
            report_error(SibError("--lang is ja or en", "LANG_INVALID", "lang"))
            raise typer.Exit(1)
        if job is not None or batch_size is not None or background:
            from api.cli_simulate_jobs import simulate_as_job
            result = simulate_as_job(contract, assumptions, runs, seed, from_year, batch_size,
                                     processes, background, job, as_json, xlsx, pdf, lang)
            if result is not None:
                (print_json if as_json else _print_summary)(result)
            return
        if contract is None or assumptions is None:
            report_error(SibError("name the contract (--contract) and the simulation file "
                                  "(--assumptions)", "OPTION_MISSING", "contract"))
            raise typer.Exit(1)
        data, problems = read_document(assumptions)
        if data is None:
            report_error(SibError(problems))
            raise typer.Exit(1)

        def work(session: Session) -> dict[str, Any]:
            from settlement.simulation import as_json as summary_json
            from settlement.simulation import summarise
            from settlement.simulation_service import run_simulation
            sim = run_simulation(session, contract, data, str(assumptions), runs, seed,
                                 from_year)
            summary = summarise(sim)
            _write_files(summary, sim, xlsx, pdf, lang)
            return summary_json(summary, sim.contract.currency) if as_json else summary

        result = cli_audit.run(work)
        if as_json:
            print_json(result)
        else:
            _print_summary(result)


def _write_files(summary: dict[str, Any], sim: Any, xlsx: Path | None, pdf: Path | None,
                 lang: str) -> None:
    from investors.files import write_atomic
    if xlsx is not None:
        from investors.simulation_xlsx import write
        write_atomic(xlsx, write(summary, sim, lang))
    if pdf is not None:
        from investors.pdf_simulation import render
        write_atomic(pdf, render(summary, sim.contract, lang))


def _yen(amount: int | None, currency: str) -> str:
    if amount is None:
        return "—"
    plain = format_plain(from_minor(int(amount), currency))
    whole, _, fraction = plain.partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


def _print_summary(s: dict[str, Any]) -> None:
    cur = s["currency"]
    paths = s["paths"]
    print_table(f"{s['contract']}: {s['runs']:,} runs, seed {s['seed']}, simulated from "
                f"FY{s['from_fiscal_year']} (payouts {paths['payouts']['path']}, books "
                f"{paths['books']['path']}, {paths['books'].get('lockstep_runs', 0):,} runs "
                f"by the lockstep books, {paths['books']['scalar_runs']:,} by the engine's "
                f"books one by one) — payments by results year ({cur})",
                ["FY", "P5", "P50", "P95", "mean"],
                [(r["fiscal_year"], *[_yen(r[k], cur) for k in ("p5", "p50", "p95", "mean")])
                 for r in s["payments_by_year"]], right=[1, 2, 3, 4])
    print_table("Payers: total and 債務負担行為", ["payer", "total P50", "total P95",
                                                 "authorised", "P(above)"],
                [(p["payer"], _yen(p["total_due"]["p50"], cur), _yen(p["total_due"]["p95"], cur),
                  _yen(p["authorisation"], cur), p["years"][-1]["probability_above_authorisation"])
                 for p in s["payers"]], right=[1, 2, 3, 4])
    print_table("Loans", ["loan", "lender", "P(shortfall)", "first shortfall (mean)",
                          "expected loss"],
                [(ln["loan"], ln["lender"], ln["probability_of_shortfall"],
                  ln["expected_first_shortfall_on"] or "—", _yen(ln["expected_loss"], cur))
                 for ln in s["loans"]], right=[2, 4])
    fees = s.get("fixed_fees_unpaid")
    if fees and not int(fees["expected_unpaid"]):
        typer.echo("Fixed fees: every fee is paid when due in every run.")
    elif fees and fees["by_due_date"]:
        print_table(f"Fixed fees the vehicle cannot pay when due: P = {fees['probability_unpaid']}"
                    f", expected unpaid {_yen(fees['expected_unpaid'], cur)} (P95 "
                    f"{_yen(fees['unpaid']['p95'], cur)}), first expected "
                    f"{fees['expected_first_unpaid_on'] or '—'}",
                    ["provider", "FY", "due", "fee", "P(unpaid)", "P(some unpaid by then)",
                     "expected unpaid"],
                    [(f["provider"], f["fiscal_year"], f["due_on"], _yen(f["fee"], cur),
                      f["probability_unpaid"], f["probability_unpaid_by_then"],
                      _yen(f["expected_unpaid"], cur)) for f in fees["by_due_date"]],
                    right=[3, 4, 5, 6])
    print_table("Unit classes", ["class", "IRR P5", "IRR P50", "IRR P95", "P(capital loss)"],
                [(c["class"], c["irr"]["p5"], c["irr"]["p50"], c["irr"]["p95"],
                  c["probability_of_capital_loss"]) for c in s["classes"]], right=[1, 2, 3, 4])
