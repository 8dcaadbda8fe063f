"""The settlement pack as a workbook a finance office opens and as CSV files a machine reads.

A pack is a sequence of :class:`Sheet`: each declares its columns — what each one holds (text,
an amount, a date, an exact number, a count) under a header already in the reader's language —
and its rows. In the workbook:

- amounts are numeric cells in the currency's major unit with a currency number format
  (``#,##0"円"`` with △ for a negative yen amount, as Japanese public accounts print it;
  ``"£"#,##0.00`` for pence), computed exactly from integer minor units;
- dates are date cells; exact numbers (a KPI's value, its target) are numeric cells;
- a total row (合計 / Total) closes each sheet: each amount column's total is the exact sum of
  the rows above, written as a value (not a formula, so every reader sees the same figure);
- text is never something a spreadsheet evaluates: a value beginning with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return is stored as a string cell marked as quoted text (OWASP,
  "CSV injection"), so a party called ``=HYPERLINK(...)`` stays a name;
- the header row is frozen, columns are sized to their content (East Asian characters count
  double), and each sheet prints landscape, one page wide, with its header on every page.

CSV files are UTF-8 with a byte-order mark (spreadsheet software in Japan then opens them as
UTF-8), one per sheet, named by the sheet's ASCII key. They are for machines: amounts are plain
decimal strings in the major unit without separators (``1234567``, ``12.50``), dates ISO
8601, no total row (a program totals for itself); text a spreadsheet would evaluate is
prefixed with ``'``, as OWASP advises.

Numbers reach the workbook through openpyxl, which formats every number with ``%.16g`` (a
float on the way): a value of at most 15 significant digits comes out digit for digit, and
that is also all a spreadsheet holds (IEEE doubles). A longer exact number (a KPI value with
16 digits, say) is therefore written as text, so that no figure is silently altered.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import DEFAULT_FONT, Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from investors.files import write_atomic, write_text_atomic
from ledger.errors import Problems
from ledger.money import exponent, format_plain, from_minor

Lang = Literal["ja", "en"]
ColumnKind = Literal["text", "amount", "date", "number", "count"]

# Characters with which a spreadsheet starts a formula (or, for tab and CR, which it strips
# before looking for one): OWASP's list for CSV injection.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SHEET_TITLE_FORBIDDEN = set("[]:*?/\\")
_MAX_WIDTH = 48
_SPREADSHEET_DIGITS = 15
_SYMBOLS = {"JPY": "¥", "GBP": "£", "USD": "$", "EUR": "€"}
_DATE_FORMATS: dict[Lang, str] = {"ja": "yyyy/mm/dd", "en": "yyyy-mm-dd"}
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
_RULE = Side(style="thin")
# The workbook's own font, in bold (a bare bold font is drawn in another face by some readers).
_BOLD = Font(name=DEFAULT_FONT.name, sz=DEFAULT_FONT.sz, bold=True)
_LINE_HEIGHT = 15


@dataclass(frozen=True)
class Column:
    """One column of a sheet.

    Attributes:
        key: the key of each row's value.
        header: the header as the reader sees it (already in their language).
        kind: ``text``; ``amount`` (integer minor units of the pack's currency); ``date``;
            ``number`` (an exact decimal: ``Decimal``, ``int`` or decimal text); ``count``
            (an integer such as a version or an instalment number).
        totalled: whether the total row sums it (default: amounts are summed, nothing else).
    """

    key: str
    header: str
    kind: ColumnKind = "text"
    totalled: bool | None = None

    @property
    def sums(self) -> bool:
        return self.kind == "amount" if self.totalled is None else self.totalled


@dataclass(frozen=True)
class Sheet:
    """One table of the pack.

    Attributes:
        key: ASCII name of the table; names its CSV file (``{stem}-{key}.csv``).
        title: the sheet's name in the workbook (1–31 characters, none of ``[]:*?/\\``).
        columns: the columns, in order; the first holds the total row's label.
        rows: one mapping per row, with a value for every column's key.
        total_label: the label of the total row (``合計``, ``Total``); None: no total row.
    """

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Any], ...]
    total_label: str | None = None

    def totals(self) -> dict[str, int]:
        """Each summed column's total over the rows (minor units for amounts)."""
        return {c.key: sum(int(row[c.key] or 0) for row in self.rows)
                for c in self.columns if c.sums}


def check_sheets(sheets: Sequence[Sheet]) -> None:
    """Refuse, naming every problem, sheets that cannot be written faithfully."""
    problems = Problems()
    titles: set[str] = set()
    for sheet in sheets:
        where = f"sheets.{sheet.key}"
        if not 1 <= len(sheet.title) <= 31 or _SHEET_TITLE_FORBIDDEN & set(sheet.title):
            problems.add("EXPORT_TABLE_NAME_INVALID", f"{sheet.title!r} cannot name a sheet: "
                         "1 to 31 characters, none of [ ] : * ? / \\", where)
        if sheet.title.casefold() in titles:
            problems.add("EXPORT_TABLE_NAME_DUPLICATE", f"two sheets are called "
                         f"{sheet.title!r}", where)
        titles.add(sheet.title.casefold())
        if not sheet.key.isascii() or not sheet.key.replace("-", "").isalnum():
            problems.add("EXPORT_TABLE_KEY_INVALID", f"{sheet.key!r} cannot name a CSV file: "
                         "ASCII letters, digits and '-' only", where)
        keys = {c.key for c in sheet.columns}
        if any(not keys <= set(row) for row in sheet.rows):
            problems.add("EXPORT_ROWS_UNEVEN", f"rows of {sheet.title!r} do not all have a "
                         "value for every column", where)
        elif any(c.sums and not isinstance(row[c.key] or 0, int)
                 for c in sheet.columns for row in sheet.rows):
            problems.add("EXPORT_AMOUNT_NOT_MINOR", f"amounts of {sheet.title!r} must be "
                         "integer minor units", where)
        if sheet.total_label is not None and sheet.columns and sheet.columns[0].kind != "text":
            problems.add("EXPORT_TOTAL_LABEL_COLUMN", f"the first column of {sheet.title!r} "
                         "must hold text to carry the total row's label", where)
    problems.raise_if_any()


# --------------------------------------------------------------------------- values

def formula_like(text: str) -> bool:
    """Whether a spreadsheet could take this text for a formula."""
    return text.startswith(FORMULA_STARTS)


def csv_text(text: str) -> str:
    """Text as a CSV cell: prefixed with ``'`` if a spreadsheet would evaluate it (OWASP)."""
    return "'" + text if formula_like(text) else text


def major_amount(amount_minor: int, currency: str) -> int | Decimal:
    """Minor units as the major-unit number a spreadsheet shows (1250 pence → 12.50)."""
    if exponent(currency) == 0:
        return amount_minor
    return Decimal(format_plain(from_minor(amount_minor, currency)))


def exact_number(value: Any) -> Decimal | None:
    """An exact decimal from a ``Decimal``, an ``int`` or decimal text (None if it is none of
    those). A float is refused: it has already lost the exact value."""
    if isinstance(value, (bool, float)):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _fits_a_spreadsheet(number: Decimal) -> bool:
    return len(number.normalize().as_tuple().digits) <= _SPREADSHEET_DIGITS


def _plain(number: Decimal) -> str:
    """A decimal without exponent or trailing zeros beyond its own (``52.5``, ``7000``)."""
    return format(number, "f")


def amount_format(currency: str, lang: Lang) -> str:
    """The number format of an amount column: the currency's symbol or 円, its minor-unit
    decimals, thousands separators, and △ before a negative amount in Japanese."""
    decimals = exponent(currency)
    digits = "#,##0" + ("." + "0" * decimals if decimals else "")
    minus = "△" if lang == "ja" else "-"
    if currency == "JPY" and lang == "ja":
        return f'{digits}"円";"{minus}"{digits}"円"'
    symbol = _SYMBOLS.get(currency)
    if symbol is None:
        return f'{digits}" {currency}";"{minus}"{digits}" {currency}"'
    return f'"{symbol}"{digits};"{minus}{symbol}"{digits}'


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _clean(text: str) -> str:
    """Text as a workbook can hold it: characters XML forbids become U+FFFD."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return cleaned


# --------------------------------------------------------------------------- workbook

def _put_text(cell: Cell, text: str) -> None:
    cell.value = _clean(text)
    # openpyxl takes any text beginning with "=" for a formula; a string cell never is one.
    # quotePrefix keeps it text when someone edits the cell in a spreadsheet.
    cell.data_type = "s"
    if formula_like(text):
        cell.quotePrefix = True


def _put(cell: Cell, column: Column, value: Any, currency: str, lang: Lang) -> None:
    """One value into its cell, typed by the column's kind."""
    if value is None or value == "":
        return
    if column.kind == "amount":
        amount = major_amount(int(value), currency)
        if _fits_a_spreadsheet(Decimal(amount)):
            cell.value = amount
            cell.number_format = amount_format(currency, lang)
            return
        _put_text(cell, _plain(Decimal(amount)))
        cell.alignment = Alignment(horizontal="right")
        return
    if column.kind == "date" and (on := _as_date(value)) is not None:
        cell.value = on
        cell.number_format = _DATE_FORMATS[lang]
        return
    if column.kind in ("number", "count") and (number := exact_number(value)) is not None:
        if _fits_a_spreadsheet(number):
            places = max(0, -int(number.as_tuple().exponent))
            cell.value = int(number) if number == number.to_integral_value() else number
            # As many decimals as the figure was given with (52.50 stays 52.50).
            cell.number_format = "#,##0" + ("." + "0" * places if places else "") \
                if column.kind == "number" else "0"
            return
        _put_text(cell, _plain(number))
        cell.alignment = Alignment(horizontal="right")
        return
    _put_text(cell, str(value))


def _text_width(text: str) -> int:
    """Width of text in character cells: East Asian wide characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _display_width(cell: Cell) -> int:
    """Width of a cell's content in character cells (an amount with its separators and
    currency mark)."""
    value = cell.value
    if value is None:
        return 0
    if isinstance(value, (date, datetime)):
        return 10
    if isinstance(value, (int, Decimal)):
        return len(f"{value:,}") + 3  # and the currency mark
    return _text_width(str(value))


def _write_sheet(book_sheet: Worksheet, sheet: Sheet, currency: str, lang: Lang,
                 title: str) -> None:
    for index, column in enumerate(sheet.columns, start=1):
        cell = book_sheet.cell(row=1, column=index)
        _put_text(cell, column.header)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
        cell.border = Border(bottom=_RULE)
    for number, row in enumerate(sheet.rows, start=2):
        for index, column in enumerate(sheet.columns, start=1):
            _put(book_sheet.cell(row=number, column=index), column, row[column.key], currency,
                 lang)
    if sheet.total_label is not None:
        _write_total(book_sheet, sheet, len(sheet.rows) + 2, currency, lang)
    _layout(book_sheet, sheet, title)


def _write_total(book_sheet: Worksheet, sheet: Sheet, at: int, currency: str,
                 lang: Lang) -> None:
    """The total row: the label, then each summed column's exact total, as values."""
    totals = sheet.totals()
    for index, column in enumerate(sheet.columns, start=1):
        cell = book_sheet.cell(row=at, column=index)
        if index == 1:
            _put_text(cell, sheet.total_label or "")
        elif column.key in totals:
            _put(cell, column, totals[column.key], currency, lang)
        cell.font = _BOLD
        cell.border = Border(top=_RULE, bottom=Side(style="double"))


