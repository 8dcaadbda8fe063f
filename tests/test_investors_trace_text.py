"""Calculation traces written in Japanese for the payment notice, line for line with English,
from the trace data settlement stores (phrase keys, figures with units, the rounding).

Worked examples first: each payment rule run through the real producer
(``settlement.payouts``), then the settlement-wide steps (split between payers, the contract
cap, consumption tax, the grant), then every rounding mode; each rendered from the JSON the
settlement run stores. Then the guards: every phrase key has a wording in both languages (a new
key without a Japanese one fails here), and real settlements of every example contract, swept
over results that meet, partly meet and miss each rule, in every rounding mode and KPI
direction, leave no English word in the Japanese lines; the same for loan schedules, the
waterfall, losses and investor returns. Last, a real notice settled in the database and
rendered: the Japanese PDF shows the Japanese calculation, the English PDF the English one,
found by what each trace is about, and rebuilding gives the same bytes.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from fractions import Fraction
from itertools import cycle, product
from pathlib import Path
from typing import Any, get_args

import pytest
from pypdf import PdfReader

from contracts.instruments import RateTier, ReturnCap, ReturnTerms
from contracts.model import Contract, Kpi, to_document
from contracts.rules import (
    BinaryThresholdRule,
    FixedRule,
    LinearRule,
    ProRataRule,
    RateCardRule,
    SavingsShareRule,
    SteppedRule,
    Tier,
)
from contracts.store import load_contract
from contracts.validate import load_contract_file, validate_document
from investors import documents
from investors.pdf import render
from investors.trace_text import (
    JAPANESE_SUBJECTS,
    JAPANESE_WORDS,
    Japanese,
    TraceStyle,
    english_lines,
    japanese_lines,
    japanese_subject,
    trace_text,
)
from ledger.rounding import RoundingMode
from settlement.class_returns import ClassInputs, Flow, class_return_owed, tiered_schedule
from settlement.engine import YearBefore, settle_year
from settlement.kpi import ResultInput
from settlement.loans import loan_schedule
from settlement.payouts import KpiInput, earned
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.schedules import (
    DAY_COUNTS,
    PROFILES,
    LoanTerms,
    accrued_interest_trace,
    build_schedule,
)
from settlement.servicing import Due, pay
from settlement.trace import (
    ENGLISH_SUBJECTS,
    ENGLISH_WORDS,
    ROUNDING_TERMS,
    TRACE_VERSION,
    About,
    Figure,
    Phrase,
    Subject,
    Trace,
    Unit,
    find,
)
from settlement.unit_returns import CapitalChange, RateSchedule, return_owed
from settlement.waterfall import Claim, losses, run_waterfall

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
T = RoundingMode.TRUNCATE
PERCENT = TraceStyle("JPY", "percent")
UBE_2019 = About(Subject.TRANCHE, fiscal_year=2019, evaluation="final", tranche="t",
                 payer="ube")


def stored(trace: Trace) -> dict:
    """The trace as the settlement run stores it: JSON text, read back."""
    return json.loads(json.dumps(trace.as_dict(), ensure_ascii=False))


def traced(rule: Any, maximum: int, kpi: KpiInput | None, mode: RoundingMode = T) -> dict:
    """The trace of one tranche as the settlement run stores it."""
    return stored(earned(rule, maximum, kpi, mode, UBE_2019).trace)


def ja(trace: dict, style: TraceStyle = PERCENT) -> list[str]:
    return japanese_lines(trace, style)


# --------------------------------------------------------------------------- each rule

def test_binary_threshold_met_and_missed():
    trace = traced(BinaryThresholdRule(threshold="85"), 3_000_000, KpiInput(D("85.5")))
    assert ja(trace) == [
        "基準値達成型：実績値が85%以上で上限額の全額、達成しない場合は0円",
        "上限額：3,000,000円", "実績値（評価確定値）：85.5%", "評価の向き：高いほど良い",
        "基準値の達成：85.5% ≧ 85% → 達成",
        "端数処理（切り捨て）：3,000,000円 → 3,000,000円（端数なし）"]
    missed = traced(BinaryThresholdRule(threshold="40"), 1_000_000, KpiInput(D("41"), "lower"))
    assert ja(missed)[0] == "基準値達成型：実績値が40%以下で上限額の全額、達成しない場合は0円"
    assert ja(missed)[3:5] == ["評価の向き：低いほど良い", "基準値の達成：41% ≦ 40% → 未達成"]


def test_linear_between_floor_and_cap():
    # 0 at 79 %, full at 87 %: 83.5 % earns (83.5 − 79) / 8 = 56.25 % of 3,000,000
    trace = traced(LinearRule(floor="79", cap="87"), 3_000_000, KpiInput(D("83.5")))
    assert ja(trace) == [
        "線形按分型：実績値79%で0円、87%で上限額の全額、その間は直線で按分",
        "上限額：3,000,000円", "実績値（評価確定値）：83.5%", "評価の向き：高いほど良い",
        "支払割合：(83.5 − 79) ÷ (87 − 79)（0～1の範囲に限る） = 0.5625（56.25%）",
        "算定額：0.5625 × 3,000,000円 = 1,687,500円",
        "端数処理（切り捨て）：1,687,500円 → 1,687,500円（端数なし）"]
    assert english_lines(trace, "JPY")[4:] == [
        "share earned: (83.5 − 79) ÷ (87 − 79), within 0..1 = 0.5625",
        "amount: 0.5625 × 3,000,000 = 1,687,500",
        "rounding: truncate: 1,687,500 → 1,687,500 (exact)"]
    # The same lines from the data itself: the figures are exact values with their units.
    share_earned = Trace.from_dict(trace).steps[0]
    assert share_earned.phrase is Phrase.SHARE_EARNED
    assert share_earned.value == Figure(Fraction(9, 16), Unit.SHARE)
    assert share_earned["floor"] == Figure(D("79"), Unit.KPI)


def test_pro_rata_achievement_higher_and_lower_is_better():
    people = TraceStyle("JPY", "people")
    trace = traced(ProRataRule(target="7200"), 10_000_000, KpiInput(D("7000")))
    assert ja(trace, people) == [
        "目標値按分型：上限額 × 達成率（実績値 ÷ 目標値、目標値7,200人）、上限額まで",
        "上限額：10,000,000円", "実績値（評価確定値）：7,000人", "評価の向き：高いほど良い",
        "達成率：7000 ÷ 7200 = 35/36（≒0.972222）",
        "算定額：達成率（1を上限）× 10,000,000円 = 87500000/9円（≒9,722,222.222222円）",
        "端数処理（切り捨て）：87500000/9円（≒9,722,222.222222円） → 9,722,222円"
        "（端数 2/9円（≒0.222222円）を切り捨て）"]
    lower = traced(ProRataRule(target="20"), 10_000_000, KpiInput(D("25"), "lower"))
    assert ja(lower)[0] == "目標値按分型：上限額 × 達成率（目標値 ÷ 実績値、目標値20%）、上限額まで"
    assert ja(lower)[4] == "達成率：20 ÷ 25（低いほど良い指標：目標値 ÷ 実績値） = 0.8（80%）"


def test_stepped_tiers_by_amount_by_percentage_and_none():
    rule = SteppedRule(tiers=[Tier(**{"from": "0", "to": "50", "amount": 0}),
                              Tier(**{"from": "50", "to": "70", "percent": "12.5"}),
                              Tier(**{"from": "70", "amount": 900_000})])
    trace = traced(rule, 1_000_000, KpiInput(D("60")))
    assert ja(trace)[0] == ("段階型：0%以上50%未満 → 0円；50%以上70%未満 → 上限額の12.5%；"
                            "70%以上 → 900,000円")
    assert ja(trace)[4] == "該当する段階：12.5% × 1,000,000円 = 125,000円"
    assert ja(traced(rule, 1_000_000, KpiInput(D("75"))))[4] == \
        "該当する段階：70% ≦ 75% = 900,000円"
    narrow = SteppedRule(tiers=[Tier(**{"from": "50", "to": "70", "percent": "12.5"})])
    assert ja(traced(narrow, 1_000_000, KpiInput(D("40"))))[4] == \
        "該当する段階：40%はいずれの段階にも該当しない = 0円"


def test_rate_card_per_person_with_caps_per_person_and_in_total():
    # 3, 1, 0 and 2 outcomes at 50,000, at most 120,000 a person: 120 + 50 + 0 + 100 thousand
    rule = RateCardRule(price_per_outcome=50_000, cap_per_person=120_000, cap_total=200_000)
    trace = traced(rule, 1_000_000, KpiInput(D("6"), outcomes_per_person=(3, 1, 0, 2)))
    assert ja(trace, TraceStyle("JPY", "count")) == [
        "単価型：成果1件当たり50,000円", "上限額：1,000,000円", "実績値（評価確定値）：6件",
        "評価の向き：高いほど良い", "対象者数：4人",
        "成果額（一人ごとに上限適用）：各人の「成果件数 × 50,000円」と一人当たり上限120,000円"
        "のいずれか小さい額の合計（4人分） = 270,000円",
        "総額上限の適用：200,000円以内 = 200,000円",
        "端数処理（切り捨て）：200,000円 → 200,000円（端数なし）"]


def test_rate_card_counted_outcomes_capped_at_the_tranche_maximum():
    trace = traced(RateCardRule(price_per_outcome=50_000), 1_000_000, KpiInput(D("30")))
    assert ja(trace, TraceStyle("JPY", "count"))[4:6] == [
        "成果額：30件 × 50,000円 = 1,500,000円",
        "上限額の適用：0円以上、上限額1,000,000円以下 = 1,000,000円"]


def test_savings_share_below_and_above_the_hurdle():
    rule = SavingsShareRule(share_before_hurdle="0.10", hurdle_amount=180_000_000,
                            share_after_hurdle="0.05")
    trace = traced(rule, 20_000_000, KpiInput(D("190000001")), RoundingMode.HALF_UP)
    assert ja(trace, TraceStyle("JPY", "yen")) == [
        "削減額分配型：削減額のうち180,000,000円までは10%、超える部分は5%",
        "上限額：20,000,000円", "実績値（評価確定値）：190,000,001円", "評価の向き：高いほど良い",
        "基準額までの部分：180,000,000円 × 0.10 = 18,000,000円",
        "基準額を超える部分：10,000,001円 × 0.05 = 500,000.05円",
        "端数処理（四捨五入）：18,500,000.05円 → 18,500,000円（端数 0.05円を四捨五入）"]


def test_fixed_part():
    assert ja(traced(FixedRule(), 1_000_000, None)) == [
        "固定払：成果にかかわらず履行確認により上限額の全額", "上限額：1,000,000円",
        "端数処理（切り捨て）：1,000,000円 → 1,000,000円（端数なし）"]


# --------------------------------------------------------------------------- rounding modes

@pytest.mark.parametrize("mode,expected", [
    (RoundingMode.TRUNCATE, "端数処理（切り捨て）：2000000/3円（≒666,666.666667円） → 666,666円"
                            "（端数 2/3円（≒0.666667円）を切り捨て）"),
    (RoundingMode.HALF_UP, "端数処理（四捨五入）：2000000/3円（≒666,666.666667円） → 666,667円"
                           "（四捨五入による差 -1/3円（≒-0.333333円））"),
    (RoundingMode.HALF_EVEN, "端数処理（偶数丸め）：2000000/3円（≒666,666.666667円） → 666,667円"
                             "（偶数丸めによる差 -1/3円（≒-0.333333円））")])
def test_each_rounding_mode_is_named_and_its_fraction_kept(mode, expected):
    trace = traced(LinearRule(floor="0", cap="3"), 1_000_000, KpiInput(D("2")), mode)
    assert ja(trace)[-1] == expected


def test_every_rounding_mode_of_the_ledger_is_a_term_with_both_wordings():
    assert set(ROUNDING_TERMS) == set(RoundingMode)
    assert [JAPANESE_WORDS[ROUNDING_TERMS[m]].label for m in RoundingMode] == [
        "切り捨て", "四捨五入", "偶数丸め"]


# --------------------------------------------------------------------------- settlement steps

def with_tax_on_top(document: dict) -> None:
    """Consumption tax added to the outcome payments instead of included in the maxima, and
    the payers' authorisations doubled to make room for it."""
    document["consumption_tax"]["amounts_include_tax"] = False
    document["consumption_tax"]["applies_to"] = ["outcome_payments"]
    for payer in document["payers"]:
        authorisation = payer["authorisation"]
        authorisation["max_amount"] = str(2 * int(authorisation["max_amount"]))
        authorisation["limits_by_year"] = {year: str(2 * int(limit)) for year, limit in
                                           authorisation.get("limits_by_year", {}).items()}


