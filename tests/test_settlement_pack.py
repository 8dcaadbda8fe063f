"""The settlement pack an intermediary hands to a finance office and an auditor (issue 10,
item 5), opened the way they will open it.

The story: the five-municipality contract, loaded from a copy of its YAML in which some parties
are named the way an attacker would name them (Ube ``=HYPERLINK(...)``, the Yamaguchi Bank
``@SUM(...)``, the provider ``+81…``, Tono beginning with a tab). The banks lend; FY2019 is
evaluated and closed; the municipalities pay in May 2020 and the waterfall repays and pays
interest; FY2020 is evaluated and closed. Its pack opens in Japanese (English with
``lang="en"``), with numbers where there are amounts, dates where there are dates, every loan's
year movement beside its closing balance, a total row on every sheet that sums — the trial
balance's equal to the ledger's — and the hostile names as plain text.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session
from typer.testing import CliRunner

from api import db, demo
from api.cli import app
from api.main import create_app
from api.settings import get_settings
from api.users import add_user, create_token
from contracts.chart import Code, Kind
from contracts.store import contract_for_year, load_contract
from contracts.validate import load_contract_file
from investors.exports import amount_format, workbook
from investors.pack_export import HEADERS, TITLES, pack_sheets, write_pack
from ledger import read
from settlement.close import SettlementPack, build_pack, close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results

C = demo.C
ROOT = Path(__file__).resolve().parent.parent
HOSTILE = {  # party → (name_ja, name_en)
    "ube": ('=HYPERLINK("http://example.com","宇部市")', "=cmd|' /C calc'!A0"),
    "yamaguchi-bank": ("@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"),
    "thl": ("+81 タニタヘルスリンク", "+Tanita Health Link"),
    "tono": ("\t=遠野市", "\r=Tono City"),
}
YEN_JA = '#,##0"円";"△"#,##0"円"'
FY = 2020


def _hostile_contract(folder: Path) -> Path:
    """A copy of the example contract with the hostile party names."""
    document = yaml.safe_load(demo.CONTRACT_FILE.read_text(encoding="utf-8"))
    for party in document["parties"]:
        if party["id"] in HOSTILE:
            party["name_ja"], party["name_en"] = HOSTILE[party["id"]]
    path = folder / demo.CONTRACT_FILE.name
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def _evaluate(url: str, year: int) -> None:
    contract_wide, per_payer = demo.RESULTS[year]
    inputs = [ResultInput(C, year, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, year, "continuation-rate", v, p) for p, v in per_payer.items()]
    with db.unit_of_work(url) as s:
        for row in submit_results(s, inputs, "evaluator"):
            audit_result(s, row.id or 0, "auditor")


@pytest.fixture(scope="module")
def story(migrated_sqlite, tmp_path_factory) -> Iterator[str]:
    """FY2019 closed, paid and distributed; FY2020 closed. Yields the database URL."""
    folder = tmp_path_factory.mktemp("pack")
    path = folder / "sib.db"
    path.write_bytes(migrated_sqlite.read_bytes())
    url = f"sqlite:///{path}"
    contract, problems = load_contract_file(_hostile_contract(folder))
    assert contract is not None and not problems, problems
    with db.unit_of_work(url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
        draw_loans(s, C, date(2021, 3, 31))
        pay_fixed_fees(s, C, 2019, date(2019, 9, 30))
    _evaluate(url, 2019)
    with db.unit_of_work(url) as s:
        pack = close_year(s, C, 2019, "twr")
        for p in pack.payers:
            if p["outstanding"]:
                record_payment(s, C, p["payer"], p["outstanding"], date(2020, 5, 20), "FY2019")
    with db.unit_of_work(url) as s:
        distribute(s, C, date(2020, 5, 29), reference="FY2019")
        pay_fixed_fees(s, C, FY, date(2020, 9, 30))
    _evaluate(url, FY)
    with db.unit_of_work(url) as s:
        close_year(s, C, FY, "twr")
    yield url
    if url in db._engines:
        db._engines.pop(url).dispose()


@pytest.fixture
def books(story) -> Iterator[Session]:
    """A session on the story's database."""
    with Session(db.make_engine(story)) as s:
        yield s


@pytest.fixture
def pack(books) -> SettlementPack:
    return build_pack(books, contract_for_year(books, C, FY), FY)


