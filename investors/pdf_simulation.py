"""The outcome simulation report (issue 16) as a PDF, in Japanese or English.

It renders :func:`settlement.simulation.summarise`'s figures — nothing is computed here but
positions on the page — with the documents' own machinery: the row model of
:mod:`investors.pdf_layout`, pagination and the pen of :mod:`investors.pdf_pages`, the embedded
IPAexGothic (:mod:`investors.fonts`), amounts in 円 with commas and dates and fiscal years in
the project's Japanese style (:mod:`investors.formatting`). Three charts: a fan chart of the
payments by year (P5–P95, P25–P75, median), the histogram of each unit class's IRR, and the
probability of a debt-service shortfall on each due date. reportlab's invariant mode and a
timestamp-free page furniture make the bytes a function of the summary alone: the same seed
gives the same file.

A report is made for a reader's :class:`~settlement.simulation_scope.Scope`: a finance office's
holds only the payers it may read — their payments by results year against each year's limit
— and none of the contract-wide figures (all payers together, loans, lenders, fixed fees,
classes, public cost). The whole scope (the default) is the report as it always was, to the
byte; a scoped report's own labels (:data:`SCOPED_LABELS`) seed its font only then.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from contracts.model import Contract
from investors.fonts import japanese_font, printable, register_japanese_font, seed_alphabet
from investors.formatting import (
    check_lang,
    format_amount,
    format_date,
    format_fiscal_year,
    format_rate,
    page_number,
)
from investors.pdf_layout import (
    CONTENT_WIDTH,
    MARGIN,
    PAGE_HEIGHT,
    Block,
    Cell,
    Column,
    Row,
    chart,
    fields,
    fit_size,
    gap,
    heading,
    table,
    text_lines,
    title_rows,
)
from investors.pdf_pages import _binary_streams, _paginate, _Pen
from settlement.simulation_scope import WHOLE, Scope, scoped

LABELS: dict[str, tuple[str, str]] = {
    "title": ("成果連動シミュレーション報告書", "Outcome simulation report"),
    "contract": ("契約", "Contract"),
    "runs": ("試行回数", "Runs"),
    "seed": ("乱数シード", "Seed"),
    "from_year": ("推計開始年度", "Simulated from"),
    "known": ("使用した監査済み結果", "Audited results used"),
    "paths": ("計算経路", "Calculation path"),
    "payments": ("年度別の支払額（全支払者の合計、成果年度別）",
                 "Payments by fiscal year (all payers, by results year)"),
    "fan": ("支払額の分布（P5–P95、P25–P75、中央値）",
            "Distribution of payments (P5–P95, P25–P75, median)"),
    "fiscal_year": ("成果年度", "Results year"),
    "budget_year": ("予算年度", "Budget year"),
    "mean": ("平均", "Mean"),
    "payers": ("支払者別の支払額と債務負担行為", "Payers: payments and budget authorisations"),
    "payer": ("支払者", "Payer"),
    "total_due": ("期間合計（中央値）", "Total (median)"),
    "total_p95": ("期間合計（P95）", "Total (P95)"),
    "authorisation": ("債務負担行為限度額", "Authorisation (債務負担行為)"),
    "p_exceed": ("限度額超過確率", "P(above authorisation)"),
    "year_limits": ("年度別限度額の超過確率", "Probability of exceeding the year's limit"),
    "no_limit": ("年度別限度額なし", "no limit for the year"),
    "loans": ("借入金の返済", "Loans: debt service"),
    "loan": ("借入金", "Loan"),
    "lender": ("貸付人", "Lender"),
    "p_shortfall": ("返済不足の確率", "P(shortfall)"),
    "first_shortfall": ("初回不足の平均時期", "Expected first shortfall"),
    "expected_loss": ("期待損失額", "Expected loss"),
    "p_loss": ("損失の確率", "P(loss)"),
    "shortfall_chart": ("約定返済日別の返済不足確率（いずれかの借入金）",
                        "Probability of a shortfall by due date (any loan)"),
    "history_bars": ("灰色：推計開始前の約定返済日（監査済みの実績で、全試行で共通）",
                     "grey: due dates before the first simulated year (the audited history, "
                     "the same in every run)"),
    "lenders": ("貸付人別の期待損失", "Expected loss per lender"),
    "fees": ("固定委託料の支払不足", "Fixed fees the vehicle cannot pay"),
    "p_fee_unpaid": ("固定委託料の支払不足が生じる確率",
                     "Probability that a fixed fee cannot be paid when due"),
    "first_fee_unpaid": ("初回不足の平均時期", "Expected date of the first unpaid fee"),
    "fee_gap": ("支払不足額の期待値（仲介者が手当てする資金）",
                "Expected amount unpaid (funding the intermediary must arrange)"),
    "fee_gap_p95": ("支払不足額（P95）", "Amount unpaid (P95)"),
    "provider": ("委託先", "Provider"),
    "fee_due_on": ("支払予定日", "Due date"),
    "fixed_fee": ("固定委託料", "Fixed fee"),
    "p_unpaid": ("不足確率", "P(unpaid)"),
    "p_unpaid_by": ("累積不足確率", "P(any by then)"),
    "value": ("値", "Value"),
    "expected_unpaid": ("期待不足額", "Expected unpaid"),
    "investors": ("投資家の利回り", "Investors: returns"),
    "class": ("出資クラス", "Class"),
    "irr_p5": ("IRR（P5）", "IRR (P5)"),
    "irr_p50": ("IRR（中央値）", "IRR (median)"),
    "irr_p95": ("IRR（P95）", "IRR (P95)"),
    "multiple": ("倍率（中央値）", "Multiple (median)"),
    "p_capital_loss": ("元本毀損の確率", "P(capital loss)"),
    "irr_chart": ("IRR の分布（試行数）", "Distribution of the IRR (runs)"),
    "public": ("公的負担", "Public cost"),
    "item": ("項目", "Item"),
    "public_total": ("支払者の負担総額", "Paid by the payers"),
    "grant": ("うち交付金", "of which the grant"),
    "net": ("自治体の実質負担", "Municipalities, net of the grant"),
    "per_unit": ("成果1単位あたりの期待支払額", "Expected payment per unit of outcome"),
    "kpi": ("KPI", "KPI"),
    "expected_paid": ("期待支払額", "Expected paid"),
    "expected_outcome": ("期待成果（合計）", "Expected outcome (sum)"),
    "paid_per_unit": ("1単位あたり", "Per unit"),
    "none": ("－", "—"),
    "vectorised": ("ベクトル化（numpy）", "vectorised (numpy)"),
    "scalar": ("決済エンジンを試行ごとに実行", "the settlement engine per run"),
    "scalar_runs": ("エンジンで再計算した試行", "runs recomputed by the engine"),
    "lockstep_runs": ("一括帳簿（ロックステップ）で計算した試行",
                      "runs settled by the lockstep books"),
    "notes": ("注記", "Notes"),
    "note_same_rules": (
        "各試行は契約の支払規定・ウォーターフォール・返済・分配の規定をそのまま適用して計算し、"
        "元帳には記帳していない。",
        "Each run applies the contract's own payment, waterfall, debt-service and return rules; "
        "nothing is written to the ledger."),
    "note_percentiles": (
        "P5・P50・P95は試行結果の順位による（いずれかの試行の実額）。確率は試行数に対する割合。",
        "P5, P50 and P95 are scenario values at those ranks; probabilities are shares of the "
        "runs."),
    "note_years": (
        "成果年度の支払は翌年度の予算で支払われる場合がある（予算年度欄）。",
        "A results year may be paid from the next year's budget (budget year column)."),
    "note_history": (
        "推計開始年度より前の年度は監査済みの結果どおり計算しており、全試行で共通である"
        "（その年度の返済不足も含む）。",
        "Years before the first simulated year are computed from their audited results, the "
        "same in every run (their debt-service shortfalls included)."),
    "note_loss": (
        "損失は回収されなかった元本と未払利息。保証人による弁済は回収として扱う。",
        "A loss is principal not repaid and interest never paid; a guarantor's payment is a "
        "recovery."),
    "note_fees": (
        "SPVの自己資金（現金から投資家への未払分配金と預り源泉税を除いた額）が年度の固定委託料に"
        "満たないときは、支払は受け付けられない。その年度の固定委託料は委託先への未払として残り、以後の返済・分配は"
        "手元に残った現金で計算している。不足額は仲介者が別途手当てすべき資金である。",
        "When the vehicle's own cash (less what it owes unit holders and the tax office) does "
        "not cover a year's fixed fees, the payment is refused: the fees stay owed to the "
        "provider, later debt service and distributions are computed with the cash kept, and "
        "the amount unpaid is funding the intermediary must arrange."),
    "running": ("成果連動シミュレーション", "Outcome simulation"),
}
SCOPED_LABELS: dict[str, tuple[str, str]] = {
    "payer_years": ("成果年度別の支払額と年度別限度額", "Payments by results year against the "
                    "year's limit"),
    "year_limit": ("年度別限度額", "Year limit"),
    "p_above_year": ("限度額超過確率", "P(above the limit)"),
    "scope_note": ("この報告書には、閲覧できる支払者の数値のみを記載している。",
                   "This report shows only the figures of the payers its reader may see."),
}
"""Labels only a scoped report uses (kept apart so that the whole report's font subset, and
so its bytes, stay as they were)."""


def _l(key: str, lang: str) -> str:
    ja, en = LABELS[key] if key in LABELS else SCOPED_LABELS[key]
    return ja if lang == "ja" else en


_AXIS = colors.HexColor("#555555")
_GRID = colors.HexColor("#dddddd")
_OUTER = colors.HexColor("#c9dcef")
_INNER = colors.HexColor("#7fa9d6")
_MEDIAN = colors.HexColor("#1f4e79")
_BAR = colors.HexColor("#2e75b6")
_SHORT = colors.HexColor("#c55a11")
_HISTORY = colors.HexColor("#a6a6a6")
_SIZE = 6.5


def _text(x: float, y: float, text: str, anchor: str = "start",  # float-ok: page geometry
          size: float = _SIZE) -> String:  # float-ok: page geometry
    return String(x, y, printable(text), fontName=register_japanese_font(), fontSize=size,
                  textAnchor=anchor, fillColor=_AXIS)


def _nice(value: int) -> int:
    if value <= 1:
        return 1
    magnitude: int = 10 ** (len(str(value)) - 1)
    for halves in (2, 3, 4, 5, 6, 8, 10, 12, 16, 20):
        candidate: int = halves * magnitude // 2
        if candidate >= value:
            return candidate
    return 10 * magnitude


def fan_chart(rows: Sequence[Mapping[str, Any]], year_text: Callable[[int], str],
              amount_text: Callable[[int], str]) -> Drawing:
    """P5–P95 and P25–P75 bands and the median of the payments per fiscal year."""
    width, height, left, bottom = CONTENT_WIDTH, 170.0, 86.0, 16.0
    drawing = Drawing(width, height, initialFontName=register_japanese_font(),
                      initialFontSize=_SIZE)
    plot_w, plot_h = width - left - 20, height - bottom - 8
    top = _nice(max([int(r["p95"]) for r in rows] + [1]))
    count = max(len(rows) - 1, 1)

    def x_of(i: int) -> float:  # float-ok: page geometry
        return float(left + plot_w * i / count)

    def y_of(amount: int) -> float:  # float-ok: page geometry
        return bottom + plot_h * amount / top

    for k in range(5):
        level = top * k // 4
        drawing.add(Line(left, y_of(level), left + plot_w, y_of(level), strokeColor=_GRID,
                         strokeWidth=0.4))
        drawing.add(_text(left - 3, y_of(level) - 2, amount_text(level), "end"))
    for low, high, colour in (("p5", "p95", _OUTER), ("p25", "p75", _INNER)):
        points: list[float] = []
        for i, r in enumerate(rows):
            points += [x_of(i), y_of(int(r[high]))]
        for i, r in reversed(list(enumerate(rows))):
            points += [x_of(i), y_of(int(r[low]))]
        drawing.add(Polygon(points, fillColor=colour, strokeColor=None, strokeWidth=0))
    median: list[float] = []
    for i, r in enumerate(rows):
        median += [x_of(i), y_of(int(r["p50"]))]
        drawing.add(_text(x_of(i), 4, year_text(int(r["fiscal_year"])), "middle"))
    drawing.add(PolyLine(median, strokeColor=_MEDIAN, strokeWidth=1.5))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeColor=_AXIS, strokeWidth=0.6))
    return drawing


def bar_chart(bars: Sequence[tuple[str, int]], top_value: int, value_text: Callable[[int], str],
              colour: colors.Color = _BAR, label_every: int = 1, muted: int = 0) -> Drawing:
    """Vertical bars with their labels below (every ``label_every``-th) and four gridlines;
    the first ``muted`` bars in grey (what is history rather than a probability)."""
    width, height, left, bottom = CONTENT_WIDTH, 150.0, 50.0, 26.0
    drawing = Drawing(width, height, initialFontName=register_japanese_font(),
                      initialFontSize=_SIZE)
    plot_w, plot_h = width - left - 10, height - bottom - 8
    top = max(top_value, 1)
    for k in range(5):
        level = top * k // 4
        y = bottom + plot_h * level / top
        drawing.add(Line(left, y, left + plot_w, y, strokeColor=_GRID, strokeWidth=0.4))
        drawing.add(_text(left - 3, y - 2, value_text(level), "end"))
    slot = plot_w / max(len(bars), 1)
    for i, (name, value) in enumerate(bars):
        h = plot_h * min(value, top) / top
        drawing.add(Rect(left + i * slot + slot * 0.12, bottom, slot * 0.76, h,
                         fillColor=_HISTORY if i < muted else colour, strokeColor=None,
                         strokeWidth=0))
        if i % label_every == 0:
            drawing.add(_text(left + i * slot + slot / 2, bottom - 9, name, "middle"))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeColor=_AXIS, strokeWidth=0.6))
    return drawing


def _permille(probability: str) -> int:
    return int(Decimal(probability) * 1000)


def _pct(probability: str | None, lang: str) -> str:
    return _l("none", lang) if probability is None else format_rate(Decimal(probability), lang, 1)


def blocks(summary: Mapping[str, Any], contract: Contract, lang: str,
           scope: Scope = WHOLE) -> list[Block]:
    """The report's rows, top to bottom, for a reader of ``scope``."""
    check_lang(lang)
    summary = scoped(summary, scope)
    cur = str(summary["currency"])

    def money(amount: int | None) -> str:
        return _l("none", lang) if amount is None else format_amount(int(amount), cur, lang)

    def fy(year: int) -> str:
        return format_fiscal_year(year, lang, currency=cur)

    def name(party: str) -> str:
        p = contract.party(party)
        return p.name_ja if lang == "ja" else p.name_en

    contract_name = contract.name_ja if lang == "ja" else contract.name_en
    out: list[Block] = list(title_rows(_l("title", lang), contract_name))
    books = summary["paths"]["books"]
    path = _l(summary["paths"]["payouts"]["path"], lang)
    out += fields([(_l("contract", lang), f"{contract_name}（{contract.id}）"
                    if lang == "ja" else f"{contract_name} ({contract.id})"),
                   (_l("runs", lang), f"{summary['runs']:,}"),
                   (_l("seed", lang), str(summary["seed"])),
                   (_l("from_year", lang), fy(int(summary["from_fiscal_year"]))),
                   (_l("known", lang), f"{summary['known_results']:,}"),
                   (_l("paths", lang), f"{path}; {_l('scalar_runs', lang)}: "
                                        f"{books['scalar_runs']:,}; "
                                        f"{_l('lockstep_runs', lang)}: "
                                        f"{books.get('lockstep_runs', 0):,}")])
    if not scope.whole:
        return out + _payer_blocks(summary, lang, money, fy, name)
    # Payments by year: fan chart and table.
    rows = summary["payments_by_year"]
    out += [gap(), heading(_l("payments", lang)), Row(12, (Cell(MARGIN, _l("fan", lang), 7.5,
                                                                grey=True),), keep=1)]
    out.append(chart(fan_chart(rows, fy, lambda a: format_amount(a, cur, lang))))
    out.append(table(
        (Column(_l("fiscal_year", lang), 1.2), Column(_l("budget_year", lang), 1.2),
         Column("P5", 1.3, "right"), Column("P50", 1.3, "right"), Column("P95", 1.3, "right"),
         Column(_l("mean", lang), 1.3, "right")),
        tuple((fy(r["fiscal_year"]), fy(r["budget_fiscal_year"]), money(r["p5"]),
               money(r["p50"]), money(r["p95"]), money(r["mean"])) for r in rows)))
    out += _authorisation_blocks(summary, lang, money, fy, name)
    # Loans.
    out += [gap(), heading(_l("loans", lang))]
    out.append(table(
        (Column(_l("loan", lang), 1.5), Column(_l("lender", lang), 1.6),
         Column(_l("p_shortfall", lang), 1.0, "right"),
         Column(_l("first_shortfall", lang), 1.3, "right"),
         Column(_l("expected_loss", lang), 1.1, "right"), Column(_l("p_loss", lang), 0.9,
                                                                 "right")),
        tuple((ln["loan"], name(ln["lender"]), _pct(ln["probability_of_shortfall"], lang),
               format_date(date.fromisoformat(ln["expected_first_shortfall_on"]), lang)
               if ln["expected_first_shortfall_on"] else _l("none", lang),
               money(ln["expected_loss"]), _pct(ln["probability_of_loss"], lang))
              for ln in summary["loans"])))
    by_due: dict[str, int] = {}
    for ln in summary["loans"]:
        for row in ln["shortfall_by_due_date"]:
            by_due[row["due_on"]] = max(by_due.get(row["due_on"], 0),
                                        _permille(row["probability"]))
    if by_due:
        # Due dates before the first simulated year are history: the same in every run.
        first_day = contract.fiscal_year_bounds(int(summary["from_fiscal_year"]))[0]
        history = sum(1 for d in by_due if date.fromisoformat(d) < first_day)
        caption = _l("shortfall_chart", lang) + (
            ("　" if lang == "ja" else " — ") + _l("history_bars", lang) if history else "")
        out.append(Row(14, (Cell(MARGIN, caption, 7.5, grey=True),), keep=1))
        bars = [(f"{d[:4]}/{int(d[5:7])}" if lang == "ja" else d[:7], v)
                for d, v in sorted(by_due.items())]
        step = max(1, -(-len(bars) // 12))
        out.append(chart(bar_chart(bars, 1000, lambda v: format_rate(
            Decimal(v) / 1000, lang, 0), _SHORT, step, muted=history)))
    out.append(table(
        (Column(_l("lender", lang), 2.0), Column(_l("expected_loss", lang), 1.2, "right"),
         Column(_l("p_loss", lang), 1.0, "right")),
        tuple((name(le["lender"]), money(le["expected_loss"]),
               _pct(le["probability_of_loss"], lang)) for le in summary["lenders"])))
    out += _fee_blocks(summary.get("fixed_fees_unpaid"), lang, money, fy, name)
    # Investors.
    if summary["classes"]:
        out += [gap(), heading(_l("investors", lang))]
        out.append(table(
            (Column(_l("class", lang), 1.6), Column(_l("irr_p5", lang), 1.0, "right"),
             Column(_l("irr_p50", lang), 1.0, "right"), Column(_l("irr_p95", lang), 1.0,
                                                                "right"),
             Column(_l("multiple", lang), 1.0, "right"),
             Column(_l("p_capital_loss", lang), 1.0, "right")),
            tuple((_class_name(contract, c["class"], lang), *[
                format_rate(Decimal(c["irr"][k]), lang, 2) if c["irr"][k] else _l("none", lang)
                for k in ("p5", "p50", "p95")],
                f"{Decimal(c['multiple']['p50']).quantize(Decimal('0.01'))}"
                f"{'倍' if lang == 'ja' else 'x'}" if c["multiple"]["p50"] else _l("none", lang),
                _pct(c["probability_of_capital_loss"], lang)) for c in summary["classes"])))
        for c in summary["classes"]:
            if not c["irr_histogram"]:
                continue
            out.append(Row(14, (Cell(MARGIN, f"{_l('irr_chart', lang)} — "
                                     f"{_class_name(contract, c['class'], lang)}", 7.5,
                                     grey=True),), keep=1))
            hist = c["irr_histogram"]
            peak = _nice(max(int(h["count"]) for h in hist))
            out.append(chart(bar_chart(
                [(format_rate(Decimal(h["from"]), lang, 1), int(h["count"])) for h in hist],
                peak, lambda v: f"{v:,}", _BAR, 5)))
    # Public cost.
    public = summary["public_cost"]
    out += [gap(), heading(_l("public", lang))]
    out.append(table(
        (Column(_l("item", lang), 2.0), Column("P5", 1.0, "right"), Column("P50", 1.0, "right"),
         Column("P95", 1.0, "right"), Column(_l("mean", lang), 1.0, "right")),
        tuple((_l(key, lang), money(public[field]["p5"]), money(public[field]["p50"]),
               money(public[field]["p95"]), money(public[field]["mean"]))
              for key, field in (("public_total", "total"), ("grant", "grant"),
                                 ("net", "municipalities_net")))))
    if public["per_kpi"]:
        out.append(gap(6))
        out.append(table(
            (Column(_l("kpi", lang), 2.2), Column(_l("expected_paid", lang), 1.1, "right"),
             Column(_l("expected_outcome", lang), 1.1, "right"),
             Column(_l("paid_per_unit", lang), 1.0, "right")),
            tuple((contract.kpi(k["kpi"]).name_ja if lang == "ja" else
                   contract.kpi(k["kpi"]).name_en, money(k["expected_paid"]),
                   f"{Decimal(k['expected_outcome']):,}", money(k["expected_paid_per_unit"]))
                  for k in public["per_kpi"])))
    out += [gap(), heading(_l("notes", lang))]
    notes = ["note_same_rules", "note_percentiles", "note_years", "note_history", "note_loss"]
    if summary.get("fixed_fees_unpaid", {}).get("by_due_date"):
        notes.append("note_fees")
    out += text_lines([_l(k, lang) for k in notes])
    return out


def _authorisation_blocks(summary: Mapping[str, Any], lang: str,
                          money: Callable[[int | None], str], fy: Callable[[int], str],
                          name: Callable[[str], str]) -> list[Block]:
    """Each payer's total against its 債務負担行為, and the probability of exceeding each
    year's limit."""
    payers = summary["payers"]
    out: list[Block] = [gap(), heading(_l("payers", lang))]
    out.append(table(
        (Column(_l("payer", lang), 1.4), Column(_l("total_due", lang), 1.3, "right"),
         Column(_l("total_p95", lang), 1.3, "right"),
         Column(_l("authorisation", lang), 1.4, "right"),
         Column(_l("p_exceed", lang), 1.1, "right")),
        tuple((name(p["payer"]), money(p["total_due"]["p50"]), money(p["total_due"]["p95"]),
               money(p["authorisation"]),
               _pct(p["years"][-1]["probability_above_authorisation"], lang))
              for p in payers)))
    years = [r["fiscal_year"] for r in payers[0]["years"]] if payers else []
    out.append(gap(6))
    out.append(table(
        (Column(_l("year_limits", lang), 2.0),
         *[Column(fy(y), 1.0, "right") for y in years]),
        tuple((name(p["payer"]), *[_pct(y["probability_above_year_limit"], lang)
                                   for y in p["years"]]) for p in payers)))
    return out


def _payer_blocks(summary: Mapping[str, Any], lang: str, money: Callable[[int | None], str],
                  fy: Callable[[int], str], name: Callable[[str], str]) -> list[Block]:
    """A scoped report's body: each payer it may show, its payments by results year against
    the year's limit, then its total against its authorisation; and the notes."""
    out: list[Block] = []
    for p in summary["payers"]:
        out += [gap(), heading(f"{name(p['payer'])}: {_l('payer_years', lang)}")]
        out.append(table(
            (Column(_l("fiscal_year", lang), 1.1), Column(_l("budget_year", lang), 1.1),
             Column("P5", 1.2, "right"), Column("P50", 1.2, "right"),
             Column("P95", 1.2, "right"), Column(_l("mean", lang), 1.2, "right"),
             Column(_l("year_limit", lang), 1.2, "right"),
             Column(_l("p_above_year", lang), 0.9, "right")),
            tuple((fy(r["fiscal_year"]), fy(r["budget_fiscal_year"]), money(r["due"]["p5"]),
                   money(r["due"]["p50"]), money(r["due"]["p95"]), money(r["due"]["mean"]),
                   money(r["year_limit"]), _pct(r["probability_above_year_limit"], lang))
                  for r in p["years"])))
    out += _authorisation_blocks(summary, lang, money, fy, name)
    out += [gap(), heading(_l("notes", lang))]
    out += text_lines([_l(k, lang) for k in ("scope_note", "note_same_rules",
                                             "note_percentiles", "note_years",
                                             "note_history")])
    return out


def _fee_blocks(fees: Mapping[str, Any] | None, lang: str, money: Callable[[int | None], str],
                fy: Callable[[int], str], name: Callable[[str], str]) -> list[Block]:
    """The fixed fees the vehicle cannot pay when due (a contract whose vehicle pays none
    has no such section): the probability, when, the funding gap; then per fee."""
    if not fees or not fees["by_due_date"]:
        return []
    first = fees["expected_first_unpaid_on"]
    out: list[Block] = [gap(), heading(_l("fees", lang))]
    out.append(table(
        (Column(_l("item", lang), 3.0), Column(_l("value", lang), 1.4, "right")),
        ((_l("p_fee_unpaid", lang), _pct(fees["probability_unpaid"], lang)),
         (_l("first_fee_unpaid", lang), format_date(date.fromisoformat(first), lang)
          if first else _l("none", lang)),
         (_l("fee_gap", lang), money(fees["expected_unpaid"])),
         (_l("fee_gap_p95", lang), money(fees["unpaid"]["p95"])))))
    out.append(gap(6))
    out.append(table(
        (Column(_l("provider", lang), 1.9), Column(_l("fiscal_year", lang), 0.9),
         Column(_l("fee_due_on", lang), 1.2, "right"), Column(_l("fixed_fee", lang), 1.2,
                                                               "right"),
         Column(_l("p_unpaid", lang), 0.8, "right"), Column(_l("p_unpaid_by", lang), 1.0,
                                                            "right"),
         Column(_l("expected_unpaid", lang), 1.2, "right")),
        tuple((name(r["provider"]), fy(int(r["fiscal_year"])),
               format_date(date.fromisoformat(r["due_on"]), lang), money(r["fee"]),
               _pct(r["probability_unpaid"], lang), _pct(r["probability_unpaid_by_then"], lang),
               money(r["expected_unpaid"])) for r in fees["by_due_date"])))
    return out


def _class_name(contract: Contract, class_id: str, lang: str) -> str:
    unit = next(u for u in contract.unit_classes if u.id == class_id)
    return (unit.name_ja if lang == "ja" else unit.name_en) or class_id


def render(summary: Mapping[str, Any], contract: Contract, lang: str = "ja",
           scope: Scope = WHOLE) -> bytes:
    """The report's PDF bytes for a reader of ``scope`` (the whole contract's by default):
    the same summary and scope give the same bytes."""
    check_lang(lang)
    rows = blocks(summary, contract, lang, scope)
    labels = LABELS if scope.whole else {**LABELS, **SCOPED_LABELS}
    alphabet = seed_alphabet(tuple(v[0 if lang == "ja" else 1] for v in labels.values()))
    font = register_japanese_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, initialFontName=font, initialFontSize=9,
                    lang=lang, pageCompression=1)
    title = _l("title", lang)
    canvas.setTitle(f"{title} {summary['contract']} seed {summary['seed']}")
    canvas.setSubject(contract.name_ja if lang == "ja" else contract.name_en)
    canvas.setCreator("sib-settlement")
    japanese_font().seed(canvas._doc, alphabet)
    pages = _paginate(rows)
    running = f"{_l('running', lang)}　{summary['contract']}　{_l('runs', lang)} " \
              f"{summary['runs']:,}　{_l('seed', lang)} {summary['seed']}"
    for number, page in enumerate(pages, start=1):
        pen = _Pen(canvas, alphabet)
        pen.rule(PAGE_HEIGHT - 34, 0.4)
        pen.rule(50, 0.4)
        pen.text(Cell(MARGIN, running, fit_size(running, 7.5, CONTENT_WIDTH), grey=True),
                 PAGE_HEIGHT - 30)
        pen.text(Cell(MARGIN + CONTENT_WIDTH, page_number(number, len(pages)), 8, "right"), 40)
        for top, row in page.rows:
            pen.row(top, row)
        canvas.showPage()
    with _binary_streams():
        canvas.save()
    return buffer.getvalue()