def load(name: str, change: Any = None) -> Contract:
    """An example contract, optionally with its document form changed first."""
    contract, problems = load_contract_file(EXAMPLES / name)
    assert problems == [] and contract is not None
    if change is None:
        return contract
    document = to_document(contract)
    change(document)
    changed, problems = validate_document(document, name)
    assert problems == [] and changed is not None, problems
    return changed


FIVE = "sib-2019-five-municipalities.yaml"
FY2019 = {("participants", ""): KpiInput(D("7000"), "higher", D("7200")),
          ("inactive-share", ""): KpiInput(D("52.5")),
          ("guideline-share", ""): KpiInput(D("37"))}
FY2019.update({("continuation-rate", p): KpiInput(D(v)) for p, v in
               {"ube": "68", "tono": "71", "yawata": "59", "ibusuki": "65",
                "misato": "70"}.items()})


def names(contract: Contract) -> dict[str, str]:
    """Payers' and KPIs' Japanese names, as a tranche's trace style gives them (a KPI without
    one — the GBP example's — is named by its id, a code)."""
    return {k.id: k.name_ja or k.id for k in contract.kpis} | {
        p: contract.party(p).name_ja or p for p in contract.payer_ids}


def about(traces: list[Trace], **wanted: Any) -> dict:
    """The one trace about ``wanted``, as stored."""
    [trace] = find(traces, **wanted)
    return stored(trace)


