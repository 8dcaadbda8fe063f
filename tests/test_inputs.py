"""What a person types, read strictly (issue 14, items 3 and 4): dates as written in Japan,
KPI values written plainly, amounts and dates within bounds, codes in a safe character set.
Pure functions; no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.calendar import parse_date
from ledger.errors import SibError
from ledger.inputs import (
    MAX_AMOUNT_MINOR,
    check_amount_minor,
    check_date_window,
    normalise_code,
    parse_plain_decimal,
)


@pytest.mark.parametrize("typed, day", [
    ("2020-05-20", date(2020, 5, 20)),
    ("2020/05/20", date(2020, 5, 20)),  # as Excel and most Japanese forms write it
    ("2020/5/20", date(2020, 5, 20)),
    ("2020年5月20日", date(2020, 5, 20)),
    ("令和2年3月31日", date(2020, 3, 31)),  # 令和 began 2019-05-01: 令和2年 = 2019 + 2 - 1
    ("令和元年5月1日", date(2019, 5, 1)),  # 元年 is the era's first year
    ("平成31年4月30日", date(2019, 4, 30)),  # 平成's last day: 1989 + 31 - 1 = 2019
    ("平成2年4月1日", date(1990, 4, 1)),
    ("令和２年３月３１日", date(2020, 3, 31)),  # full-width digits, as an IME types them
    (" 2020-05-20 ", date(2020, 5, 20)),
])
def test_dates_are_read_as_a_person_in_japan_types_them(typed, day):
    assert parse_date(typed, "on") == day


@pytest.mark.parametrize("typed, code", [
    ("9999-12-31", "DATE_OUT_OF_RANGE"),  # posted before this issue
    ("0202-05-20", "DATE_OUT_OF_RANGE"),
    ("1989-12-31", "DATE_OUT_OF_RANGE"),
    ("2101-01-01", "DATE_OUT_OF_RANGE"),
    ("2020-02-30", "DATE_INVALID"),
    ("20200520", "DATE_INVALID"),
    ("2020.05.20", "DATE_INVALID"),
    ("tomorrow", "DATE_INVALID"),
    ("", "DATE_INVALID"),
    ("平成32年1月1日", "DATE_INVALID"),  # 平成 ended in its 31st year
    ("令和元年4月1日", "DATE_INVALID"),  # a day of 平成31年, not of 令和
    ("令和0年5月1日", "DATE_INVALID"),
])
def test_a_date_that_is_not_one_is_refused_naming_the_field(typed, code):
    with pytest.raises(SibError) as refused:
        parse_date(typed, "on")
    assert (refused.value.code, refused.value.problems[0].field) == (code, "on")


def test_the_window_is_1990_to_2100():
    assert check_date_window(date(1990, 1, 1), "on") == date(1990, 1, 1)
    assert check_date_window(date(2100, 12, 31), "on") == date(2100, 12, 31)
    with pytest.raises(SibError, match="DATE_OUT_OF_RANGE"):
        check_date_window(date(9999, 12, 31), "on")


@pytest.mark.parametrize("typed, value", [
    ("7000", Decimal(7000)), ("7,000", Decimal(7000)), ("68.5", Decimal("68.5")),
    ("-3", Decimal(-3)), ("0", Decimal(0)), ("1,234,567.25", Decimal("1234567.25")),
])
def test_a_plain_decimal_is_read_exactly(typed, value):
    assert parse_plain_decimal(typed, "value") == value


@pytest.mark.parametrize("typed, code, says", [
    ("1E+100000", "VALUE_INVALID", "exponent"),  # made the year's settlement a 500
    ("3e3", "VALUE_INVALID", "exponent"),
    ("１２３４", "VALUE_INVALID", "half-width"),  # accepted as 1234 before
    ("NaN", "VALUE_INVALID", "NaN"),
    ("Infinity", "VALUE_INVALID", "Infinity"),
    ("-inf", "VALUE_INVALID", "Infinity"),
    ("7,00", "VALUE_INVALID", "digits 0-9"),
    ("+5", "VALUE_INVALID", "digits 0-9"),
    ("", "VALUE_INVALID", "digits 0-9"),
    ("1" * 21, "VALUE_TOO_LONG", "at most 20"),
])
def test_a_value_not_written_plainly_is_refused_with_the_reason(typed, code, says):
    with pytest.raises(SibError) as refused:
        parse_plain_decimal(typed, "value")
    assert (refused.value.code, refused.value.problems[0].field) == (code, "value")
    assert says in refused.value.problems[0].message


def test_amounts_are_bounded_at_ten_to_the_fifteen_minor_units():
    # 10^15 yen is ¥1,000 trillion; 9,223 of them still fit a signed 64-bit integer
    # (2^63 − 1 ≈ 9.22 × 10^18), so no sum of a year's postings can overflow.
    assert check_amount_minor(MAX_AMOUNT_MINOR, "amount") == 10**15
    assert check_amount_minor(-MAX_AMOUNT_MINOR, "amount") == -(10**15)
    for too_large in (10**15 + 1, 2**63 - 1, 2**63, 10**30):
        with pytest.raises(SibError) as refused:
            check_amount_minor(too_large, "amount")
        assert (refused.value.code, refused.value.problems[0].field) == ("AMOUNT_TOO_LARGE",
                                                                          "amount")


@pytest.mark.parametrize("typed, stored", [
    ("citizen-001", "citizen-001"), ("ｃｉｔｉｚｅｎ-００１", "citizen-001"),  # NFKC
    ("bank.yamaguchi_2", "bank.yamaguchi_2"),
])
def test_a_code_is_stored_in_its_nfkc_form(typed, stored):
    assert normalise_code(typed, "code") == stored


@pytest.mark.parametrize("typed", [
    "citizen\u200b001",  # zero-width space: looks like citizen001
    "citizen\u202e100",  # right-to-left override
    "../../etc/passwd", "a/b", "a..b", ".hidden", "-x", "with space", "tab\there",
    "nul\x00", "市民-1", "", "x" * 65,
])
def test_a_code_that_could_look_like_another_or_like_a_path_is_refused(typed):
    with pytest.raises(SibError) as refused:
        normalise_code(typed, "code")
    assert (refused.value.code, refused.value.problems[0].field) == ("CODE_INVALID", "code")


def test_the_ledger_refuses_a_posting_beyond_the_bound_and_a_date_outside_the_window():
    """The service-level guard: whatever the route, no posting of 2^63 − 1 (accepted before,
    after which SQLite's balances became floats and verify failed for ever) and no entry dated
    9999-12-31 (posted before)."""
    from moneyed import Money

    from ledger.entries import EntryDraft, credit, debit, validate_draft
    huge = Money(2**63 - 1, "JPY")
    problems = validate_draft(EntryDraft("spv", "k", "payment_received", date(9999, 12, 31),
                                         [debit("cash", huge), credit("receivable", huge)]))
    assert sorted((p.code, p.field) for p in problems) == [
        ("AMOUNT_TOO_LARGE", "postings[0].amount"), ("AMOUNT_TOO_LARGE", "postings[1].amount"),
        ("DATE_OUT_OF_RANGE", "effective_on")]
    largest = Money(MAX_AMOUNT_MINOR, "JPY")
    assert validate_draft(EntryDraft("spv", "k", "payment_received", date(2020, 5, 20),
                                     [debit("cash", largest), credit("receivable", largest)])) == []
