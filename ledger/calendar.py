"""Dates as a Japanese finance office reads them: fiscal years, 和暦, bank business days.

The fiscal year runs April–March by default (会計年度) and is named by the calendar year in
which it starts: FY2019 is 2019-04-01 … 2020-03-31, written 令和元年度 (never 令和1年度).
The start month is a parameter everywhere, because a contract or book may differ; so is the
naming: many foreign years are named by the calendar year in which they END (a US state's
July–June year 1 July 2025 – 30 June 2026 is "FY2026"). A year's name is the number a person
writes and reads everywhere; this module is the one place that maps a name to dates and a date
to a name (:func:`fiscal_year_of`, :func:`fiscal_year_bounds`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Literal

import jpholiday

from ledger.errors import SibError
from ledger.inputs import check_date_window


class OutsideEras(SibError, ValueError):
    """A date before the first era the documents know (昭和): refused with a code, so that the
    HTTP layer answers 422 instead of failing."""

# Era start dates (first day of each era), newest first.
_ERAS: tuple[tuple[date, str, str], ...] = (
    (date(2019, 5, 1), "令和", "Reiwa"),
    (date(1989, 1, 8), "平成", "Heisei"),
    (date(1926, 12, 25), "昭和", "Showa"),
)


# The last day of each era that has ended (an era's year numbers stop there).
_ERA_ENDS = {"平成": date(2019, 4, 30), "昭和": date(1989, 1, 7)}
_ISO_OR_SLASHES = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_KANJI_WESTERN = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_KANJI_ERA = re.compile(r"(令和|平成|昭和)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日")


def parse_date(text: str, field: str) -> date:
    """A date as a person types it in Japan, within the sane window of :mod:`ledger.inputs`.

    Accepted: ``2020-05-20``, ``2020/05/20`` (or ``2020/5/20``), ``2020年5月20日`` and 和暦
    ``令和2年5月20日`` / ``令和元年5月1日`` / ``平成31年4月30日``; full-width digits are read
    (NFKC), as an IME types them. Refused with ``DATE_INVALID`` naming ``field``: any other
    form, a day that does not exist (2020-02-30), an era year outside its era (平成32年, or
    令和元年4月1日 — 令和 began on 1 May 2019); with ``DATE_OUT_OF_RANGE``: a date outside
    1990–2100.
    """
    typed = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    day = _western(typed) if not _KANJI_ERA.fullmatch(typed) else _wareki(typed, field)
    if day is None:
        raise SibError(f"{text.strip()[:40]!r} is not a date: write 2020-05-20, 2020/05/20 or "
                       "令和2年5月20日", "DATE_INVALID", field)
    return check_date_window(day, field)


def _western(typed: str) -> date | None:
    match = _ISO_OR_SLASHES.fullmatch(typed) or _KANJI_WESTERN.fullmatch(typed)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _wareki(typed: str, field: str) -> date:
    match = _KANJI_ERA.fullmatch(typed)
    assert match is not None
    era = match[1]
    start = next(first for first, kanji, _ in _ERAS if kanji == era)
    year_in_era = 1 if match[2] == "元" else int(match[2])
    try:
        day = date(start.year + year_in_era - 1, int(match[3]), int(match[4]))
    except ValueError:
        day = None
    end = _ERA_ENDS.get(era, date.max)
    if day is None or year_in_era < 1 or not start <= day <= end:
        last = f"{wareki_date(end)} ({end.isoformat()})" if era in _ERA_ENDS else "today"
        raise SibError(f"{typed!r} is not a date of the {era} era, which runs from "
                       f"{wareki_date(start)} ({start.isoformat()}) to {last}",
                       "DATE_INVALID", field)
    return day


# How a fiscal year is named: by the calendar year in which it starts (Japan: 2019年度 is
# April 2019 – March 2020) or in which it ends (a US state: FY2026 is July 2025 – June 2026).
FiscalYearNaming = Literal["start", "end"]
NAMED_BY_START: FiscalYearNaming = "start"
NAMED_BY_END: FiscalYearNaming = "end"
FISCAL_YEAR_NAMINGS: tuple[FiscalYearNaming, ...] = (NAMED_BY_START, NAMED_BY_END)


def _check_start_month(start_month: int) -> None:
    if not 1 <= start_month <= 12:
        raise ValueError(f"fiscal year start month must be 1..12, got {start_month}")


def _name_offset(start_month: int, named_by: str) -> int:
    """How many years a fiscal year's name is after the calendar year in which it starts: 1
    for a year named by its end that does not start in January, else 0 (a January year starts
    and ends in the same calendar year: both namings agree)."""
    _check_start_month(start_month)
    if named_by not in FISCAL_YEAR_NAMINGS:
        raise ValueError(f"fiscal year naming must be one of {', '.join(FISCAL_YEAR_NAMINGS)}, "
                         f"got {named_by!r}")
    return 1 if named_by == NAMED_BY_END and start_month > 1 else 0


def fiscal_year_of(day: date, start_month: int = 4,
                   named_by: FiscalYearNaming | str = NAMED_BY_START) -> int:
    """The name of the fiscal year containing ``day``: the calendar year in which that year
    starts (``named_by="start"``, the default) or ends (``"end"``)."""
    offset = _name_offset(start_month, named_by)
    return (day.year if day.month >= start_month else day.year - 1) + offset


def fiscal_year_bounds(fiscal_year: int, start_month: int = 4,
                       named_by: FiscalYearNaming | str = NAMED_BY_START) -> tuple[date, date]:
    """First and last day of the fiscal year named ``fiscal_year`` (by the calendar year in
    which it starts, the default, or in which it ends)."""
    starts_in = fiscal_year - _name_offset(start_month, named_by)
    start = date(starts_in, start_month, 1)
    end = date(starts_in + 1, start_month, 1) - timedelta(days=1) if start_month > 1 \
        else date(starts_in, 12, 31)
    return start, end


def _era_of(day: date) -> tuple[str, str, int]:
    for start, kanji, roman in _ERAS:
        if day >= start:
            return kanji, roman, day.year - start.year + 1
    raise OutsideEras(f"{day} is before the Showa era", "DATE_BEFORE_ERAS", "date")


def _era_year_text(year_in_era: int) -> str:
    return "元" if year_in_era == 1 else str(year_in_era)


def wareki_date(day: date) -> str:
    """``令和元年5月1日`` style date."""
    kanji, _, year = _era_of(day)
    return f"{kanji}{_era_year_text(year)}年{day.month}月{day.day}日"


def wareki_fiscal_year(fiscal_year: int, start_month: int = 4,
                       named_by: FiscalYearNaming | str = NAMED_BY_START) -> str:
    """``令和元年度`` for FY2019: the era year of the fiscal year's name (the calendar year it
    starts in, unless ``named_by="end"``).

    The era is the newest one that has begun by the fiscal year's last day *and* whose first
    calendar year is not after the year the fiscal year starts in:

    - FY2018 (April 2018 – March 2019) is 平成30年度;
    - FY2019 started in Heisei (April 2019) but, as 2019 is also 令和元年 and the era changed
      within it, is called 令和元年度 (never 平成31年度 in current documents, never 令和1年度);
    - FY1988 (April 1988 – March 1989) is 昭和63年度 even though it ended in Heisei: 1988 was
      never a Heisei year, and 平成元年度 is FY1989.
    """
    _, end = fiscal_year_bounds(fiscal_year, start_month, named_by)
    for era_start, kanji, _ in _ERAS:
        if era_start <= end and era_start.year <= fiscal_year:
            return f"{kanji}{_era_year_text(fiscal_year - era_start.year + 1)}年度"
    raise OutsideEras(f"fiscal year {fiscal_year} is before the Showa era", "DATE_BEFORE_ERAS",
                      "fiscal_year")


def western_date(day: date, lang: str = "ja") -> str:
    """``2019年6月12日`` in Japanese, ``12 Jun 2019`` in English."""
    if lang == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.strftime("%d %b %Y").lstrip("0")


def is_business_day(day: date) -> bool:
    """A bank business day: not Saturday or Sunday, not a Japanese public holiday, and not
    a bank holiday at the year end (12-31, 1-2, 1-3)."""
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    return (day.month, day.day) not in {(12, 31), (1, 1), (1, 2), (1, 3)}


def next_business_day(day: date) -> date:
    """``day`` itself if a business day, else the next business day (翌営業日)."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def previous_business_day(day: date) -> date:
    """``day`` itself if a business day, else the previous business day (前営業日)."""
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def add_months(day: date, months: int) -> date:
    """Same day-of-month ``months`` later, clipped to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + (month // 12), month % 12 + 1, 1)
    last = (next_month - timedelta(days=1)).day
    return date(year, month, min(day.day, last))
