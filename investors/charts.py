"""The small charts of the documents, drawn with ``reportlab.graphics`` in the embedded font.

Two charts: a loan balance over time (lender statement) and KPI achievement bars (year-end
report). They are drawn from shapes rather than reportlab's chart widgets: the axes and labels
stay exactly where the layout expects them, every label uses the Japanese font, and drawing is
cheap. Coordinates are floats because they are positions on the page; the amounts themselves
are only ever formatted by the caller's formatter, never computed here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

from investors.fonts import printable, register_japanese_font

_AXIS = colors.HexColor("#555555")
_GRID = colors.HexColor("#dddddd")
_LINE = colors.HexColor("#1f4e79")
_BAR = colors.HexColor("#2e75b6")
_BAR_SHORT = colors.HexColor("#c55a11")
_LABEL_SIZE = 6.5


@dataclass(frozen=True)
class ChartStyle:
    """Sizes of a chart on the page.

    Attributes:
        width: drawing width in points.
        height: drawing height in points.
        left: space for the value axis labels (line chart) or bar labels (bar chart).
        bottom: space for the date axis labels.
    """

    width: float = 515.0  # float-ok: page geometry
    height: float = 130.0  # float-ok: page geometry
    left: float = 78.0  # float-ok: page geometry
    bottom: float = 16.0  # float-ok: page geometry


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10ⁿ at or above ``value``: a readable
    axis maximum that leaves little empty space above the line."""
    if value <= 1:
        return 1
    magnitude = int(10 ** (len(str(value)) - 1))
    for halves in (2, 3, 4, 5, 6, 8, 10, 12, 16, 20):
        candidate = halves * magnitude // 2
        if candidate >= value:
            return candidate
    return 10 * magnitude


def _drawing(width: float, height: float) -> Drawing:  # float-ok: page geometry
    """A drawing whose default font is the embedded one, so no other font enters the PDF."""
    return Drawing(width, height, initialFontName=register_japanese_font(),
                   initialFontSize=_LABEL_SIZE)


def _text(x: float, y: float, text: str, anchor: str = "start",  # float-ok: page geometry
          size: float = _LABEL_SIZE) -> String:  # float-ok: page geometry
    return String(x, y, printable(text), fontName=register_japanese_font(), fontSize=size,
                  textAnchor=anchor, fillColor=_AXIS)


def balance_chart(points: Sequence[tuple[date, int]], amount_text: Callable[[int], str],
                  date_text: Callable[[date], str], style: ChartStyle = ChartStyle()) -> Drawing:
    """A step line of a balance over time, with four gridlines labelled by ``amount_text`` and
    the first, middle and last dates labelled by ``date_text``.

    The balance keeps its value until the next point (a loan balance changes on draw and
    repayment days only), so the line is drawn in steps.
    """
    drawing = _drawing(style.width, style.height)
    if not points:
        return drawing
    plot_w = style.width - style.left - 8
    plot_h = style.height - style.bottom - 6
    top = _nice_ceiling(max(max(b for _, b in points), 1))
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)

    def x_of(day: date) -> float:  # float-ok: page geometry
        return style.left + plot_w * (day - first).days / span

    def y_of(balance: int) -> float:  # float-ok: page geometry
        return style.bottom + plot_h * balance / top

    for i in range(5):
        level = top * i // 4
        y = y_of(level)
        drawing.add(Line(style.left, y, style.left + plot_w, y, strokeColor=_GRID,
                         strokeWidth=0.4))
        drawing.add(_text(style.left - 3, y - 2, amount_text(level), "end"))
    drawing.add(Line(style.left, style.bottom, style.left, style.bottom + plot_h,
                     strokeColor=_AXIS, strokeWidth=0.6))
    path: list[float] = []
    for i, (day, balance) in enumerate(points):
        if i:
            path += [x_of(day), y_of(points[i - 1][1])]
        path += [x_of(day), y_of(balance)]
    drawing.add(PolyLine(path, strokeColor=_LINE, strokeWidth=1.4))
    for day in sorted({first, points[len(points) // 2][0], last}):
        anchor = "start" if day == first else "end" if day == last else "middle"
        drawing.add(_text(x_of(day), 4, date_text(day), anchor))
    return drawing


def achievement_chart(bars: Sequence[tuple[str, Decimal]], percent_text: Callable[[Decimal], str],
                      style: ChartStyle = ChartStyle(left=170.0)) -> Drawing:
    """Horizontal bars of KPI achievement in percent with a line at 100 %.

    Bars at or above 100 % are blue, those short of it orange. The scale runs to 100 % or to
    the largest achievement, rounded up to the next 25 %, so over-achievement stays visible.
    """
    bar_h, gap = 9.0, 4.0
    height = max(len(bars) * (bar_h + gap) + style.bottom + 4, 40.0)
    drawing = _drawing(style.width, height)
    plot_w = style.width - style.left - 44
    top = max([Decimal(100)] + [value for _, value in bars])
    top = ((top + 24) // 25) * 25

    def x_of(value: Decimal) -> float:  # float-ok: page geometry
        return style.left + plot_w * float(max(value, Decimal(0)) / top)  # float-ok: page geometry

    for i, (name, value) in enumerate(bars):
        y = height - (i + 1) * (bar_h + gap)
        colour = _BAR if value >= 100 else _BAR_SHORT
        drawing.add(Rect(style.left, y, x_of(value) - style.left, bar_h, fillColor=colour,
                         strokeColor=None))
        drawing.add(_text(style.left - 4, y + 2, name, "end"))
        drawing.add(_text(style.width - 2, y + 2, percent_text(value), "end"))
    hundred = x_of(Decimal(100))
    drawing.add(Line(hundred, style.bottom - 4, hundred, height, strokeColor=_AXIS,
                     strokeWidth=0.6, strokeDashArray=[2, 2]))
    drawing.add(_text(hundred, 2, "100%", "middle"))
    drawing.add(Line(style.left, style.bottom - 4, style.left, height, strokeColor=_AXIS,
                     strokeWidth=0.6))
    return drawing
