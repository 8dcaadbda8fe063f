"""The four documents rendered from their data records to PDF bytes.

Layout is a small row model on a plain reportlab canvas rather than platypus: every row has a
fixed height, tables split between rows and repeat their header, and the page count is known
before anything is drawn, so each page can say ``1 / 3``. That keeps the high-volume document
(the investor statement) close to the cost of a bare page.

Every document: A4; all text in the embedded IPAexGothic; the document language sets labels,
number and date forms and the PDF's ``/Lang``; the footer carries the page number, the
generation timestamp taken from the data (never the clock) and the ledger state hash with the
instruction to check it with ``sib ledger verify``. reportlab's invariant mode makes the bytes
depend on the data alone, so rendering the same ledger state twice gives identical files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from reportlab import rl_config
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.lib.rl_accel import escapePDF
from reportlab.pdfgen.canvas import Canvas

from investors import charts
from investors.formatting import (LABELS, check_lang, format_amount, format_date, format_decimal,
                                  format_fiscal_year, format_kpi_value, format_multiple,
                                  format_percent, format_period, format_rate, format_timestamp,
                                  format_units, label, page_number)
from investors.fonts import japanese_font, printable, register_japanese_font, seed_alphabet
from investors.statement_data import (Document, DocumentHeader, InvestorStatement, KpiResult,
                                      LenderStatement, LoanSection, PaymentNotice, Text,
                                      YearEndReport, column_total)
from ledger.errors import SibError

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 40.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
CONTENT_TOP = PAGE_HEIGHT - 48.0
CONTENT_BOTTOM = 62.0
_PAD = 3.0
_MIN_SIZE = 5.0
_READABLE = 7.0  # below this a field value moves to a line of its own
_GREY = colors.HexColor("#595959")
# The same colours as PDF operators, for rows written straight into the content stream.
_GREY_OPERATOR = "0.349 0.349 0.349 rg"
_SHADE_OPERATOR = "0.91 0.933 0.961 rg"
_RULE_OPERATOR = "0.549 0.549 0.549 RG"

# ---------------------------------------------------------------------------------------------
# Row model


@dataclass(frozen=True)
class _Cell:
    """One piece of text in a row: ``x`` is the left edge, or the right edge when right-aligned;
    ``dy`` raises it above the row's baseline (the first line of a two-line header)."""

    x: float  # float-ok: page geometry
    text: str
    size: float  # float-ok: page geometry
    align: str = "left"
    grey: bool = False
    dy: float = 0.0  # float-ok: page geometry


@dataclass(frozen=True)
class _Row:
    """A horizontal band of fixed height: text cells, an optional rule under it, shading, or a
    drawing. ``keep`` rows after it must stay on the same page (a heading and its first row)."""

    height: float  # float-ok: page geometry
    cells: tuple[_Cell, ...] = ()
    rule: float = 0.0  # float-ok: page geometry
    shade: bool = False
    drawing: Drawing | None = None
    keep: int = 0


@dataclass(frozen=True)
class _Table:
    """Rows that may split across pages, repeating ``header`` at the top of each page."""

    header: _Row
    rows: tuple[_Row, ...]


_Block = _Row | _Table
# A table cell: its text, or alternatives from the most to the least complete.
_CellText = str | tuple[str, ...]


@lru_cache(maxsize=65536)
def _width(text: str, size: float) -> float:  # float-ok: page geometry
    """Width of ``text`` in the document font; cached, as labels repeat on every document."""
    return float(stringWidth(printable(text), register_japanese_font(), size))  # float-ok


def _fit(text: str, size: float, room: float) -> float:  # float-ok: page geometry
    """The largest size up to ``size`` at which ``text`` fits in ``room`` points."""
    needed = _width(text, size)
    if needed <= room:
        return size
    return max(_MIN_SIZE, size * room / needed)


def _wrap(text: str, size: float, room: float) -> list[str]:  # float-ok: page geometry
    """``text`` broken into lines that fit ``room``: at the last space where there is one
    (English), else between any two characters (Japanese has no spaces to break at)."""
    lines, current = [], ""
    for char in text:
        if current and _width(current + char, size) > room:
            head, space, tail = current.rpartition(" ")
            if space and head and char != " ":
                lines.append(head)
                current = tail
            else:
                lines.append(current.rstrip())
                current = ""
            if char == " " and not current:
                continue
        current += char
    return lines + [current] if current or not lines else lines


# ---------------------------------------------------------------------------------------------
# Building blocks


@dataclass(frozen=True)
class _Column:
    """A table column: title, share of the table width, alignment."""

    title: str
    weight: float  # float-ok: page geometry
    align: str = "left"


def _title(text: str, subtitle: str) -> list[_Block]:
    return [_Row(24, (_Cell(MARGIN, text, 16),)),
            _Row(16, (_Cell(MARGIN, subtitle, 9, grey=True),), rule=0.8),
            _Row(6)]


def _heading(text: str) -> _Row:
    return _Row(20, (_Cell(MARGIN, text, 10.5),), rule=0.5, keep=1)


def _gap(height: float = 8.0) -> _Row:  # float-ok: page geometry
    return _Row(height)


def _field_cells(x: float, width: float, name: str, value: str, size: float,  # float-ok
                 label_width: float) -> list[_Cell]:  # float-ok: page geometry
    room = width - label_width - _PAD
    return [_Cell(x, name, _fit(name, size - 0.5, label_width - _PAD), grey=True),
            _Cell(x + label_width, _clip(value, _fit(value, size, room), room),
                  _fit(value, size, room))]


