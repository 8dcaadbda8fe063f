"""The building blocks of every document: page geometry, a small row model and the tables,
field lists, headings and notes built from it.

Layout is a small row model on a plain reportlab canvas rather than platypus: every row has a
fixed height, tables split between rows and repeat their header, and the page count is known
before anything is drawn, so each page can say ``1 / 3`` (:mod:`investors.pdf_pages` places and
draws the rows). That keeps the high-volume document (the investor statement) close to the cost
of a bare page. Text is measured in the embedded IPAexGothic; a text too long for its room
shrinks, breaks onto more lines or, as a last resort, is clipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth

from investors.fonts import printable, register_japanese_font

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 40.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
CONTENT_TOP = PAGE_HEIGHT - 48.0
CONTENT_BOTTOM = 62.0
_PAD = 3.0
_MIN_SIZE = 5.0
_READABLE = 7.0  # below this a field value moves to a line of its own

# ---------------------------------------------------------------------------------------------
# Row model


@dataclass(frozen=True)
class Cell:
    """One piece of text in a row: ``x`` is the left edge, or the right edge when right-aligned;
    ``dy`` raises it above the row's baseline (the first line of a two-line header)."""

    x: float  # float-ok: page geometry
    text: str
    size: float  # float-ok: page geometry
    align: str = "left"
    grey: bool = False
    dy: float = 0.0  # float-ok: page geometry


@dataclass(frozen=True)
class Row:
    """A horizontal band of fixed height: text cells, an optional rule under it, shading, or a
    drawing. ``keep`` rows after it must stay on the same page (a heading and its first row)."""

    height: float  # float-ok: page geometry
    cells: tuple[Cell, ...] = ()
    rule: float = 0.0  # float-ok: page geometry
    shade: bool = False
    drawing: Drawing | None = None
    keep: int = 0


@dataclass(frozen=True)
class Table:
    """Rows that may split across pages, repeating ``header`` at the top of each page."""

    header: Row
    rows: tuple[Row, ...]


Block = Row | Table
# A table cell: its text, or alternatives from the most to the least complete.
CellText = str | tuple[str, ...]


@lru_cache(maxsize=65536)
def text_width(text: str, size: float) -> float:  # float-ok: page geometry
    """Width of ``text`` in the document font; cached, as labels repeat on every document."""
    return float(stringWidth(printable(text), register_japanese_font(), size))  # float-ok


def fit_size(text: str, size: float, room: float) -> float:  # float-ok: page geometry
    """The largest size up to ``size`` at which ``text`` fits in ``room`` points."""
    needed = text_width(text, size)
    if needed <= room:
        return size
    return max(_MIN_SIZE, size * room / needed)


def _wrap(text: str, size: float, room: float) -> list[str]:  # float-ok: page geometry
    """``text`` broken into lines that fit ``room``: at the last space where there is one
    (English), else between any two characters (Japanese has no spaces to break at)."""
    lines, current = [], ""
    for char in text:
        if current and text_width(current + char, size) > room:
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
class Column:
    """A table column: title, share of the table width, alignment."""

    title: str
    weight: float  # float-ok: page geometry
    align: str = "left"


def title_rows(text: str, subtitle: str) -> list[Block]:
    """The document's title, a grey subtitle (its period or fiscal year) and a rule."""
    return [Row(24, (Cell(MARGIN, text, 16),)),
            Row(16, (Cell(MARGIN, subtitle, 9, grey=True),), rule=0.8),
            Row(6)]


def heading(text: str) -> Row:
    """A section heading, kept on the same page as what follows it."""
    return Row(20, (Cell(MARGIN, text, 10.5),), rule=0.5, keep=1)


def gap(height: float = 8.0) -> Row:  # float-ok: page geometry
    """Empty space between blocks."""
    return Row(height)


def _field_cells(x: float, width: float, name: str, value: str, size: float,  # float-ok
                 label_width: float) -> list[Cell]:  # float-ok: page geometry
    room = width - label_width - _PAD
    return [Cell(x, name, fit_size(name, size - 0.5, label_width - _PAD), grey=True),
            Cell(x + label_width, _clip(value, fit_size(value, size, room), room),
                 fit_size(value, size, room))]


