"""The settlement pack as a workbook and CSV files, read back the way the intermediary will."""

from __future__ import annotations

import io
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook

from investors.exports import settlement_pack_xlsx, table_csv, table_frame, write_settlement_pack
from ledger.errors import SibError

PAYERS = [
    {"payer": "宇部市", "authorised_minor": 8_000_000, "earned_minor": 6_187_500,
     "paid_minor": 6_187_500, "note": None},
    {"payer": "八幡市", "authorised_minor": 4_000_000, "earned_minor": 3_514_500,
     "paid_minor": 0, "note": "出納整理期間に入金予定"},
]
CLASSES = [{"class": "匿名組合出資（劣後）", "holders": 2, "closing_minor": 1_500_000}]


def test_the_workbook_reads_back_sheet_by_sheet():
    workbook = settlement_pack_xlsx({"payers": PAYERS, "investor_classes": CLASSES})
    sheets = pd.read_excel(io.BytesIO(workbook), sheet_name=None)
    assert list(sheets) == ["payers", "investor_classes"]
    payers = sheets["payers"]
    assert list(payers.columns) == ["payer", "authorised", "earned", "paid", "note"]
    assert payers["earned"].tolist() == [6_187_500, 3_514_500]
    assert payers["payer"].tolist() == ["宇部市", "八幡市"]
    assert sheets["investor_classes"]["closing"].tolist() == [1_500_000]


def test_amounts_have_thousands_separators_and_the_header_is_frozen():
    book = load_workbook(io.BytesIO(settlement_pack_xlsx({"payers": PAYERS})))
    sheet = book["payers"]
    assert sheet.freeze_panes == "A2"
    assert sheet["C2"].value == 6_187_500 and sheet["C2"].number_format == "#,##0"
    assert sheet["A2"].number_format == "General"
    # Japanese text counts double: the note column is wider than its header.
    assert sheet.column_dimensions["E"].width >= 2 * len("出納整理期間に入金予定")
    assert sheet.column_dimensions["C"].width >= len("6,187,500")


def test_pence_are_exact_decimals_with_two_places():
    rows = [{"lender": "Big Society Capital", "interest_minor": 123_456}]
    assert table_frame(rows, "GBP")["interest"].tolist() == [Decimal("1234.56")]
    book = load_workbook(io.BytesIO(settlement_pack_xlsx({"lenders": rows}, "GBP")))
    cell = book["lenders"]["B2"]
    assert cell.number_format == "#,##0.00" and cell.value == pytest.approx(1234.56)


def test_csv_files_are_plain_decimals_for_machines(tmp_path):
    assert table_csv(PAYERS).splitlines() == [
        "payer,authorised,earned,paid,note",
        "宇部市,8000000,6187500,6187500,",
        "八幡市,4000000,3514500,0,出納整理期間に入金予定"]
    paths = write_settlement_pack({"payers": PAYERS, "investor_classes": CLASSES}, tmp_path,
                                  "sib-2019-five-FY2021")
    assert [p.name for p in paths] == ["sib-2019-five-FY2021.xlsx",
                                       "sib-2019-five-FY2021-payers.csv",
                                       "sib-2019-five-FY2021-investor_classes.csv"]
    raw = paths[1].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheet software opens it as UTF-8
    back = pd.read_csv(paths[1], encoding="utf-8-sig")
    assert back["earned"].sum() == 9_702_000


def test_bad_tables_are_refused_with_every_problem_named():
    with pytest.raises(SibError) as caught:
        settlement_pack_xlsx({"payers/2021": PAYERS, "x": [{"a": 1}, {"b": 2}]})
    assert caught.value.codes == ["EXPORT_TABLE_NAME_INVALID", "EXPORT_ROWS_UNEVEN"]
