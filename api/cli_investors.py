"""``sib holder …``, ``sib subscribe``, ``sib holders pay``, ``sib tax remit``, ``sib statements``,
``sib export``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from api import cli_audit
from api.output import money_json, money_text, print_json, print_table, report_error
from ledger.calendar import parse_date
from ledger.errors import SibError
from ledger.inputs import check_count
from ledger.money import amount_text
from ledger.money_json import MoneyJSON

holder_app = typer.Typer(help="Holders (banks, citizens, companies) and their units.",
                         no_args_is_help=True)
tax_app = typer.Typer(help="Tax withheld from holder payments, paid over to the tax office.",
                      no_args_is_help=True)
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")

_run = cli_audit.run


@holder_app.command("add")
def holder_add(code: str, kind: str = typer.Option(..., "--kind", help="bank, individual, "
                                                   "company"),
               name: str = typer.Option(..., "--name", help="name in kanji"),
               kana: str = typer.Option("", "--kana"), name_en: str = typer.Option("", "--en"),
               tax_category: str = typer.Option("individual", "--tax-category"),
               address: str = typer.Option("", "--address")) -> None:
    """Register a holder (no national identification number is stored)."""
    from investors.store import HolderSpec, add_holder
    _run(lambda s: add_holder(s, HolderSpec(code, kind, name, kana, name_en, tax_category,
                                            address=address)))
    typer.echo(f"holder {code} registered")


@holder_app.command("list")
def holder_list(as_json: bool = JsonOpt) -> None:
    """Every registered holder."""
    from investors.store import list_holders
    rows = _run(lambda s: [{"code": h.code, "kind": h.kind, "name": h.name_kanji,
                            "kana": h.name_kana, "tax_category": h.tax_category}
                           for h in list_holders(s)])
    if as_json:
        print_json(rows)
    else:
        print_table("Holders", ["code", "kind", "name", "kana", "tax"],
                    [tuple(r.values()) for r in rows])


@holder_app.command("subscribe")
def holder_subscribe(contract: str = typer.Option(..., "--contract", "-c"),
                     unit_class: str = typer.Option(..., "--class"),
                     holder: str = typer.Option(..., "--holder"),
                     units: int = typer.Option(..., "--units"),
                     on: str = typer.Option(..., "--on")) -> None:
    """A holder buys units: cash received, units issued."""
    from contracts.store import get_contract
    from investors.store import subscribe
    on_day = parse_date(on, "on")
    check_count(units, "units")

    def work(session: Any) -> str:
        row = subscribe(session, contract, unit_class, holder, units, on_day)
        return f"{row.units} units of {unit_class} " \
            f"({amount_text(row.amount_minor, get_contract(session, contract).currency)})"
    typer.echo(f"{holder}: {_run(work)}")


@holder_app.command("pay")
def holder_pay(contract: str = typer.Option(..., "--contract", "-c"),
               on: str = typer.Option(..., "--on"), as_json: bool = JsonOpt) -> None:
    """Pay holders the class distributions of a date, withholding tax per holder."""
    from contracts.store import get_contract
    from investors.store import pay_holders
    on_day = parse_date(on, "on")

    def work(session: Any) -> tuple[list[dict[str, Any]], str]:
        paid = pay_holders(session, contract, on_day)
        return [{"holder_id": p.holder_id, "class": p.unit_class, "kind": p.kind,
                 "gross": p.gross_minor, "withheld": p.withheld_minor, "net": p.net_minor}
                for p in paid], get_contract(session, contract).currency
    rows, cur = _run(work)
    if as_json:
        print_json([{**r, **{k: money_json(r[k], cur) for k in ("gross", "withheld", "net")}}
                    for r in rows])
    else:
        typer.echo(f"{len(rows)} holder payments; gross "
                   f"{amount_text(sum(r['gross'] for r in rows), cur)}, withheld "
                   f"{amount_text(sum(r['withheld'] for r in rows), cur)}")


@holder_app.command("returns")
def holder_returns_command(contract: str = typer.Option(..., "--contract", "-c"),
                           holder: str | None = typer.Option(None, "--holder"),
                           as_of: str | None = typer.Option(
                               None, "--as-of", help="value on this day (default: today)"),
                           as_json: bool = JsonOpt) -> None:
    """Per holder and class (and per class): paid in, the return and the capital paid back,
    recovered from a guarantor, written down, tax withheld, residual value, IRR and multiple —
    the investor statement's figures."""
    from datetime import date
    from decimal import Decimal

    from contracts.store import get_contract
    from investors.holder_returns import as_json as row_json
    from investors.holder_returns import holder_returns
    on = parse_date(as_of, "as_of") if as_of else date.today()

    def work(session: Any) -> list[dict[str, Any]]:
        currency = get_contract(session, contract).currency
        return [row_json(r, currency) for r in holder_returns(session, contract, on, holder)]
    rows = _run(work)
    if as_json:
        print_json(rows)
        return

    def money(value: dict[str, str]) -> str:
        whole, _, cents = value["amount"].partition(".")
        return f"{int(whole):,}" + (f".{cents}" if cents else "")

    def rate(value: str | None, scale: int, suffix: str) -> str:
        return "—" if value is None else f"{Decimal(value) * scale:.2f}{suffix}"
    print_table(f"Returns at {on}", ["class", "holder", "paid in", "return", "capital back",
                                     "recovered", "written down", "residual", "IRR",
                                     "multiple"],
                [(r["unit_class"], r["holder"] or "(class)", money(r["paid_in"]),
                  money(r["return_distributed"]), money(r["capital_returned"]),
                  money(r["recovered_from_guarantor"]), money(r["written_down"]),
                  money(r["residual_value"]), rate(r["irr"], 100, "%"),
                  rate(r["multiple"], 1, "x")) for r in rows],
                right=[2, 3, 4, 5, 6, 7, 8, 9])


