"""Loan repayment schedules as worked examples: every figure is derived in a comment.

Conventions unless a test says otherwise: ACT/365 fixed, 片端 (the first day of a period counts,
the last does not), interest truncated to the yen, due dates moved to the next bank business
day with interest running to the moved date.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy_financial as npf
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.errors import SibError
from ledger.rounding import RoundingMode
from settlement.schedules import (
    LoanTerms,
    accrual_days,
    accrued_interest,
    accrued_interest_trace,
    build_schedule,
    compare,
    level_payment_exact,
    validate_terms,
)
from settlement.trace import ENGLISH, Phrase, day, days, minor

# A 100,000,000 yen loan drawn on 1 April 2020 at 1.0 %, repaid over five years in annual
# equal-principal instalments (元金均等) after a one-year grace period (据置期間).
EQUAL_PRINCIPAL = LoanTerms(
    draws=[(date(2020, 4, 1), 100_000_000)], rate_annual=Decimal("0.01"),
    first_payment_on=date(2021, 4, 1), instalments=5, frequency_months=12,
    profile="equal_principal", grace_period_months=12)


def _table(terms: LoanTerms) -> list[tuple[date, int, int, int, int, int]]:
    """(due_on, days, opening, principal, interest, closing) of every row."""
    return [(r.due_on, r.days, r.opening_principal, r.principal, r.interest, r.closing_principal)
            for r in build_schedule(terms).rows]


# --- equal principal with grace ------------------------------------------------------------


def test_equal_principal_five_years_with_one_year_grace():
    assert _table(EQUAL_PRINCIPAL) == [
        # 2020-04-01 → 2021-04-01: 365 days; 100,000,000 × 1 % × 365/365; grace: no principal
        (date(2021, 4, 1), 365, 100_000_000, 0, 1_000_000, 100_000_000),
        # 100,000,000 ÷ 4 principal instalments = 25,000,000
        (date(2022, 4, 1), 365, 100_000_000, 25_000_000, 1_000_000, 75_000_000),
        # 1 April 2023 is a Saturday: due Monday 3 April, 367 days;
        # 75,000,000 × 1 % × 367/365 = 754,109.58… → 754,109
        (date(2023, 4, 3), 367, 75_000_000, 25_000_000, 754_109, 50_000_000),
        # 2023-04-03 → 2024-04-01: 364 days (29 February 2024 included);
        # 50,000,000 × 1 % × 364/365 = 498,630.13… → 498,630
        (date(2024, 4, 1), 364, 50_000_000, 25_000_000, 498_630, 25_000_000),
        (date(2025, 4, 1), 365, 25_000_000, 25_000_000, 250_000, 0),
    ]


def test_equal_principal_totals_payments_and_nominal_dates():
    schedule = build_schedule(EQUAL_PRINCIPAL)
    assert schedule.total_principal_minor == 100_000_000
    assert schedule.total_interest_minor == 1_000_000 + 1_000_000 + 754_109 + 498_630 + 250_000
    assert [r.payment for r in schedule.rows] == [1_000_000, 26_000_000, 25_754_109,
                                                  25_498_630, 25_250_000]
    assert [r.nominal_on for r in schedule.rows] == [date(y, 4, 1) for y in range(2021, 2026)]
    assert [r.period_start for r in schedule.rows] == [
        date(2020, 4, 1), date(2021, 4, 1), date(2022, 4, 1), date(2023, 4, 3), date(2024, 4, 1)]
    assert schedule.level_payment_minor is None


def test_trace_shows_the_interest_formula_with_its_figures_and_rounding():
    row = build_schedule(EQUAL_PRINCIPAL).rows[2]
    lines = row.trace.lines("JPY")
    assert "instalment 3 due 2023-04-03 (nominal 2023-04-01)" in lines[0]
    assert "ACT/365F" in lines[0] and "片端" in lines[0] and "truncate" in lines[0]
    assert any("75,000,000 × 0.01 × 367 / 365" in line for line in lines)
    assert any("truncate" in line and "→ 754,109" in line for line in lines)
    assert any("principal: equal principal (元金均等) instalment = 25,000,000" in line
               for line in lines)
    assert row.trace.result_minor == 754_109
    # Interest is rounded before the principal is set: the lines read in that order.
    assert lines.index("  rounding: truncate: 55050000/73 (≈754,109.589041) → 754,109 "
                       "(fraction 43/73 (≈0.589041) dropped)") == 2
    assert "grace period" in build_schedule(EQUAL_PRINCIPAL).rows[0].trace.lines("JPY")[3]


def test_equal_principal_remainder_goes_to_the_first_instalment_by_default():
    terms = replace(EQUAL_PRINCIPAL, draws=[(date(2020, 4, 1), 100_000_003)])
    # 100,000,003 ÷ 4 = 25,000,000 remainder 3: 端数 on the first principal instalment.
    assert [r.principal for r in build_schedule(terms).rows] == [
        0, 25_000_003, 25_000_000, 25_000_000, 25_000_000]
    last = replace(terms, principal_remainder_to="last")
    assert [r.principal for r in build_schedule(last).rows] == [
        0, 25_000_000, 25_000_000, 25_000_000, 25_000_003]


def test_both_ends_counted_adds_a_day_to_every_period():
    both = replace(EQUAL_PRINCIPAL, count_last_day=True)
    rows = build_schedule(both).rows
    assert [r.days for r in rows] == [366, 366, 368, 365, 366]
    # 100,000,000 × 1 % × 366/365 = 1,002,739.72… → 1,002,739
    assert rows[0].interest == 1_002_739
    assert rows[0].trace.rule["ends"] is Phrase.BOTH_ENDS
    assert "両端 (both ends counted)" in rows[0].trace.lines("JPY")[0]


# --- bullet ---------------------------------------------------------------------------------


BULLET = LoanTerms(draws=[(date(2021, 6, 15), 50_000_000)], rate_annual=Decimal("0.02"),
                   first_payment_on=date(2021, 12, 15), instalments=4, frequency_months=6,
                   profile="bullet")


def test_bullet_pays_interest_half_yearly_and_principal_at_the_end():
    assert _table(BULLET) == [
        # 50,000,000 × 2 % = 1,000,000 a year; × 183/365 = 501,369.86… → 501,369
        (date(2021, 12, 15), 183, 50_000_000, 0, 501_369, 50_000_000),
        # × 182/365 = 498,630.13… → 498,630
        (date(2022, 6, 15), 182, 50_000_000, 0, 498_630, 50_000_000),
        (date(2022, 12, 15), 183, 50_000_000, 0, 501_369, 50_000_000),
        (date(2023, 6, 15), 182, 50_000_000, 50_000_000, 498_630, 0),
    ]


def test_interest_rounding_is_a_per_loan_setting():
    rows = build_schedule(replace(BULLET, interest_rounding=RoundingMode.HALF_UP)).rows
    assert [r.interest for r in rows] == [501_370, 498_630, 501_370, 498_630]


# --- annuity against numpy-financial --------------------------------------------------------


def _annuity_30_360(principal: int, rate: str, instalments: int, months: int) -> LoanTerms:
    """An annuity whose periods are exactly ``months``/12 of a year (30/360, no date moves),
    the model numpy-financial computes."""
    return LoanTerms(draws=[(date(2024, 4, 10), principal)], rate_annual=Decimal(rate),
                     first_payment_on=date(2024, 4 + months, 10) if months < 9
                     else date(2025, 4 + months - 12, 10),
                     instalments=instalments, frequency_months=months, profile="annuity",
                     day_count="30/360", business_day_adjust=False)


def _npf_rows(terms: LoanTerms) -> tuple[float, list[float], list[float]]:
    """The independent computation, in floats: only ever compared with a tolerance."""
    periodic = float(terms.rate_annual) * terms.frequency_months / 12
    n, present = terms.instalments, -terms.total_drawn_minor
    interest = [float(npf.ipmt(periodic, k, n, present)) for k in range(1, n + 1)]
    principal = [float(npf.ppmt(periodic, k, n, present)) for k in range(1, n + 1)]
    return float(npf.pmt(periodic, n, present)), interest, principal


def test_annual_annuity_worked_example():
    terms = _annuity_30_360(100_000_000, "0.01", instalments=5, months=12)
    schedule = build_schedule(terms)
    # pmt = 100,000,000 × 0.01 / (1 − 1.01⁻⁵) = 20,603,979.96… → truncated 20,603,979
    assert schedule.level_payment_minor == 20_603_979
    assert all(r.days == 360 for r in schedule.rows)
    assert [(r.interest, r.principal) for r in schedule.rows] == [
        (1_000_000, 19_603_979),  # 100,000,000 × 1 %
        (803_960, 19_800_019),    # 80,396,021 × 1 % = 803,960.21 → 803,960
        (605_960, 19_998_019),
        (405_979, 20_198_000),
        (203_999, 20_399_983),    # the balance: the last payment is 20,603,982
    ]
    assert schedule.rows[-1].payment == 20_603_982


@pytest.mark.parametrize("principal, rate, instalments, months", [
    (100_000_000, "0.01", 5, 12), (30_000_000, "0.015", 24, 1),
    (123_456_789, "0.0275", 60, 1), (100_000_000, "0.021", 120, 1)])
def test_annuity_matches_numpy_financial_within_the_rounding(principal, rate, instalments,
                                                              months):
    terms = _annuity_30_360(principal, rate, instalments, months)
    schedule = build_schedule(terms)
    payment, interest, expected_principal = _npf_rows(terms)
    assert abs(schedule.level_payment_minor - payment) < 1
    for row, expected in zip(schedule.rows, interest):
        assert abs(row.interest - expected) <= 1, row.number
    differences = [row.principal - expected
                   for row, expected in zip(schedule.rows, expected_principal)]
    assert all(abs(d) <= 1 for d in differences[:-1])
    # The level payment is rounded once and paid n − 1 times: the last instalment takes what
    # that left over, so its difference is exactly the others' differences with the sign
    # turned, and at most one yen per earlier row.
    assert differences[-1] == pytest.approx(-sum(differences[:-1]), abs=1e-5)
    assert abs(differences[-1]) <= instalments - 1
    assert schedule.total_principal_minor == principal
    assert all(r.payment == schedule.level_payment_minor for r in schedule.rows[:-1])


@settings(max_examples=200, deadline=None)
@given(principal=st.integers(100_000, 10**11), rate_bp=st.integers(1, 1500),
       instalments=st.integers(1, 120), months=st.sampled_from([1, 3, 6, 12]))
def test_annuity_matches_numpy_financial_for_random_terms(principal, rate_bp, instalments,
                                                           months):
    """Random annuities (元利均等): the level payment is numpy-financial's pmt truncated, each
    row's interest and principal its ipmt and ppmt within the rounding, the last row taking
    what the rounded payment left over."""
    rate = str(Decimal(rate_bp) / 10_000)
    terms = _annuity_30_360(principal, rate, instalments, months)
    schedule = build_schedule(terms)
    payment, interest, expected_principal = _npf_rows(terms)
    # The instalment: numpy-financial's pmt, truncated (less than a yen below it; the
    # reference's floating point errs by up to about 1e-10 of the payment either way).
    assert -payment * 1e-10 <= payment - schedule.level_payment_minor < 1 + payment * 1e-10
    # Rows drift from the exact ones by the roundings: each row pays up to 1 yen less than
    # the exact payment and truncates its interest (< 1 yen), so the balance error grows as
    # E(k) = E(k−1) × (1 + i) + 2, E(k) = 2((1 + i)^k − 1)/i, and row k's interest is within
    # 1 + i × E(k) of the exact one (plus the reference's own floating-point error).
    i = rate_bp / 10_000 * months / 12

    def drift(k: int) -> float:
        return 2 * ((1 + i) ** k - 1) / i

    eps = principal * 1e-9
    for k, (row, expected) in enumerate(zip(schedule.rows, interest)):
        assert abs(row.interest - expected) <= 1 + i * drift(k) + eps, k
    for k in range(instalments - 1):
        paid = sum(r.principal for r in schedule.rows[:k + 1])
        assert abs(paid - sum(expected_principal[:k + 1])) <= drift(k + 1) + eps, k
    assert schedule.total_principal_minor == principal


def test_level_payment_is_computed_exactly():
    # 1,200 at 12 % a year, monthly (1 % a period), 2 payments:
    # 1,200 × 0.01 × 1.01² / (1.01² − 1) = 12 × 1.0201 / 0.0201 = 40,804/67 = 609.01…
    assert level_payment_exact(1_200, Decimal("0.12"), 1, 2) == Fraction(40_804, 67)
    assert level_payment_exact(1_200, Decimal("0"), 1, 7) == Fraction(1_200, 7)


def test_annuity_on_actual_days_pays_the_level_payment_until_the_last_row():
    terms = LoanTerms(draws=[(date(2024, 4, 1), 30_000_000)], rate_annual=Decimal("0.018"),
                      first_payment_on=date(2024, 9, 30), instalments=10, frequency_months=6,
                      profile="annuity", grace_period_months=6)
    schedule = build_schedule(terms)
    level = schedule.level_payment_minor
    assert schedule.rows[0].principal == 0  # 30 September 2024: within the grace to 1 October
    assert all(r.payment == level for r in schedule.rows[1:-1])
    assert all(r.principal == level - r.interest for r in schedule.rows[1:-1])
    assert schedule.rows[-1].principal == schedule.rows[-2].closing_principal
    assert schedule.total_principal_minor == 30_000_000
    assert schedule.rows[-1].closing_principal == 0


# --- multiple draws -------------------------------------------------------------------------


MULTI_DRAW = LoanTerms(
    draws=[(date(2024, 4, 1), 30_000_000), (date(2024, 7, 1), 20_000_000),
           (date(2024, 10, 1), 10_000_000)],
    rate_annual=Decimal("0.015"), first_payment_on=date(2025, 3, 31), instalments=3,
    profile="equal_principal")


def test_multiple_draws_accrue_interest_each_from_its_own_draw_date():
    rows = build_schedule(MULTI_DRAW).rows
    # 30,000,000 × 1.5 % × 364/365 = 448,767.12…  (2024-04-01 → 2025-03-31)
    # 20,000,000 × 1.5 % × 273/365 = 224,383.56…  (2024-07-01 → 2025-03-31)
    # 10,000,000 × 1.5 % × 181/365 =  74,383.56…  (2024-10-01 → 2025-03-31)
    # sum 747,534.24… → 747,534 (rounded once, on the sum)
    assert (rows[0].opening_principal, rows[0].principal, rows[0].interest) == \
        (60_000_000, 20_000_000, 747_534)
    assert rows[0].days == 364
    assert [(r.interest, r.closing_principal) for r in rows[1:]] == [
        (600_000, 20_000_000), (300_000, 0)]
    steps = rows[0].trace.steps
    assert [(s["amount"], s["days"]) for s in steps[:3]] == [
        (minor(30_000_000), days(364)), (minor(20_000_000), days(273)),
        (minor(10_000_000), days(181))]
    assert [ENGLISH.formula(s) for s in steps[:3]] == [
        "30,000,000 × 0.015 × 364 / 365", "20,000,000 × 0.015 × 273 / 365",
        "10,000,000 × 0.015 × 181 / 365"]
    assert steps[3].phrase is Phrase.INTEREST_BEFORE_ROUNDING
    assert rows[0].trace.rounding is not None and rows[0].trace.rounding.result_minor == 747_534


# --- business days and day counts -----------------------------------------------------------


HOLIDAY = LoanTerms(draws=[(date(2025, 2, 5), 10_000_000)], rate_annual=Decimal("0.01"),
                    first_payment_on=date(2025, 5, 5), instalments=2, frequency_months=3,
                    profile="bullet")


def test_due_date_on_a_holiday_moves_to_the_next_business_day_and_interest_runs_to_it():
    first, second = build_schedule(HOLIDAY).rows
    # 5 May 2025 is Children's Day and 6 May a substitute holiday: due Wednesday 7 May.
    assert (first.nominal_on, first.due_on, first.period_end) == \
        (date(2025, 5, 5), date(2025, 5, 7), date(2025, 5, 7))
    # 2025-02-05 → 2025-05-07: 91 days; 10,000,000 × 1 % × 91/365 = 24,931.50… → 24,931
    assert (first.days, first.interest) == (91, 24_931)
    # The next period starts on the moved date: 2025-05-07 → 2025-08-05 is 90 days
    # 10,000,000 × 1 % × 90/365 = 24,657.53… → 24,657
    assert (second.period_start, second.due_on, second.days, second.interest) == \
        (date(2025, 5, 7), date(2025, 8, 5), 90, 24_657)


def test_without_business_day_adjustment_the_nominal_date_is_due():
    first = build_schedule(replace(HOLIDAY, business_day_adjust=False)).rows[0]
    # 2025-02-05 → 2025-05-05: 89 days; 100,000 × 89/365 = 24,383.56… → 24,383
    assert (first.due_on, first.days, first.interest) == (date(2025, 5, 5), 89, 24_383)


def test_month_end_due_dates_do_not_drift():
    terms = LoanTerms(draws=[(date(2024, 1, 5), 1_200_000)], rate_annual=Decimal("0.01"),
                      first_payment_on=date(2024, 1, 31), instalments=4, frequency_months=1,
                      profile="equal_principal", business_day_adjust=False)
    assert [r.due_on for r in build_schedule(terms).rows] == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_leap_year_day_counts():
    # ACT counts 29 February; 30/360 treats every month as 30 days.
    assert accrual_days(date(2024, 2, 28), date(2024, 3, 1)) == 2
    assert accrual_days(date(2023, 2, 28), date(2023, 3, 1)) == 1
    assert accrual_days(date(2024, 1, 10), date(2025, 1, 10)) == 366
    assert accrual_days(date(2024, 1, 10), date(2025, 1, 10), "30/360") == 360
    assert accrual_days(date(2024, 1, 31), date(2024, 3, 31), "30/360") == 60
    assert accrual_days(date(2024, 4, 1), date(2024, 4, 30)) == 29  # 片端
    assert accrual_days(date(2024, 4, 1), date(2024, 4, 30), count_last_day=True) == 30  # 両端
    # ACT/365F keeps 365 in a leap year: a full leap year earns more than the annual rate.
    terms = LoanTerms(draws=[(date(2024, 1, 10), 10_000_000)], rate_annual=Decimal("0.01"),
                      first_payment_on=date(2025, 1, 10), instalments=1, profile="bullet")
    row = build_schedule(terms).rows[0]
    # 10,000,000 × 1 % × 366/365 = 100,273.97… → 100,273
    assert (row.days, row.interest) == (366, 100_273)
    # ACT/360 on the same year: 10,000,000 × 1 % × 366/360 = 101,666.66… → 101,666
    assert build_schedule(replace(terms, day_count="ACT/360")).rows[0].interest == 101_666


# --- accrued interest at the year end -------------------------------------------------------


def test_accrued_interest_to_31_march():
    schedule = build_schedule(BULLET)
    # FY2021 close: the period 2021-12-15 → 2022-06-15 is open; 15 December to 31 March
    # inclusive is 107 days; 50,000,000 × 2 % × 107/365 = 293,150.68… → 293,150
    assert accrued_interest(BULLET, schedule, date(2022, 3, 31)) == 293_150
    trace = accrued_interest_trace(BULLET, schedule, date(2022, 3, 31))
    assert ENGLISH.formula(trace.steps[0]) == "50,000,000 × 0.02 × 107 / 365"
    assert trace.steps[-1].phrase is Phrase.NEXT_DUE_DATE
    assert trace.steps[-1].value == day(date(2022, 6, 15))


def test_accrued_interest_counts_only_draws_made_by_the_date():
    schedule = build_schedule(MULTI_DRAW)
    # To 30 September 2024: 30,000,000 for 183 days and 20,000,000 for 92 days; the third
    # draw (1 October) is not yet made.
    # 450,000 × 183/365 + 300,000 × 92/365 = 225,616.43… + 75,616.43… = 301,232.87… → 301,232
    assert accrued_interest(MULTI_DRAW, schedule, date(2024, 9, 30)) == 301_232


def test_accrued_interest_the_day_before_a_due_date_is_that_due_dates_interest():
    schedule = build_schedule(EQUAL_PRINCIPAL)
    for row in schedule.rows:
        assert accrued_interest(EQUAL_PRINCIPAL, schedule,
                                row.due_on - timedelta(days=1)) == row.interest


def test_accrued_interest_outside_the_loan_is_zero():
    schedule = build_schedule(EQUAL_PRINCIPAL)
    assert accrued_interest(EQUAL_PRINCIPAL, schedule, date(2020, 3, 31)) == 0
    assert accrued_interest(EQUAL_PRINCIPAL, schedule, date(2025, 4, 1)) == 0
    # On a due date, that day already belongs to the next period (片端): one day accrues.
    # 75,000,000 × 1 % × 1/365 = 2,054.79… → 2,054
    assert accrued_interest(EQUAL_PRINCIPAL, schedule, date(2022, 4, 1)) == 2_054


def test_accrued_interest_refuses_a_schedule_of_other_terms():
    with pytest.raises(SibError) as error:
        accrued_interest(BULLET, build_schedule(EQUAL_PRINCIPAL), date(2022, 3, 31))
    assert error.value.code == "SCHEDULE_TERMS_MISMATCH"


# --- schedule against actual ----------------------------------------------------------------


def test_schedule_against_actual_payments():
    schedule = build_schedule(EQUAL_PRINCIPAL)
    actual = [(date(2021, 4, 1), 0, 1_000_000),
              (date(2022, 4, 4), 25_000_000, 999_900),   # three days late, interest 100 short
              (date(2023, 4, 3), 20_000_000, 754_109),   # principal 5,000,000 short
              (date(2023, 4, 20), 5_000_000, 0)]         # the rest, seventeen days later
    rows = compare(schedule, actual)
    assert [(r.number, r.paid_on, r.principal_difference, r.interest_difference,
             r.actual_closing_principal) for r in rows] == [
        (1, (date(2021, 4, 1),), 0, 0, 100_000_000),
        (2, (date(2022, 4, 4),), 0, -100, 75_000_000),
        (3, (date(2023, 4, 3), date(2023, 4, 20)), 0, 0, 50_000_000),
        (4, (), -25_000_000, -498_630, 50_000_000),
        (5, (), -25_000_000, -250_000, 50_000_000),
    ]
    assert rows[3].scheduled_closing_principal == 25_000_000
    assert (rows[2].actual_principal, rows[2].scheduled_principal) == (25_000_000, 25_000_000)


def test_actual_payments_must_be_non_negative_integers():
    with pytest.raises(SibError) as error:
        compare(build_schedule(BULLET), [(date(2021, 12, 15), 0, 501_369.0)])
    assert (error.value.code, error.value.problems[0].field) == \
        ("ACTUAL_PAYMENT_INVALID", "actual_payments[0]")


# --- bad terms ------------------------------------------------------------------------------


@pytest.mark.parametrize("change, code, field", [
    ({"instalments": 0}, "LOAN_INSTALMENTS_INVALID", "instalments"),
    ({"rate_annual": Decimal("-0.01")}, "LOAN_RATE_NEGATIVE", "rate_annual"),
    ({"rate_annual": 0.01}, "LOAN_RATE_INVALID", "rate_annual"),
    ({"grace_period_months": 60}, "LOAN_GRACE_TOO_LONG", "grace_period_months"),
    ({"grace_period_months": -1}, "LOAN_GRACE_INVALID", "grace_period_months"),
    ({"frequency_months": 0}, "LOAN_FREQUENCY_INVALID", "frequency_months"),
    ({"draws": [(date(2020, 4, 1), 50_000_000), (date(2022, 4, 1), 50_000_000)]},
     "LOAN_DRAW_AFTER_FIRST_PAYMENT", "draws[1].drawn_on"),
    ({"draws": [(date(2020, 4, 1), 0)]}, "LOAN_DRAW_NOT_POSITIVE", "draws[0].amount_minor"),
    ({"draws": [(date(2020, 4, 1), 1.5)]}, "LOAN_DRAW_INVALID", "draws[0]"),
    ({"draws": []}, "LOAN_NO_DRAWS", "draws"),
    ({"day_count": "ACT/ACT"}, "LOAN_DAY_COUNT_UNKNOWN", "day_count"),
    ({"profile": "balloon"}, "LOAN_PROFILE_UNKNOWN", "profile"),
    ({"interest_rounding": "up"}, "LOAN_ROUNDING_UNKNOWN", "interest_rounding"),
    ({"principal_remainder_to": "middle"}, "LOAN_REMAINDER_UNKNOWN", "principal_remainder_to"),
])
def test_bad_terms_are_refused_with_a_code_and_field(change, code, field):
    with pytest.raises(SibError) as error:
        build_schedule(replace(EQUAL_PRINCIPAL, **change))
    assert error.value.code == code
    assert error.value.problems[0].field == field


def test_every_problem_with_the_terms_is_reported_together():
    bad = replace(EQUAL_PRINCIPAL, instalments=0, rate_annual=Decimal("-1"), profile="x")
    assert {p.code for p in validate_terms(bad)} == {
        "LOAN_INSTALMENTS_INVALID", "LOAN_RATE_NEGATIVE", "LOAN_PROFILE_UNKNOWN"}
    assert validate_terms(EQUAL_PRINCIPAL) == []


def test_grace_must_leave_a_principal_instalment():
    # Four annual due dates from 1 April 2021; a 48-month grace from 1 April 2020 ends on
    # 1 April 2024 and covers them all. 47 months leaves the last one.
    terms = replace(EQUAL_PRINCIPAL, instalments=4)
    with pytest.raises(SibError) as error:
        build_schedule(replace(terms, grace_period_months=48))
    assert "covers all 4 due dates" in error.value.problems[0].message
    rows = build_schedule(replace(terms, grace_period_months=47)).rows
    assert [r.principal for r in rows] == [0, 0, 0, 100_000_000]


# --- properties -----------------------------------------------------------------------------


@st.composite
def loan_terms(draw: st.DrawFn) -> LoanTerms:
    first_drawn_on = draw(st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)))
    first_payment_on = first_drawn_on + timedelta(days=draw(st.integers(1, 400)))
    draw_dates = [first_drawn_on] + sorted(draw(st.lists(
        st.dates(min_value=first_drawn_on, max_value=first_payment_on - timedelta(days=1)),
        max_size=3)))
    amounts = draw(st.lists(st.integers(1, 10**11), min_size=len(draw_dates),
                            max_size=len(draw_dates)))
    return LoanTerms(
        draws=list(zip(draw_dates, amounts)),
        rate_annual=draw(st.decimals(min_value=0, max_value=Decimal("0.15"), places=5)),
        first_payment_on=first_payment_on,
        instalments=draw(st.integers(1, 60)),
        frequency_months=draw(st.sampled_from([1, 3, 6, 12])),
        profile=draw(st.sampled_from(["bullet", "equal_principal", "annuity"])),
        day_count=draw(st.sampled_from(["ACT/365F", "ACT/360", "30/360"])),
        count_last_day=draw(st.booleans()),
        interest_rounding=draw(st.sampled_from(list(RoundingMode))),
        payment_rounding=draw(st.sampled_from(list(RoundingMode))),
        grace_period_months=draw(st.sampled_from([0, 0, 6, 12, 24])),
        business_day_adjust=draw(st.booleans()),
        principal_remainder_to=draw(st.sampled_from(["first", "last"])))


@settings(max_examples=300, deadline=None)
@given(loan_terms())
def test_principal_sums_to_the_drawn_total_and_amounts_are_non_negative_ints(terms):
    assume(not validate_terms(terms))
    schedule = build_schedule(terms)
    assert schedule.total_principal_minor == terms.total_drawn_minor
    assert schedule.rows[-1].closing_principal == 0
    previous_closing = 0
    for row in schedule.rows:
        for amount in (row.opening_principal, row.principal, row.interest, row.payment,
                       row.closing_principal):
            assert type(amount) is int and amount >= 0
        assert row.payment == row.principal + row.interest
        assert row.closing_principal == row.opening_principal - row.principal
        assert row.opening_principal >= previous_closing
        assert row.due_on >= row.nominal_on and row.period_end == row.due_on
        previous_closing = row.closing_principal


def test_a_second_draw_after_an_interest_only_date_of_the_grace_period_is_allowed():
    # Grace ends 2021-04-01: the first due date pays interest only; the second draw comes
    # after it and before the first principal date (2022-04-01), accruing from its own date.
    terms = replace(EQUAL_PRINCIPAL, draws=[(date(2020, 4, 1), 50_000_000),
                                            (date(2021, 10, 1), 50_000_000)])
    rows = build_schedule(terms).rows
    assert (rows[0].principal, rows[0].interest) == (0, 500_000)  # 50,000,000 × 1 % × 365/365
    # 2021-04-01 → 2022-04-01: 50,000,000 for 365 days + 50,000,000 from 2021-10-01 (182 days)
    assert rows[1].opening_principal == 100_000_000
    assert rows[1].interest == 500_000 + 249_315
    assert sum(r.principal for r in rows) == 100_000_000
