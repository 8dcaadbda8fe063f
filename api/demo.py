"""``make demo``: five years of the founding five-municipality SIB, end to end.

On a fresh SQLite database (created through the migrations), the intermediary loads the
contract, the banks lend, the providers are paid, citizens buy units from year 3, the
evaluator submits and audits five years of KPI results (met, partly met and missed), each year
is settled and closed, the municipalities pay (with the Zengin file a finance office uploads),
the waterfall repays the banks and pays the holders net of withholding, the tax withheld is paid
over to the tax office by the 10th of the next month, and every document and the settlement
pack are written to ``out/``. It ends with ``sib ledger verify``.

The KPI results, bank details and citizens are illustrative.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from api import db
from api.settings import PROJECT_ROOT, get_settings
from contracts.chart import Code, Kind
from contracts.store import get_contract, load_contract
from contracts.validate import load_contract_file
from investors.batch import jobs_for_year, write_documents
from investors.files import write_atomic
from investors.store import HolderSpec, add_holder, pay_holders, remit_withholding, subscribe
from investors.tax import month_of
from ledger import read
from ledger.calendar import next_business_day
from ledger.reports import trial_balance
from settlement.approvals import approve_notice
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import (
    Distribution,
    distribute,
    draw_loans,
    pay_fixed_fees,
    record_contributions,
    record_payment,
)
from settlement.results import audit_result, submit_results
from settlement.transfers import payer_transfer, set_bank_account

CONTRACT_FILE = PROJECT_ROOT / "contracts" / "examples" / "sib-2019-five-municipalities.yaml"
C = "sib-2019-five-municipalities"
KASHIMA_FILE = PROJECT_ROOT / "contracts" / "examples" / "kashima-2023.yaml"
SIMULATION_FILE = PROJECT_ROOT / "contracts" / "examples" / "simulations" / \
    "sib-2019-five-municipalities.yaml"
KASHIMA = "kashima-2023"
PAYERS = ("ube", "tono", "yawata", "ibusuki", "misato")
console = Console(width=None if sys.stdout.isatty() else 150)

# The evaluator's audited results per fiscal year: contract-wide KPIs, then the continuation
# rate per municipality. Chosen so that targets are met, partly met and missed.
RESULTS = {
    2019: ({"participants": "7000", "inactive-share": "52.5", "guideline-share": "37"},
           {"ube": "68", "tono": "71", "yawata": "59", "ibusuki": "65", "misato": "70"}),
    2020: ({"participants": "10400", "inactive-share": "48.0", "guideline-share": "43"},
           {"ube": "72", "tono": "66", "yawata": "61", "ibusuki": "70", "misato": "73"}),
    2021: ({"participants": "12100", "inactive-share": "55.2", "guideline-share": "40.5"},
           {"ube": "70", "tono": "74", "yawata": "63", "ibusuki": "69", "misato": "75"}),
    2022: ({"participants": "13900", "inactive-share": "53.0", "guideline-share": "35"},
           {"ube": "71", "tono": "69", "yawata": "64", "ibusuki": "72", "misato": "66"}),
    2023: ({"participants": "20400", "inactive-share": "61.0", "guideline-share": "48.5"},
           {"ube": "78", "tono": "77", "yawata": "70", "ibusuki": "75", "misato": "79"}),
}
INTERIM = {2019: "3700"}

# Illustrative bank details (kana as the banks would hold them).
BANK_ACCOUNTS = {
    "twr": ("0170", "ﾔﾏｸﾞﾁｷﾞﾝｺｳ", "001", "ﾎﾝﾃﾝ", "1234567", "ｶ)ﾂｸﾊﾞｳｴﾙﾈｽﾘｻｰﾁ", "1000000001"),
    "ube": ("0170", "ﾔﾏｸﾞﾁｷﾞﾝｺｳ", "101", "ｳﾍﾞ", "0001001", "ｳﾍﾞｼｶｲｹｲｶﾝﾘｼｬ", "2000000001"),
    "tono": ("0125", "ﾄｳﾎｸｷﾞﾝｺｳ", "210", "ﾄｵﾉ", "0001002", "ﾄｵﾉｼｶｲｹｲｶﾝﾘｼｬ", "2000000002"),
    "yawata": ("0158", "ｷｮｳﾄｷﾞﾝｺｳ", "310", "ﾔﾜﾀ", "0001003", "ﾔﾜﾀｼｶｲｹｲｶﾝﾘｼｬ", "2000000003"),
    "ibusuki": ("0185", "ｶｺﾞｼﾏｷﾞﾝｺｳ", "410", "ｲﾌﾞｽｷ", "0001004", "ｲﾌﾞｽｷｼｶｲｹｲｶﾝﾘｼｬ",
                "2000000004"),
    "misato": ("0017", "ｻｲﾀﾏﾘｿﾅｷﾞﾝｺｳ", "510", "ﾐｻﾄ", "0001005", "ﾐｻﾄﾏﾁｶｲｹｲｶﾝﾘｼｬ",
               "2000000005"),
}


def fresh_database() -> str:
    """The settings' database; the default SQLite file is recreated so the demo starts clean."""
    url = get_settings().database_url
    if url.startswith("sqlite:///") and "DATABASE_URL" not in os.environ:
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    db.upgrade(url)
    return url