def _fields(pairs: Sequence[tuple[str, str]], columns: int = 2, size: float = 8.5,  # float-ok
            label_width: float = 92.0) -> list[_Row]:  # float-ok: page geometry
    """Label–value pairs in ``columns`` columns. A value too long for its column at a readable
    size (a party's name in two scripts) takes a whole line instead of shrinking."""
    column_width = CONTENT_WIDTH / columns
    rows: list[_Row] = []
    pending: list[tuple[str, str]] = []

    def flush() -> None:
        if pending:
            cells = [c for i, (n, v) in enumerate(pending) for c in _field_cells(
                MARGIN + i * column_width, column_width, n, v, size, label_width)]
            rows.append(_Row(14, tuple(cells)))
            pending.clear()

    for name, value in pairs:
        if columns > 1 and _width(value, _READABLE) > column_width - label_width - _PAD:
            flush()
            rows.append(_Row(14, tuple(_field_cells(MARGIN, CONTENT_WIDTH, name, value, size,
                                                    label_width))))
            continue
        pending.append((name, value))
        if len(pending) == columns:
            flush()
    flush()
    return rows


def _clip(text: str, size: float, room: float) -> str:  # float-ok: page geometry
    """``text`` cut with an ellipsis if it still does not fit at ``size``: a last resort that
    keeps a column from running into the next one."""
    if _width(text, size) <= room:
        return text
    while text and _width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def _column_edges(columns: Sequence[_Column], share: float) -> list[tuple[float, float]]:  # float-ok
    total = sum(c.weight for c in columns)
    edges, x = [], MARGIN
    for column in columns:
        width = CONTENT_WIDTH * share * column.weight / total
        edges.append((x, width))
        x += width
    return edges


def _figure_size(rows: Sequence[Sequence[_CellText]], columns: Sequence[_Column], size: float,  # float-ok
                 edges: Sequence[tuple[float, float]]) -> float:  # float-ok: page geometry
    """One size for every figure of the table (right-aligned columns), so that they line up:
    the largest up to ``size`` at which the widest figure fits its column."""
    fitted = size
    for row in rows:
        for text, column, (_, width) in zip(row, columns, edges):
            if column.align == "right" and isinstance(text, str):
                fitted = min(fitted, _fit(text, size, width - 2 * _PAD))
    return fitted


def _choose(text: _CellText, size: float, room: float) -> str:  # float-ok: page geometry
    """The first of a cell's alternatives (``Ube City (宇部市)``, ``Ube City``) that fits at a
    readable size, else the shortest."""
    if isinstance(text, str):
        return text
    for alternative in text:
        if _fit(alternative, size, room) >= min(size, _READABLE):
            return alternative
    return text[-1]


def _table_row(texts: Sequence[_CellText], columns: Sequence[_Column],
               edges: Sequence[tuple[float, float]], size: float, height: float,  # float-ok
               **row_args: object) -> _Row:
    """A row of cells: figures at ``size``; text shrunk (then clipped) where it is too long."""
    cells = []
    for value, column, (x, width) in zip(texts, columns, edges):
        room = width - 2 * _PAD
        text = _choose(value, size, room)
        if column.align == "right":
            cells.append(_Cell(x + width - _PAD, text, size, "right"))
        else:
            own = _fit(text, size, room)
            cells.append(_Cell(x + _PAD, _clip(text, own, room), own))
    return _Row(height, tuple(cells), **row_args)  # type: ignore[arg-type]


def _header_row(columns: Sequence[_Column], edges: Sequence[tuple[float, float]],
                size: float, height: float) -> _Row:  # float-ok: page geometry
    """The shaded header; a title too long for its column breaks onto a second line."""
    lines = [[c.title] if _fit(c.title, size, width - 2 * _PAD) >= size * 0.8
             else _wrap(c.title, size, width - 2 * _PAD)[:2]
             for c, (_, width) in zip(columns, edges)]
    if all(len(parts) == 1 for parts in lines):
        return _table_row([c.title for c in columns], columns, edges, size, height, shade=True)
    cells = []
    for parts, column, (x, width) in zip(lines, columns, edges):
        for i, part in enumerate(parts):
            dy = size * 1.1 * (len(parts) - 1 - i)
            own = _fit(part, size, width - 2 * _PAD)
            if column.align == "right":
                cells.append(_Cell(x + width - _PAD, part, own, "right", dy=dy))
            else:
                cells.append(_Cell(x + _PAD, part, own, dy=dy))
    return _Row(height + size * 1.1, tuple(cells), shade=True)


def _table(columns: Sequence[_Column], rows: Sequence[Sequence[_CellText]],
           total: Sequence[_CellText] | None = None, size: float = 8.0, share: float = 1.0,  # float-ok
           trailing: Sequence[Sequence[_CellText]] = ()) -> _Table:
    """A table with a shaded header, right-aligned figure columns and an optional total row.

    ``share`` is the part of the text width the table takes; ``trailing`` rows follow the total
    (``of which …``).
    """
    edges = _column_edges(columns, share)
    fitted = _figure_size([*rows, *([total] if total else []), *trailing], columns, size, edges)
    height = max(11.0, fitted * 1.55)
    body = [_table_row(r, columns, edges, fitted, height, rule=0.2) for r in rows]
    if total:
        body.append(_table_row(total, columns, edges, fitted, height, rule=0.8))
    body += [_table_row(r, columns, edges, fitted, height) for r in trailing]
    return _Table(_header_row(columns, edges, fitted, height), tuple(body))


def _lines(texts: Sequence[str], size: float = 7.0, indent: float = 12.0) -> list[_Row]:  # float-ok
    rows = []
    for text in texts:
        for line in _wrap(text, size, CONTENT_WIDTH - indent):
            rows.append(_Row(size * 1.45, (_Cell(MARGIN + indent, line, size, grey=True),)))
    return rows


def _chart(drawing: Drawing) -> _Row:
    return _Row(drawing.height + 6, drawing=drawing)


# ---------------------------------------------------------------------------------------------
# Pagination and drawing


