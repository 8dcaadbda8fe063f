"""Calculation traces in the document's language.

Settlement keeps every trace as data (:mod:`settlement.trace`): phrase keys, figures with their
units, the rounding applied. This module writes that data in Japanese the way a finance office
writes it, with a wording for every phrase key (:data:`JAPANESE_WORDS`; a key without one fails
the tests), and gives each line of a trace in both languages for the documents: English from
:class:`settlement.trace.English`, Japanese from :class:`Japanese`. Nothing here reads English
text.

Figures are kept exact. In Japanese, amounts carry ``円`` (yen contracts) and grouped digits, or
the currency's code in major units (``GBP 1,250.50``),
KPI values their unit (``%``, ``人``, ``歩``, ``件``), rates read as percentages, shares carry
their percentage, dates are written in 和暦, rounding modes as 切り捨て / 四捨五入 / 偶数丸め, and
payers by their Japanese names.

Traces stored before settlement kept them as data (English text only, no ``version``) cannot be
translated without reading sentences back; they are given as recorded, in both languages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from investors.statement_data import Text
from ledger.calendar import wareki_date
from ledger.money import HOME_CURRENCY, amount_text
from settlement.trace import (
    ROUNDING_TERMS,
    About,
    English,
    Figure,
    Party,
    Phrase,
    Rounding,
    Step,
    Subject,
    Trace,
    Unit,
    Wording,
    Writer,
    exact_parts,
    grouped,
    is_lower,
    is_structured,
    kpi_money_minor,
    ratio,
)

# The unit a KPI figure is written with in Japanese.
KPI_UNITS_JA: dict[Unit, str] = {Unit.PERCENT: "%", Unit.PEOPLE: "人", Unit.STEPS: "歩",
                                  Unit.COUNT: "件", Unit.YEN: "円"}


@dataclass(frozen=True)
class TraceStyle:
    """How figures of one contract are written in Japanese.

    Attributes:
        currency: the contract's currency; amounts (minor units) carry ``円`` only for JPY.
        kpi_unit: the KPI's unit for KPI figures the trace does not name one for (traces
            computed without the contract).
        names: party id → Japanese name, for the payers a trace names.
    """

    currency: str = "JPY"
    kpi_unit: str = ""
    names: Mapping[str, str] = field(default_factory=dict)


def _approx(exact: str, approx: str | None, suffix: str = "") -> str:
    """An exact figure with its suffix, and ``（≒x）`` after a fraction."""
    if approx is None:
        return f"{exact}{suffix}"
    return f"{exact}{suffix}（≒{approx}{suffix}）"


def _percent(value: Any) -> str | None:
    """A fraction of one as an exact percentage (``0.5625`` → ``56.25``), or None when it has
    no finite decimal form."""
    exact, approx = exact_parts(value)
    if approx is not None:
        return None
    return f"{(Decimal(exact) * 100).normalize():f}"


class Japanese(Writer):
    """Traces in Japanese, for one contract's :class:`TraceStyle`."""

    separator = "、"

    def __init__(self, style: TraceStyle | None = None) -> None:
        self.style = style or TraceStyle()

    def _yen(self, value: Any, always: bool = False) -> str:
        """An amount: yen with ``円`` as ever; another currency in major units after its code,
        as the Japanese documents write it (``GBP 1,250.50``, ``USD 270,000.00``)."""
        if not always and self.style.currency != HOME_CURRENCY:
            return amount_text(value, self.style.currency, "ja")
        suffix = "円"
        exact, approx = exact_parts(value)
        if approx is None:
            return f"{grouped(exact)}{suffix}"
        return f"{exact}{suffix}（≒{grouped(approx)}{suffix}）"

    def _plain(self, value: Any, group: bool = True) -> str:
        exact, approx = exact_parts(value)
        return _approx(grouped(exact) if group and approx is None else exact, approx)

    def figure(self, figure: Figure) -> str:
        value, unit = figure.value, figure.unit
        if isinstance(value, date):
            return wareki_date(value)
        if unit is Unit.KPI:
            try:
                unit = Unit(self.style.kpi_unit)
            except ValueError:
                unit = Unit.NUMBER
        if unit is Unit.MONEY and self.style.currency != HOME_CURRENCY:
            return amount_text(kpi_money_minor(value, self.style.currency), self.style.currency,
                               "ja")
        if unit in (Unit.MINOR, Unit.MONEY):
            return self._yen(value)
        if unit is Unit.YEN:
            return self._yen(value, always=True)
        if unit is Unit.SHARE:
            percent = _percent(value)
            return self._plain(value, False) if percent is None \
                else f"{self._plain(value, False)}（{percent}%）"
        if unit is Unit.RATE:
            percent = _percent(value)
            return self._plain(value, False) if percent is None else f"{percent}%"
        if unit is Unit.DAYS:
            return f"{self._plain(value)}日"
        exact, approx = exact_parts(value)
        return _approx(grouped(exact) if approx is None else exact, approx,
                       KPI_UNITS_JA.get(unit, ""))

    def term(self, figure: Figure) -> str:
        if figure.unit in (Unit.MINOR, Unit.MONEY, Unit.YEN, Unit.DATE):
            return self.figure(figure)
        assert not isinstance(figure.value, date)
        return self._plain(figure.value, False)

    def party(self, party: Party) -> str:
        return self.style.names.get(party.id, party.id)

    def input_line(self, step: Step) -> str:
        return f"{self.label(step)}：{self(step.value)}"

    def step_line(self, step: Step) -> str:
        return (f"{self.label(step)}：{self.formula(step)}{self.wording(step.phrase).joint}"
                f"{self(step.value)}")

    def rounding_line(self, rounding: Rounding) -> str:
        mode = self(ROUNDING_TERMS[rounding.mode])
        head = (f"端数処理（{mode}）：{self.amount(rounding.exact)} → "
                f"{self.amount(rounding.result_minor)}")
        dropped = rounding.dropped
        if not dropped:
            return f"{head}（端数なし）"
        if dropped < 0:
            return f"{head}（{mode}による差 {self.amount(dropped)}）"
        return f"{head}（端数 {self.amount(dropped)}を{mode}）"