def set_up() -> None:
    """Load the contract, register bank accounts (the intermediary asks, the admin approves),
    draw the loans."""
    contract, problems = load_contract_file(CONTRACT_FILE)
    assert contract is not None and not problems, problems
    with db.unit_of_work() as s:
        result = load_contract(s, contract, str(CONTRACT_FILE.name))
        for party, (bank, bank_name, branch, branch_name, number, holder, code) in \
                BANK_ACCOUNTS.items():
            set_bank_account(s, C, party, requested_by="twr", approved_by="admin",
                             bank_code=bank, bank_name=bank_name, branch_code=branch,
                             branch_name=branch_name, account_number=number,
                             holder_kana=holder, requester_code=code)
        draws = draw_loans(s, C, date(2024, 3, 31))
    console.print(f"contract {C} loaded: {result.commitments} tranche commitments pending; "
                  f"{len(draws)} loan draws posted")


def sell_units() -> int:
    """Citizens and local companies buy units in June 2021 (year 3)."""
    with db.unit_of_work() as s:
        units = 0
        for i in range(1, 121):
            company = i % 20 == 0
            add_holder(s, HolderSpec(
                f"citizen-{i:03d}", "company" if company else "individual",
                f"宇部地域企業{i}号株式会社" if company else f"市民 {i}",
                f"ｼﾐﾝ {i}", f"Investor {i}",
                tax_category="corporate" if company else "individual",
                address="山口県宇部市"))
            units += subscribe(s, C, "citizen-units", f"citizen-{i:03d}", i % 5 + 1,
                               date(2021, 6, 1)).units
    return units


def evaluate(year: int) -> None:
    """The evaluator submits and audits the year's results."""
    contract_wide, per_payer = RESULTS[year]
    inputs = [ResultInput(C, year, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, year, "continuation-rate", v, p) for p, v in per_payer.items()]
    if year in INTERIM:
        inputs.append(ResultInput(C, year, "participants", INTERIM[year],
                                  evaluation="interim"))
    # The evaluation committee signs the year's results off in late April (JST), the day
    # the notices' audit line shows.
    audited_at = datetime(year + 1, 4, 24, 1, 0, tzinfo=UTC)
    with db.unit_of_work() as s:
        for row in submit_results(s, inputs, "tsukuba-kuno-lab", source="demo"):
            audit_result(s, row.id or 0, "tsukuba-kuno-lab (audit)", now=audited_at)


