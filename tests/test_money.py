"""Money in code and in minor units: worked examples for ``ledger.money``.

Every amount is exact: yen have no minor unit, pounds, dollars, euros and Australian dollars
have two decimals, and a float is refused before it can lose a yen.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from moneyed import Money

from ledger.errors import SibError
from ledger.money import (
    currency_of,
    exponent,
    format_plain,
    from_minor,
    parse_amount,
    to_minor,
    zero,
)

# --- exponents come from the currency ---------------------------------------------------

@pytest.mark.parametrize(("code", "decimals"), [
    ("JPY", 0), ("GBP", 2), ("USD", 2), ("EUR", 2), ("AUD", 2), ("jpy", 0),
])
def test_exponent_is_the_currency_minor_unit(code: str, decimals: int) -> None:
    assert exponent(code) == decimals


def test_currency_of_accepts_lower_case_and_currency_objects() -> None:
    jpy = currency_of("jpy")
    assert jpy.code == "JPY"
    assert currency_of(jpy) is jpy


# --- parse_amount: the text people and files write ----------------------------------------

def test_parse_yen_outcome_payment() -> None:
    # A binary-threshold KPI payment of 3,000,000 yen, as typed and as written in a CSV.
    assert parse_amount("3000000", "JPY") == Money(3_000_000, "JPY")
    assert parse_amount("3,000,000", "JPY") == Money(3_000_000, "JPY")
    assert parse_amount(" 3000000 ", "JPY") == Money(3_000_000, "JPY")


def test_parse_pounds_and_pence() -> None:
    assert parse_amount("12.50", "GBP") == Money(Decimal("12.50"), "GBP")
    assert parse_amount("12.5", "GBP").amount == Decimal("12.5")
    assert parse_amount("-0.05", "USD") == Money(Decimal("-0.05"), "USD")
    assert parse_amount("1,234,567.89", "EUR") == Money(Decimal("1234567.89"), "EUR")


def test_parse_int_and_decimal_inputs() -> None:
    assert parse_amount(4_730_000, "JPY") == Money(4_730_000, "JPY")
    assert parse_amount(Decimal("99.99"), "AUD") == Money(Decimal("99.99"), "AUD")


def test_parse_refuses_floats_naming_the_field() -> None:
    with pytest.raises(SibError) as caught:
        parse_amount(12.5, "GBP", field="postings[1].amount")
    assert caught.value.code == "AMOUNT_NOT_STRING"
    assert caught.value.problems[0].field == "postings[1].amount"
    assert "string" in caught.value.problems[0].message


def test_parse_refuses_booleans_and_other_types() -> None:
    with pytest.raises(SibError) as caught:
        parse_amount(True, "JPY")
    assert caught.value.code == "AMOUNT_NOT_STRING"
    with pytest.raises(SibError) as caught:
        parse_amount(None, "JPY")
    assert (caught.value.code, caught.value.problems[0].field) == ("AMOUNT_NOT_STRING", "amount")


@pytest.mark.parametrize(("text", "code"), [
    ("12.345", "GBP"),      # a tenth of a penny
    ("100.5", "JPY"),       # half a yen
    ("0.001", "USD"),
])
def test_parse_refuses_more_decimals_than_the_currency_allows(text: str, code: str) -> None:
    with pytest.raises(SibError) as caught:
        parse_amount(text, code, field="max_amount")
    assert caught.value.code == "AMOUNT_PRECISION"
    assert caught.value.problems[0].field == "max_amount"
    assert code in caught.value.problems[0].message


def test_parse_accepts_trailing_zeros_within_the_value() -> None:
    # "100.0" yen is exactly 100 yen: the value, not the spelling, is checked here.
    assert to_minor(parse_amount("100.0", "JPY")) == 100
    assert to_minor(parse_amount("12.500", "GBP")) == 1250


@pytest.mark.parametrize("text", [
    "12,50",        # European decimal comma: must not become 1250
    "1,2",
    "1,23,456",     # not thousands grouping
    "1e3",
    "abc",
    "",
    "12.",
    "１２",          # full-width digits
])
def test_parse_refuses_text_that_is_not_a_plain_decimal(text: str) -> None:
    with pytest.raises(SibError) as caught:
        parse_amount(text, "GBP")
    assert caught.value.code == "AMOUNT_INVALID"
    assert caught.value.problems[0].field == "amount"


@pytest.mark.parametrize("text", ["NaN", "nan", "Infinity", "-inf", "sNaN"])
def test_parse_refuses_non_finite_text(text: str) -> None:
    with pytest.raises(SibError) as caught:
        parse_amount(text, "USD")
    assert caught.value.code == "AMOUNT_INVALID"
    assert "finite" in caught.value.problems[0].message


def test_parse_refuses_non_finite_decimal() -> None:
    with pytest.raises(SibError) as caught:
        parse_amount(Decimal("NaN"), "USD")
    assert caught.value.code == "AMOUNT_INVALID"


def test_parse_refuses_unknown_currency() -> None:
    with pytest.raises(SibError) as caught:
        parse_amount("100", "ABC")
    assert caught.value.code == "CURRENCY_UNKNOWN"
    assert caught.value.problems[0].field == "currency"
    assert "'ABC'" in caught.value.problems[0].message


# --- to_minor / from_minor ----------------------------------------------------------------

@pytest.mark.parametrize(("amount", "code", "amount_minor"), [
    ("10000000", "JPY", 10_000_000),
    ("0", "JPY", 0),
    ("-3000", "JPY", -3_000),
    ("12.50", "GBP", 1_250),
    ("0.01", "USD", 1),
    ("-7.05", "EUR", -705),
    ("4730000.00", "AUD", 473_000_000),
])
def test_to_minor_and_back(amount: str, code: str, amount_minor: int) -> None:
    money = Money(Decimal(amount), code)
    assert to_minor(money) == amount_minor
    assert from_minor(amount_minor, code) == money
    assert to_minor(from_minor(amount_minor, code)) == amount_minor


@pytest.mark.parametrize("code", ["JPY", "GBP", "USD", "EUR", "AUD"])
@pytest.mark.parametrize("amount_minor", [0, 1, -1, 99, 100, 101, 1_200_000_000, -987_654_321])
def test_minor_round_trip_every_currency(code: str, amount_minor: int) -> None:
    assert to_minor(from_minor(amount_minor, code)) == amount_minor


def test_from_minor_uses_the_currency_exponent() -> None:
    assert from_minor(1250, "GBP").amount == Decimal("12.50")
    assert from_minor(1250, "JPY").amount == Decimal("1250")


def test_minor_units_beyond_decimal_precision_stay_exact() -> None:
    # 34 digits: more than Decimal's default 28-digit context; nothing may be rounded.
    amount_minor = 1234567890123456789012345678901234
    money = from_minor(amount_minor, "USD")
    assert to_minor(money) == amount_minor
    assert format_plain(money) == "12345678901234567890123456789012.34"


def test_to_minor_refuses_too_many_decimals() -> None:
    with pytest.raises(SibError) as caught:
        to_minor(Money(Decimal("0.5"), "JPY"))
    assert caught.value.code == "AMOUNT_PRECISION"
    assert caught.value.problems[0].field == "amount"
    # One digit too many beyond the 28-digit context must still be seen.
    with pytest.raises(SibError) as caught:
        to_minor(Money(Decimal("1234567890123456789012345678.001"), "GBP"))
    assert caught.value.code == "AMOUNT_PRECISION"


def test_to_minor_refuses_non_finite() -> None:
    with pytest.raises(SibError) as caught:
        to_minor(Money(Decimal("Infinity"), "JPY"))
    assert caught.value.code == "AMOUNT_INVALID"


def test_from_minor_refuses_non_integers() -> None:
    for bad in (12.5, Decimal("1250"), "1250", True):
        with pytest.raises(SibError) as caught:
            from_minor(bad, "GBP")  # type: ignore[arg-type]
        assert caught.value.code == "AMOUNT_NOT_INTEGER"
        assert caught.value.problems[0].field == "amount"


def test_from_minor_refuses_unknown_currency() -> None:
    with pytest.raises(SibError) as caught:
        from_minor(100, "XYZ")
    assert caught.value.code == "CURRENCY_UNKNOWN"


# --- format_plain and zero ------------------------------------------------------------------

@pytest.mark.parametrize(("money", "text"), [
    (Money(Decimal("12.5"), "GBP"), "12.50"),
    (Money(Decimal("-0.05"), "USD"), "-0.05"),
    (Money(0, "EUR"), "0.00"),
    (Money(1_234_567, "JPY"), "1234567"),
    (Money(Decimal("1E+3"), "JPY"), "1000"),
    (Money(Decimal("-0"), "JPY"), "0"),
])
def test_format_plain_has_exactly_the_currency_decimals(money: Money, text: str) -> None:
    assert format_plain(money) == text


def test_format_plain_refuses_rather_than_rounds() -> None:
    with pytest.raises(SibError) as caught:
        format_plain(Money(Decimal("12.345"), "GBP"))
    assert caught.value.code == "AMOUNT_PRECISION"


def test_zero_is_the_start_of_a_sum() -> None:
    payments = [Money(1_000_000, "JPY"), Money(2_500_000, "JPY"), Money(730_000, "JPY")]
    assert sum(payments, zero("JPY")) == Money(4_230_000, "JPY")
    assert zero("GBP") == Money(0, "GBP")
