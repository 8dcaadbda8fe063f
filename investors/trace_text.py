"""Calculation traces in the document's language.

Settlement records every trace in English (:mod:`settlement.trace`): a rule text, named inputs,
labelled steps with their formulas, and the rounding. A Japanese finance officer must be able
to check the same calculation in Japanese, written the way a finance office writes it. This
module reads a trace as it is stored with the settlement run (the JSON dict) and gives each of
its lines in both languages: the English line as recorded, and the Japanese line built from a
vocabulary of the fixed phrases the producers in ``settlement/payouts.py`` and
``settlement/engine.py`` use.

Figures are kept exactly as recorded. In Japanese, amounts carry ``円`` (yen contracts) and
grouped digits, KPI values their unit (``%``, ``人``, ``歩``), rates in rule texts read as
percentages, rounding modes as 切り捨て / 四捨五入 / 切り上げ, and payer ids become the payers'
names. A phrase the vocabulary does not know is printed as recorded — never dropped — and
reported by :func:`unknown_phrases`, so that a test fails as soon as a producer emits a new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from investors.statement_data import Text

# Rounding modes (``ledger.rounding.RoundingMode`` values) as a finance office names them.
ROUNDING_MODES_JA: dict[str, str] = {
    "truncate": "切り捨て",
    "half_up": "四捨五入",
    "half_even": "偶数丸め",
    "ceiling": "切り上げ",
    "up": "切り上げ",
}

# Trace inputs: name → Japanese name.
INPUT_NAMES_JA: dict[str, str] = {
    "maximum": "上限額",
    "audited value": "実績値（評価確定値）",
    "direction": "評価の向き",
    "target": "目標値",
    "persons": "対象者数",
    "earned in earlier years": "前年度までの成果額",
    "earned this year before cap": "本年度の成果額（上限適用前）",
}

DIRECTIONS_JA: dict[str, str] = {"higher is better": "高いほど良い",
                                 "lower is better": "低いほど良い"}

# Step labels: label → Japanese label.
STEP_LABELS_JA: dict[str, str] = {
    "threshold met": "基準値の達成",
    "share earned": "支払割合",
    "amount": "算定額",
    "achievement": "達成率",
    "tier": "該当する段階",
    "earned per person": "成果額（一人ごとに上限適用）",
    "earned": "成果額",
    "total cap": "総額上限の適用",
    "share below hurdle": "基準額までの部分",
    "share above hurdle": "基準額を超える部分",
    "capped": "上限額の適用",
    "split between payers": "支払者間の按分",
    "room under the cap": "上限までの残額",
    "tax": "消費税額",
    "covered": "交付金対象額",
}

YES_NO_JA: dict[str, str] = {"yes": "達成", "no": "未達成"}

# The unit a KPI value is written with in Japanese (``contracts.model.Kpi.unit``).
KPI_UNITS_JA: dict[str, str] = {"percent": "%", "people": "人", "steps": "歩", "yen": "円",
                                 "count": "件"}

_NUMBER = re.compile(r"(-?)(\d[\d,]*)(\.\d+)?")
_FRACTION = re.compile(r"(-?\d+)/(\d+) \(≈(-?[\d.]+)\)")


@dataclass(frozen=True)
class TraceStyle:
    """How figures of one contract are written in Japanese.

    Attributes:
        currency: the contract's currency; amounts (minor units) carry ``円`` only for JPY.
        kpi_unit: the unit of the tranche's KPI (``percent``, ``people``…), for KPI values.
        names: party id → Japanese name, for the payers a split names.
    """

    currency: str = "JPY"
    kpi_unit: str = ""
    names: Mapping[str, str] = field(default_factory=dict)


def _grouped(figure: str) -> str | None:
    """A plain decimal figure with its integer part grouped (``1687500.5`` →
    ``1,687,500.5``), or None if ``figure`` is not one."""
    match = _NUMBER.fullmatch(figure)
    if match is None:
        return None
    sign, units, decimals = match.groups()
    return f"{sign}{int(units.replace(',', '')):,}{decimals or ''}"


class _Japanese:
    """Writes one trace's phrases in Japanese and notes the phrases it does not know."""

    def __init__(self, style: TraceStyle, direction: str) -> None:
        self.style = style
        self.lower_is_better = direction == "lower is better"
        self.unknown: list[str] = []

    # ------------------------------------------------------------------ figures

    def figure(self, text: str) -> str:
        """A figure as recorded; an inexact fraction ``a/b (≈x)`` as ``a/b（≒x）``."""
        match = _FRACTION.fullmatch(text)
        if match:
            return f"{match[1]}/{match[2]}（≒{match[3]}）"
        return text

    def amount(self, text: str) -> str:
        """An amount in minor units: grouped, with ``円`` for yen."""
        suffix = "円" if self.style.currency == "JPY" else ""
        match = _FRACTION.fullmatch(text)
        if match:
            return f"{match[1]}/{match[2]}{suffix}（≒{_grouped(match[3])}{suffix}）"
        grouped = _grouped(text)
        return text if grouped is None else f"{grouped}{suffix}"

    def kpi(self, text: str) -> str:
        """A KPI value with the KPI's unit."""
        unit = KPI_UNITS_JA.get(self.style.kpi_unit, "")
        if self.style.kpi_unit == "money" and self.style.currency == "JPY":
            unit = "円"
        grouped = _grouped(text)
        return self.figure(text) if grouped is None else f"{grouped}{unit}"

    def percent(self, text: str) -> str:
        """A rate recorded as a fraction of one (``0.10``) as a percentage (``10%``), exactly;
        left as recorded when it is not a plain decimal."""
        try:
            value = Decimal(text) * 100
        except InvalidOperation:
            return self.figure(text)
        return f"{value.normalize():f}%"

    def share(self, text: str) -> str:
        """A share of one as recorded, with its exact percentage: ``0.5625（56.25%）``."""
        try:
            Decimal(text)
        except InvalidOperation:
            return self.figure(text)
        return f"{text}（{self.percent(text)}）"

    def name(self, party_id: str) -> str:
        """A payer by its Japanese name (its id if the contract gives none)."""
        return self.style.names.get(party_id, party_id)

    def note(self, phrase: str) -> str:
        """``phrase`` as recorded, noted as unknown."""
        self.unknown.append(phrase)
        return phrase

    # ------------------------------------------------------------------ rule texts

    def rule(self, text: str) -> str:
        """The rule's name and parameters."""
        for pattern, write in _RULES:
            match = pattern.fullmatch(text)
            if match:
                return write(self, match)
        return self.note(text)

    def tier(self, text: str) -> str:
        """One tier of a stepped rule: ``[50, 70) → 12.5 %`` → ``50%以上70%未満 → 上限額の12.5%``."""
        match = _TIER.fullmatch(text)
        if match is None:
            return self.note(text)
        low, high, pays = match.groups()
        span = f"{self.kpi(low)}以上" + ("" if high == "∞" else f"{self.kpi(high)}未満")
        percent = re.fullmatch(r"(\S+) %", pays)
        paid = f"上限額の{percent[1]}%" if percent else self.amount(pays)
        return f"{span} → {paid}"

    # ------------------------------------------------------------------ inputs and steps

    def input(self, key: str, value: str) -> str:
        """One input figure and its name."""
        name = INPUT_NAMES_JA.get(key)
        if name is None:
            return f"{self.note(key)}：{value}"
        if key == "direction":
            shown = DIRECTIONS_JA.get(value) or self.note(value)
        elif key in ("audited value", "target"):
            shown = self.kpi(value)
        elif key == "persons":
            shown = f"{value}人"
        else:
            shown = self.amount(value)
        return f"{name}：{shown}"

    def step(self, label: str, formula: str, value: str) -> str:
        """One step: its label, its formula in the label's known shapes, its value."""
        name = STEP_LABELS_JA.get(label)
        if name is None:
            return f"{self.note(label)}：{formula} = {value}"
        written = None
        for pattern, write in _FORMULAS.get(label, ()):
            match = pattern.fullmatch(formula)
            if match:
                written = write(self, match)
                break
        if written is None:
            written = self.note(formula)
        joint = " → " if label == "threshold met" else " = "
        return f"{name}：{written}{joint}{self.value(label, value)}"

    def value(self, label: str, value: str) -> str:
        """A step's value: a verdict, a share, the payers' parts or an amount."""
        if label == "threshold met":
            return YES_NO_JA.get(value) or self.note(value)
        if label in ("share earned", "achievement"):
            return self.share(value)
        if label == "split between payers":
            return self.parts(value)
        return self.amount(value)

    def parts(self, text: str) -> str:
        """``ube 1,000, tono 2,000`` → ``宇部市 1,000円、遠野市 2,000円``."""
        out = []
        for part in text.split(", "):
            match = re.fullmatch(r"(\S+) (-?[\d,]+)", part)
            out.append(f"{self.name(match[1])} {self.amount(match[2])}" if match
                       else self.note(part))
        return "、".join(out)

    def rounding(self, text: str) -> str:
        """The rounding: mode, exact amount → rounded amount, and the fraction it dropped."""
        match = _ROUNDING.fullmatch(text)
        if match is None or match["mode"] not in ROUNDING_MODES_JA:
            return f"端数処理：{self.note(text)}"
        mode = ROUNDING_MODES_JA[match["mode"]]
        head = f"端数処理（{mode}）：{self.amount(match['exact'])} → {self.amount(match['result'])}"
        dropped = match["dropped"]
        if dropped is None:
            return f"{head}（端数なし）"
        if dropped.startswith("-"):
            return f"{head}（{mode}による差 {self.amount(dropped)}）"
        return f"{head}（端数 {self.amount(dropped)}を{mode}）"


