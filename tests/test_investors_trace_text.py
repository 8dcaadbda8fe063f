"""Calculation traces written in Japanese for the payment notice, line for line with the English
settlement records.

Worked examples first: each payment rule run through the real producer
(``settlement.payouts``), then the settlement-wide steps (split between payers, the contract
cap, consumption tax, the grant), then every rounding mode. Then the guard: real settlements of
every example contract, swept over results that meet, partly meet and miss each rule, in every
rounding mode and KPI direction, must leave no English word in the Japanese lines — so a new
phrase in ``settlement/`` fails here until the vocabulary knows it. Last, a real notice settled
in the database and rendered: the Japanese PDF shows the Japanese calculation, the English PDF
the English one, and rebuilding gives the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from contracts.model import Contract, to_document
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
    INPUT_NAMES_JA,
    ROUNDING_MODES_JA,
    STEP_LABELS_JA,
    TraceStyle,
    english_lines,
    japanese_lines,
    trace_text,
    unknown_phrases,
)
from ledger.rounding import RoundingMode
from settlement.engine import settle_year
from settlement.kpi import ResultInput
from settlement.payouts import KpiInput, earned
from settlement.results import audit_result, submit_results
from settlement.runs import settle

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
T = RoundingMode.TRUNCATE
PERCENT = TraceStyle("JPY", "percent")


def traced(rule: Any, maximum: int, kpi: KpiInput | None, mode: RoundingMode = T) -> dict:
    """The trace of one tranche as the settlement run stores it."""
    return earned(rule, maximum, kpi, mode, "t FY2019 — ube").trace.as_dict()


def ja(trace: dict, style: TraceStyle = PERCENT) -> list[str]:
    assert unknown_phrases(trace, style) == []
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
    assert english_lines(trace)[4:] == [
        "share earned: (83.5 − 79) ÷ (87 − 79), within 0..1 = 0.5625",
        "amount: 0.5625 × 3,000,000 = 1687500",
        "rounding: truncate: 1687500 → 1,687,500 (exact)"]


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


def test_every_rounding_mode_of_the_ledger_has_a_japanese_name():
    assert {m.value for m in RoundingMode} <= set(ROUNDING_MODES_JA)


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
    return {p: contract.party(p).name_ja or p for p in contract.payer_ids}


def by_subject(traces: list, subject: str) -> dict:
    return next(t.as_dict() for t in traces if t.subject == subject)


def test_a_contract_wide_result_split_between_the_payers_names_them():
    contract = load(FIVE)
    out = settle_year(contract, 2019, "final", FY2019)
    trace = by_subject(out.traces, "fy2019-inactive FY2019")
    lines = japanese_lines(trace, TraceStyle("JPY", "percent", names(contract)))
    assert lines[-2] == (
        "支払者間の按分：各支払者の負担上限額の比による（宇部市 3,103,451円、遠野市 526,645円、"
        "八幡市 1,373,040円、指宿市 789,968円、美里町 206,896円） = 宇部市 3,103,451円、"
        "遠野市 526,645円、八幡市 1,373,040円、指宿市 789,968円、美里町 206,896円")


def test_consumption_tax_and_the_grant():
    contract = load(FIVE, with_tax_on_top)
    out = settle_year(contract, 2019, "final", FY2019)
    tax = by_subject(out.traces, "consumption tax FY2019 — ube")
    assert japanese_lines(tax) == [
        "消費税：請求額の合計に税率10%（請求書ごとに1回計算）",
        "消費税額：12,594,840円 × 0.10 = 1,259,484円"]
    grant = by_subject(out.traces, "grant chiho-sosei-grant FY2019 — ube")
    assert japanese_lines(grant) == [
        "交付金：支払者の負担額の2分の1",
        "交付金対象額：13,854,324円 × 1/2 = 6,927,162円"]


def test_the_contract_cap():
    contract = load("gbp-rate-card-employment.yaml")
    inputs = {(k.id, ""): KpiInput(D("200")) for k in contract.kpis}
    out = settle_year(contract, 2026, "final", inputs,
                      earned_before={"northfield-council": 300_000_00,
                                     "outcomes-fund": 700_000_00})
    cap = by_subject(out.traces, "contract cap FY2026")
    assert japanese_lines(cap, TraceStyle("JPY")) == [
        "契約期間全体の支払上限額 140,000,000円",
        "前年度までの成果額：100,000,000円",
        "本年度の成果額（上限適用前）：60,000,000円",
        "上限までの残額：140,000,000円 − 100,000,000円 = 40,000,000円"]


def test_a_phrase_the_vocabulary_does_not_know_is_printed_as_recorded():
    trace = {"subject": "x FY2019", "rule": "clawback of 5 %",
             "inputs": {"maximum": "1,000", "overpaid": "250"},
             "steps": [{"label": "clawback", "formula": "250 × 0.05", "value": "12.5"},
                       {"label": "amount", "formula": "something new", "value": "12"}],
             "rounding": "stochastic: 12.5 → 12 (fraction 0.5 dropped)", "result_minor": 12}
    assert japanese_lines(trace) == [
        "clawback of 5 %", "上限額：1,000円", "overpaid：250", "clawback：250 × 0.05 = 12.5",
        "算定額：something new = 12円",
        "端数処理：stochastic: 12.5 → 12 (fraction 0.5 dropped)"]
    assert unknown_phrases(trace) == ["clawback of 5 %", "overpaid", "clawback",
                                      "something new",
                                      "stochastic: 12.5 → 12 (fraction 0.5 dropped)"]
    assert [t.en for t in trace_text(trace)] == english_lines(trace)


# --------------------------------------------------------------------------- the guard

def _variants(name: str) -> Iterator[Contract]:
    """The example as written, then in every rounding mode with tax added on top, then with
    every KPI better when lower (linear floors and caps swapped to stay valid) and its first
    tranche a fixed part."""
    yield load(name)
    for mode in RoundingMode:
        def rounded(document: dict, mode: RoundingMode = mode) -> None:
            document["rounding"]["mode"] = mode.value
            if document.get("consumption_tax"):
                with_tax_on_top(document)
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
                        out = settle_year(contract, year, evaluation, inputs, before)
                        for trace in out.traces:
                            yield contract, trace.as_dict()


@pytest.fixture(scope="module")
def settled() -> list[tuple[Contract, dict]]:
    return list(_settled_traces())


def _style(contract: Contract, trace: dict) -> TraceStyle:
    tranche = next((t for t in contract.tranches if trace["subject"].startswith(t.id + " ")),
                   None)
    unit = contract.kpi(tranche.kpi).unit if tranche is not None and tranche.kpi else ""
    return TraceStyle(contract.currency, unit, names(contract))


def test_settlements_emit_no_phrase_the_vocabulary_does_not_know(settled):
    unknown = {phrase for contract, trace in settled
               for phrase in unknown_phrases(trace, _style(contract, trace))}
    assert unknown == set()


def test_japanese_trace_lines_have_no_english_word(settled):
    english = set()
    for contract, trace in settled:
        codes = set(contract.payer_ids) | {t.id for t in contract.tranches}
        for line in japanese_lines(trace, _style(contract, trace)):
            # names of payers that have no Japanese name, and codes, are not words to translate
            for name in names(contract).values():
                line = line.replace(name, "")
            english.update(w for w in re.findall(r"[A-Za-z][A-Za-z_-]*", line)
                           if w not in codes)
    assert english == set()


def test_the_sweep_reaches_every_phrase_of_the_vocabulary(settled):
    """So that the two tests above really cover what settlement can say."""
    labels = {s["label"] for _, t in settled for s in t["steps"]}
    inputs = {k for _, t in settled for k in t["inputs"]}
    modes = {t["rounding"].split(":")[0] for _, t in settled if t["rounding"]}
    rules = {t["rule"] for _, t in settled}
    assert labels == set(STEP_LABELS_JA)
    assert inputs == set(INPUT_NAMES_JA)
    assert modes == {m.value for m in RoundingMode}
    for kind in ("binary threshold at", "linear from", "pro rata to target", "stepped tiers",
                 "rate card", "savings share", "fixed:", "contract total cap",
                 "on the invoice total", "of the payer's cost"):
        assert any(kind in rule for rule in rules), kind
    directions = {t["inputs"].get("direction") for _, t in settled}
    assert {"higher is better", "lower is better"} <= directions


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
