"""Dates as a Japanese finance office reads them: worked examples for ``ledger.calendar``.

Fiscal years run April–March unless a contract says otherwise, are named by the year they
start in and written in 和暦 (令和元年度, never 令和1年度); payments fall on bank business days.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.calendar import (
    add_months,
    fiscal_year_bounds,
    fiscal_year_of,
    is_business_day,
    next_business_day,
    previous_business_day,
    wareki_date,
    wareki_fiscal_year,
    western_date,
)

# --- fiscal years -----------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "fiscal_year"), [
    (date(2019, 4, 1), 2019),     # first day of the founding case's first year
    (date(2019, 12, 31), 2019),
    (date(2020, 3, 31), 2019),    # last day of FY2019
    (date(2020, 4, 1), 2020),
    (date(2020, 5, 31), 2020),    # the closing period date itself lies in FY2020
    (date(2024, 1, 15), 2023),
])
def test_fiscal_year_of_april_start(day: date, fiscal_year: int) -> None:
    assert fiscal_year_of(day) == fiscal_year


def test_fiscal_year_of_other_start_months() -> None:
    assert fiscal_year_of(date(2020, 3, 31), start_month=1) == 2020
    assert fiscal_year_of(date(2020, 1, 1), start_month=1) == 2020
    assert fiscal_year_of(date(2020, 9, 30), start_month=10) == 2019
    assert fiscal_year_of(date(2020, 10, 1), start_month=10) == 2020


def test_fiscal_year_bounds_april_start() -> None:
    assert fiscal_year_bounds(2019) == (date(2019, 4, 1), date(2020, 3, 31))
    assert fiscal_year_bounds(2023) == (date(2023, 4, 1), date(2024, 3, 31))


def test_fiscal_year_bounds_january_start() -> None:
    assert fiscal_year_bounds(2020, start_month=1) == (date(2020, 1, 1), date(2020, 12, 31))
    assert fiscal_year_bounds(2025, start_month=1) == (date(2025, 1, 1), date(2025, 12, 31))


def test_fiscal_year_bounds_october_start() -> None:
    assert fiscal_year_bounds(2024, start_month=10) == (date(2024, 10, 1), date(2025, 9, 30))


def test_fiscal_year_bounds_contain_exactly_their_days() -> None:
    start, end = fiscal_year_bounds(2023)  # includes 29 February 2024
    assert (end - start).days + 1 == 366
    assert fiscal_year_of(start) == fiscal_year_of(end) == 2023


def test_start_month_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="1..12"):
        fiscal_year_of(date(2020, 1, 1), start_month=13)
    with pytest.raises(ValueError, match="1..12"):
        fiscal_year_bounds(2020, start_month=0)


# --- 和暦 -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fiscal_year", "text"), [
    (2018, "平成30年度"),
    (2019, "令和元年度"),   # began in Heisei; named in the new era, and never 令和1年度
    (2020, "令和2年度"),
    (2023, "令和5年度"),   # Kashima's programme year
    (1989, "平成元年度"),
    (1988, "昭和63年度"),   # ended in Heisei (1989-03-31), but 1988 was never a Heisei year
    (1987, "昭和62年度"),
])
def test_wareki_fiscal_year(fiscal_year: int, text: str) -> None:
    assert wareki_fiscal_year(fiscal_year) == text


def test_wareki_fiscal_years_never_repeat() -> None:
    names = [wareki_fiscal_year(fy) for fy in range(1980, 2031)]
    assert len(set(names)) == len(names)


def test_wareki_fiscal_year_calendar_year_books() -> None:
    assert wareki_fiscal_year(2019, start_month=1) == "令和元年度"
    assert wareki_fiscal_year(1989, start_month=1) == "平成元年度"
    assert wareki_fiscal_year(2018, start_month=1) == "平成30年度"


@pytest.mark.parametrize(("day", "text"), [
    (date(2019, 4, 30), "平成31年4月30日"),
    (date(2019, 5, 1), "令和元年5月1日"),
    (date(2020, 1, 1), "令和2年1月1日"),
    (date(1989, 1, 7), "昭和64年1月7日"),
    (date(1989, 1, 8), "平成元年1月8日"),
    (date(2026, 3, 31), "令和8年3月31日"),
])
def test_wareki_date(day: date, text: str) -> None:
    assert wareki_date(day) == text


def test_wareki_date_before_showa_is_refused() -> None:
    with pytest.raises(ValueError):
        wareki_date(date(1926, 12, 24))


def test_western_date() -> None:
    assert western_date(date(2019, 6, 12)) == "2019年6月12日"
    assert western_date(date(2019, 6, 12), lang="en") == "12 Jun 2019"
    assert western_date(date(2019, 6, 2), lang="en") == "2 Jun 2019"


# --- bank business days ------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "business"), [
    (date(2026, 1, 5), True),     # Monday
    (date(2026, 1, 3), False),    # Saturday, and a bank holiday
    (date(2026, 1, 4), False),    # Sunday
    (date(2026, 1, 1), False),    # 元日
    (date(2026, 1, 2), False),    # Friday, but banks close 1-2 and 1-3
    (date(2025, 12, 31), False),  # Wednesday, bank year-end holiday
    (date(2025, 12, 30), True),
    (date(2025, 5, 5), False),    # こどもの日 (Monday)
    (date(2025, 5, 6), False),    # 振替休日 for みどりの日 falling on Sunday 5-4
    (date(2024, 2, 12), False),   # 振替休日 for 建国記念の日 on Sunday 2-11
    (date(2026, 9, 22), False),   # 国民の休日 between 敬老の日 and 秋分の日
    (date(2019, 4, 30), False),   # the 2019 ten-day Golden Week
    (date(2019, 5, 1), False),
])
def test_is_business_day(day: date, business: bool) -> None:
    assert is_business_day(day) is business


@pytest.mark.parametrize(("day", "next_day"), [
    (date(2026, 1, 1), date(2026, 1, 5)),    # New Year: Thursday to Monday
    (date(2025, 5, 3), date(2025, 5, 7)),    # Golden Week 2025: Sat 3 .. Tue 6
    (date(2025, 5, 6), date(2025, 5, 7)),    # the substitute holiday itself
    (date(2024, 2, 10), date(2024, 2, 13)),  # Sat, Sun 建国記念の日, Mon 振替休日
    (date(2019, 4, 27), date(2019, 5, 7)),
    (date(2026, 1, 5), date(2026, 1, 5)),    # already a business day
])
def test_next_business_day(day: date, next_day: date) -> None:
    assert next_business_day(day) == next_day


def test_previous_business_day() -> None:
    assert previous_business_day(date(2026, 1, 4)) == date(2025, 12, 30)
    assert previous_business_day(date(2025, 5, 6)) == date(2025, 5, 2)
    assert previous_business_day(date(2025, 12, 30)) == date(2025, 12, 30)


# --- add_months ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "months", "result"), [
    (date(2020, 1, 31), 1, date(2020, 2, 29)),    # leap year: clipped to 29 February
    (date(2021, 1, 31), 1, date(2021, 2, 28)),
    (date(2020, 2, 29), 12, date(2021, 2, 28)),
    (date(2019, 3, 31), -1, date(2019, 2, 28)),
    (date(2025, 8, 31), 1, date(2025, 9, 30)),
    (date(2024, 12, 15), 1, date(2025, 1, 15)),   # across the year end
    (date(2026, 1, 31), -2, date(2025, 11, 30)),  # backwards across the year end
    (date(2019, 4, 1), 60, date(2024, 4, 1)),     # a five-year contract
    (date(2019, 4, 30), 0, date(2019, 4, 30)),
])
def test_add_months_clips_to_the_month_end(day: date, months: int, result: date) -> None:
    assert add_months(day, months) == result