_Writer = Callable[[_Japanese, "re.Match[str]"], str]


def _binary(ja: _Japanese, m: re.Match[str]) -> str:
    side = "以下" if ja.lower_is_better else "以上"
    return (f"基準値達成型：実績値が{ja.kpi(m['t'])}{side}で上限額の全額、"
            f"達成しない場合は{ja.amount('0')}")


def _linear(ja: _Japanese, m: re.Match[str]) -> str:
    return (f"線形按分型：実績値{ja.kpi(m['floor'])}で{ja.amount('0')}、{ja.kpi(m['cap'])}で"
            "上限額の全額、その間は直線で按分")


def _pro_rata(ja: _Japanese, m: re.Match[str]) -> str:
    ratio = "目標値 ÷ 実績値" if ja.lower_is_better else "実績値 ÷ 目標値"
    return f"目標値按分型：上限額 × 達成率（{ratio}、目標値{ja.kpi(m['t'])}）、上限額まで"


def _stepped(ja: _Japanese, m: re.Match[str]) -> str:
    return "段階型：" + "；".join(ja.tier(t) for t in m["tiers"].split("; "))


def _rate_card(ja: _Japanese, m: re.Match[str]) -> str:
    return f"単価型：成果1件当たり{ja.amount(m['price'])}"