def test_a_contract_wide_result_split_between_the_payers_names_them():
    contract = load(FIVE)
    out = settle_year(contract, 2019, "final", FY2019)
    trace = about(out.traces, kind=Subject.TRANCHE, tranche="fy2019-inactive")
    assert trace["about"] == {"kind": "tranche", "fiscal_year": 2019, "evaluation": "final",
                              "tranche": "fy2019-inactive", "kpi": "inactive-share"}
    lines = japanese_lines(trace, TraceStyle("JPY", "", names(contract)))
    # The total is rounded, then split: the lines follow the order of the calculation.
    assert lines[-2:] == [
        "端数処理（切り捨て）：6,000,000円 → 6,000,000円（端数なし）",
        "支払者間の按分：各支払者の負担上限額の比による（宇部市 3,103,451円、遠野市 526,645円、"
        "八幡市 1,373,040円、指宿市 789,968円、美里町 206,896円） = 宇部市 3,103,451円、"
        "遠野市 526,645円、八幡市 1,373,040円、指宿市 789,968円、美里町 206,896円"]
    assert english_lines(trace, "JPY")[-1] == (
        "split between payers: by their committed parts ube 3,103,451; tono 526,645; "
        "yawata 1,373,040; ibusuki 789,968; misato 206,896 = ube 3,103,451; tono 526,645; "
        "yawata 1,373,040; ibusuki 789,968; misato 206,896")
    # The KPI's unit comes with the data: no style needs to say it is a percentage.
    assert lines[2] == "実績値（評価確定値）：52.5%"
    assert japanese_subject(trace, TraceStyle(names=names(contract))) == \
        "fy2019-inactive（2019年度）"