@dataclass
class _Page:
    rows: list[tuple[float, _Row]] = field(default_factory=list)


def _first_height(block: _Block) -> float:  # float-ok: page geometry
    """Height of a block's first unbreakable part: a row, or a table's header and first row."""
    if isinstance(block, _Table):
        return block.header.height + (block.rows[0].height if block.rows else 0.0)
    return block.height


def _keep_height(blocks: Sequence[_Block], index: int) -> float:  # float-ok: page geometry
    """Height that must fit for block ``index`` to start here: itself and what it keeps."""
    block = blocks[index]
    height = _first_height(block)
    if isinstance(block, _Row):
        height += sum(_first_height(b) for b in blocks[index + 1:index + 1 + block.keep])
    return height


def _paginate(blocks: Sequence[_Block]) -> list[_Page]:
    """Place every row on a page, top to bottom, breaking where the next row does not fit."""
    pages, y = [_Page()], CONTENT_TOP

    def place(row: _Row) -> None:
        nonlocal y
        pages[-1].rows.append((y, row))
        y -= row.height

    def new_page() -> None:
        nonlocal y
        pages.append(_Page())
        y = CONTENT_TOP

    for index, block in enumerate(blocks):
        if y - _keep_height(blocks, index) < CONTENT_BOTTOM and pages[-1].rows:
            new_page()
        if isinstance(block, _Row):
            place(block)
            continue
        place(block.header)
        for row in block.rows:
            if y - row.height < CONTENT_BOTTOM:
                new_page()
                place(block.header)
            place(row)
    return pages


class _Pen:
    """Draws rows on a canvas.

    Text goes straight into the page's content stream as ``BT … Tj ET`` with the font's subset
    encoding, instead of through ``drawString``: one operator string per cell, figures printed
    with two decimals, the fill colour set only when it changes. That is most of what makes a
    full statement cost about as much as a bare page.
    """

    def __init__(self, canvas: Canvas, alphabet: str) -> None:
        self.canvas = canvas
        self.font = japanese_font()
        self.doc = canvas._doc  # reportlab's document: the key of the font's per-document state
        self.alphabet = alphabet
        self.seeded_name = self.font.getSubsetInternalName(0, self.doc)
        self.grey: bool | None = None

    def _colour(self, grey: bool) -> None:
        if grey is not self.grey:
            self.canvas.addLiteral(_GREY_OPERATOR if grey else "0 0 0 rg")
            self.grey = grey

    def text(self, cell: _Cell, baseline: float) -> None:  # float-ok: page geometry
        if not cell.text:
            return
        self._colour(cell.grey)
        x = cell.x - _width(cell.text, cell.size) if cell.align == "right" else cell.x
        text = printable(cell.text)
        seeded = _seeded_operand(self.alphabet, text)
        if seeded is not None:
            self.canvas.addLiteral(f"BT 1 0 0 1 {x:.2f} {baseline:.2f} Tm {self.seeded_name} "
                                   f"{cell.size:.2f} Tf {seeded} Tj ET")
            return
        operators = [f"BT 1 0 0 1 {x:.2f} {baseline:.2f} Tm"]
        for subset, codes in self.font.splitString(text, self.doc):
            name = self.font.getSubsetInternalName(subset, self.doc)
            operators.append(f"{name} {cell.size:.2f} Tf ({escapePDF(codes)}) Tj")
        operators.append("ET")
        self.canvas.addLiteral(" ".join(operators))

    def rule(self, y: float, width: float) -> None:  # float-ok: page geometry
        """A horizontal line across the text width."""
        self.canvas.addLiteral(f"{width:.2f} w {MARGIN:.2f} {y:.2f} m "
                               f"{MARGIN + CONTENT_WIDTH:.2f} {y:.2f} l S")

    def row(self, top: float, row: _Row) -> None:  # float-ok: page geometry
        bottom = top - row.height
        if row.shade:
            self.canvas.addLiteral(f"{_SHADE_OPERATOR} {MARGIN:.2f} {bottom:.2f} "
                                   f"{CONTENT_WIDTH:.2f} {row.height:.2f} re f")
            self.grey = None
        if row.drawing is not None:
            renderPDF.draw(row.drawing, self.canvas, MARGIN, bottom + 3)
            self.grey = None
        baseline = bottom + row.height * 0.3
        for cell in row.cells:
            self.text(cell, baseline + cell.dy)
        if row.rule:
            self.rule(bottom, row.rule)


@dataclass(frozen=True)
class _Furniture:
    """What every page repeats: running title, timestamp, hash and verification hint."""

    running_title: str
    generated: str
    hash_line: str
    hint: str


def _furniture(header: DocumentHeader, title: str, lang: str) -> _Furniture:
    contract = header.contract_name.get(lang)
    return _Furniture(
        running_title=f"{title}　{contract}",
        generated=f"{label('generated_at', lang)}: {format_timestamp(header.generated_at, lang)}"
                  f"　{label('document_id', lang)}: {header.document_id}",
        hash_line=f"{label('ledger_state', lang)}: {header.ledger_state_hash}",
        hint=label("verify_hint", lang))