@pytest.fixture(scope="module")
def files(story, tmp_path_factory) -> dict[str, list[Path]]:
    """The pack of FY2020 written in each language."""
    out = {}
    with db.unit_of_work(story) as s:
        for lang in ("ja", "en"):
            out[lang] = write_pack(s, C, FY, tmp_path_factory.mktemp(lang), lang)
    return out


def _book(files: dict[str, list[Path]], lang: str) -> Any:
    return load_workbook(files[lang][0])


def _rows(sheet: Any) -> list[list[Any]]:
    return [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]


def _header(key: str, lang: str) -> str:
    return HEADERS[key][0 if lang == "ja" else 1]


# --------------------------------------------------------------------------- language

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_sheet_names_and_headers_are_in_the_readers_language(files, lang):
    book = _book(files, lang)
    index = 0 if lang == "ja" else 1
    assert book.sheetnames == [TITLES[key][index] for key in TITLES]
    lenders = book[TITLES["lenders"][index]]
    assert [c.value for c in lenders[1]][:5] == [
        _header(k, lang) for k in ("loan", "lender", "commitment", "opening", "drawn_year")]
    total = "合計" if lang == "ja" else "Total"
    for sheet in book:
        assert sheet.cell(row=sheet.max_row, column=1).value == total, sheet.title
    # Words in cells follow the language too: a trial balance's account types and names.
    types = {row[2] for row in _rows(book[TITLES["trial-balance"][index]])[:-1]}
    assert types <= ({"資産", "負債", "純資産", "収益", "費用"} if lang == "ja"
                     else {"Asset", "Liability", "Equity", "Income", "Expense"})
    names = [row[1] for row in _rows(book[TITLES["payers"][index]])[:-1]]
    assert names[0] == HOSTILE["ube"][index]


def test_the_csv_files_have_the_same_headers_utf8_with_a_bom(files):
    for lang in ("ja", "en"):
        path = next(p for p in files[lang] if p.name.endswith("-lenders.csv"))
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert header[:3] == [_header(k, lang) for k in ("loan", "lender", "commitment")]
    # The CSV files are named by ASCII keys in both languages.
    assert [p.name for p in files["ja"]] == [p.name for p in files["en"]]
    assert all(p.name.isascii() for p in files["ja"])


# --------------------------------------------------------------------------- cell types

def test_amounts_are_yen_numbers_and_dates_are_dates(files, pack):
    book = _book(files, "ja")
    payers = book["支払者"]
    earned_column = [c.value for c in payers[1]].index(_header("earned", "ja")) + 1
    for row in range(2, payers.max_row + 1):
        cell = payers.cell(row=row, column=earned_column)
        assert cell.data_type == "n" and cell.number_format == YEN_JA
    assert [payers.cell(row=r, column=earned_column).value for r in range(2, 7)] == [
        p["earned"] for p in pack.payers]
    schedule = book["返済予定と実績"]
    due = [c.value for c in schedule[1]].index(_header("due_on", "ja")) + 1
    rows = [r for r in range(2, schedule.max_row)]
    assert rows and all(schedule.cell(row=r, column=due).is_date for r in rows)
    first = pack.lenders[0]["schedule_vs_actual"][0]["due_on"]
    assert schedule.cell(row=2, column=due).value == datetime(first.year, first.month, first.day)


def test_kpi_values_and_targets_are_exact_numbers(files, pack):
    sheet = _book(files, "ja")["成果指標"]
    headers = [c.value for c in sheet[1]]
    value, target = headers.index("実績値") + 1, headers.index("目標値") + 1
    for row, kpi in enumerate(pack.kpis, start=2):
        cell = sheet.cell(row=row, column=value)
        assert cell.data_type == "n" and Decimal(repr(cell.value)) == Decimal(kpi["value"])
        assert Decimal(repr(sheet.cell(row=row, column=target).value)) == Decimal(kpi["target"])
    assert sheet.cell(row=2, column=headers.index("評価") + 1).value == "最終評価"


