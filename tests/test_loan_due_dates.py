"""Due dates as a bank writes them (issue 11, item 1): 末日 stays 末日, a business-day convention
per loan, and a first due date — worked examples, every figure derived by hand in a comment.

Conventions unless a test says otherwise: ACT/365 fixed, 片端 (the first day of a period counts,
the last does not), interest truncated to the yen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.instruments import Loan
from contracts.validate import read_document, validate_document
from settlement.loans import interest_only_dates, loan_schedule, loan_terms
from settlement.schedules import (
    LoanTerms,
    adjust_to_business_day,
    build_schedule,
    roll_months,
    validate_terms,
)

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")

# 「毎年3月末日及び9月末日」: 12,000,000 yen drawn Monday 3 July 2023 at 1.2 %, equal principal
# (元金均等) in four semi-annual instalments from 30 September 2023, month ends kept, a due date
# on a bank holiday moved by modified following (翌営業日, or 前営業日 when that is next month).
MONTH_END = LoanTerms(
    draws=[(date(2023, 7, 3), 12_000_000)], rate_annual=Decimal("0.012"),
    first_payment_on=date(2023, 9, 30), instalments=4, frequency_months=6,
    profile="equal_principal", end_of_month=True,
    business_day_convention="modified_following")


def _rows(terms: LoanTerms) -> list[tuple[date, date, int, int, int, int]]:
    """(nominal, due, days, principal, interest, closing) of every row."""
    return [(r.nominal_on, r.due_on, r.days, r.principal, r.interest, r.closing_principal)
            for r in build_schedule(terms).rows]


def test_semi_annual_month_end_loan_across_a_leap_year():
    # Principal: 12,000,000 ÷ 4 = 3,000,000 a time.
    assert _rows(MONTH_END) == [
        # 30 Sep 2023 is a Saturday; Monday 2 Oct is in October, so modified following takes
        # Friday 29 Sep. 3 Jul → 29 Sep: 28 (rest of July) + 31 (Aug) + 29 = 88 days;
        # 12,000,000 × 1.2 % × 88/365 = 12,672,000/365 = 34,717.80… → 34,717
        (date(2023, 9, 30), date(2023, 9, 29), 88, 3_000_000, 34_717, 9_000_000),
        # 末日: 31 Mar 2024 (not 30 Mar), a Sunday; Monday 1 Apr is next month: Friday 29 Mar.
        # 29 Sep → 29 Mar across 29 Feb 2024: 30+31+30+31+31+29 = 182 days;
        # 9,000,000 × 1.2 % × 182/365 = 19,656,000/365 = 53,852.05… → 53,852
        (date(2024, 3, 31), date(2024, 3, 29), 182, 3_000_000, 53_852, 6_000_000),
        # 30 Sep 2024 is a Monday, a business day. 29 Mar → 30 Sep: 2 (Mar) + 30+31+30+31+31
        # + 30 = 185 days; 6,000,000 × 1.2 % × 185/365 = 13,320,000/365 = 36,493.15… → 36,493
        (date(2024, 9, 30), date(2024, 9, 30), 185, 3_000_000, 36_493, 3_000_000),
        # 31 Mar 2025 is a Monday. 30 Sep → 31 Mar (February 2025 has 28 days):
        # 31+30+31+31+28+31 = 182 days; 3,000,000 × 1.2 % × 182/365 = 6,552,000/365
        # = 17,950.68… → 17,950
        (date(2025, 3, 31), date(2025, 3, 31), 182, 3_000_000, 17_950, 0),
    ]


def test_without_the_month_end_rule_30_september_drifts_to_30_march():
    # Today's default, kept for existing contracts: the same day of the month, clipped.
    # 30 Mar 2024 is a Saturday → following: Monday 1 Apr; 30 Mar 2025 a Sunday → 31 Mar.
    plain = replace(MONTH_END, end_of_month=False, business_day_convention="following")
    assert [(r.nominal_on, r.due_on) for r in build_schedule(plain).rows] == [
        (date(2023, 9, 30), date(2023, 10, 2)), (date(2024, 3, 30), date(2024, 4, 1)),
        (date(2024, 9, 30), date(2024, 9, 30)), (date(2025, 3, 30), date(2025, 3, 31))]


def test_month_end_rule_through_february_and_leap_years():
    # 28 Feb 2023 is February's last day: each date is its month's last day, 29 Feb in 2024.
    assert [roll_months(date(2023, 2, 28), 6 * k, True) for k in range(5)] == [
        date(2023, 2, 28), date(2023, 8, 31), date(2024, 2, 29), date(2024, 8, 31),
        date(2025, 2, 28)]
    # Without the rule 28 Feb stays the 28th: 28 Aug.
    assert roll_months(date(2023, 2, 28), 6, False) == date(2023, 8, 28)
    # A date that is not a month end keeps its day even under the rule.
    assert roll_months(date(2023, 9, 28), 6, True) == date(2024, 3, 28)
    # Backwards too: 31 Mar 2024 − 6 months = 30 Sep 2023; 31 Aug 2024 − 6 = 29 Feb 2024.
    assert roll_months(date(2024, 3, 31), -6, True) == date(2023, 9, 30)
    assert roll_months(date(2024, 8, 31), -6, True) == date(2024, 2, 29)


@pytest.mark.parametrize(("convention", "expected"), [
    # Saturday 30 Sep 2023: the next business day is Monday 2 Oct, the previous Friday 29 Sep.
    ("following", date(2023, 10, 2)),
    ("modified_following", date(2023, 9, 29)),
    ("preceding", date(2023, 9, 29)),
    ("unadjusted", date(2023, 9, 30)),
])
def test_business_day_conventions_on_a_month_end_saturday(convention, expected):
    assert adjust_to_business_day(date(2023, 9, 30), convention) == expected


def test_modified_following_stays_following_inside_the_month():
    # 5 May 2025 (Children's Day) and 6 May (substitute holiday): Wednesday 7 May, still May.
    assert adjust_to_business_day(date(2025, 5, 5), "modified_following") == date(2025, 5, 7)
    # Preceding: Friday 2 May (3–4 May are a Saturday holiday and a Sunday).
    assert adjust_to_business_day(date(2025, 5, 5), "preceding") == date(2025, 5, 2)


def test_an_unknown_convention_is_refused_with_its_code():
    problems = validate_terms(replace(MONTH_END, business_day_convention="nearest"))  # type: ignore[arg-type]
    assert [(p.code, p.field) for p in problems] == [
        ("LOAN_BUSINESS_DAY_CONVENTION_UNKNOWN", "business_day_convention")]


# --- the contract's loan terms ---------------------------------------------------------------


def _loan(**repayment: object) -> Loan:
    """A 30M loan drawn in two tranches, 元金均等 semi-annually from 30 Sep 2020 (8 times)."""
    return Loan.model_validate({
        "id": "loan-a", "lender": "bank", "borrower": "spv", "commitment": 30_000_000,
        "draws": [{"drawn_on": "2019-07-01", "amount": 15_000_000},
                  {"drawn_on": "2020-04-01", "amount": 15_000_000}],
        "rate_annual": "0.008",
        "repayment": {"profile": "equal_principal", "grace_period_months": 12,
                      "instalments": 8, "frequency_months": 6,
                      "first_repayment_on": "2020-09-30", **repayment}})


def test_the_contract_says_3月末日及び9月末日():
    loan = _loan(end_of_month=True, business_day="modified_following")
    rows = loan_schedule(loan).rows
    # Interest-only dates counted back from 30 Sep 2020 under the rule: 31 Mar 2020 and
    # 30 Sep 2019 (31 Mar 2019 is before the first draw); then 8 principal dates.
    assert [r.nominal_on for r in rows] == [
        date(2019, 9, 30), date(2020, 3, 31), date(2020, 9, 30), date(2021, 3, 31),
        date(2021, 9, 30), date(2022, 3, 31), date(2022, 9, 30), date(2023, 3, 31),
        date(2023, 9, 30), date(2024, 3, 31)]
    # Saturday 30 Sep 2023 → Friday 29 Sep; Sunday 31 Mar 2024 → Friday 29 Mar (the pack
    # showed 2020/03/30 and 2023/10/02 before). The others are business days.
    assert [r.due_on for r in rows][-3:] == [date(2023, 3, 31), date(2023, 9, 29),
                                               date(2024, 3, 29)]
    assert rows[1].due_on == date(2020, 3, 31)
    # Without the rule the old dates stay, so existing contracts keep their schedules.
    assert [r.due_on for r in loan_schedule(_loan()).rows][1] == date(2020, 3, 30)


def test_a_first_due_date_fixes_the_interest_only_dates():
    # First interest on 31 Dec 2019 with quarterly steps would not meet 30 Sep 2020 as
    # semi-annual dates: 31 Dec 2019 + 6 = 30 Jun 2020, + 6 = 31 Dec 2020 (past it).
    with pytest.raises(ValueError, match="do not meet the first repayment"):
        interest_only_dates(_loan(first_due_on="2019-12-31", end_of_month=True))
    # From 31 Mar 2020: one interest-only date, then 30 Sep 2020 (末日 of September).
    loan = _loan(first_due_on="2020-03-31", end_of_month=True)
    assert interest_only_dates(loan) == [date(2020, 3, 31)]
    terms = loan_terms(loan)
    assert (terms.first_payment_on, terms.instalments) == (date(2020, 3, 31), 9)


def _contract_problems(**repayment: object) -> list[tuple[str, str]]:
    """LOAN_ problems of the five-municipality contract with Yamaguchi's repayment changed."""
    data, _ = read_document(FIVE)
    assert data is not None
    loan = next(i for i in data["instruments"] if i.get("id") == "loan-yamaguchi")
    loan["repayment"] = {**loan["repayment"], **repayment}
    _, problems = validate_document(data, "test")
    return [(p.code, p.field or "") for p in problems if p.code.startswith("LOAN_")]