def _draw_furniture(pen: _Pen, furniture: _Furniture, page: int, pages: int) -> None:
    pen.canvas.addLiteral(_RULE_OPERATOR)
    pen.rule(PAGE_HEIGHT - 34, 0.4)
    pen.rule(50, 0.4)
    pen.text(_Cell(MARGIN, furniture.running_title,
                   _fit(furniture.running_title, 7.5, CONTENT_WIDTH), grey=True),
             PAGE_HEIGHT - 30)
    pen.text(_Cell(MARGIN, furniture.generated, _fit(furniture.generated, 7, CONTENT_WIDTH - 50),
                   grey=True), 40)
    pen.text(_Cell(MARGIN + CONTENT_WIDTH, page_number(page, pages), 8, "right"), 40)
    pen.text(_Cell(MARGIN, furniture.hash_line, _fit(furniture.hash_line, 6.5, CONTENT_WIDTH),
                   grey=True), 30)
    pen.text(_Cell(MARGIN, furniture.hint, 6.5, grey=True), 21)
    pen.canvas.addLiteral("0 0 0 RG")


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Write page streams Flate-compressed only, without the ASCII85 layer reportlab adds by
    default: it makes files larger and costs as much as the rest of a page. reportlab reads
    this setting when the document is saved, so it is set around the save and restored."""
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


_FURNITURE_LABELS = ("generated_at", "document_id", "ledger_state", "verify_hint", "contract",
                     "fiscal_year", "period", "total", "amount")
_KPI_LABELS = ("kpi_results", "kpi", "payer", "target", "result", "achievement", "maximum",
               "earned", "evaluation_interim")
# The labels each kind of document prints (a test keeps these lists complete): their
# characters are seeded into the document's first font subset.
KIND_LABELS: dict[str, tuple[str, ...]] = {
    "investor_statement": _FURNITURE_LABELS + (
        "investor_statement", "holder", "holder_id", "class", "tax_category", "tax_individual",
        "tax_corporate", "tax_tax_exempt", "units", "unit_price", "issuer", "capital_account",
        "opening", "contributions", "income", "distributions_gross", "write_downs", "closing",
        "distributions", "paid_on", "income_type", "income_tokumei_kumiai", "income_interest",
        "withheld", "net_paid", "no_distributions", "returns", "contributed_total", "as_of",
        "distributed_total", "moic", "residual_value", "irr", "tax_note"),
    "lender_statement": _FURNITURE_LABELS + _KPI_LABELS + (
        "lender_statement", "lender", "borrower", "loan", "commitment", "interest_rate",
        "opening_balance", "day_count", "drawn", "interest_accrued", "principal_repaid",
        "interest_paid", "written_down", "closing_balance", "draw_date", "schedule_vs_actual",
        "due_date", "principal_scheduled", "interest_scheduled", "principal_paid", "paid_on",
        "difference", "not_paid", "balance_chart"),
    "payment_notice": _FURNITURE_LABELS + _KPI_LABELS + (
        "payment_notice", "payee", "amount_due", "due_on", "remit_to", "earned_lines", "trace",
        "earned_total", "consumption_tax", "grant_covered", "authorisation", "name",
        "authorisation_period", "limit", "paid_to_date", "this_notice", "paid_after",
        "remaining", "planned", "paid"),
    "year_end_report": _FURNITURE_LABELS + _KPI_LABELS + (
        "year_end_report", "intermediary", "payers", "authorised", "paid", "outstanding",
        "grant_covered", "lenders", "lender", "opening_balance", "drawn", "principal_repaid",
        "written_down", "closing_balance", "interest_accrued", "interest_paid", "providers",
        "provider", "fixed_fees", "outcome_fees", "investor_classes", "class", "holders_count",
        "units", "opening", "contributions", "distributions_gross", "withheld", "write_downs",
        "closing", "kpi_chart", "trial_balance", "account_code", "account", "debit", "credit"),
}


@lru_cache(maxsize=64)
def _alphabet(kind: str, lang: str, shared: tuple[str, ...] = ()) -> str:
    """The characters seeded into every document of ``kind`` in ``lang``: its labels, then
    ``shared`` texts that every document of a batch repeats (the contract's and the operator's
    names). See ``investors.fonts``."""
    return seed_alphabet(tuple(LABELS[key][lang] for key in KIND_LABELS[kind]) + shared)


def _shared_texts(header: DocumentHeader, *names: Text) -> tuple[str, ...]:
    """Texts a whole batch of documents repeats, in both scripts (English documents show the
    Japanese legal name too)."""
    return tuple(t for name in (header.contract_name, *names) for t in (name.ja, name.en))


@lru_cache(maxsize=8192)
def _seeded_operand(alphabet: str, text: str) -> str | None:
    """``(…)`` operand of ``text`` in the seeded subset, or None if a character is not seeded.
    Labels, dates and most figures repeat across a batch, so their encoding is cached."""
    codes = japanese_font().seeded_codes(alphabet)
    try:
        return f"({escapePDF(bytes(codes[char] for char in text))})"
    except KeyError:
        return None


def _render(blocks: Sequence[_Block], header: DocumentHeader, kind: str, lang: str,
            shared: tuple[str, ...]) -> bytes:
    """Lay ``blocks`` out on A4 pages and return the PDF bytes."""
    title = label(kind, lang)
    alphabet = _alphabet(kind, lang, shared)
    font = register_japanese_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, initialFontName=font, initialFontSize=9,
                    lang=lang, pageCompression=1)
    canvas.setTitle(f"{title} {header.document_id}")
    canvas.setSubject(header.contract_name.get(lang))
    canvas.setCreator("sib-settlement")
    japanese_font().seed(canvas._doc, alphabet)
    pages = _paginate(blocks)
    furniture = _furniture(header, title, lang)
    for number, page in enumerate(pages, start=1):
        pen = _Pen(canvas, alphabet)
        _draw_furniture(pen, furniture, number, len(pages))
        for top, row in page.rows:
            pen.row(top, row)
        canvas.showPage()
    with _binary_streams():
        canvas.save()
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Formatting bound to one document


@dataclass(frozen=True)
class _Fmt:
    """Formatting for one document: its language, currency and fiscal-year start."""

    lang: str
    currency: str
    start_month: int = 4

    def amount(self, amount_minor: int) -> str:
        return format_amount(amount_minor, self.currency, self.lang)

    def day(self, day: date | None) -> str:
        return "" if day is None else format_date(day, self.lang)

    def fiscal_year(self, fiscal_year: int) -> str:
        return format_fiscal_year(fiscal_year, self.lang, self.start_month,
                                  with_western=self.lang == "ja")

    def label(self, key: str) -> str:
        return label(key, self.lang)

    def name(self, text: Text | None) -> str:
        return "" if text is None else text.with_original(self.lang)

    def names(self, text: Text | None) -> tuple[str, ...]:
        """For a table cell: the name with its Japanese original, or the name alone."""
        return ("",) if text is None else (text.with_original(self.lang), text.get(self.lang))


def _fmt(header: DocumentHeader, lang: str) -> _Fmt:
    return _Fmt(check_lang(lang), header.currency, header.fiscal_year_start_month)


def _contract_rows(header: DocumentHeader, fmt: _Fmt) -> list[_Row]:
    """The contract on a line of its own (names are long) and the fiscal year."""
    name = fmt.name(header.contract_name)
    contract = f"{name}（{header.contract_id}）" if fmt.lang == "ja" \
        else f"{name} ({header.contract_id})"
    return _fields([(fmt.label("contract"), contract),
                    (fmt.label("fiscal_year"), fmt.fiscal_year(header.fiscal_year))], columns=1)


def _kpi_table(results: Sequence[KpiResult], fmt: _Fmt, with_amounts: bool) -> _Table:
    columns = [_Column(fmt.label("kpi"), 3.2), _Column(fmt.label("payer"), 1.6),
               _Column(fmt.label("target"), 1.1, "right"),
               _Column(fmt.label("result"), 1.1, "right"),
               _Column(fmt.label("achievement"), 1.0, "right")]
    if with_amounts:
        columns += [_Column(fmt.label("maximum"), 1.3, "right"),
                    _Column(fmt.label("earned"), 1.3, "right")]
    rows: list[list[_CellText]] = []
    for r in results:
        achievement = r.achievement_percent
        row: list[_CellText] = [r.name.get(fmt.lang) + ("" if r.evaluation == "final"
                                   else f"（{fmt.label('evaluation_interim')}）"),
               fmt.names(r.payer),
               "" if r.target is None else format_kpi_value(r.target, r.unit, fmt.lang),
               format_kpi_value(r.value, r.unit, fmt.lang),
               "" if achievement is None else format_percent(achievement, 1)]
        if with_amounts:
            row += ["" if r.maximum_minor is None else fmt.amount(r.maximum_minor),
                    "" if r.earned_minor is None else fmt.amount(r.earned_minor)]
        rows.append(row)
    return _table(columns, rows, size=7.5)


# ---------------------------------------------------------------------------------------------
# Lender statement


def _loan_blocks(loan: LoanSection, fmt: _Fmt) -> list[_Block]:
    blocks: list[_Block] = [_heading(f"{fmt.label('loan')}: {fmt.name(loan.name)}"
                                     f"（{loan.loan_id}）" if fmt.lang == "ja" else
                                     f"{fmt.label('loan')}: {fmt.name(loan.name)} "
                                     f"({loan.loan_id})")]
    blocks += _fields([
        (fmt.label("commitment"), fmt.amount(loan.commitment_minor)),
        (fmt.label("interest_rate"), format_percent(loan.interest_rate_percent, 3)),
        (fmt.label("opening_balance"), fmt.amount(loan.opening_balance_minor)),
        (fmt.label("day_count"), loan.day_count),
        (fmt.label("drawn"), fmt.amount(loan.drawn_minor)),
        (fmt.label("interest_accrued"), fmt.amount(loan.interest_accrued_minor)),
        (fmt.label("principal_repaid"), fmt.amount(loan.principal_repaid_minor)),
        (fmt.label("interest_paid"), fmt.amount(loan.interest_paid_minor)),
        (fmt.label("written_down"), fmt.amount(loan.written_down_minor)),
        (fmt.label("closing_balance"), fmt.amount(loan.closing_balance_minor)),
    ])
    if loan.draws:
        blocks += [_gap(4), _table(
            [_Column(fmt.label("draw_date"), 1), _Column(fmt.label("drawn"), 1, "right")],
            [[fmt.day(d.drawn_on), fmt.amount(d.amount_minor)] for d in loan.draws],
            [fmt.label("total"), fmt.amount(loan.drawn_minor)], share=0.5)]
    if loan.schedule:
        blocks += [_gap(6), _heading(fmt.label("schedule_vs_actual")), _schedule_table(loan, fmt)]
    if loan.balance_series:
        blocks += [_gap(6), _heading(fmt.label("balance_chart")), _chart(charts.balance_chart(
            [(p.on, p.balance_minor) for p in loan.balance_series], fmt.amount, fmt.day))]
    return blocks + [_gap(10)]


def _schedule_table(loan: LoanSection, fmt: _Fmt) -> _Table:
    columns = [_Column(fmt.label("due_date"), 1.5),
               _Column(fmt.label("principal_scheduled"), 1.3, "right"),
               _Column(fmt.label("interest_scheduled"), 1.1, "right"),
               _Column(fmt.label("principal_paid"), 1.3, "right"),
               _Column(fmt.label("interest_paid"), 1.1, "right"),
               _Column(fmt.label("paid_on"), 1.5),
               _Column(fmt.label("difference"), 1.1, "right")]
    rows = [[fmt.day(r.due_on), fmt.amount(r.principal_scheduled_minor),
             fmt.amount(r.interest_scheduled_minor), fmt.amount(r.principal_paid_minor),
             fmt.amount(r.interest_paid_minor),
             fmt.day(r.paid_on) if r.paid_on else fmt.label("not_paid"),
             fmt.amount(r.difference_minor)] for r in loan.schedule]
    total = [fmt.label("total")] + [fmt.amount(column_total(loan.schedule, name)) for name in (
        "principal_scheduled_minor", "interest_scheduled_minor", "principal_paid_minor",
        "interest_paid_minor")] + ["", fmt.amount(column_total(loan.schedule, "difference_minor"))]
    return _table(columns, rows, total, size=7.5)


def lender_statement_blocks(data: LenderStatement, lang: str) -> list[_Block]:
    """The lender statement's rows, in reading order."""
    fmt = _fmt(data.header, lang)
    blocks: list[_Block] = _title(fmt.label("lender_statement"),
                                  format_period(data.period_start_on, data.period_end_on, lang))
    blocks += _fields([(fmt.label("lender"), fmt.name(data.lender.name)),
                       (fmt.label("borrower"), fmt.name(data.borrower.name))])
    blocks += _contract_rows(data.header, fmt)
    blocks.append(_gap())
    for loan in data.loans:
        blocks += _loan_blocks(loan, fmt)
    if data.kpi_results:
        blocks += [_heading(fmt.label("kpi_results")),
                   _kpi_table(data.kpi_results, fmt, with_amounts=True)]
    return blocks