def run_year(year: int, out: Path, summary: list[tuple]) -> None:  # type: ignore[type-arg]
    """Fees, evaluation, settlement and close of FY ``year``; payments and the waterfall in
    May of the next year; documents of the year."""
    with db.unit_of_work() as s:
        pay_fixed_fees(s, C, year, date(year, 9, 30))
    evaluate(year)
    with db.unit_of_work() as s:
        # The year is settled and closed on 1 May (JST): the notices are issued that day.
        pack = close_year(s, C, year, "twr", now=datetime(year + 1, 5, 1, 1, 0, tzinfo=UTC))
    paid_on = next_business_day(date(year + 1, 5, 20))
    final = year == 2023
    # The waterfall runs at the end of May; the final one after the loans' last due date
    # (28 June 2024), so that every instalment is paid on its own date, none early.
    waterfall_on = date(2024, 6, 28) if final else next_business_day(date(year + 1, 5, 29))
    zengin = out / "zengin"
    zengin.mkdir(parents=True, exist_ok=True)
    with db.unit_of_work() as s:
        # Each finance office inspects its notice and approves it before paying it.
        inspected_on = paid_on - timedelta(days=10)
        for p in pack.payers:
            if p["outstanding"]:
                approve_notice(s, C, year, p["payer"], f"{p['payer']} finance office",
                               inspected_on=inspected_on,
                               now=datetime.combine(inspected_on, clock_time(1), tzinfo=UTC))
        data, _ = payer_transfer(s, C, "ube", paid_on)
        write_atomic(zengin / f"ube-FY{year}.txt", data)
        received = {}
        for p in pack.payers:
            if p["outstanding"]:
                record_payment(s, C, p["payer"], p["outstanding"], paid_on, f"FY{year}")
                received[p["payer"]] = p["outstanding"]
        result = distribute(s, C, waterfall_on, final=final, reference=f"FY{year}")
        holders = pay_holders(s, C, waterfall_on)
        report_late_payments(result)
    with db.unit_of_work() as s:  # on its due date: the 10th of June, or the next business day
        remitted = remit_withholding(s, C, month_of(waterfall_on))
    with db.unit_of_work() as s:
        paid_banks = debt_service_paid(s, C, year)
    summary.append((f"FY{year}", sum(p["earned"] for p in pack.payers),
                    sum(p["grant"] for p in pack.payers), sum(received.values()), paid_banks,
                    sum(h.gross_minor for h in holders if h.kind != "write_down"),
                    sum(h.withheld_minor for h in holders),
                    remitted.slip.withheld_minor if remitted.paid_on else 0,
                    sum(ln["outstanding"] for ln in pack.lenders)))


def report_late_payments(result: Distribution) -> None:
    """Print each instalment paid after its due date by the debt service the waterfall ran
    first, with its default interest (遅延損害金)."""
    for day in result.service.days if result.service else []:
        late = [(due, amount) for due, amount in day.paid if due.due_on < day.on]
        for due, amount in late:
            console.print(f"  {due.loan_id}: {due.component.replace('_', ' ')} due "
                          f"{due.due_on} paid late on {day.on}: {amount:,} JPY")


def debt_service_paid(session: Session, contract_id: str, fiscal_year: int) -> int:
    """What the banks were paid in the fiscal year (interest, default interest, principal),
    from the ledger."""
    start, end = get_contract(session, contract_id).fiscal_year_bounds(fiscal_year)
    kinds = [Kind.INTEREST_PAYMENT, Kind.DEFAULT_INTEREST_PAYMENT, Kind.PRINCIPAL_REPAYMENT,
             Kind.PREPAYMENT_FEE]
    return sum(p.credit_minor for p in read.postings(session, contract_id, account=Code.CASH,
                                                    kinds=kinds, from_on=start, through_on=end))


def write_year_documents(year: int, out: Path) -> int:
    """Every document of the year (Japanese and English) and the settlement pack."""
    from investors.pack_export import write_pack
    with db.unit_of_work() as s:
        jobs = jobs_for_year(s, C, year)
        write_pack(s, C, year, out / f"FY{year}")
    return write_documents(jobs, out / f"FY{year}")