def test_the_contract_refuses_a_first_due_date_off_the_schedule():
    at = "instruments[1].repayment.first_due_on"
    # Semi-annual from 31 Dec 2019: 30 Jun 2020, 31 Dec 2020 — never 30 Sep 2020.
    assert _contract_problems(first_due_on=date(2019, 12, 31), end_of_month=True) == [
        ("LOAN_FIRST_DUE_OFF_SCHEDULE", at)]
    # The first draw is 1 Jul 2019: a due date on 30 Jun 2019 is before it.
    assert _contract_problems(first_due_on=date(2019, 6, 30), end_of_month=True) == [
        ("LOAN_FIRST_DUE_BEFORE_DRAW", at)]
    # 31 Mar 2020 + 6 months = 30 Sep 2020 (by clipping, and as 末日): accepted.
    assert _contract_problems(first_due_on=date(2020, 3, 31), end_of_month=True) == []
    # 30 Sep 2019 + 6 months = 30 Mar 2020 without the rule, so it does not meet 31 Mar 2020;
    # under the rule 30 Sep is 末日 and so is 31 Mar: accepted.
    assert _contract_problems(first_due_on=date(2019, 9, 30), first_repayment_on=date(2020, 3, 31),
                              end_of_month=False) == [
        ("LOAN_FIRST_DUE_OFF_SCHEDULE", at)]
    assert _contract_problems(first_due_on=date(2019, 9, 30), first_repayment_on=date(2020, 3, 31),
                              end_of_month=True) == []