def render_lender_statement(data: LenderStatement, lang: str = "ja") -> bytes:
    """The lender statement as PDF bytes."""
    return _render(lender_statement_blocks(data, lang), data.header, data.kind, lang,
                   _shared_texts(data.header, data.lender.name, data.borrower.name))


# ---------------------------------------------------------------------------------------------
# Investor statement


def _holder_fields(data: InvestorStatement, fmt: _Fmt) -> list[tuple[str, str]]:
    holder = data.holder
    name = holder.name.get(fmt.lang)
    if fmt.lang == "ja" and holder.name_kana:
        name = f"{name}（{holder.name_kana}）"
    elif fmt.lang == "en" and holder.name.ja != holder.name.en:
        name = f"{holder.name.en} ({holder.name.ja})"
    return [(fmt.label("holder"), name), (fmt.label("holder_id"), holder.holder_id),
            (fmt.label("class"), fmt.name(data.class_name)),
            (fmt.label("tax_category"), fmt.label(f"tax_{holder.tax_category}")),
            (fmt.label("units"), format_units(data.units, fmt.lang)),
            (fmt.label("unit_price"), fmt.amount(data.unit_price_minor)),
            (fmt.label("issuer"), fmt.name(data.issuer.name)),
            (fmt.label("period"), format_period(data.capital_account.start_on,
                                                data.capital_account.end_on, fmt.lang))]