# --------------------------------------------------------------------------- the wordings

def _measure_ja(w: Writer, s: Step) -> str:
    """分配率を決めるもの：KPIの評価確定値、または成果連動支払の受領額（``measure``）。"""
    measure = s.get("measure")
    return w(measure) if measure is not None else f"{w(s['kpi'])}の評価確定値"


def _span(w: Writer, s: Step) -> str:
    upper = s.get("to")
    return f"{w(s['from'])}以上" + ("" if upper is None else f"{w(upper)}未満")


def _per_person(w: Writer, s: Step) -> str:
    each = f"「成果件数 × {w(s['price'])}」"
    if s.get("cap") is not None:
        each += f"と一人当たり上限{w(s['cap'])}のいずれか小さい額"
    return f"各人の{each}の合計（{w.n(s['persons'])}人分）"


def _guarantee(w: Writer, s: Step) -> str:
    cover = s.get("share")
    text = f"{w(s['unpaid'])} × {w.n(cover) if cover is not None else 1}"
    return text + (f"（上限{w(s['maximum'])}）" if s.get("maximum") is not None else "")


def _capital_label(w: Writer, s: Step) -> str:
    amount, entries = s["amount"], s["entries"]
    returned = isinstance(amount, Figure) and not isinstance(amount.value, date) \
        and amount.value < 0
    more = isinstance(entries, Figure) and entries.value != 1
    return (f"{w(s['on'])}の出資{'返還' if returned else '払込'}"
            + (f"（{w.n(entries)}件）" if more else ""))


def _capital_formula(w: Writer, s: Step) -> str:
    if s.get("rate") is not None:
        return f"{w(s['amount'])} × {w.n(s['rate'])} × {w.n(s['days'])} / {w.n(s['basis'])}"
    return (f"{w(s['amount'])} × 期間ごとの年率×日数の合計（{w.n(s['rate_days'])} / "
            f"{w.n(s['denominator'])}） / {w.n(s['basis'])}")


def _owed(w: Writer, s: Step) -> str:
    accrued, paid = s["accrued"], s["paid"]
    assert isinstance(accrued, Figure) and isinstance(paid, Figure)
    over = accrued.value < paid.value  # type: ignore[operator]
    return (f"{w(accrued)} − {w(paid)}"
            + ("（既分配額が発生額を上回るため支払額なし）" if over else ""))


def _rate_from(w: Writer, s: Step) -> str:
    since = s.get("from")
    return (f"{w(since)}から" if since is not None else "") + w(s["rate"])