def test_consumption_tax_and_the_grant():
    contract = load(FIVE, with_tax_on_top)
    out = settle_year(contract, 2019, "final", FY2019)
    tax = about(out.traces, kind=Subject.CONSUMPTION_TAX, payer="ube")
    assert japanese_lines(tax) == [
        "消費税：請求額の合計に税率10%（請求書ごとに1回計算）",
        "消費税額：12,594,840円 × 0.10 = 1,259,484円",
        "端数処理（切り捨て）：1,259,484円 → 1,259,484円（端数なし）"]
    grant = about(out.traces, kind=Subject.GRANT, payer="ube")
    assert grant["about"]["grant"] == "chiho-sosei-grant"
    assert japanese_lines(grant) == [
        "交付金：支払者の負担額の2分の1",
        "交付金対象額：13,854,324円 × 1/2 = 6,927,162円",
        "端数処理（切り捨て）：6,927,162円 → 6,927,162円（端数なし）"]
    assert english_lines(grant, "JPY") == [
        "rate 1/2 of the payer's cost", "covered: 13,854,324 × 1/2 = 6,927,162",
        "rounding: truncate: 6,927,162 → 6,927,162 (exact)"]


def test_a_grant_over_its_yearly_cap_is_shared_and_says_so():
    def capped(document: dict) -> None:
        grant = next(i for i in document["instruments"] if i["type"] == "grant")
        grant["cap_per_year"] = "10,000,000"
    out = settle_year(load(FIVE, capped), 2019, "final", FY2019)
    grants = find(out.traces, kind=Subject.GRANT)
    assert sum(t.result_minor for t in grants) == 10_000_000
    ube = about(grants, payer="ube")
    assert ube["rounding"] is None and ube["steps"][-1]["phrase"] == Phrase.GRANT_LIMIT.value
    assert japanese_lines(ube)[1:] == [
        "交付金対象額：12,594,840円 × 1/2 = 6,297,420円",
        "交付金の上限の適用：端数処理（切り捨て）後 6,297,420円、全支払者の合計で上限"
        f"10,000,000円とし各支払者の交付額の比で按分 = {int(ube['result']):,}円"]


def test_the_contract_cap():
    contract = load("gbp-rate-card-employment.yaml")
    inputs = {(k.id, ""): KpiInput(D("200")) for k in contract.kpis}
    out = settle_year(contract, 2026, "final", inputs,
                      earned_before={"northfield-council": 300_000_00,
                                     "outcomes-fund": 700_000_00})
    cap = about(out.traces, kind=Subject.CONTRACT_CAP, fiscal_year=2026)
    assert japanese_lines(cap, TraceStyle("JPY")) == [
        "契約期間全体の支払上限額 140,000,000円",
        "前年度までの成果額：100,000,000円",
        "本年度の成果額（上限適用前）：60,000,000円",
        "上限までの残額：140,000,000円 − 100,000,000円 = 40,000,000円"]


def test_the_stored_trace_is_versioned_exact_data():
    payout = earned(ProRataRule(target="7200"), 10_000_000, KpiInput(D("7000"), unit="people"),
                    T, UBE_2019)
    data = stored(payout.trace)
    assert data["version"] == TRACE_VERSION == 2
    assert data["about"] == {"kind": "tranche", "fiscal_year": 2019, "evaluation": "final",
                             "tranche": "t", "payer": "ube"}
    assert data["rule"] == {"phrase": "rule.pro_rata", "params": {
        "target": {"value": "7200", "unit": "people"},
        "direction": {"term": "term.higher_is_better"}}}
    assert data["steps"][1]["value"] == {"value": "87500000/9", "unit": "minor"}
    assert data["rounding"] == {"mode": "truncate", "exact": "87500000/9", "result": "9722222",
                                "dropped": "2/9", "after_steps": 2}
    assert data["result"] == "9722222"
    # Read back, it is the same data: no figure went through a float or a sentence.
    assert Trace.from_dict(data) == payout.trace

    def numbers(value: Any) -> Iterator[Any]:
        if isinstance(value, dict):
            for v in value.values():
                yield from numbers(v)
        elif isinstance(value, list):
            for v in value:
                yield from numbers(v)
        else:
            yield value
    assert not any(isinstance(v, float) for v in numbers(data))


def test_every_phrase_and_subject_has_a_wording_in_both_languages():
    assert set(JAPANESE_WORDS) == set(ENGLISH_WORDS) == set(Phrase)
    assert set(JAPANESE_SUBJECTS) == set(ENGLISH_SUBJECTS) == set(Subject)
    # Every KPI unit a contract may use is a unit traces know.
    assert set(get_args(Kpi.model_fields["unit"].annotation)) <= {u.value for u in Unit}


def test_a_phrase_without_a_japanese_wording_fails_loudly():
    class Incomplete(Japanese):
        words = {k: v for k, v in JAPANESE_WORDS.items() if k is not Phrase.SHARE_EARNED}
    trace = traced(LinearRule(floor="79", cap="87"), 3_000_000, KpiInput(D("83.5")))
    with pytest.raises(KeyError, match="step.share_earned"):
        Incomplete().body(Trace.from_dict(trace))


