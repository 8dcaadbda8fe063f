"""The settlement pack's files, read back the way the intermediary, a finance office and an
auditor will: amounts as numbers in yen or pounds, dates as dates, a total row that sums, no
text a spreadsheet would evaluate — and CSV files a machine reads."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from investors.exports import (
    Column,
    Sheet,
    amount_format,
    csv_text,
    sheet_csv,
    workbook,
    write_pack_files,
)
from ledger.errors import SibError

PAYERS = Sheet("payers", "支払者", (
    Column("payer", "支払者"), Column("authorised_minor", "限度額", "amount"),
    Column("earned_minor", "成果連動支払額", "amount"), Column("paid_on", "支払日", "date"),
    Column("note", "備考")), (
    {"payer": "宇部市", "authorised_minor": 8_000_000, "earned_minor": 6_187_500,
     "paid_on": date(2020, 5, 20), "note": None},
    {"payer": "八幡市", "authorised_minor": 4_000_000, "earned_minor": 3_514_500,
     "paid_on": None, "note": "出納整理期間に入金予定"}), "合計")
KPIS = Sheet("kpi-results", "成果指標", (
    Column("kpi", "指標"), Column("version", "版", "count"), Column("value", "実績値", "number")),
    ({"kpi": "inactive-share", "version": 1, "value": "52.5"},
     {"kpi": "participants", "version": 2, "value": Decimal("7000")},
     {"kpi": "precise", "version": 1, "value": "0.123456789012345"},
     {"kpi": "too-precise", "version": 1, "value": "0.1234567890123456789"}), "合計")
YEN_JA = '#,##0"円";"△"#,##0"円"'


def _book(*sheets: Sheet, currency: str = "JPY", lang: str = "ja"):
    return load_workbook(io.BytesIO(workbook(sheets, currency, lang)))  # type: ignore[arg-type]


def test_amounts_are_yen_numbers_with_a_total_row_that_sums():
    sheet = _book(PAYERS)["支払者"]
    assert [c.value for c in sheet[1]] == ["支払者", "限度額", "成果連動支払額", "支払日", "備考"]
    assert sheet.freeze_panes == "A2"
    ube = sheet[2]
    assert ube[1].value == 8_000_000 and ube[1].data_type == "n"
    assert ube[1].number_format == YEN_JA
    # The total row: its label, then each amount column's sum — values, not formulas.
    total = sheet[4]
    assert total[0].value == "合計" and total[0].font.bold
    assert (total[1].value, total[2].value) == (12_000_000, 9_702_000)
    assert total[2].number_format == YEN_JA and total[2].data_type == "n"
    assert total[3].value is None and total[4].value is None
    # Japanese text counts double: the note column is wider than its header.
    assert sheet.column_dimensions["E"].width >= 2 * len("出納整理期間に入金予定")


def test_dates_are_date_cells():
    sheet = _book(PAYERS)["支払者"]
    cell = sheet["D2"]
    assert cell.is_date and cell.value == datetime(2020, 5, 20)
    assert cell.number_format == "yyyy/mm/dd"
    assert sheet["D3"].value is None
    assert _book(PAYERS, lang="en")["支払者"]["D2"].number_format == "yyyy-mm-dd"


def test_yen_pounds_and_other_currencies_each_have_their_format():
    assert amount_format("JPY", "ja") == YEN_JA          # △ marks a negative, as 決算書 print
    assert amount_format("JPY", "en") == '"¥"#,##0;"-¥"#,##0'
    assert amount_format("GBP", "en") == '"£"#,##0.00;"-£"#,##0.00'
    assert amount_format("GBP", "ja") == '"£"#,##0.00;"△£"#,##0.00'
    assert amount_format("CHF", "en") == '#,##0.00" CHF";"-"#,##0.00" CHF"'


def test_pence_are_exact_with_two_decimals():
    rows = ({"lender": "Big Society Capital", "interest_minor": 123_456},
            {"lender": "Northfield", "interest_minor": -5})
    sheet = Sheet("lenders", "Loans", (Column("lender", "Lender"),
                                       Column("interest_minor", "Interest", "amount")), rows,
                  "Total")
    cells = _book(sheet, currency="GBP", lang="en")["Loans"]
    assert cells["B2"].number_format == '"£"#,##0.00;"-£"#,##0.00'
    assert Decimal(str(cells["B2"].value)) == Decimal("1234.56")
    assert Decimal(str(cells["B3"].value)) == Decimal("-0.05")
    assert Decimal(str(cells["B4"].value)) == Decimal("1234.51")  # the total, to the penny
    assert sheet_csv(sheet, "GBP").splitlines()[1:] == ["Big Society Capital,1234.56",
                                                        "Northfield,-0.05"]


def test_kpi_values_are_exact_numbers():
    sheet = _book(KPIS)["成果指標"]
    assert [(c.value, c.data_type) for c in sheet["C"][1:4]] == [
        (52.5, "n"), (7000, "n"), (0.123456789012345, "n")]
    assert Decimal(repr(sheet["C4"].value)) == Decimal("0.123456789012345")
    # Shown with as many decimals as the figure was given with, and thousands separators.
    assert [sheet[f"C{r}"].number_format for r in (2, 3, 4)] == [
        "#,##0.0", "#,##0", "#,##0.000000000000000"]
    # Sixteen significant digits and more do not survive a spreadsheet's double: kept exact,
    # as text, rather than silently altered.
    assert (sheet["C5"].value, sheet["C5"].data_type) == ("0.1234567890123456789", "s")
    assert sheet["B2"].value == 1
    # Nothing of a KPI sheet is an amount: its total row is the label alone.
    assert [c.value for c in sheet[6]] == ["合計", None, None]
    assert sheet_csv(KPIS, "JPY").splitlines()[1:] == [
        "inactive-share,1,52.5", "participants,2,7000", "precise,1,0.123456789012345",
        "too-precise,1,0.1234567890123456789"]


DANGEROUS = ["=HYPERLINK(\"http://example.com\",\"宇部市\")", "+81 3", "-2+3", "@SUM(A1)",
             "\t=1+1", "\r=1+1"]


def test_text_a_spreadsheet_would_evaluate_stays_text():
    rows = tuple({"name": name, "amount_minor": 1} for name in DANGEROUS)
    sheet = Sheet("parties", "相手方", (Column("name", "名称"),
                                        Column("amount_minor", "金額", "amount")), rows, "合計")
    data = workbook([sheet], "JPY")
    cells = load_workbook(io.BytesIO(data))["相手方"]
    for row, name in enumerate(DANGEROUS, start=2):
        cell = cells.cell(row=row, column=1)
        # (An XML reader hands a carriage return back as a line feed: still text.)
        assert (cell.value, cell.data_type) == (name.replace("\r", "\n"), "s")
        assert cell.quotePrefix  # stays text when someone edits the cell
    # No formula anywhere in the file.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    # In CSV, each is prefixed with an apostrophe (OWASP); numbers, even negative, are not.
    back = list(csv.reader(io.StringIO(sheet_csv(sheet, "JPY"))))
    assert [r[0] for r in back[1:]] == ["'" + name for name in DANGEROUS]
    assert csv_text("宇部市") == "宇部市" and csv_text("") == ""
    negative = Sheet("x", "x", (Column("a_minor", "a", "amount"),), ({"a_minor": -3},))
    assert sheet_csv(negative, "JPY").splitlines() == ["a", "-3"]


def test_characters_a_workbook_cannot_hold_are_replaced_not_fatal():
    sheet = Sheet("x", "x", (Column("name", "name"),), ({"name": "bad\x01name"},))
    assert _book(sheet)["x"]["A2"].value == "bad\ufffdname"


def test_csv_files_are_utf8_with_a_bom_for_machines(tmp_path):
    paths = write_pack_files([PAYERS, KPIS], tmp_path, "sib-2019-five-FY2021", "JPY")
    assert [p.name for p in paths] == ["sib-2019-five-FY2021.xlsx",
                                       "sib-2019-five-FY2021-payers.csv",
                                       "sib-2019-five-FY2021-kpi-results.csv"]
    raw = paths[1].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheet software opens it as UTF-8
    # Plain decimals, ISO dates, no separators and no total row: a program totals for itself.
    assert raw.decode("utf-8-sig").splitlines() == [
        "支払者,限度額,成果連動支払額,支払日,備考",
        "宇部市,8000000,6187500,2020-05-20,",
        "八幡市,4000000,3514500,,出納整理期間に入金予定"]


def test_the_workbook_prints_landscape_one_page_wide_with_its_title():
    data = workbook([PAYERS], "JPY", "ja", "五市町SIB & 2021年度")
    book = load_workbook(io.BytesIO(data))
    sheet = book["支払者"]
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.oddHeader.left.text == "五市町SIB && 2021年度"
    assert book.properties.title == "五市町SIB & 2021年度"


def test_bad_sheets_are_refused_with_every_problem_named():
    uneven = Sheet("x", "x", (Column("a", "a"), Column("b", "b")), ({"a": 1}, {"b": 2}))
    with pytest.raises(SibError) as caught:
        workbook([Sheet("payers", "payers/2021", (), ()), uneven,
                  Sheet("y", "X", (), ()), Sheet("支払者", "z", (), ()),
                  Sheet("m", "m", (Column("a_minor", "a", "amount"),), ({"a_minor": "1.5"},)),
                  Sheet("t", "t", (Column("a_minor", "a", "amount"),), (), "合計")], "JPY")
    assert caught.value.codes == ["EXPORT_TABLE_NAME_INVALID", "EXPORT_ROWS_UNEVEN",
                                  "EXPORT_TABLE_NAME_DUPLICATE", "EXPORT_TABLE_KEY_INVALID",
                                  "EXPORT_AMOUNT_NOT_MINOR", "EXPORT_TOTAL_LABEL_COLUMN"]