def _savings(ja: _Japanese, m: re.Match[str]) -> str:
    return (f"削減額分配型：削減額のうち{ja.amount(m['hurdle'])}までは{ja.percent(m['before'])}、"
            f"超える部分は{ja.percent(m['after'])}")


def _contract_cap(ja: _Japanese, m: re.Match[str]) -> str:
    return f"契約期間全体の支払上限額 {ja.amount(m['cap'])}"


def _tax(ja: _Japanese, m: re.Match[str]) -> str:
    return f"消費税：請求額の合計に税率{ja.percent(m['rate'])}（請求書ごとに1回計算）"


def _grant(ja: _Japanese, m: re.Match[str]) -> str:
    return f"交付金：支払者の負担額の{m['den']}分の{m['num']}"


_RULES: tuple[tuple[re.Pattern[str], _Writer], ...] = (
    (re.compile(r"binary threshold at (?P<t>\S+)"), _binary),
    (re.compile(r"linear from (?P<floor>\S+) \(0\) to (?P<cap>\S+) \(full\)"), _linear),
    (re.compile(r"pro rata to target (?P<t>\S+)"), _pro_rata),
    (re.compile(r"stepped tiers (?P<tiers>.+)"), _stepped),
    (re.compile(r"rate card (?P<price>\S+) per outcome"), _rate_card),
    (re.compile(r"savings share (?P<before>\S+) up to (?P<hurdle>\S+), then (?P<after>\S+)"),
     _savings),
    (re.compile(r"fixed: paid on delivery"),
     lambda ja, m: "固定払：成果にかかわらず履行確認により上限額の全額"),
    (re.compile(r"contract total cap (?P<cap>\S+)"), _contract_cap),
    (re.compile(r"(?P<rate>\S+) on the invoice total, once per invoice"), _tax),
    (re.compile(r"rate (?P<num>\d+)/(?P<den>\d+) of the payer's cost"), _grant),
)
_TIER = re.compile(r"\[(\S+), (\S+)\) → (.+)")
_ROUNDING = re.compile(r"(?P<mode>\w+): (?P<exact>.+) → (?P<result>-?[\d,]+) "
                       r"\((?:exact|fraction (?P<dropped>.+) dropped)\)")