def test_a_trace_stored_as_english_text_only_is_given_as_recorded():
    """Runs settled before traces were data (no ``version``): their lines cannot be
    translated without reading sentences back, so both languages show them as recorded."""
    legacy = {"subject": "x FY2019", "rule": "linear from 79 (0) to 87 (full)",
              "inputs": {"maximum": "1,000"},
              "steps": [{"label": "amount", "formula": "0.5 × 1,000", "value": "500"}],
              "rounding": "truncate: 500 → 500 (exact)", "result_minor": 500}
    recorded = ["linear from 79 (0) to 87 (full)", "maximum = 1,000", "amount: 0.5 × 1,000 = 500",
                "rounding: truncate: 500 → 500 (exact)"]
    assert english_lines(legacy, "JPY") == japanese_lines(legacy) == recorded
    assert [t.en for t in trace_text(legacy)] == [t.ja for t in trace_text(legacy)] == recorded
    with pytest.raises(ValueError, match="English text only"):
        Trace.from_dict(legacy)


# --------------------------------------------------------------------------- the guard

def _variants(name: str) -> Iterator[Contract]:
    """The example as written, then in every rounding mode with tax added on top and its
    grants capped at 1,000,000 a year, then with every KPI better when lower (linear floors
    and caps swapped to stay valid) and its first tranche a fixed part."""
    yield load(name)
    for mode in RoundingMode:
        def rounded(document: dict, mode: RoundingMode = mode) -> None:
            document["rounding"]["mode"] = mode.value
            if document.get("consumption_tax"):
                with_tax_on_top(document)
            for grant in document.get("instruments", ()):
                if grant["type"] == "grant":
                    grant["cap_per_year"] = "1,000,000"
        yield load(name, rounded)

    def lower(document: dict) -> None:
        for kpi in document["kpis"]:
            kpi["direction"] = "lower"
        for tranche in document["tranches"]:
            rule = tranche["rule"]
            if rule["type"] == "linear":
                rule["floor"], rule["cap"] = rule["cap"], rule["floor"]
        if document["tranches"]:
            document["tranches"][0]["rule"] = {"type": "fixed"}
    yield load(name, lower)

    def conditional(document: dict) -> None:
        """Every tranche behind a condition on its own KPI (every other one all_of, the
        rest any_of, one threshold met by some swept values and missed by others); the first
        paid on a contract-wide KPI becomes a fixed payment behind that condition."""
        per_payer = {k["id"] for k in document["kpis"] if k.get("measured") == "per_payer"}
        fixed_done = False
        for i, tranche in enumerate(document["tranches"]):
            if not tranche.get("kpi"):
                continue
            mode = "all_of" if i % 2 == 0 else "any_of"
            tranche["conditions"] = {mode: [{"kpi": tranche["kpi"], "threshold": "1"}]}
            if not fixed_done and tranche["kpi"] not in per_payer:
                tranche["rule"] = {"type": "fixed"}
                tranche["kpi"] = None
                fixed_done = True
    yield load(name, conditional)


def _values(contract: Contract, kpi_id: str) -> list[D]:
    """Results around every figure the KPI's rules and targets name: below, at, between and
    above each, so every rule is met, partly met and missed."""
    figures = {D(0)}
    for tranche in contract.tranches:
        if tranche.kpi != kpi_id:
            continue
        rule = tranche.rule
        for name in ("threshold", "floor", "cap", "target"):
            if getattr(rule, name, None) is not None:
                figures.add(getattr(rule, name))
        figures.update(t.from_value for t in getattr(rule, "tiers", ()))
        if getattr(rule, "hurdle_amount_minor", None):
            figures.add(D(rule.hurdle_amount_minor))
    kpi = contract.kpi(kpi_id)
    figures.update(kpi.targets.values())
    figures.update(v for by_year in kpi.targets_by_payer.values() for v in by_year.values())
    out = set()
    for f in figures:
        out.update({f, f + D("0.5"), f * D("0.7"), f * D("1.3") + D("0.3")})
    return sorted(v for v in out if v >= 0)


def _settled_traces() -> Iterator[tuple[Contract, dict]]:
    """Every trace of every example contract's settlements over the swept results."""
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for contract in _variants(path.name):
            values = {k.id: _values(contract, k.id) for k in contract.kpis}
            rounds = max(len(v) for v in values.values()) if values else 1
            for year in contract.fiscal_years:
                for evaluation in ("interim", "final"):
                    for i in range(rounds):
                        inputs = {}
                        for k in contract.kpis:
                            value = values[k.id][i % len(values[k.id])]
                            people = (3, 1, 0, 2) if i % 2 else None
                            for payer in (contract.payer_ids if k.measured == "per_payer"
                                          else ("",)):
                                target = k.targets_by_payer.get(payer, {}).get(
                                    year, k.targets.get(year))
                                inputs[(k.id, payer)] = KpiInput(value, k.direction, target,
                                                                 people)
                        before = {p: 10**12 if i % 3 == 2 else 0 for p in contract.payer_ids}
                        # Now and then the year's other evaluation was settled before on
                        # the same invoice: its tax is part of the invoice's.
                        other = YearBefore({p: 1_000_001 for p in contract.payer_ids},
                                           {p: 90_909 for p in contract.payer_ids}) \
                            if evaluation == "final" and i % 4 == 1 else None
                        out = settle_year(contract, year, evaluation, inputs, before,
                                          year_before=other)
                        for trace in out.traces:
                            yield contract, stored(trace)