def _capital_table(data: InvestorStatement, fmt: _Fmt) -> _Table:
    account = data.capital_account
    rows = [[fmt.label("opening"), fmt.amount(account.opening_minor)],
            [fmt.label("contributions"), fmt.amount(account.contributions_minor)]]
    if account.income_minor:
        rows.append([fmt.label("income"), fmt.amount(account.income_minor)])
    rows += [[fmt.label("distributions_gross"), fmt.amount(-account.distributions_gross_minor)],
             [fmt.label("write_downs"), fmt.amount(-account.write_downs_minor)]]
    return _table([_Column(fmt.label("capital_account"), 3), _Column(fmt.label("amount"), 1.4,
                                                                     "right")],
                  rows, [fmt.label("closing"), fmt.amount(account.closing_minor)], size=8.5)


def _distribution_table(data: InvestorStatement, fmt: _Fmt) -> _Table:
    columns = [_Column(fmt.label("paid_on"), 1.6), _Column(fmt.label("income_type"), 2.2),
               _Column(fmt.label("distributions_gross"), 1.3, "right"),
               _Column(fmt.label("withheld"), 1.2, "right"),
               _Column(fmt.label("net_paid"), 1.3, "right")]
    rows = [[fmt.day(d.paid_on), fmt.label(f"income_{d.income_type}"), fmt.amount(d.gross_minor),
             fmt.amount(d.withheld_minor), fmt.amount(d.net_minor)] for d in data.distributions]
    account = data.capital_account
    total = [fmt.label("total"), "", fmt.amount(account.distributions_gross_minor),
             fmt.amount(account.distributions_withheld_minor),
             fmt.amount(account.distributions_net_minor)]
    return _table(columns, rows, total, size=8.0)


def _returns_fields(data: InvestorStatement, fmt: _Fmt) -> list[tuple[str, str]]:
    returns = data.returns
    return [(fmt.label("contributed_total"), fmt.amount(returns.contributed_minor)),
            (fmt.label("as_of"), fmt.day(returns.as_of)),
            (fmt.label("distributed_total"), fmt.amount(returns.distributed_minor)),
            (fmt.label("moic"), format_multiple(returns.moic, fmt.lang)),
            (fmt.label("residual_value"), fmt.amount(returns.residual_minor)),
            (fmt.label("irr"), format_rate(returns.irr, fmt.lang))]


def investor_statement_blocks(data: InvestorStatement, lang: str) -> list[_Block]:
    """The investor statement's rows, in reading order."""
    fmt = _fmt(data.header, lang)
    blocks: list[_Block] = _title(fmt.label("investor_statement"),
                                  fmt.fiscal_year(data.header.fiscal_year))
    blocks += _fields(_holder_fields(data, fmt)) + _contract_rows(data.header, fmt)
    blocks += [_gap(), _capital_table(data, fmt), _gap(10),
               _heading(fmt.label("distributions"))]
    if data.distributions:
        blocks.append(_distribution_table(data, fmt))
    else:
        blocks += _lines([fmt.label("no_distributions")], 8, 0)
    blocks += [_gap(10), _heading(fmt.label("returns"))]
    blocks += _fields(_returns_fields(data, fmt), label_width=130)
    blocks += [_gap(6)] + _lines([fmt.label("tax_note")], 7, 0)
    return blocks