_AMOUNT = r"-?[\d,]+"
# Comparison signs as Japanese documents print them (IPAexGothic has only these forms).
_SIGNS_JA = {"≥": "≧", "≤": "≦"}


def _times_amount(ja: _Japanese, m: re.Match[str]) -> str:
    return f"{ja.figure(m['a'])} × {ja.amount(m['b'])}"


def _amount_times(ja: _Japanese, m: re.Match[str]) -> str:
    return f"{ja.amount(m['a'])} × {ja.figure(m['b'])}"


def _per_person(ja: _Japanese, m: re.Match[str]) -> str:
    each = f"「成果件数 × {ja.amount(m['price'])}」"
    if m["cap"] != "—":
        each += f"と一人当たり上限{ja.amount(m['cap'])}のいずれか小さい額"
    return f"各人の{each}の合計（{m['n']}人分）"


def _split(ja: _Japanese, m: re.Match[str]) -> str:
    return f"各支払者の負担上限額の比による（{ja.parts(m['parts'])}）"


# Step formulas: label → the shapes its formula takes, each with its Japanese writer.
_FORMULAS: dict[str, tuple[tuple[re.Pattern[str], _Writer], ...]] = {
    "threshold met": ((re.compile(r"(?P<v>\S+) (?P<sign>[≥≤]) (?P<t>\S+)"),
                       lambda ja, m: f"{ja.kpi(m['v'])} {_SIGNS_JA[m['sign']]} "
                                     f"{ja.kpi(m['t'])}"),),
    "share earned": ((re.compile(r"\((?P<v>\S+) − (?P<f>\S+)\) ÷ \((?P<c>\S+) − (?P=f)\), "
                                 r"within 0\.\.1"),
                      lambda ja, m: f"({m['v']} − {m['f']}) ÷ ({m['c']} − {m['f']})"
                                    "（0～1の範囲に限る）"),),
    "amount": ((re.compile(rf"min\(achievement, 1\) × (?P<b>{_AMOUNT})"),
                lambda ja, m: f"達成率（1を上限）× {ja.amount(m['b'])}"),
               (re.compile(rf"(?P<a>.+) × (?P<b>{_AMOUNT})"), _times_amount)),
    "achievement": ((re.compile(r"(?P<a>\S+) ÷ (?P<b>\S+) \(lower is better\)"),
                     lambda ja, m: f"{m['a']} ÷ {m['b']}（低いほど良い指標：目標値 ÷ 実績値）"),
                    (re.compile(r"(?P<a>\S+) ÷ (?P<b>\S+)"),
                     lambda ja, m: f"{m['a']} ÷ {m['b']}")),
    "tier": ((re.compile(r"(?P<a>\S+) ≤ (?P<v>\S+)"),
              lambda ja, m: f"{ja.kpi(m['a'])} ≦ {ja.kpi(m['v'])}"),
             (re.compile(rf"(?P<p>\S+) % × (?P<b>{_AMOUNT})"),
              lambda ja, m: f"{m['p']}% × {ja.amount(m['b'])}"),
             (re.compile(r"(?P<v>\S+) is in no tier"),
              lambda ja, m: f"{ja.kpi(m['v'])}はいずれの段階にも該当しない")),
    "earned per person": ((re.compile(rf"Σ min\(outcomes × (?P<price>{_AMOUNT}), cap per "
                                      r"person (?P<cap>\S+)\) over (?P<n>\d+) persons"),
                           _per_person),),
    "earned": ((re.compile(rf"(?P<v>\S+) outcomes × (?P<price>{_AMOUNT})"),
                lambda ja, m: f"{ja.figure(m['v'])}件 × {ja.amount(m['price'])}"),),
    "total cap": ((re.compile(rf"at most (?P<cap>{_AMOUNT})"),
                   lambda ja, m: f"{ja.amount(m['cap'])}以内"),),
    "share below hurdle": ((re.compile(r"(?P<a>.+) × (?P<b>\S+)"), _amount_times),),
    "share above hurdle": ((re.compile(r"(?P<a>.+) × (?P<b>\S+)"), _amount_times),),
    "capped": ((re.compile(rf"between 0 and the maximum (?P<m>{_AMOUNT})"),
                lambda ja, m: f"{ja.amount('0')}以上、上限額{ja.amount(m['m'])}以下"),),
    "split between payers": ((re.compile(r"by their committed parts (?P<parts>.+)"), _split),),
    "room under the cap": ((re.compile(rf"(?P<a>{_AMOUNT}) − (?P<b>{_AMOUNT})"),
                            lambda ja, m: f"{ja.amount(m['a'])} − {ja.amount(m['b'])}"),),
    "tax": ((re.compile(rf"(?P<a>{_AMOUNT}) × (?P<b>\S+)"), _amount_times),),
    "covered": ((re.compile(rf"(?P<a>{_AMOUNT}) × (?P<b>\d+/\d+)"), _amount_times),),
}


