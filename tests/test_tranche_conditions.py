"""Tranches that pay only when several KPIs meet their thresholds (issue 13, item 3):
``all_of`` / ``any_of`` conditions, worked by hand on the five-municipality contract's FY2019.

The contract is the founding example with one change per test: its FY2019 inactive-share
tranche (6,000,000, split by population) becomes a fixed payment "paid if both the share of
insufficiently active people reaches 50 % and the guideline share reaches its target (40 %)",
or its continuation tranche (linear 60 → 70 %, per payer) is put behind the participants'
target.
"""

from __future__ import annotations

import copy
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from contracts.store import load_contract
from contracts.validate import validate_document
from investors.documents import _trace_style
from investors.trace_text import japanese_lines
from settlement.engine import settle_year
from settlement.kpi import ResultInput
from settlement.payouts import KpiInput
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.tables import SettlementLine

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
POPULATION = {"ube": 165_000, "tono": 28_000, "yawata": 73_000, "ibusuki": 42_000,
              "misato": 11_000}
BASE: dict[str, Any] = yaml.safe_load(FIVE.read_text(encoding="utf-8"))


def by_population(total: int) -> dict[str, int]:
    """Population shares, fractions dropped, the remainder to Ube (the contract's first_part)
    — written out here independently of the code under test. For 6,000,000 over 319,000
    people: Ube 3,103,448 (+3 remainder) = 3,103,451, Tono 526,645, Yawata 1,373,040,
    Ibusuki 789,968, Misato 206,896."""
    weight = sum(POPULATION.values())
    parts = {p: total * n // weight for p, n in POPULATION.items()}
    parts["ube"] += total - sum(parts.values())
    return parts


def contract_with(tranche_id: str, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    for tranche in document["tranches"]:
        if tranche["id"] == tranche_id:
            tranche.update(changes)
    return document


BOTH = {"rule": {"type": "fixed"}, "kpi": None,
        "conditions": {"all_of": [{"kpi": "inactive-share", "threshold": "50"},
                                  {"kpi": "guideline-share"}]}}
EITHER = {**BOTH, "conditions": {"any_of": BOTH["conditions"]["all_of"]}}


def valid(document: dict[str, Any]):
    contract, problems = validate_document(document, "test")
    assert problems == []
    return contract


def inputs(inactive: str, guideline: str, participants: str = "7200",
           continuation: dict[str, str] | None = None) -> dict[tuple[str, str], KpiInput]:
    out = {("inactive-share", ""): KpiInput(D(inactive), "higher", D("50")),
           ("guideline-share", ""): KpiInput(D(guideline), "higher", D("40")),
           ("participants", ""): KpiInput(D(participants), "higher", D("7200"))}
    for payer, value in (continuation or {}).items():
        out[("continuation-rate", payer)] = KpiInput(D(value), "higher", D("70"))
    return out


def earned_by_payer(result, tranche_id: str) -> dict[str, int]:
    return {ln.payer: ln.earned_minor for ln in result.lines if ln.tranche_id == tranche_id}


def test_both_kpis_met_pays_the_whole_fixed_amount():
    contract = valid(contract_with("fy2019-inactive", **BOTH))
    # 52.5 ≥ 50 and 41 ≥ 40 (the guideline's FY2019 target): both hold → 6,000,000 in full
    result = settle_year(contract, 2019, "final", inputs("52.5", "41"))
    assert earned_by_payer(result, "fy2019-inactive") == by_population(6_000_000)
    assert sum(by_population(6_000_000).values()) == 6_000_000


def test_both_kpis_one_missed_pays_nothing():
    contract = valid(contract_with("fy2019-inactive", **BOTH))
    # 52.5 ≥ 50 holds, 37 < 40 does not: all_of fails → 0 for every payer (two half tranches
    # would have paid 3,000,000 here: the reason conditions exist)
    result = settle_year(contract, 2019, "final", inputs("52.5", "37"))
    assert earned_by_payer(result, "fy2019-inactive") == dict.fromkeys(POPULATION, 0)
    # (the other tranches' results are not given here: only they are reported missing)
    assert not [p for p in result.problems if "inactive" in p.message or "guideline" in p.message]
    trace = next(t for t in result.traces if t.about.tranche == "fy2019-inactive")
    assert trace.result_minor == 0
    lines = [ln.strip() for ln in trace.lines("JPY")]
    assert lines[:5] == [
        "fy2019-inactive FY2019: fixed: the whole maximum when all of the conditions below "
        "are met, else nothing",
        "maximum = 6,000,000",
        "condition on inactive-share: 52.5 ≥ 50 = yes",
        "condition on guideline-share: 37 ≥ 40 = no",
        "conditions hold (all of them met): no"], lines


def test_any_of_pays_when_one_kpi_is_met():
    contract = valid(contract_with("fy2019-inactive", **EITHER))
    # any_of: 52.5 ≥ 50 is enough, though 37 < 40 → the whole 6,000,000
    paid = settle_year(contract, 2019, "final", inputs("52.5", "37"))
    assert earned_by_payer(paid, "fy2019-inactive") == by_population(6_000_000)
    # neither: 49 < 50 and 37 < 40 → 0
    unpaid = settle_year(contract, 2019, "final", inputs("49", "37"))
    assert earned_by_payer(unpaid, "fy2019-inactive") == dict.fromkeys(POPULATION, 0)


def test_a_per_payer_tranche_behind_a_contract_wide_condition():
    contract = valid(contract_with(
        "fy2019-continuation",
        conditions={"all_of": [{"kpi": "participants"}]}))   # the FY2019 target, 7,200
    continuation = {"ube": "68", "tono": "71", "yawata": "59", "ibusuki": "65", "misato": "70"}
    maxima = by_population(6_000_000)
    # 7,000 < 7,200: the condition fails for every payer, whatever its continuation rate
    missed = settle_year(contract, 2019, "final", inputs("52.5", "37", "7000", continuation))
    assert earned_by_payer(missed, "fy2019-continuation") == dict.fromkeys(POPULATION, 0)
    # 7,300 ≥ 7,200: each payer by the linear rule on its own rate (60 → 0, 70 → all),
    # truncated: Ube 0.8 × 3,103,451 = 2,482,760.8 → 2,482,760; Tono 71 → all 526,645;
    # Yawata 59 → 0; Ibusuki 0.5 × 789,968 = 394,984; Misato 70 → all 206,896
    met = settle_year(contract, 2019, "final", inputs("52.5", "37", "7300", continuation))
    assert earned_by_payer(met, "fy2019-continuation") == {
        "ube": 2_482_760, "tono": maxima["tono"], "yawata": 0, "ibusuki": 394_984,
        "misato": maxima["misato"]}
    assert maxima["tono"] == 526_645 and maxima["misato"] == 206_896


def test_a_missing_condition_result_refuses_the_settlement():
    contract = valid(contract_with("fy2019-inactive", **BOTH))
    partial = inputs("52.5", "41")
    del partial[("guideline-share", "")]
    result = settle_year(contract, 2019, "final", partial)
    assert any(p.code == "KPI_RESULT_MISSING" and "guideline-share" in p.message
               for p in result.problems)


@pytest.mark.parametrize(("conditions", "code", "path"), [
    ({"all_of": [{"kpi": "participants"}], "any_of": [{"kpi": "participants"}]},
     "CONDITIONS_INVALID", "conditions"),
    ({"all_of": []}, "CONDITIONS_INVALID", "conditions"),
    ({"all_of": [{"kpi": "no-such-kpi"}]}, "UNKNOWN_KPI", "conditions.all_of[0].kpi"),
    ({"any_of": [{"kpi": "continuation-rate"}]}, "CONDITION_PER_PAYER",
     "conditions.any_of[0].kpi"),
    ({"all_of": [{"kpi": "average-steps"}]}, "KPI_TARGET_MISSING",
     "conditions.all_of[0].threshold"),
])
def test_conditions_are_checked_with_their_field(conditions, code, path):
    document = contract_with("fy2019-inactive", conditions=conditions)
    index = next(i for i, t in enumerate(document["tranches"]) if t["id"] == "fy2019-inactive")
    contract, problems = validate_document(document, "test")
    assert contract is None
    found = {(p.code, p.field) for p in problems}
    assert (code, f"tranches[{index}].{path}") in found, problems


def test_settled_through_the_database_with_japanese_trace(session):
    contract = valid(contract_with("fy2019-inactive", **BOTH))
    load_contract(session, contract)
    session.commit()
    rows = submit_results(session, [
        ResultInput(C, 2019, "participants", "7200"),
        ResultInput(C, 2019, "inactive-share", "52.5"),
        ResultInput(C, 2019, "guideline-share", "37"),
        *[ResultInput(C, 2019, "continuation-rate", "70", p) for p in POPULATION]],
        "tsukuba-kuno-lab")
    for row in rows:
        audit_result(session, row.id, "kuno auditor")
    session.commit()
    run = settle(session, C, 2019).run
    session.commit()
    lines = {ln.payer_id: ln.earned_minor for ln in session.scalars(
        select(SettlementLine).where(SettlementLine.run_id == run.id,
                                     SettlementLine.tranche_id == "fy2019-inactive"))}
    assert lines == dict.fromkeys(POPULATION, 0)
    result = settle_year(contract, 2019, "final", inputs("52.5", "37"))
    trace = next(t for t in result.traces if t.about.tranche == "fy2019-inactive")
    assert japanese_lines(trace, _trace_style(contract, None))[:5] == [
        "条件付き固定払：下記の支払条件のすべてを満たす場合に上限額の全額、満たさない場合は0円",
        "上限額：6,000,000円",
        "支払条件（新規参加者に占める運動不充分層の割合）：52.5% ≧ 50% → 達成",
        "支払条件（身体活動ガイドライン達成者の割合）：37% ≧ 40% → 未達成",
        "支払条件の判定（すべての条件を満たすこと）：未達成"]