@pytest.fixture(scope="module")
def settled() -> list[tuple[Contract, dict]]:
    return list(_settled_traces())


def _style(contract: Contract) -> TraceStyle:
    """The contract's currency and payers' names; KPI units come with the traces."""
    return TraceStyle(contract.currency, "", names(contract))


def _phrases(value: Any) -> Iterator[Phrase]:
    """Every phrase key in a trace's data, nested parts and terms included."""
    if isinstance(value, dict):
        for key in ("phrase", "term"):
            if key in value:
                yield Phrase(value[key])
        for v in value.values():
            yield from _phrases(v)
    elif isinstance(value, list):
        for v in value:
            yield from _phrases(v)


def _english_words(lines: list[str], codes: set[str], contract_names: list[str]) -> set[str]:
    """English words in Japanese lines, other than codes and names that have no Japanese."""
    found = set()
    for line in lines:
        for name in contract_names:
            line = line.replace(name, "")
        found.update(w for w in re.findall(r"[A-Za-z][A-Za-z_-]*", line) if w not in codes)
    return found


def test_settlement_traces_are_data_with_a_kpi_unit_for_every_kpi_figure(settled):
    for contract, trace in settled:
        assert trace["version"] == TRACE_VERSION
        if trace["about"]["kind"] == "tranche" and "kpi" in trace["about"]:
            unit = contract.kpi(trace["about"]["kpi"]).unit
            assert unit in json.dumps(trace) and '"unit": "kpi"' not in json.dumps(trace)


def test_japanese_trace_lines_have_no_english_word(settled):
    english = set()
    for contract, trace in settled:
        codes = set(contract.payer_ids) | {t.id for t in contract.tranches} | {
            k.id for k in contract.kpis} | {contract.currency}  # GBP 1,250.50: a code
        english |= _english_words(japanese_lines(trace, _style(contract)), codes,
                                  list(names(contract).values()))
    assert english == set()


def test_the_sweep_reaches_every_phrase_settlement_can_say(settled):
    """So that the test above really covers what settling a year can say."""
    reached = {p for _, t in settled for p in _phrases(t)}
    assert reached == set(Phrase) - DISTRIBUTION_AND_LOAN_PHRASES
    modes = {t["rounding"]["mode"] for _, t in settled if t["rounding"]}
    assert modes == {m.value for m in RoundingMode}


# What only distributions, losses, loan schedules and investor returns say.
DISTRIBUTION_AND_LOAN_PHRASES = {
    Phrase.RULE_WATERFALL, Phrase.RULE_LOSS, Phrase.RULE_LOAN_INTEREST,
    Phrase.RULE_TARGET_RETURN, Phrase.RATE_FROM, Phrase.AVAILABLE, Phrase.UNPAID,
    Phrase.RATE_ANNUAL, Phrase.VALUED_ON, Phrase.WATERFALL_STEP, Phrase.GUARANTEE,
    Phrase.WRITTEN_DOWN, Phrase.INTEREST_ON, Phrase.INTEREST_BEFORE_ROUNDING,
    Phrase.PRINCIPAL_GRACE, Phrase.PRINCIPAL_LAST, Phrase.PRINCIPAL_BULLET,
    Phrase.PRINCIPAL_EQUAL, Phrase.PRINCIPAL_LEVEL, Phrase.NEXT_DUE_DATE, Phrase.NO_OPEN_PERIOD,
    Phrase.CAPITAL_CHANGE, Phrase.ACCRUED, Phrase.ACCRUED_ROUNDED, Phrase.ALREADY_PAID,
    Phrase.OWED, Phrase.PAID_IN_FULL, Phrase.PAID_IN_PART, Phrase.PROVIDER_FEES, Phrase.COSTS,
    Phrase.INTEREST, Phrase.PRINCIPAL, Phrase.INVESTOR_RETURNS, Phrase.ACT_365F,
    Phrase.ACT_360, Phrase.THIRTY_360, Phrase.FIRST_DAY_ONLY, Phrase.BOTH_ENDS,
    Phrase.LAST_DAY_ONLY, Phrase.NEITHER_END, Phrase.DEFAULT_INTEREST, Phrase.PRINCIPAL_TABLE,
    # unit-class return rules (settlement.class_returns)
    Phrase.RULE_TIERED_RETURN, Phrase.RULE_CURVE_RETURN, Phrase.RULE_IRR_RETURN,
    Phrase.RULE_COMPOUNDING_RETURN,
    Phrase.RULE_FIXED_RETURN, Phrase.YEAR_RATE, Phrase.FLOW_VALUE, Phrase.FLOWS_NET,
    Phrase.FIXED_RETURN_DUE, Phrase.RETURN_CAPPED,
    Phrase.OUTCOME_PAYMENTS_RECEIVED, Phrase.OUTCOME_PAYMENTS_SHARE}