def render_investor_statement(data: InvestorStatement, lang: str = "ja") -> bytes:
    """The investor statement as PDF bytes (the high-volume document: one page, plain canvas)."""
    return _render(investor_statement_blocks(data, lang), data.header, data.kind, lang,
                   _shared_texts(data.header, data.issuer.name, data.class_name))


# ---------------------------------------------------------------------------------------------
# Payment notice


def _earned_table(data: PaymentNotice, fmt: _Fmt) -> _Table:
    """Each earned line followed by its trace, under one header that repeats on a new page."""
    columns = [_Column(fmt.label("kpi"), 4.5), _Column(fmt.label("maximum"), 1.3, "right"),
               _Column(fmt.label("earned"), 1.3, "right")]
    rows: list[_Row] = []
    for line in data.earned_lines:
        rows += _table(columns, [[fmt.name(line.name), fmt.amount(line.maximum_minor),
                                  fmt.amount(line.earned_minor)]], size=8.0).rows
        if line.trace_lines:
            rows += _lines([f"{fmt.label('trace')}:",
                            *(text.get(fmt.lang) for text in line.trace_lines)], 6.5)
            rows.append(_gap(3))
    return _Table(_table(columns, [], size=8.0).header, tuple(rows))


def _authorisation_blocks(data: PaymentNotice, fmt: _Fmt) -> list[_Block]:
    auth = data.authorisation
    period = f"{fmt.fiscal_year(auth.first_fiscal_year)} – {fmt.fiscal_year(auth.last_fiscal_year)}"
    blocks: list[_Block] = [_heading(fmt.label("authorisation"))]
    blocks += _fields([(fmt.label("name"), fmt.name(auth.name))], columns=1)
    blocks += _fields([(fmt.label("authorisation_period"), period),
                       (fmt.label("limit"), fmt.amount(auth.limit_minor)),
                       (fmt.label("paid_to_date"), fmt.amount(data.paid_to_date_minor)),
                       (fmt.label("this_notice"), fmt.amount(data.amount_due_minor)),
                       (fmt.label("paid_after"), fmt.amount(data.paid_after_minor)),
                       (fmt.label("remaining"), fmt.amount(data.remaining_minor))])
    if auth.years:
        blocks += [_gap(4), _table(
            [_Column(fmt.label("fiscal_year"), 2), _Column(fmt.label("planned"), 1, "right"),
             _Column(fmt.label("paid"), 1, "right")],
            [[fmt.fiscal_year(y.fiscal_year), fmt.amount(y.planned_minor),
              fmt.amount(y.paid_minor)] for y in auth.years],
            [fmt.label("total"), fmt.amount(column_total(auth.years, "planned_minor")),
             fmt.amount(column_total(auth.years, "paid_minor"))], share=0.7)]
    return blocks


def payment_notice_blocks(data: PaymentNotice, lang: str) -> list[_Block]:
    """The payment notice's rows, in reading order."""
    fmt = _fmt(data.header, lang)
    addressee = f"{data.payer.name.ja} 御中" if lang == "ja" else f"To: {fmt.name(data.payer.name)}"
    blocks: list[_Block] = _title(fmt.label("payment_notice"),
                                  fmt.fiscal_year(data.header.fiscal_year))
    blocks += [_Row(18, (_Cell(MARGIN, addressee, 11),))]
    blocks += _fields([(fmt.label("payer"), fmt.name(data.payer.name)),
                       (fmt.label("payee"), fmt.name(data.payee.name)),
                       (fmt.label("amount_due"), fmt.amount(data.amount_due_minor)),
                       (fmt.label("due_on"), fmt.day(data.due_on))])
    blocks += _contract_rows(data.header, fmt)
    if data.remit_to:
        blocks += _fields([(fmt.label("remit_to"), data.remit_to)], columns=1)
    blocks += [_gap(), _heading(fmt.label("kpi_results")),
               _kpi_table(data.kpi_results, fmt, with_amounts=False), _gap(10),
               _heading(fmt.label("earned_lines"))]
    blocks += [_earned_table(data, fmt), _gap(6), _table(
        [_Column(fmt.label("total"), 4.5), _Column(fmt.label("amount"), 2.6, "right")],
        [[fmt.label("earned_total"), fmt.amount(data.earned_total_minor)],
         [fmt.label("consumption_tax"), fmt.amount(data.consumption_tax_minor)]],
        [fmt.label("amount_due"), fmt.amount(data.amount_due_minor)], size=9.0,
        trailing=[[fmt.label("grant_covered"), fmt.amount(data.grant_covered_minor)]])]
    blocks += [_gap(10)] + _authorisation_blocks(data, fmt)
    return blocks


def render_payment_notice(data: PaymentNotice, lang: str = "ja") -> bytes:
    """The payment notice as PDF bytes."""
    return _render(payment_notice_blocks(data, lang), data.header, data.kind, lang,
                   _shared_texts(data.header, data.payee.name))


# ---------------------------------------------------------------------------------------------
# Year-end report


def _sum_row(rows: Sequence[object], names: Sequence[str], fmt: _Fmt,
             leading: int = 1) -> list[str]:
    return [fmt.label("total")] + [""] * (leading - 1) + [
        fmt.amount(column_total(rows, name)) for name in names]


def _payers_table(data: YearEndReport, fmt: _Fmt) -> _Table:
    names = ("authorised_minor", "earned_minor", "paid_minor", "outstanding_minor",
             "grant_covered_minor")
    return _table([_Column(fmt.label("payer"), 2.2)] + [
        _Column(fmt.label(k), 1.2, "right")
        for k in ("authorised", "earned", "paid", "outstanding", "grant_covered")],
        [[fmt.names(r.payer.name)] + [fmt.amount(getattr(r, n)) for n in names]
         for r in data.payers], _sum_row(data.payers, names, fmt), size=7.5)