def test_pounds_have_two_decimals_and_the_pound_sign(session):
    """The GBP example contract: its pack's amounts carry pence."""
    contract, problems = load_contract_file(ROOT / "contracts/examples/"
                                            "gbp-rate-card-employment.yaml")
    assert contract is not None and not problems
    load_contract(session, contract, "gbp-rate-card-employment.yaml")
    pack = build_pack(session, contract, contract.first_fiscal_year)
    pack.payers[0]["earned"] = 1_234_567  # £12,345.67: the sheet shows what the pack holds
    book = load_workbook(io.BytesIO(workbook(pack_sheets(pack, "en"), "GBP", "en")))
    payers = book["Payers"]
    earned = [c.value for c in payers[1]].index(_header("earned", "en")) + 1
    cell = payers.cell(row=2, column=earned)
    assert cell.number_format == amount_format("GBP", "en") == '"£"#,##0.00;"-£"#,##0.00'
    assert Decimal(repr(cell.value)) == Decimal("12345.67")
    assert payers.cell(row=2, column=2).value == contract.party(pack.payers[0]["payer"]).name_en


# --------------------------------------------------------------------------- one meaning each

def test_each_loan_shows_the_years_movement_and_the_closing_balance_apart(files, pack, books):
    start, end = pack.period_start, pack.period_end
    sheet = _book(files, "ja")["借入金"]
    headers = [c.value for c in sheet[1]]
    assert headers == [_header(k, "ja") for k in (
        "loan", "lender", "commitment", "opening", "drawn_year", "repaid_year",
        "guaranteed_year", "written_down_year", "closing", "interest_payable_opening",
        "interest_accrued_year", "interest_paid_year", "interest_payable")]
    column = {key: i for i, key in enumerate((
        "loan", "lender", "commitment", "opening", "drawn_year", "repaid_year",
        "guaranteed_year", "written_down_year", "closing", "interest_payable_opening",
        "interest_accrued_year", "interest_paid_year", "interest_payable"))}
    moved = False
    for row in _rows(sheet)[:-1]:
        f = {key: row[i] for key, i in column.items()}
        loan = f["loan"]
        principal = Code.loan(loan)
        # The year's movement adds up to the closing balance, which is the ledger's.
        assert (f["opening"] + f["drawn_year"] - f["repaid_year"] - f["guaranteed_year"]
                - f["written_down_year"]) == f["closing"]
        assert f["closing"] == read.totals(books, C, principal,
                                           through_on=end).net_credit_minor
        assert f["opening"] == read.totals(books, C, principal,
                                           through_on=date(start.year, 3, 31)).net_credit_minor
        assert f["drawn_year"] == read.totals(books, C, principal, kinds=(Kind.LOAN_DRAWDOWN,),
                                              from_on=start, through_on=end).credits_minor
        assert f["repaid_year"] == read.totals(
            books, C, principal, kinds=(Kind.PRINCIPAL_REPAYMENT,), from_on=start,
            through_on=end).debits_minor
        # Interest: what was owed at the start, accrued, paid, owed at the end.
        assert (f["interest_payable_opening"] + f["interest_accrued_year"]
                - f["interest_paid_year"]) == f["interest_payable"]
        assert f["interest_payable"] == read.totals(
            books, C, Code.interest_payable(loan), through_on=end).net_credit_minor
        moved = moved or bool(f["repaid_year"] and f["interest_paid_year"] and f["opening"])
    assert moved, "the story repays principal and pays interest in FY2020"


# --------------------------------------------------------------------------- totals

@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_sheet_ends_with_a_total_row_that_sums_the_rows_above(files, lang):
    book = _book(files, lang)
    summed = 0
    for sheet in book:
        *rows, total = list(sheet.iter_rows(min_row=2))
        assert total[0].value == ("合計" if lang == "ja" else "Total")
        for index, cell in enumerate(total):
            if cell.value is None or index == 0:
                continue
            assert cell.data_type == "n"  # a value, not a formula
            assert cell.value == sum(r[index].value or 0 for r in rows), (sheet.title, index)
            summed += 1
        # Every amount column is totalled, except balances after each instalment.
        headers = [c.value for c in sheet[1]]
        for i, header in enumerate(headers):
            if any(_is_amount(r[i]) for r in rows) and header not in (
                    _header("scheduled_closing", lang), _header("actual_closing", lang)):
                assert _is_amount(total[i]), (sheet.title, header)
    assert summed > 30


def _is_amount(cell: Any) -> bool:
    return cell.data_type == "n" and any(mark in cell.number_format for mark in "円¥£")