JAPANESE_WORDS: dict[Phrase, Wording] = {
    Phrase.HIGHER_IS_BETTER: Wording("高いほど良い"),
    Phrase.LOWER_IS_BETTER: Wording("低いほど良い"),
    Phrase.YES: Wording("達成"),
    Phrase.NO: Wording("未達成"),
    Phrase.ALL_OF: Wording("すべて"),
    Phrase.OUTCOME_PAYMENTS_RECEIVED: Wording("当該年度分の成果連動支払の受領額"),
    Phrase.OUTCOME_PAYMENTS_SHARE: Wording(
        "当該年度分の成果連動支払の受領額（支払上限額に対する割合）"),
    Phrase.ANY_OF: Wording("いずれか"),
    Phrase.PAID_IN_FULL: Wording("全額"),
    Phrase.PAID_IN_PART: Wording("一部"),
    Phrase.PROVIDER_FEES: Wording("サービス提供者への成果報酬"),
    Phrase.COSTS: Wording("費用"),
    Phrase.INTEREST: Wording("利息"),
    Phrase.PRINCIPAL: Wording("元本"),
    Phrase.DEFAULT_INTEREST: Wording("遅延損害金"),
    Phrase.INVESTOR_RETURNS: Wording("出資者への分配"),
    Phrase.ACT_365F: Wording("実日数／365日（うるう年も365日）"),
    Phrase.ACT_360: Wording("実日数／360日"),
    Phrase.THIRTY_360: Wording("30日／360日（1か月を30日として計算）"),
    Phrase.FIRST_DAY_ONLY: Wording("片端（初日算入・末日不算入）"),
    Phrase.BOTH_ENDS: Wording("両端（初日・末日とも算入）"),
    Phrase.LAST_DAY_ONLY: Wording("末日のみ算入"),
    Phrase.NEITHER_END: Wording("初日・末日とも不算入"),
    Phrase.TRUNCATE: Wording("切り捨て"),
    Phrase.HALF_UP: Wording("四捨五入"),
    Phrase.HALF_EVEN: Wording("偶数丸め"),
    Phrase.RULE_BINARY_THRESHOLD: Wording(
        lambda w, s: f"基準値達成型：実績値が{w(s['threshold'])}"
                     f"{'以下' if is_lower(s) else '以上'}で上限額の全額、達成しない場合は"
                     f"{w.amount(0)}"),
    Phrase.RULE_LINEAR: Wording(
        lambda w, s: f"線形按分型：実績値{w(s['floor'])}で{w.amount(0)}、{w(s['cap'])}で"
                     "上限額の全額、その間は直線で按分"),
    Phrase.RULE_PRO_RATA: Wording(
        lambda w, s: "目標値按分型：上限額 × 達成率（"
                     f"{'目標値 ÷ 実績値' if is_lower(s) else '実績値 ÷ 目標値'}、目標値"
                     f"{w(s['target'])}）、上限額まで"),
    Phrase.RULE_STEPPED: Wording(lambda w, s: "段階型：" + "；".join(w.each(s["tiers"]))),
    Phrase.RULE_RATE_CARD: Wording(lambda w, s: f"単価型：成果1件当たり{w(s['price'])}"),
    Phrase.RULE_SAVINGS_SHARE: Wording(
        lambda w, s: f"削減額分配型：削減額のうち{w(s['hurdle'])}までは{w(s['before'])}、"
                     f"超える部分は{w(s['after'])}"),
    Phrase.RULE_FIXED: Wording("固定払：成果にかかわらず履行確認により上限額の全額"),
    Phrase.RULE_FIXED_ON_CONDITIONS: Wording(
        lambda w, s: f"条件付き固定払：下記の支払条件の{w(s['mode'])}を満たす場合に上限額の全額、"
                     f"満たさない場合は{w.amount(0)}"),
    Phrase.RULE_CONTRACT_CAP: Wording(lambda w, s: f"契約期間全体の支払上限額 {w(s['cap'])}"),
    Phrase.RULE_CONSUMPTION_TAX: Wording(
        lambda w, s: f"消費税：請求額の合計に税率{w(s['rate'])}（請求書ごとに1回計算）"),
    Phrase.RULE_CONSUMPTION_TAX_INCLUDED: Wording(
        lambda w, s: f"消費税：請求額（税込）に含まれる税率{w(s['rate'])}の消費税"
                     "（請求書ごとに1回計算）"),
    Phrase.RULE_GRANT: Wording(
        lambda w, s: "交付金：支払者の負担額の{1}分の{0}".format(*ratio(s["rate"]))),
    Phrase.RULE_WATERFALL: Wording(lambda w, s: "配分の順位：" + " → ".join(w.each(s["order"]))),
    Phrase.RULE_LOSS: Wording("契約終了時に償還されていない元本の損失処理"),
    Phrase.RULE_LOAN_INTEREST: Wording(
        lambda w, s: f"年利{w(s['rate'])}、{w(s['day_count'])}、{w(s['ends'])}、"
                     f"利息の端数は{w(s['rounding'])}"),
    Phrase.RULE_TARGET_RETURN: Wording(
        lambda w, s: f"目標分配率 年{'、'.join(w.each(s['rates']))}（実日数／"
                     f"{w.n(s['basis'])}日）：出資金の払込額ごとに払込日から返還日まで日割りで"
                     "計算し、累計額を1回だけ端数処理して既分配額を差し引く"),
    Phrase.RULE_TIERED_RETURN: Wording(
        lambda w, s: f"成果連動分配率：各年度の分配率は{_measure_ja(w, s)}が該当する"
                     "区分による"
                     + (f"（当初{w.n(s['years'])}年度は最低{w(s['minimum'])}）"
                        if s.get("years") and s["years"].value else "")  # type: ignore[union-attr]
                     + f"。出資金の払込額ごとに日割り（実日数／{w.n(s['basis'])}日）で計算し、"
                     "累計額を1回だけ端数処理して既分配額を差し引く"),
    Phrase.RULE_CURVE_RETURN: Wording(
        lambda w, s: f"成果連動分配率：各年度の分配率は{_measure_ja(w, s)}に応じて"
                     "折れ線で定める"
                     + (f"（当初{w.n(s['years'])}年度は最低{w(s['minimum'])}）"
                        if s.get("years") and s["years"].value else "")  # type: ignore[union-attr]
                     + f"。出資金の払込額ごとに日割り（実日数／{w.n(s['basis'])}日）で計算し、"
                     "累計額を1回だけ端数処理して既分配額を差し引く"),
    Phrase.RULE_IRR_RETURN: Wording(
        lambda w, s: f"元本＋内部収益率{w(s['rate'])}：日付のある出資・分配の各額を"
                     f"(1＋年率)^(日数／{w.n(s['basis'])})で評価し、内部収益率が{w(s['rate'])}となる額から"
                     "既分配額を差し引く"),
    Phrase.RULE_COMPOUNDING_RETURN: Wording(
        lambda w, s: f"年{w(s['rate'])}の1年複利（1年未満は日割り、1年＝{w.n(s['basis'])}日）"
                     "で出資・分配の各額を評価し、既分配額を差し引く"),
    Phrase.RULE_FIXED_RETURN: Wording(
        lambda w, s: f"確定額の分配 {w(s['amount'])}（最終分配時に支払）"),
    Phrase.TIER_AMOUNT: Wording(lambda w, s: f"{_span(w, s)} → {w(s['amount'])}"),
    Phrase.TIER_PERCENT: Wording(lambda w, s: f"{_span(w, s)} → 上限額の{w.n(s['percent'])}%"),
    Phrase.PAYER_PART: Wording(lambda w, s: f"{w(s['payer'])} {w(s['amount'])}"),
    Phrase.RATE_FROM: Wording(_rate_from),
    Phrase.MAXIMUM: Wording("上限額"),
    Phrase.AUDITED_VALUE: Wording("実績値（評価確定値）"),
    Phrase.DIRECTION: Wording("評価の向き"),
    Phrase.TARGET: Wording("目標値"),
    Phrase.PERSONS: Wording("対象者数"),
    Phrase.EARNED_BEFORE: Wording("前年度までの成果額"),
    Phrase.EARNED_THIS_YEAR: Wording("本年度の成果額（上限適用前）"),
    Phrase.AVAILABLE: Wording("配分可能額"),
    Phrase.UNPAID: Wording("未償還元本"),
    Phrase.RATE_ANNUAL: Wording("目標分配率（年率）"),
    Phrase.VALUED_ON: Wording("算定基準日"),
    Phrase.CONDITION_MET: Wording(
        lambda w, s: f"支払条件（{w(s['name'])}）",
        lambda w, s: f"{w(s['kpi'])} {'≦' if is_lower(s) else '≧'} {w(s['threshold'])}",
        " → "),
    Phrase.CONDITIONS_HOLD: Wording(
        lambda w, s: f"支払条件の判定（{w(s['mode'])}の条件を満たすこと）", None, ""),
    Phrase.THRESHOLD_MET: Wording(
        "基準値の達成",
        lambda w, s: f"{w(s['kpi'])} {'≦' if is_lower(s) else '≧'} {w(s['threshold'])}",
        " → "),
    Phrase.SHARE_EARNED: Wording(
        "支払割合",
        lambda w, s: f"({w.n(s['kpi'])} − {w.n(s['floor'])}) ÷ ({w.n(s['cap'])} − "
                     f"{w.n(s['floor'])})（0～1の範囲に限る）"),
    Phrase.AMOUNT_OF_SHARE: Wording(
        "算定額", lambda w, s: f"{w.n(s['share'])} × {w(s['maximum'])}"),
    Phrase.ACHIEVEMENT: Wording(
        "達成率",
        lambda w, s: f"{w.n(s['target'])} ÷ {w.n(s['kpi'])}（低いほど良い指標：目標値 ÷ 実績値）"
        if is_lower(s) else f"{w.n(s['kpi'])} ÷ {w.n(s['target'])}"),
    Phrase.AMOUNT_OF_ACHIEVEMENT: Wording(
        "算定額", lambda w, s: f"達成率（1を上限）× {w(s['maximum'])}"),
    Phrase.TIER_BY_AMOUNT: Wording("該当する段階", lambda w, s: f"{w(s['from'])} ≦ {w(s['kpi'])}"),
    Phrase.TIER_BY_PERCENT: Wording(
        "該当する段階", lambda w, s: f"{w.n(s['percent'])}% × {w(s['maximum'])}"),
    Phrase.NO_TIER: Wording(
        "該当する段階", lambda w, s: f"{w(s['kpi'])}はいずれの段階にも該当しない"),
    Phrase.EARNED_PER_PERSON: Wording(
        lambda w, s: "成果額（一人ごとに上限適用）" if s.get("cap") is not None
        else "成果額（一人ごとの合計）", _per_person),
    Phrase.EARNED_OUTCOMES: Wording(
        "成果額", lambda w, s: f"{w.n(s['outcomes'])}件 × {w(s['price'])}"),
    Phrase.TOTAL_CAP: Wording("総額上限の適用", lambda w, s: f"{w(s['cap'])}以内"),
    Phrase.SHARE_BELOW_HURDLE: Wording(
        "基準額までの部分", lambda w, s: f"{w(s['savings'])} × {w.n(s['share'])}"),
    Phrase.SHARE_ABOVE_HURDLE: Wording(
        "基準額を超える部分", lambda w, s: f"{w(s['savings'])} × {w.n(s['share'])}"),
    Phrase.CAPPED: Wording(
        "上限額の適用", lambda w, s: f"{w.amount(0)}以上、上限額{w(s['maximum'])}以下"),
    Phrase.SPLIT_BETWEEN_PAYERS: Wording(
        "支払者間の按分", lambda w, s: f"各支払者の負担上限額の比による（{w(s['parts'])}）"),
    Phrase.ROOM_UNDER_CAP: Wording(
        "上限までの残額", lambda w, s: f"{w(s['cap'])} − {w(s['earned_before'])}"),
    Phrase.TAX: Wording("消費税額", lambda w, s: f"{w(s['earned'])} × {w.n(s['rate'])}"),
    Phrase.TAX_INSIDE: Wording(
        "うち消費税額", lambda w, s: "{} × {}/{}".format(w(s["earned"]), *ratio(s["share"]))),
    Phrase.TAX_BOOKED_BEFORE: Wording(
        "同一年度の他の評価で計上済みの消費税額を控除",
        lambda w, s: f"{w(s['invoice_tax'])} − {w(s['before'])}"),
    Phrase.GRANT_COVERED: Wording(
        "交付金対象額", lambda w, s: "{} × {}/{}".format(w(s["due"]), *ratio(s["rate"]))),
    Phrase.GRANT_LIMIT: Wording(
        "交付金の上限の適用",
        lambda w, s: f"端数処理（{w(s['mode'])}）後 {w(s['rounded'])}、全支払者の合計で上限"
                     f"{w(s['limit'])}とし各支払者の交付額の比で按分"),
    Phrase.WATERFALL_STEP: Wording(
        lambda w, s: f"{w(s['step'])}（優先順位{w.n(s['seniority'])}）",
        lambda w, s: f"支払うべき額 {w(s['owed'])}（{w(s['paid'])}支払）"),
    Phrase.GUARANTEE: Wording("保証による補填額", _guarantee),
    Phrase.WRITTEN_DOWN: Wording(
        "元本の減額", lambda w, s: f"{w(s['unpaid'])} − {w(s['guaranteed'])}"),
    Phrase.INTEREST_ON: Wording(
        lambda w, s: f"{w(s['amount'])}に対する利息（{w(s['since'])}から{w(s['until'])}まで）",
        lambda w, s: f"{w(s['amount'])} × {w.n(s['rate'])} × {w.n(s['days'])} / "
                     f"{w.n(s['basis'])}"),
    Phrase.INTEREST_BEFORE_ROUNDING: Wording("利息の合計（端数処理前）", "上記の合計"),
    Phrase.PRINCIPAL_GRACE: Wording("元本返済額", "据置期間中のため利息のみ"),
    Phrase.PRINCIPAL_LAST: Wording("元本返済額", "最終回：残元本の全額"),
    Phrase.PRINCIPAL_BULLET: Wording("元本返済額", "満期一括返済：元本は最終回に返済"),
    Phrase.PRINCIPAL_EQUAL: Wording("元本返済額", "元金均等返済の割賦元金"),
    Phrase.PRINCIPAL_TABLE: Wording("元本返済額", "約定返済表による返済元金"),
    Phrase.PRINCIPAL_LEVEL: Wording(
        "元本返済額",
        lambda w, s: f"元利均等返済：毎回の返済額 {w(s['level'])} − 利息 {w(s['interest'])}"),
    Phrase.NEXT_DUE_DATE: Wording("次回返済期日", lambda w, s: f"第{w.n(s['instalment'])}回"),
    Phrase.NO_OPEN_PERIOD: Wording(
        "利息計算期間外", lambda w, s: f"{w(s['on'])}は初回借入前または最終返済期日後"),
    Phrase.CAPITAL_CHANGE: Wording(_capital_label, _capital_formula),
    Phrase.ACCRUED: Wording(
        "発生額", lambda w, s: f"{w(s['on'])}までの出資残高に対する分配額"),
    Phrase.ACCRUED_ROUNDED: Wording("発生額（端数処理後）", lambda w, s: w(s["mode"])),
    Phrase.ALREADY_PAID: Wording("既分配額", lambda w, s: f"{w(s['on'])}までに分配した額"),
    Phrase.OWED: Wording("未払分配額", _owed),
    Phrase.YEAR_RATE: Wording(
        lambda w, s: f"{w.n(s['year'])}年度の分配率",
        lambda w, s: (("受領額なし" if s.get("measure") else "評価確定値なし")
                      if s.get("kpi") is None
                      else f"{'受領額' if s.get('measure') else '評価確定値'} {w.n(s['kpi'])} "
                           f"→ 区分の分配率 {w(s['tier'])}")
        + f"、最低分配率 {w(s['floor'])}", " → "),
    Phrase.FLOW_VALUE: Wording(
        lambda w, s: f"{w(s['on'])}の出資・分配",
        lambda w, s: f"{w(s['amount'])} × {w.n(s['days'])}日分の成長率 {w.n(s['growth'])}"),
    Phrase.FLOWS_NET: Wording(
        "評価額による発生額",
        lambda w, s: f"{w(s['valued'])} − 出資残高 {w(s['outstanding'])} + 既分配額 "
                     f"{w(s['paid'])}"),
    Phrase.FIXED_RETURN_DUE: Wording(
        "確定額の分配",
        lambda w, s: f"{w(s['amount'])}（最終分配："
                     f"{'該当' if s.get('final') is Phrase.YES else '非該当'}）"),
    Phrase.RETURN_CAPPED: Wording(
        "分配の上限", lambda w, s: f"発生額 {w(s['accrued'])} は上限を超える"),
}