def _other_traces() -> Iterator[tuple[Contract, Trace]]:
    """Loan schedules (every example loan, every profile and convention), accrued interest at
    each year end, a waterfall short of money, losses with and without a guarantee, and
    investor returns at one rate and under an amended one."""
    for path in sorted(EXAMPLES.glob("*.yaml")):
        contract = load(path.name)
        for loan in contract.loans:
            schedule = loan_schedule(loan)
            for row in schedule.rows:
                yield contract, row.trace
            for year in contract.fiscal_years:
                yield contract, accrued_interest_trace(schedule.terms, schedule,
                                                       date(year + 1, 3, 31))
    draws = ((date(2024, 4, 1), 30_000_000), (date(2024, 7, 1), 20_000_000))
    for (profile, day_count, ends), mode in zip(
            product([p for p in PROFILES if p != "custom"], DAY_COUNTS,
                    product((True, False), repeat=2)),
            cycle(RoundingMode)):
        terms = LoanTerms(draws, D("0.015"), date(2025, 3, 31), 4, profile,
                          day_count=day_count, count_first_day=ends[0], count_last_day=ends[1],
                          interest_rounding=mode, grace_period_months=12)
        schedule = build_schedule(terms)
        for row in schedule.rows:
            yield contract, row.trace
        for on in (date(2024, 3, 31), date(2025, 3, 31)):
            yield contract, accrued_interest_trace(terms, schedule, on)
    table = LoanTerms(draws, D("0.015"), date(2025, 3, 31), 2, "custom",
                      custom_table=((date(2025, 3, 31), 20_000_000),
                                    (date(2026, 3, 31), 30_000_000)))
    for row in build_schedule(table).rows:
        yield contract, row.trace
    five = load(FIVE)
    claims = [Claim("provider_fees", "tanita", "tanita", 100),
              Claim("interest", "loan", "bank", 50, 1), Claim("principal", "loan", "bank", 500),
              Claim("investor_returns", "units", "units", 70, 101)]
    yield five, run_waterfall(400, claims).trace
    # Debt service on a due date, short of cash: default interest, interest, principal.
    owed = [Due("loan", "bank", 1, "default_interest", date(2022, 3, 31), 30),
            Due("loan", "bank", 1, "interest", date(2022, 3, 31), 70),
            Due("loan", "bank", 1, "principal", date(2022, 3, 31), 500)]
    yield five, pay(200, owed)[1]
    for loss in losses([("loan", "bank", 1_000), ("units", "units", 300)],
                       [("loan", Fraction(4, 5), 700)]):
        yield five, loss.trace
    changes = [CapitalChange(date(2021, 4, 1), 1_000_000), CapitalChange(date(2021, 4, 1), 5),
               CapitalChange(date(2022, 4, 1), -400_000)]
    about = About(Subject.INVESTOR_RETURN, instrument="units", on=date(2023, 4, 1))
    yield five, return_owed(about, changes, "0.03", date(2023, 4, 1), 30_000).trace
    amended = RateSchedule.of([(date(2021, 4, 1), "0.03"), (date(2022, 4, 1), "0.025")])
    yield five, return_owed(about, changes, amended, date(2023, 4, 1), 90_000).trace
    # The return rules of settlement.class_returns: tiered with a minimum, IRR, compounding
    # under a cap, a fixed amount at the end.
    tiers = (RateTier.model_validate({"from": "0", "to": "7200", "rate": "0.01"}),
             RateTier.model_validate({"from": "7200", "rate": "0.03"}))
    tiered = ReturnTerms(rule="tiered", kpi="participants", tiers=tiers,
                         minimum_rate=D("0.02"), minimum_years=2)
    years = [(y, date(y, 4, 1)) for y in range(2021, 2024)]
    schedule, steps = tiered_schedule(tiered, years, {2021: D(7000), 2022: D(8000)}, 2021)
    flows = (Flow(date(2021, 4, 1), 1_000_005), Flow(date(2022, 4, 1), -30_000))
    for terms, extra in ((tiered, {"schedule": schedule, "tier_steps": tuple(steps)}),
                         (ReturnTerms(rule="irr", rate=D("0.08")), {}),
                         (ReturnTerms(rule="compounding", rate=D("0.08"),
                                      cap=ReturnCap(irr=D("0.05"))), {}),
                         (ReturnTerms.model_validate({"rule": "fixed_amount", "amount": 9}),
                          {"final": True})):
        inputs = ClassInputs(tuple(changes), flows, 30_000, **extra)  # type: ignore[arg-type]
        yield five, class_return_owed(about, terms, inputs, date(2023, 4, 1), "truncate").trace
    curve = ReturnTerms.model_validate({"rule": "curve", "kpi": "participants", "points": [
        {"value": "5000", "rate": "0"}, {"value": "10000", "rate": "0.04"}]})
    schedule, steps = tiered_schedule(curve, years, {2021: D(7000)}, 2021)
    inputs = ClassInputs(tuple(changes), flows, 30_000, schedule, tuple(steps))
    yield five, class_return_owed(about, curve, inputs, date(2023, 4, 1), "truncate").trace
    # A tier table and a curve read off the outcome payments received (amount, share).
    for basis, rule in (("outcome_payments", "tiered"), ("outcome_payments_percent", "curve")):
        on_payments = ReturnTerms.model_validate({
            "rule": rule, "basis": basis, "tiers": [{"from": "0", "rate": "0.01"}],
            "points": [{"value": "0", "rate": "0"}, {"value": "100", "rate": "0.04"}]})
        schedule, steps = tiered_schedule(on_payments, years, {2021: D(60)}, 2021)
        inputs = ClassInputs(tuple(changes), flows, 30_000, schedule, tuple(steps))
        yield five, class_return_owed(about, on_payments, inputs, date(2023, 4, 1),
                                      "truncate").trace