def test_the_trial_balance_totals_are_the_ledgers(files, pack, books):
    ledger = read.trial_balance(books, C, pack.period_end)
    assert ledger.balanced
    sheet = _book(files, "ja")["試算表"]
    *rows, total = _rows(sheet)
    assert total[3:5] == [ledger.total_debit_minor, ledger.total_credit_minor]
    assert total[3] == total[4] > 0
    assert len(rows) == len(pack.trial_balance)


def test_the_payers_sheet_ties_to_the_ledger(files, pack, books):
    """Earned, due and grant are what the year's settlement posted; receivables the
    ledger's balance at year end."""
    sheet = _book(files, "ja")["支払者"]
    headers = [c.value for c in sheet[1]]
    *rows, total = _rows(sheet)
    # Earned as the contract states it (tax included): the income the settlement booked,
    # before the tax inside it was moved to 仮受消費税 by the outcome_tax entries.
    assert total[headers.index(_header("earned", "ja"))] == sum(
        p.credit_minor - p.debit_minor for p in read.postings(books, C, prefix="outcome-income:")
        if p.links.get("fiscal_year") == FY and p.kind != "outcome_tax")
    for row in rows:
        payer = row[0]
        assert row[headers.index(_header("outstanding", "ja"))] == read.totals(
            books, C, Code.receivable(payer), through_on=pack.period_end).net_debit_minor


# --------------------------------------------------------------------------- no formulas

def test_names_beginning_with_formula_characters_are_text_everywhere(files):
    for lang, index in (("ja", 0), ("en", 1)):
        data = files[lang][0].read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
            assert sheets and not any("<f>" in archive.read(n).decode()
                                      or "<f " in archive.read(n).decode() for n in sheets)
        book = load_workbook(io.BytesIO(data))
        found = {}
        for sheet in book:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (sheet.title, cell.coordinate)
                    if isinstance(cell.value, str) and cell.value[:1] in "=+-@\t\n":
                        assert cell.data_type == "s" and cell.quotePrefix, cell.value
                        found[cell.value] = sheet.title
        expected = {names[index].replace("\r", "\n") for names in HOSTILE.values()}
        assert expected <= set(found), expected - set(found)
        # CSV: each prefixed with an apostrophe (OWASP); the rest of the text unchanged.
        texts = set()
        for path in files[lang][1:]:
            for row in csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")):
                texts.update(row)
        assert all(v[:1] not in "=+-@\t\r" for v in texts if v and not _number(v)), \
            [v for v in texts if v[:1] in "=+-@\t\r" and not _number(v)]
        assert {"'" + names[index] for names in HOSTILE.values()} <= texts


def _number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


# --------------------------------------------------------------------------- CLI, API, demo

@pytest.fixture
def cli(story, monkeypatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", story)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_sib_export_writes_japanese_by_default_and_english_with_lang_en(cli, tmp_path):
    for args, first in (([], "支払者"), (["--lang", "en"], "Payers")):
        out = tmp_path / (args[-1] if args else "default")
        result = cli.invoke(app, ["export", "-c", C, "-y", str(FY), "-o", str(out), *args])
        assert result.exit_code == 0, result.output
        assert f"wrote {out / f'settlement-pack-FY{FY}.xlsx'}" in result.output
        assert load_workbook(out / f"settlement-pack-FY{FY}.xlsx").sheetnames[0] == first
    refused = cli.invoke(app, ["export", "-c", C, "-y", str(FY), "-o", str(tmp_path),
                               "--lang", "fr"])
    assert refused.exit_code == 1 and "LANG_UNKNOWN" in refused.output


def test_the_api_serves_the_pack_in_either_language(story):
    with db.unit_of_work(story) as s:
        add_user(s, "auditor-1", "auditor")
        token = create_token(s, "auditor-1")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(story)) as client:
        for query, first in (("", "支払者"), ("?lang=en", "Payers")):
            r = client.get(f"/contracts/{C}/years/{FY}/pack.xlsx{query}", headers=headers)
            assert r.status_code == 200, r.text
            assert load_workbook(io.BytesIO(r.content)).sheetnames[0] == first
        r = client.get(f"/contracts/{C}/years/{FY}/pack.csv.zip?lang=en", headers=headers)
        with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
            text = archive.read(f"settlement-pack-FY{FY}-lenders.csv").decode("utf-8-sig")
        assert text.startswith("Loan,Lender,Commitment")
        assert client.get(f"/contracts/{C}/years/{FY}/pack.xlsx?lang=fr",
                          headers=headers).status_code == 422