def _payer(w: Writer, a: About) -> str:
    return w.party(Party(a.payer)) if a.payer else ""


def _tranche_ja(w: Writer, a: About) -> str:
    year = f"{a.fiscal_year}年度" if a.fiscal_year is not None else ""
    within = "・".join(x for x in (year, _payer(w, a)) if x)
    return f"{a.tranche or '成果連動支払'}" + (f"（{within}）" if within else "")


def _instalment_ja(w: Writer, a: About) -> str:
    assert a.on is not None
    nominal = f"、約定日{wareki_date(a.nominal_on)}" \
        if a.nominal_on is not None and a.nominal_on != a.on else ""
    return f"第{a.instalment}回返済（返済期日{wareki_date(a.on)}{nominal}）"


def _investor_return_ja(w: Writer, a: About) -> str:
    if a.instrument is None:
        return a.name or "出資者への未払分配額"
    on = f"（{wareki_date(a.on)}時点）" if a.on is not None else ""
    return f"{a.instrument}への未払分配額{on}"


JAPANESE_SUBJECTS: dict[Subject, Callable[[Writer, About], str]] = {
    Subject.TRANCHE: _tranche_ja,
    Subject.CONTRACT_CAP: lambda w, a: f"契約期間全体の支払上限額の適用（{a.fiscal_year}年度）",
    Subject.CONSUMPTION_TAX: lambda w, a: f"消費税（{a.fiscal_year}年度・{_payer(w, a)}）",
    Subject.GRANT: lambda w, a: f"交付金 {a.grant}（{a.fiscal_year}年度・{_payer(w, a)}）",
    Subject.WATERFALL: lambda w, a: "成果連動支払金の配分",
    Subject.LOSS: lambda w, a: f"{a.instrument}の元本の損失",
    Subject.INVESTOR_RETURN: _investor_return_ja,
    Subject.INSTALMENT: _instalment_ja,
    Subject.ACCRUED_INTEREST: lambda w, a: (f"{wareki_date(a.on)}までの経過利息（支払期日未到来）"
                                            if a.on is not None else "経過利息"),
}