def fields(pairs: Sequence[tuple[str, str]], columns: int = 2, size: float = 8.5,  # float-ok
           label_width: float = 92.0) -> list[Row]:  # float-ok: page geometry
    """Label–value pairs in ``columns`` columns. A value too long for its column at a readable
    size (a party's name in two scripts) takes a whole line instead of shrinking."""
    column_width = CONTENT_WIDTH / columns
    rows: list[Row] = []
    pending: list[tuple[str, str]] = []

    def flush() -> None:
        if pending:
            cells = [c for i, (n, v) in enumerate(pending) for c in _field_cells(
                MARGIN + i * column_width, column_width, n, v, size, label_width)]
            rows.append(Row(14, tuple(cells)))
            pending.clear()

    for name, value in pairs:
        if columns > 1 and text_width(value, _READABLE) > column_width - label_width - _PAD:
            flush()
            rows.append(Row(14, tuple(_field_cells(MARGIN, CONTENT_WIDTH, name, value, size,
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
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def _column_edges(columns: Sequence[Column], share: float) -> list[tuple[float, float]]:  # float-ok
    total = sum(c.weight for c in columns)
    edges, x = [], MARGIN
    for column in columns:
        width = CONTENT_WIDTH * share * column.weight / total
        edges.append((x, width))
        x += width
    return edges


def _figure_size(rows: Sequence[Sequence[CellText]], columns: Sequence[Column],
                 size: float,  # float-ok: page geometry
                 edges: Sequence[tuple[float, float]]) -> float:  # float-ok: page geometry
    """One size for every figure of the table (right-aligned columns), so that they line up:
    the largest up to ``size`` at which the widest figure fits its column."""
    fitted = size
    for row in rows:
        for text, column, (_, width) in zip(row, columns, edges):
            if column.align == "right" and isinstance(text, str):
                fitted = min(fitted, fit_size(text, size, width - 2 * _PAD))
    return fitted


def _choose(text: CellText, size: float, room: float) -> str:  # float-ok: page geometry
    """The first of a cell's alternatives (``Ube City (宇部市)``, ``Ube City``) that fits at a
    readable size, else the shortest."""
    if isinstance(text, str):
        return text
    for alternative in text:
        if fit_size(alternative, size, room) >= min(size, _READABLE):
            return alternative
    return text[-1]


def _table_row(texts: Sequence[CellText], columns: Sequence[Column],
               edges: Sequence[tuple[float, float]], size: float, height: float,  # float-ok
               **row_args: object) -> Row:
    """A row of cells: figures at ``size``; text shrunk (then clipped) where it is too long."""
    cells = []
    for value, column, (x, width) in zip(texts, columns, edges):
        room = width - 2 * _PAD
        text = _choose(value, size, room)
        if column.align == "right":
            cells.append(Cell(x + width - _PAD, text, size, "right"))
        else:
            own = fit_size(text, size, room)
            cells.append(Cell(x + _PAD, _clip(text, own, room), own))
    return Row(height, tuple(cells), **row_args)  # type: ignore[arg-type]


def _header_row(columns: Sequence[Column], edges: Sequence[tuple[float, float]],
                size: float, height: float) -> Row:  # float-ok: page geometry
    """The shaded header; a title too long for its column breaks onto a second line."""
    lines = [[c.title] if fit_size(c.title, size, width - 2 * _PAD) >= size * 0.8
             else _wrap(c.title, size, width - 2 * _PAD)[:2]
             for c, (_, width) in zip(columns, edges)]
    if all(len(parts) == 1 for parts in lines):
        return _table_row([c.title for c in columns], columns, edges, size, height, shade=True)
    cells = []
    for parts, column, (x, width) in zip(lines, columns, edges):
        for i, part in enumerate(parts):
            dy = size * 1.1 * (len(parts) - 1 - i)
            own = fit_size(part, size, width - 2 * _PAD)
            if column.align == "right":
                cells.append(Cell(x + width - _PAD, part, own, "right", dy=dy))
            else:
                cells.append(Cell(x + _PAD, part, own, dy=dy))
    return Row(height + size * 1.1, tuple(cells), shade=True)


def table(columns: Sequence[Column], rows: Sequence[Sequence[CellText]],
          total: Sequence[CellText] | None = None,
          size: float = 8.0, share: float = 1.0,  # float-ok: page geometry
          trailing: Sequence[Sequence[CellText]] = ()) -> Table:
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
    return Table(_header_row(columns, edges, fitted, height), tuple(body))


def text_lines(texts: Sequence[str], size: float = 7.0,  # float-ok: page geometry
               indent: float = 12.0) -> list[Row]:  # float-ok: page geometry
    """Small grey lines of text (notes, traces), each wrapped to the text width less ``indent``."""
    rows = []
    for text in texts:
        for line in _wrap(text, size, CONTENT_WIDTH - indent):
            rows.append(Row(size * 1.45, (Cell(MARGIN + indent, line, size, grey=True),)))
    return rows


def chart(drawing: Drawing) -> Row:
    """A chart (see :mod:`investors.charts`) as a row of its own height."""
    return Row(drawing.height + 6, drawing=drawing)

