"""Charts as SVG text, drawn on the server (no script, no library): bars and lines over years
or dates. Pure functions of the figures they are given; each chart carries a ``<title>`` and
a ``<desc>`` naming its figures, so a screen reader reads what the eye sees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 92, 16, 16, 44
# Colour-blind-safe pair with contrast against white (WCAG non-text contrast ≥ 3:1).
COLOURS = ("#1f5fa8", "#b35900", "#2e7d32", "#6a3d9a")


@dataclass(frozen=True)
class Series:
    """One named row of values (None: no value for that category)."""

    name: str
    values: tuple[float | None, ...]


def _scale(top: float) -> float:
    """A round upper bound at or above ``top``."""
    if top <= 0:
        return 1.0
    step = 10 ** (len(str(int(top))) - 1)
    return float(((int(top) // step) + 1) * step)


def _frame(title: str, desc: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'role="img" aria-labelledby="t d" class="chart">'
            f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>'
            + "".join(body) + "</svg>")


def _axis(top: float, label: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = [f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
           f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
           f'y2="{HEIGHT - BOTTOM}" stroke="#333"/>']
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        out.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                   f'stroke="#ddd"/>' if i else "")
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                   f'{escape(label.format(value))}</text>')
    return out


def _legend(series: Sequence[Series]) -> list[str]:
    out = []
    x = LEFT
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11">{escape(s.name)}</text>')
        x += 18 + 7 * len(s.name) + 24
    return out


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series],
              value_label: str = "{:,.0f}", marker: Series | None = None) -> str:
    """Grouped bars, one group per category; ``marker``: a value per category drawn as a
    horizontal tick across its group (a target, a limit)."""
    values = [v for s in (*series, *([marker] if marker else [])) for v in s.values
              if v is not None]
    top = _scale(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = plot_w / max(len(categories), 1)
    bar = group * 0.7 / max(len(series), 1)
    body = _axis(top, value_label)
    for c, name in enumerate(categories):
        x0 = LEFT + c * group + group * 0.15
        for i, s in enumerate(series):
            value = s.values[c]
            if value is None:
                continue
            h = plot_h * value / top
            body.append(f'<rect x="{x0 + i * bar:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" '
                        f'width="{bar - 2:.1f}" height="{h:.1f}" '
                        f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(s.name)} '
                        f'{escape(name)}: {escape(value_label.format(value))}</title></rect>')
        if marker is not None and marker.values[c] is not None:
            y = HEIGHT - BOTTOM - plot_h * (marker.values[c] or 0) / top
            body.append(f'<line x1="{x0 - 3:.1f}" y1="{y:.1f}" x2="{x0 + group * 0.7 + 3:.1f}" '
                        f'y2="{y:.1f}" stroke="#b00020" stroke-width="3" stroke-dasharray="6 3">'
                        f'<title>{escape(marker.name)} {escape(name)}: '
                        f'{escape(value_label.format(marker.values[c]))}</title></line>')
        body.append(f'<text x="{x0 + group * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                    f'text-anchor="middle" font-size="11">{escape(name)}</text>')
    body += _legend(series)
    if marker is not None:  # the marker's key: its own dashed red line, after the bars' keys
        x = LEFT + sum(18 + 7 * len(s.name) + 24 for s in series)
        body.append(f'<line x1="{x}" y1="{HEIGHT - 9}" x2="{x + 14}" y2="{HEIGHT - 9}" '
                    f'stroke="#b00020" stroke-width="3" stroke-dasharray="4 2"/>'
                    f'<text x="{x + 18}" y="{HEIGHT - 5}" font-size="11">'
                    f'{escape(marker.name)}</text>')
    desc = "; ".join(f"{s.name}: " + ", ".join(
        f"{c} {value_label.format(v) if v is not None else '—'}"
        for c, v in zip(categories, s.values)) for s in (*series, *([marker] if marker else [])))
    return _frame(title, desc, body)


def step_chart(title: str, points: Sequence[tuple[date, int]],
               value_label: str = "{:,.0f}", name: str = "") -> str:
    """A balance over time: a step line through ``points`` (day, value), in date order."""
    if not points:
        return _frame(title, "no data", [])
    top = _scale(max(v for _, v in points))
    first, last = points[0][0].toordinal(), points[-1][0].toordinal()
    span = max(last - first, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(day: date, value: int) -> tuple[float, float]:
        return (LEFT + plot_w * (day.toordinal() - first) / span,
                HEIGHT - BOTTOM - plot_h * value / top)

    path: list[str] = []
    previous_y = None
    for day, value in points:
        x, y = xy(day, value)
        if previous_y is not None:
            path.append(f"L{x:.1f},{previous_y:.1f}")
        path.append(f"{'M' if not path else 'L'}{x:.1f},{y:.1f}")
        previous_y = y
    body = _axis(top, value_label)
    body.append(f'<path d="{" ".join(path)}" fill="none" stroke="{COLOURS[0]}" '
                f'stroke-width="2.5"/>')
    for day, value in points:
        x, y = xy(day, value)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS[0]}">'
                    f'<title>{day.isoformat()}: {escape(value_label.format(value))}</title>'
                    f'</circle>')
    years = sorted({d.year for d, _ in points})
    for year in years:
        x, _ = xy(date(year, 1, 1), 0)
        if LEFT <= x <= WIDTH - RIGHT:
            body.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                        f'font-size="11">{year}</text>')
    if name:
        body += _legend([Series(name, ())])
    desc = ", ".join(f"{d.isoformat()} {value_label.format(v)}" for d, v in points)
    return _frame(title, desc, body)