def test_schedules_distributions_and_returns_in_japanese_have_no_english_word():
    traces = list(_other_traces())
    english = set()
    for contract, trace in traces:
        codes = {"loan", "units", "bank", "tanita"} | {x.id for x in contract.loans} | \
            {u.id for u in contract.unit_classes} | {contract.currency}  # GBP 250,000.00
        lines = japanese_lines(trace, _style(contract)) + [
            japanese_subject(trace, _style(contract))]
        english |= _english_words(lines, codes, list(names(contract).values()))
    assert english == set()
    reached = {p for _, t in traces for p in _phrases(stored(t))}
    assert DISTRIBUTION_AND_LOAN_PHRASES - reached == set()


# --------------------------------------------------------------------------- a real notice

C = "sib-2019-five-municipalities"


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def ube_notice(session):
    contract, problems = load_contract_file(EXAMPLES / FIVE)
    assert problems == []
    load_contract(session, contract)
    inputs = [ResultInput(C, 2019, "participants", "7000"),
              ResultInput(C, 2019, "inactive-share", "52.5"),
              ResultInput(C, 2019, "guideline-share", "37")]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in
               {"ube": "68", "tono": "71", "yawata": "59", "ibusuki": "65",
                "misato": "70"}.items()]
    for row in submit_results(session, inputs, "tsukuba-kuno-lab"):
        audit_result(session, row.id, "kuno-lab auditor")
    settle(session, C, 2019, on=date(2020, 4, 30))
    session.commit()

    def build():
        ctx = documents.context(session, C, 2019)
        return documents.payment_notice(session, ctx, "ube")
    return build


def test_the_japanese_notice_shows_the_calculation_in_japanese(ube_notice):
    notice = ube_notice()
    text = _text(render(notice, "ja"))
    for expected in (
            "算定根拠",
            "目標値按分型：上限額 × 達成率（実績値 ÷ 目標値、目標値7,200人）、上限額まで",
            "実績値（評価確定値）：7,000人", "達成率：7000 ÷ 7200 = 35/36（≒0.972222）",
            "基準値の達成：52.5% ≧ 50% → 達成",
            "該当する段階：80% × 6,000,000円 = 4,800,000円",
            "支払割合：(68 − 60) ÷ (70 − 60)（0～1の範囲に限る） = 0.8（80%）",
            "端数処理（切り捨て）：",
            "支払者間の按分：各支払者の負担上限額の比による（宇部市 4,655,175円、"):
        assert expected in text, expected
    for english in ("threshold met", "rounding", "truncate", "maximum", "audited value",
                    "share earned", "split between payers", "higher is better"):
        assert english not in text, english
    assert "〓" not in text  # every character of the Japanese forms is in the font
    # Ube's own continuation-rate trace, not another payer's: found by tranche and payer.
    assert "(71 − 60)" not in text and "(59 − 60)" not in text


def test_the_notice_finds_a_tranches_traces_by_what_they_are_about():
    """A payer's own trace and the contract-wide one split between all payers; never another
    payer's, another tranche's (even one whose id begins with this one's), nor a tax or grant
    trace; traces stored as English text only are not matched."""
    tranche = About(Subject.TRANCHE, fiscal_year=2019, evaluation="final", tranche="t")
    own, other, wide, longer = (
        earned(FixedRule(), 100 * n, None, T, a).trace
        for n, a in ((1, replace(tranche, payer="ube")), (2, replace(tranche, payer="tono")),
                     (3, tranche), (4, replace(tranche, tranche="t-2", payer="ube"))))
    legacy = {"subject": "t FY2019 — ube", "rule": "fixed: paid on delivery", "inputs": {},
              "steps": [], "rounding": "", "result_minor": 0}
    stored_run = [stored(t) for t in (own, other, wide, longer)] + [legacy]
    lines = documents._trace_lines(stored_run, "t", "ube", TraceStyle())
    assert [line.ja for line in lines if line.ja.startswith("上限額")] == [
        "上限額：100円", "上限額：300円"]
    assert lines == trace_text(own) + trace_text(wide)


def test_the_english_notice_keeps_the_calculation_in_english(ube_notice):
    text = _text(render(ube_notice(), "en"))
    for expected in ("Calculation", "pro rata to target 7200", "audited value = 7000",
                     "achievement: 7000 ÷ 7200 = 35/36", "threshold met: 52.5 ≧ 50 = yes",
                     "rounding: truncate: ", "split between payers: by their committed parts "
                     "ube 4,655,175"):
        assert expected in text, expected
    assert "算定根拠" not in text and "端数処理" not in text


def test_the_real_notice_rebuilt_gives_the_same_bytes(ube_notice):
    for lang in ("ja", "en"):
        assert render(ube_notice(), lang) == render(ube_notice(), lang)