# --------------------------------------------------------------------------- the lines

def english_lines(trace: Mapping[str, Any]) -> list[str]:
    """The trace's lines as settlement recorded them (what the English documents print)."""
    out = [str(trace["rule"])]
    out += [f"{k} = {v}" for k, v in trace["inputs"].items()]
    out += [f"{s['label']}: {s['formula']} = {s['value']}" for s in trace["steps"]]
    if trace.get("rounding"):
        out.append(f"rounding: {trace['rounding']}")
    return out


def _japanese(trace: Mapping[str, Any], style: TraceStyle) -> tuple[list[str], list[str]]:
    ja = _Japanese(style, str(trace["inputs"].get("direction", "")))
    out = [ja.rule(str(trace["rule"]))]
    out += [ja.input(k, str(v)) for k, v in trace["inputs"].items()]
    out += [ja.step(s["label"], s["formula"], s["value"]) for s in trace["steps"]]
    if trace.get("rounding"):
        out.append(ja.rounding(trace["rounding"]))
    return out, ja.unknown


def japanese_lines(trace: Mapping[str, Any], style: TraceStyle | None = None) -> list[str]:
    """The trace's lines in Japanese, line for line with :func:`english_lines`."""
    return _japanese(trace, style or TraceStyle())[0]


def unknown_phrases(trace: Mapping[str, Any], style: TraceStyle | None = None) -> list[str]:
    """The phrases of ``trace`` the vocabulary does not know (printed untranslated)."""
    return _japanese(trace, style or TraceStyle())[1]


def trace_text(trace: Mapping[str, Any], style: TraceStyle | None = None) -> tuple[Text, ...]:
    """The trace's lines in both document languages."""
    return tuple(Text(ja, en) for ja, en in zip(japanese_lines(trace, style),
                                                english_lines(trace), strict=True))