Japanese.words = JAPANESE_WORDS
Japanese.subjects = JAPANESE_SUBJECTS


# --------------------------------------------------------------------------- the lines

def as_trace(trace: Trace | Mapping[str, Any]) -> Trace | None:
    """A trace as data: itself, or read from its stored JSON; None for a trace stored as
    English text only (before version 2)."""
    if isinstance(trace, Trace):
        return trace
    return Trace.from_dict(trace) if is_structured(trace) else None


def _recorded(trace: Mapping[str, Any]) -> list[str]:
    """The lines of a trace stored as English text only, as recorded."""
    out = [str(trace["rule"])]
    out += [f"{k} = {v}" for k, v in trace["inputs"].items()]
    out += [f"{s['label']}: {s['formula']} = {s['value']}" for s in trace["steps"]]
    if trace.get("rounding"):
        out.append(f"rounding: {trace['rounding']}")
    return out


def english_lines(trace: Trace | Mapping[str, Any], currency: str) -> list[str]:
    """The trace's lines in English, amounts in ``currency`` (the contract's): the rule, each
    input, each step, the rounding."""
    data = as_trace(trace)
    return English(currency).body(data) if data is not None \
        else _recorded(trace)  # type: ignore[arg-type]


def japanese_lines(trace: Trace | Mapping[str, Any], style: TraceStyle | None = None
                   ) -> list[str]:
    """The trace's lines in Japanese, line for line with :func:`english_lines` (a trace stored
    as English text only is given as recorded)."""
    data = as_trace(trace)
    if data is None:
        return _recorded(trace)  # type: ignore[arg-type]
    return Japanese(style).body(data)


def japanese_subject(trace: Trace | Mapping[str, Any], style: TraceStyle | None = None) -> str:
    """What the trace is about, in Japanese."""
    data = as_trace(trace)
    if data is None:
        return str(trace["subject"])  # type: ignore[index]
    return Japanese(style).subject(data.about)


def trace_text(trace: Trace | Mapping[str, Any], style: TraceStyle | None = None
               ) -> tuple[Text, ...]:
    """The trace's lines in both document languages."""
    currency = (style or TraceStyle()).currency
    return tuple(Text(ja, en) for ja, en in zip(japanese_lines(trace, style),
                                                english_lines(trace, currency), strict=True))
