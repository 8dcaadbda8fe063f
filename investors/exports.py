"""The settlement pack for the intermediary as an ``.xlsx`` workbook and as CSV files.

Input: a mapping of table name → rows (dicts with the same keys). Columns whose name ends in
``_minor`` hold integer minor units; they are exported in the currency's major unit under the
name without the suffix (``earned_minor`` → ``earned``): whole yen as integers, pence as exact
decimals. In the workbook every amount column carries a thousands-separator number format, the
header row is frozen and columns are sized to their content; each table is one sheet. CSV files
are UTF-8 with a byte-order mark, which spreadsheet software in Japan opens correctly, and
amounts are plain decimal strings without separators, for machines.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ledger.errors import Problems
from ledger.money import exponent, format_plain, from_minor

Rows = Sequence[Mapping[str, Any]]
_MINOR_SUFFIX = "_minor"
_SHEET_NAME = re.compile(r"[^\[\]:*?/\\]{1,31}")
_MAX_WIDTH = 60


def _check_tables(tables: Mapping[str, Rows]) -> None:
    problems = Problems()
    for name, rows in tables.items():
        if not _SHEET_NAME.fullmatch(name):
            problems.add("EXPORT_TABLE_NAME_INVALID", f"{name!r} cannot name a sheet: 1 to 31 "
                         "characters, none of [ ] : * ? / \\", f"tables.{name}")
        keys = [tuple(row.keys()) for row in rows]
        if len(set(keys)) > 1:
            problems.add("EXPORT_ROWS_UNEVEN", f"rows of {name!r} do not all have the same "
                         "columns", f"tables.{name}")
    problems.raise_if_any()


def _amount(value: int, currency: str) -> int | Decimal:
    """Minor units as the major-unit number a spreadsheet shows (1250 pence → 12.50)."""
    if exponent(currency) == 0:
        return value
    return Decimal(format_plain(from_minor(value, currency)))


def amount_columns(rows: Rows) -> list[str]:
    """The columns of ``rows`` that hold minor units, in order."""
    return [key for key in (rows[0].keys() if rows else ()) if key.endswith(_MINOR_SUFFIX)]


def table_frame(rows: Rows, currency: str = "JPY") -> pd.DataFrame:
    """One table as a DataFrame with amounts in major units and the ``_minor`` suffix dropped."""
    minor = set(amount_columns(rows))
    records = [{(k[:-len(_MINOR_SUFFIX)] if k in minor else k):
                (_amount(v, currency) if k in minor else v) for k, v in row.items()}
               for row in rows]
    columns = [k[:-len(_MINOR_SUFFIX)] if k in minor else k for k in (rows[0] if rows else ())]
    # Object dtype keeps Python ints and Decimals as they are: no float, no NaN for a blank.
    return pd.DataFrame(records, columns=columns, dtype=object)


def _display_width(value: Any) -> int:
    """Width of a cell's text in character cells: East Asian wide characters count two."""
    text = f"{value:,}" if isinstance(value, (int, Decimal)) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _format_sheet(sheet: Worksheet, frame: pd.DataFrame, amounts: set[str],
                  currency: str) -> None:
    pattern = "#,##0" if exponent(currency) == 0 else "#,##0." + "0" * exponent(currency)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(index)
        if column in amounts:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = pattern
        widest = max([_display_width(column)] + [_display_width(v) for v in frame[column]])
        sheet.column_dimensions[letter].width = min(widest + 2, _MAX_WIDTH)


def settlement_pack_xlsx(tables: Mapping[str, Rows], currency: str = "JPY") -> bytes:
    """The workbook: one sheet per table, in the mapping's order."""
    _check_tables(tables)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, rows in tables.items():
            frame = table_frame(rows, currency)
            frame.to_excel(writer, sheet_name=name, index=False)
            amounts = {c[:-len(_MINOR_SUFFIX)] for c in amount_columns(rows)}
            _format_sheet(writer.sheets[name], frame, amounts, currency)
    return buffer.getvalue()


def table_csv(rows: Rows, currency: str = "JPY") -> str:
    """One table as CSV text: amounts as plain decimal strings (``12.50``, ``1234567``)."""
    return str(table_frame(rows, currency).to_csv(index=False, lineterminator="\r\n"))


def write_settlement_pack(tables: Mapping[str, Rows], directory: Path, stem: str,
                          currency: str = "JPY") -> list[Path]:
    """Write ``{stem}.xlsx`` and one ``{stem}-{table}.csv`` per table into ``directory``;
    returns the paths written, workbook first."""
    _check_tables(tables)
    directory.mkdir(parents=True, exist_ok=True)
    workbook = directory / f"{stem}.xlsx"
    workbook.write_bytes(settlement_pack_xlsx(tables, currency))
    paths = [workbook]
    for name, rows in tables.items():
        path = directory / f"{stem}-{name}.csv"
        path.write_text(table_csv(rows, currency), encoding="utf-8-sig", newline="")
        paths.append(path)
    return paths
