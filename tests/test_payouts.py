"""Each payment rule at and around its thresholds, with the trace a municipal auditor reads."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest

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
from ledger.errors import SibError
from ledger.rounding import RoundingMode
from settlement.payouts import KpiInput, earned
from settlement.trace import About, Figure, Phrase, Rounding, Subject, Unit

T = RoundingMode.TRUNCATE


def pay(rule, maximum, value, **kw):
    return earned(rule, maximum, KpiInput(D(value), **kw), T).amount_minor


@pytest.mark.parametrize("value,expected", [("84.99", 0), ("85", 3_000_000), ("85.01", 3_000_000)])
def test_binary_threshold_pays_all_at_85_percent_and_nothing_below(value, expected):
    assert pay(BinaryThresholdRule(threshold="85"), 3_000_000, value) == expected


def test_binary_threshold_where_lower_is_better():
    rule = BinaryThresholdRule(threshold="40")
    assert pay(rule, 1_000_000, "40", direction="lower") == 1_000_000
    assert pay(rule, 1_000_000, "40.1", direction="lower") == 0


@pytest.mark.parametrize("value,expected", [
    ("78", 0), ("79", 0), ("80", 375_000), ("83.5", 1_687_500), ("87", 3_000_000),
    ("95", 3_000_000)])
def test_linear_is_zero_at_79_full_at_87_and_straight_between(value, expected):
    assert pay(LinearRule(floor="79", cap="87"), 3_000_000, value) == expected


def test_linear_truncates_the_fraction_of_a_yen_and_says_so():
    payout = earned(LinearRule(floor="79", cap="87"), 1_000_000, KpiInput(D("80")), T)
    # 1/8 × 1,000,000 = 125,000 exactly; 1/3 of the span gives a fraction:
    assert payout.trace.rounding == Rounding(T, Fraction(125_000), 125_000, after_steps=2)
    payout = earned(LinearRule(floor="0", cap="3"), 1_000_000, KpiInput(D("1")), T)
    assert payout.amount_minor == 333_333
    assert payout.trace.rounding.dropped == Fraction(1, 3)
    assert "(fraction 1/3 (≈0.333333) dropped)" in payout.trace.lines("JPY")[-2]


def test_linear_where_lower_is_better_has_floor_above_cap():
    rule = LinearRule(floor="60", cap="50")  # 60 % inactive earns 0, 50 % earns all
    assert pay(rule, 2_000_000, "60", direction="lower") == 0
    assert pay(rule, 2_000_000, "55", direction="lower") == 1_000_000
    assert pay(rule, 2_000_000, "45", direction="lower") == 2_000_000


def test_pro_rata_to_the_participants_target_and_capped():
    rule = ProRataRule(target="7200")
    assert pay(rule, 10_000_000, "7000") == 9_722_222  # 10,000,000 × 7000/7200, truncated
    assert pay(rule, 10_000_000, "7200") == 10_000_000
    assert pay(rule, 10_000_000, "9000") == 10_000_000
    assert pay(rule, 10_000_000, "0") == 0


def test_pro_rata_uses_the_kpi_target_when_the_rule_has_none_and_refuses_without():
    assert pay(ProRataRule(), 1_000_000, "50", target=D("200")) == 250_000
    with pytest.raises(SibError) as err:
        pay(ProRataRule(), 1_000_000, "50")
    assert err.value.code == "TARGET_MISSING"


def test_stepped_tiers_by_amount_and_by_percentage():
    rule = SteppedRule(tiers=[Tier(**{"from": "0", "to": "50", "amount": 0}),
                              Tier(**{"from": "50", "to": "70", "percent": "50"}),
                              Tier(**{"from": "70", "amount": 900_000})])
    assert pay(rule, 1_000_000, "49.9") == 0
    assert pay(rule, 1_000_000, "50") == 500_000
    assert pay(rule, 1_000_000, "69.99") == 500_000
    assert pay(rule, 1_000_000, "70") == 900_000


def test_rate_card_caps_per_person_and_in_total():
    rule = RateCardRule(price_per_outcome=50_000, cap_per_person=120_000, cap_total=5_000_000)
    # persons with 1, 2 and 4 outcomes: 50,000 + 100,000 + min(200,000, 120,000)
    payout = earned(rule, 10_000_000, KpiInput(D("7"), outcomes_per_person=(1, 2, 4)), T)
    assert payout.amount_minor == 270_000
    assert pay(rule, 10_000_000, "1000") == 5_000_000  # total cap
    assert pay(RateCardRule(price_per_outcome=50_000), 1_000_000, "30") == 1_000_000  # maximum


def test_savings_share_changes_share_at_the_hurdle():
    rule = SavingsShareRule(share_before_hurdle="0.5", hurdle_amount=10_000_000,
                            share_after_hurdle="0.2")
    assert pay(rule, 100_000_000, "8000000") == 4_000_000
    assert pay(rule, 100_000_000, "10000000") == 5_000_000
    assert pay(rule, 100_000_000, "15000000") == 6_000_000
    assert pay(rule, 5_500_000, "15000000") == 5_500_000  # never above the maximum


def test_fixed_needs_no_result_and_pays_the_maximum():
    assert earned(FixedRule(), 4_730_000, None, T).amount_minor == 4_730_000


def test_a_rule_other_than_fixed_without_a_result_is_refused():
    with pytest.raises(SibError) as err:
        earned(LinearRule(floor="1", cap="2"), 100, None, T,
               About(Subject.TRANCHE, fiscal_year=2019, tranche="continuation", payer="ube"))
    assert err.value.code == "KPI_RESULT_MISSING"
    assert "continuation FY2019 — ube: no audited KPI result" in str(err.value)


def test_trace_lists_inputs_steps_and_rounding():
    payout = earned(LinearRule(floor="79", cap="87"), 3_000_000,
                    KpiInput(D("83.5"), unit="percent"), T,
                    About(Subject.TRANCHE, fiscal_year=2019, tranche="continuation",
                          payer="ube"))
    assert payout.trace.lines("JPY") == [
        "continuation FY2019 — ube: linear from 79 (0) to 87 (full)",
        "  maximum = 3,000,000",
        "  audited value = 83.5",
        "  direction = higher is better",
        "  share earned: (83.5 − 79) ÷ (87 − 79), within 0..1 = 0.5625",
        "  amount: 0.5625 × 3,000,000 = 1,687,500",
        "  rounding: truncate: 1,687,500 → 1,687,500 (exact)",
        "  result: 1,687,500"]
    # The lines are written from data: each figure exact, with its unit.
    [share, amount] = payout.trace.steps
    assert (share.phrase, share.value) == (Phrase.SHARE_EARNED, Figure(Fraction(9, 16), Unit.SHARE))
    assert share["kpi"] == Figure(D("83.5"), Unit.PERCENT)
    assert (amount.phrase, amount.value) == (Phrase.AMOUNT_OF_SHARE,
                                             Figure(Fraction(1_687_500), Unit.MINOR))