@holder_app.command("records")
def holder_records(contract: str = typer.Option(..., "--contract", "-c"),
                   year: int = typer.Option(..., "--calendar-year"),
                   summary: bool = typer.Option(False, "--summary", help="only the 合計表 "
                                                "(records filed and below the threshold)"),
                   as_json: bool = JsonOpt) -> None:
    """支払調書 data per recipient for a calendar year, marked "file" when the year's payments
    exceed the legal threshold (¥50,000 for 匿名組合 distributions), and the 合計表."""
    from api.routes.investors import record_summary_public
    from investors.store import payment_records, payment_records_summary
    records, totals = _run(lambda s: (payment_records(s, contract, year),
                                      payment_records_summary(s, contract, year)))
    if as_json:
        print_json(record_summary_public(records, totals).model_dump(mode="json") if summary
                   else [asdict(r) for r in records])
        return
    cur = totals.currency
    if not summary:
        print_table(f"Payment records {year}",
                    ["holder", "name", "paid", "withheld", "count", "file"],
                    [(r.recipient.holder_id, r.recipient.name, money_text(r.paid_minor, cur),
                      money_text(r.withheld_minor, cur), r.count,
                      "file" if r.must_file else "below threshold") for r in records],
                    right=[2, 3, 4])
    threshold = max((r.threshold_minor for r in records if r.threshold_minor is not None),
                    default=None)
    print_table(f"合計表 {year}" + (f" (filed when paid more than {money_text(threshold, cur)} "
                                   f"{cur})" if threshold is not None else ""),
                ["", "records", "paid", "withheld"],
                [("filed (提出するもの)", totals.filed_count,
                  money_text(totals.filed_paid_minor, cur),
                  money_text(totals.filed_withheld_minor, cur)),
                 ("below the threshold (提出省略)", totals.below_count,
                  money_text(totals.below_paid_minor, cur),
                  money_text(totals.below_withheld_minor, cur)),
                 ("total", totals.total_count, money_text(totals.total_paid_minor, cur),
                  money_text(totals.total_withheld_minor, cur))], right=[1, 2, 3])