def _layout(book_sheet: Worksheet, sheet: Sheet, title: str) -> None:
    """Frozen header, sized columns, and a printable page: landscape, one page wide, the header
    on every page, the pack's title and the sheet's name above, page numbers below."""
    book_sheet.freeze_panes = "A2"
    header_lines = 1
    for index, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(index)
        widest = max([_display_width(c) for (c,) in book_sheet.iter_rows(
            min_row=2, min_col=index, max_col=index)] + [0])
        header = _text_width(column.header)
        width = min(max(widest, min(header, 16), 6) + 2, _MAX_WIDTH)
        book_sheet.column_dimensions[letter].width = width
        # A long header wraps inside its column; the header row grows to show every line.
        header_lines = max(header_lines, -(-header // (width - 2)))
    book_sheet.row_dimensions[1].height = _LINE_HEIGHT * header_lines
    book_sheet.print_title_rows = "1:1"
    book_sheet.page_setup.orientation = "landscape"
    book_sheet.page_setup.paperSize = book_sheet.PAPERSIZE_A4
    book_sheet.page_setup.fitToWidth = 1
    book_sheet.page_setup.fitToHeight = 0
    book_sheet.sheet_properties.pageSetUpPr.fitToPage = True
    book_sheet.oddHeader.left.text = title.replace("&", "&&")
    book_sheet.oddHeader.right.text = "&A"
    book_sheet.oddFooter.center.text = "&P / &N"


def workbook(sheets: Sequence[Sheet], currency: str, lang: Lang = "ja", title: str = "") -> bytes:
    """The pack's workbook: one sheet per table, in order."""
    check_sheets(sheets)
    book = Workbook()
    book.remove(book.active)
    book.properties.title = title or None
    book.properties.creator = "sib"
    for sheet in sheets:
        _write_sheet(book.create_sheet(sheet.title), sheet, currency, lang, title)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- CSV

def _csv_value(column: Column, value: Any, currency: str) -> str:
    if value is None or value == "":
        return ""
    if column.kind == "amount":
        return str(major_amount(int(value), currency))
    if column.kind == "date" and (on := _as_date(value)) is not None:
        return on.isoformat()
    if column.kind in ("number", "count") and (number := exact_number(value)) is not None:
        return _plain(number)
    return csv_text(str(value))


def sheet_csv(sheet: Sheet, currency: str) -> str:
    """One sheet as CSV text (CRLF line ends), without its total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_text(c.header) for c in sheet.columns])
    for row in sheet.rows:
        writer.writerow([_csv_value(c, row[c.key], currency) for c in sheet.columns])
    return out.getvalue()


def write_pack_files(sheets: Sequence[Sheet], directory: Path, stem: str, currency: str,
                     lang: Lang = "ja", title: str = "") -> list[Path]:
    """Write ``{stem}.xlsx`` and one ``{stem}-{key}.csv`` per sheet into ``directory``;
    returns the paths written, workbook first."""
    check_sheets(sheets)
    directory.mkdir(parents=True, exist_ok=True)
    book = directory / f"{stem}.xlsx"
    write_atomic(book, workbook(sheets, currency, lang, title))
    paths = [book]
    for sheet in sheets:
        path = directory / f"{stem}-{sheet.key}.csv"
        write_text_atomic(path, sheet_csv(sheet, currency), encoding="utf-8-sig")
        paths.append(path)
    return paths
