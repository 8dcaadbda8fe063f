"""Default interest (遅延損害金) as worked examples (issue 11, item 2, first rule): ACT/365 on
the overdue amount, by the day from the day after the due date, truncated to the yen."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.errors import SibError
from ledger.rounding import RoundingMode
from settlement.arrears import days_overdue, default_interest

RATE = Decimal("0.146")  # 14.6 % a year


def test_a_million_yen_31_days_late_at_14_6_percent():
    # Due Friday 31 January 2025, paid Monday 3 March: 1 Feb … 3 Mar = 28 + 3 = 31 days.
    assert days_overdue(date(2025, 1, 31), date(2025, 3, 3)) == 31
    # 1,000,000 × 0.146 × 31/365 = 4,526,000/365 = 12,400 exactly.
    assert default_interest(1_000_000, RATE, date(2025, 1, 31), date(2025, 3, 3)) == 12_400


def test_fractions_of_a_yen_are_truncated_and_leap_years_keep_365():
    # Due 28 Feb 2024, paid 1 Mar 2024: 29 Feb and 1 Mar, 2 days (a leap year: still /365).
    # 3,750,000 × 0.146 × 2/365 = 1,095,000/365 = 3,000 exactly.
    assert default_interest(3_750_000, RATE, date(2024, 2, 28), date(2024, 3, 1)) == 3_000
    # 29,917 × 0.14 × 10/365 = 41,883.8/365 = 114.75… → 114 (truncated), 115 rounded half up.
    assert default_interest(29_917, Decimal("0.14"), date(2023, 9, 29),
                            date(2023, 10, 9)) == 114
    assert default_interest(29_917, Decimal("0.14"), date(2023, 9, 29), date(2023, 10, 9),
                            RoundingMode.HALF_UP) == 115


def test_paid_on_or_before_the_due_date_owes_nothing():
    assert days_overdue(date(2025, 3, 31), date(2025, 3, 31)) == 0
    assert default_interest(1_000_000, RATE, date(2025, 3, 31), date(2025, 3, 28)) == 0
    # One day late owes one day: 1,000,000 × 0.146 / 365 = 400.
    assert default_interest(1_000_000, RATE, date(2025, 3, 31), date(2025, 4, 1)) == 400


def test_a_negative_amount_or_a_float_rate_is_refused_with_its_code():
    with pytest.raises(SibError) as caught:
        default_interest(-1, 0.146, date(2025, 1, 31), date(2025, 3, 3))  # type: ignore[arg-type]
    assert [p.field for p in caught.value.problems] == ["overdue_minor", "rate_annual"]
    assert {p.code for p in caught.value.problems} == {"DEFAULT_INTEREST_INVALID"}