@tax_app.command("remit")
def tax_remit(contract: str = typer.Option(..., "--contract", "-c"),
              month: str = typer.Option(..., "--month", help="YYYY-MM: the month the holders "
                                        "were paid"),
              on: str | None = typer.Option(None, "--on", help="the day the tax is paid over "
                                            "(YYYY-MM-DD); default: its due date"),
              as_json: bool = JsonOpt) -> None:
    """Pay over to the tax office the tax withheld from holder payments in a month, once,
    and print what its payment slip (納付書) needs. Due by the 10th of the next month (the
    next business day if it is not one); paying later is allowed and said."""
    from api.routes.investors import tax_remittance_public, today_in_japan
    from investors.store import remit_withholding
    paid_on = parse_date(on, "on") if on else None
    result = _run(lambda s: tax_remittance_public(
        remit_withholding(s, contract, month, paid_on, today_in_japan())))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    slip = result.slip
    if slip.lines:
        print_table(f"{slip.form} — {slip.month}",
                    ["区分", "人員", "支払額", "税額", "うち所得税", "うち復興特別所得税"],
                    [(line.category, line.recipients, _amount(line.paid),
                      _amount(line.withheld), _amount(line.income_tax),
                      _amount(line.reconstruction_tax)) for line in slip.lines]
                    + [("合計", slip.recipients, _amount(slip.paid), _amount(slip.withheld),
                        _amount(slip.income_tax), _amount(slip.reconstruction_tax))],
                    right=[1, 2, 3, 4, 5])
        typer.echo(f"納期限 (due) {slip.due_on.isoformat()}; paid "
                   f"{result.paid_on.isoformat() if result.paid_on else '—'}"
                   + (f" (late by {result.days_late} days)" if result.late else ""))
    typer.echo(result.message)


def _amount(money: MoneyJSON) -> str:
    return money_text(money.to_minor(), money.currency)


def statements_command(contract: str = typer.Option(..., "--contract", "-c"),
                       year: int = typer.Option(..., "--year", "-y"),
                       out: Path = typer.Option(Path("out"), "--out", "-o"),
                       lang: str = typer.Option("both", "--lang", help="ja, en or both"),
                       processes: int | None = typer.Option(None, "--processes"),
                       generated_at: str | None = typer.Option(
                           None, "--generated-at", help="timestamp to print (default: the "
                           "time of the ledger state, so reruns are byte-identical)")) -> None:
    """Write every document of a contract year (PDF), on all cores, with a progress bar.

    The work is a statements job (``sib job list`` shows it) that this command runs itself,
    in ``--processes`` workers; run again after an interruption, it takes up the same job
    where it stopped."""
    from api import jobs
    from api.cli_jobs import _url, default_processes
    from api.job_kinds import start_statements
    from api.job_worker import run_inline
    langs = ("ja", "en") if lang == "both" else (lang,)
    if any(x not in ("ja", "en") for x in langs):
        report_error(SibError("--lang must be ja, en or both", "LANG_UNKNOWN", "lang"))
        raise typer.Exit(1)
    when = datetime.fromisoformat(generated_at) if generated_at else None
    job = _run(lambda s: start_statements(s, contract, year, jobs.started_by_cli(), langs, out,
                                          when, jobs.INLINE_QUEUE))
    started = datetime.now()
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        bar = progress.add_task(f"{contract} FY{year}", total=job.units_total)
        try:
            done = run_inline(_url(), job.id, processes or default_processes(),
                              lambda v: progress.update(bar, completed=v.units_done,
                                                        total=v.units_total))
        except SibError as error:
            progress.stop()
            report_error(error)
            raise typer.Exit(1) from None
    seconds = (datetime.now() - started).total_seconds()
    typer.echo(f"wrote {done.result.get('documents', done.units_done)} documents to {out} "
               f"in {seconds:.1f} s (job {done.id})")


def export_command(contract: str = typer.Option(..., "--contract", "-c"),
                   year: int = typer.Option(..., "--year", "-y"),
                   out: Path = typer.Option(Path("out"), "--out", "-o"),
                   lang: str = typer.Option("ja", "--lang", help="ja or en")) -> None:
    """The settlement pack as .xlsx (one sheet per table, with totals) and CSV files, with
    sheet names and headers in Japanese (or English with --lang en)."""
    from investors.pack_export import write_pack
    if lang not in ("ja", "en"):
        report_error(SibError("--lang must be ja or en", "LANG_UNKNOWN", "lang"))
        raise typer.Exit(1)
    paths = _run(lambda s: write_pack(s, contract, year, out,
                                      "en" if lang == "en" else "ja"))
    for path in paths:
        typer.echo(f"wrote {path}")