def run_kashima(out: Path) -> int:
    """Kashima's FY2023 programme (seed 001), a fixed-fee contract with no outcome payments:
    Sumitomo Life's share given in kind, the city paying both providers' fees itself, the
    year closed, its year-end report and settlement pack written. Returns the documents."""
    from investors.pack_export import write_pack
    contract, problems = load_contract_file(KASHIMA_FILE)
    assert contract is not None and not problems, problems
    with db.unit_of_work() as s:
        load_contract(s, contract, KASHIMA_FILE.name)
        given = record_contributions(s, KASHIMA, 2023, date(2023, 6, 1))
        fees = pay_fixed_fees(s, KASHIMA, 2023, date(2023, 9, 29))
    with db.unit_of_work() as s:
        close_year(s, KASHIMA, 2023, "kashima")
    folder = out / KASHIMA / "FY2023"
    with db.unit_of_work() as s:
        jobs = jobs_for_year(s, KASHIMA, 2023)
        write_pack(s, KASHIMA, 2023, folder)
    console.print(f"{KASHIMA}: {len(given)} contribution in kind and {len(fees)} fixed fees "
                  "posted (the city pays its providers directly); FY2023 closed")
    return write_documents(jobs, folder)


def print_summary(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    table = Table(title="Five years of the five-municipality SIB (JPY)")
    for name in ("year", "earned", "grant covers", "paid by payers", "paid to banks",
                 "to holders (gross)", "withheld", "tax paid over", "loans outstanding"):
        table.add_column(name, justify="right" if name != "year" else "left")
    for row in rows:
        table.add_row(row[0], *[f"{v:,}" for v in row[1:]])
    console.print(table)


def run_cli(*args: str) -> int:
    """Run the ``sib`` command line as a user would, echoing it."""
    console.print(f"\n$ sib {' '.join(args)}", highlight=False)
    return subprocess.call([sys.executable, "-m", "api.cli", *args])


def simulate_rest(out: Path) -> int:
    """Issue 16: as in February 2022, simulate FY2021 on from the audited FY2019–FY2020
    results (the later years' results in these books are not used), and write the report in
    Japanese and English with its workbook to ``out/simulation``."""
    folder = out / "simulation"
    common = ("simulate", "-c", C, "--assumptions", str(SIMULATION_FILE), "--runs", "5000",
              "--seed", "2026", "--from-year", "2021")
    status = run_cli(*common, "--pdf", str(folder / "simulation-FY2021-ja.pdf"),
                     "--xlsx", str(folder / "simulation-FY2021.xlsx"))
    status |= subprocess.call([sys.executable, "-m", "api.cli", *common, "--json", "--pdf",
                               str(folder / "simulation-FY2021-en.pdf"), "--lang", "en"],
                              stdout=subprocess.DEVNULL)
    return status


def main() -> int:
    started = time.monotonic()
    url = fresh_database()
    out = get_settings().out_dir
    shutil.rmtree(out, ignore_errors=True)
    console.print(f"database: {url} (migrated to head); documents to {out}")
    set_up()
    summary: list[tuple] = []  # type: ignore[type-arg]
    documents = 0
    for year in range(2019, 2024):
        if year == 2021:
            console.print(f"citizen units sold: {sell_units()} units")
        run_year(year, out, summary)
        documents += write_year_documents(year, out)
    print_summary(summary)
    documents += run_kashima(out)
    with db.unit_of_work() as s:
        tb = trial_balance(s, C)
    withholding = next((r.balance_minor for r in tb.rows if r.code == "withholding-payable"), 0)
    console.print(f"{documents} documents written under {out}; SPV trial balance "
                  f"{'balances' if tb.balanced else 'DOES NOT BALANCE'} "
                  f"({tb.total_debit_minor:,} JPY each side); withholding-payable "
                  f"{withholding:,} JPY after the last remittance")
    status = run_cli("ledger", "trial-balance", "--book", C)
    status |= run_cli("verify")  # the ledger and every sealed record that decides money
    status |= simulate_rest(out)
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