def _lenders_table(data: YearEndReport, fmt: _Fmt) -> _Table:
    names = ("opening_minor", "drawn_minor", "repaid_minor", "written_down_minor",
             "closing_minor", "interest_accrued_minor", "interest_paid_minor")
    keys = ("opening_balance", "drawn", "principal_repaid", "written_down", "closing_balance",
            "interest_accrued", "interest_paid")
    return _table([_Column(fmt.label("lender"), 2.0)] + [_Column(fmt.label(k), 1.1, "right")
                                                         for k in keys],
                  [[fmt.names(r.lender.name)] + [fmt.amount(getattr(r, n)) for n in names]
                   for r in data.lenders], _sum_row(data.lenders, names, fmt), size=7.0)


def _providers_table(data: YearEndReport, fmt: _Fmt) -> _Table:
    names = ("fixed_fees_minor", "outcome_fees_minor", "paid_minor")
    return _table([_Column(fmt.label("provider"), 2.4)] + [
        _Column(fmt.label(k), 1.2, "right") for k in ("fixed_fees", "outcome_fees", "paid")],
        [[fmt.names(r.provider.name)] + [fmt.amount(getattr(r, n)) for n in names]
         for r in data.providers], _sum_row(data.providers, names, fmt), size=7.5)


def _classes_table(data: YearEndReport, fmt: _Fmt) -> _Table:
    names = ("opening_minor", "contributions_minor", "distributions_gross_minor",
             "distributions_withheld_minor", "write_downs_minor", "closing_minor")
    keys = ("opening", "contributions", "distributions_gross", "withheld", "write_downs",
            "closing")
    accounts = [r.account for r in data.investor_classes]
    rows: list[list[_CellText]] = [
        [fmt.names(r.name), f"{r.holders:,}", f"{r.units:,}",
         *(fmt.amount(getattr(r.account, n)) for n in names)] for r in data.investor_classes]
    total = [fmt.label("total"), f"{column_total(data.investor_classes, 'holders'):,}",
             f"{column_total(data.investor_classes, 'units'):,}"] + [
        fmt.amount(column_total(accounts, n)) for n in names]
    return _table([_Column(fmt.label("class"), 1.9), _Column(fmt.label("holders_count"), 0.7,
                                                             "right"),
                   _Column(fmt.label("units"), 0.8, "right")] +
                  [_Column(fmt.label(k), 1.1, "right") for k in keys], rows, total, size=7.0)


def _trial_balance_table(data: YearEndReport, fmt: _Fmt) -> _Table:
    return _table([_Column(fmt.label("account_code"), 0.8), _Column(fmt.label("account"), 3.0),
                   _Column(fmt.label("debit"), 1.3, "right"),
                   _Column(fmt.label("credit"), 1.3, "right")],
                  [[r.account_code, fmt.names(r.name),
                    fmt.amount(r.debit_minor) if r.debit_minor else "",
                    fmt.amount(r.credit_minor) if r.credit_minor else ""]
                   for r in data.trial_balance],
                  _sum_row(data.trial_balance, ("debit_minor", "credit_minor"), fmt, 2),
                  size=7.5)


def _achievement_bars(results: Sequence[KpiResult], lang: str) -> list[tuple[str, Decimal]]:
    bars = []
    for r in results:
        achievement = r.achievement_percent
        if achievement is not None:
            name = r.name.get(lang) + (f" / {r.payer.get(lang)}" if r.payer else "")
            bars.append((name, achievement))
    return bars


def year_end_report_blocks(data: YearEndReport, lang: str) -> list[_Block]:
    """The year-end report's rows, in reading order."""
    fmt = _fmt(data.header, lang)
    blocks: list[_Block] = _title(fmt.label("year_end_report"),
                                  fmt.fiscal_year(data.header.fiscal_year))
    blocks += _fields([(fmt.label("intermediary"), fmt.name(data.intermediary.name))], columns=1)
    blocks += _contract_rows(data.header, fmt)
    sections: list[tuple[str, _Table]] = [
        ("payers", _payers_table(data, fmt)), ("lenders", _lenders_table(data, fmt)),
        ("providers", _providers_table(data, fmt)),
        ("investor_classes", _classes_table(data, fmt))]
    for key, table in sections:
        blocks += [_gap(), _heading(fmt.label(key)), table]
    bars = _achievement_bars(data.kpi_results, lang)
    if bars:
        blocks += [_gap(), _heading(fmt.label("kpi_chart")), _chart(charts.achievement_chart(
            bars, lambda v: format_percent(v, 1)))]
    blocks += [_gap(), _heading(fmt.label("kpi_results")),
               _kpi_table(data.kpi_results, fmt, with_amounts=True),
               _gap(), _heading(fmt.label("trial_balance")), _trial_balance_table(data, fmt)]
    return blocks


def render_year_end_report(data: YearEndReport, lang: str = "ja") -> bytes:
    """The year-end settlement report as PDF bytes."""
    return _render(year_end_report_blocks(data, lang), data.header, data.kind, lang,
                   _shared_texts(data.header, data.intermediary.name))


# ---------------------------------------------------------------------------------------------

_RENDERERS: dict[type, Callable[..., bytes]] = {
    LenderStatement: render_lender_statement,
    InvestorStatement: render_investor_statement,
    PaymentNotice: render_payment_notice,
    YearEndReport: render_year_end_report,
}


def render(document: Document, lang: str = "ja") -> bytes:
    """Any of the four documents as PDF bytes, by the type of its data record."""
    renderer = _RENDERERS.get(type(document))
    if renderer is None:
        raise SibError(f"no renderer for {type(document).__name__}", "DOCUMENT_KIND_UNKNOWN",
                       "document")
    return renderer(document, check_lang(lang))


def page_count(blocks: Sequence[_Block]) -> int:
    """How many pages ``blocks`` take (for batch progress and tests)."""
    return len(_paginate(blocks))

