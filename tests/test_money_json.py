"""Money on the wire: worked examples for ``ledger.money_json.MoneyJSON``.

The API accepts ``{"amount": "1234567", "currency": "JPY"}`` and nothing looser; every refusal
names its reason, its field and the matching ``SibError`` code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money
from pydantic import BaseModel, ValidationError

from ledger.errors import SibError
from ledger.inputs import MAX_AMOUNT_MINOR
from ledger.money_json import MoneyJSON


def refusal(payload: dict[str, Any]) -> dict[str, Any]:
    """The single error pydantic reports for a JSON payload."""
    with pytest.raises(ValidationError) as caught:
        MoneyJSON.model_validate_json(json.dumps(payload))
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return dict(errors[0])


# --- accepted ------------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "amount_minor", "money"), [
    ({"amount": "1234567", "currency": "JPY"}, 1_234_567, Money(1_234_567, "JPY")),
    ({"amount": "12.50", "currency": "GBP"}, 1_250, Money(Decimal("12.50"), "GBP")),
    ({"amount": "12.5", "currency": "GBP"}, 1_250, Money(Decimal("12.50"), "GBP")),
    ({"amount": "-0.05", "currency": "USD"}, -5, Money(Decimal("-0.05"), "USD")),
    ({"amount": "0", "currency": "EUR"}, 0, Money(0, "EUR")),
    ({"amount": "4730000.00", "currency": "AUD"}, 473_000_000, Money(4_730_000, "AUD")),
])
def test_accepts_string_amounts(payload: dict[str, str], amount_minor: int, money: Money) -> None:
    carried = MoneyJSON.model_validate_json(json.dumps(payload))
    assert carried.amount == payload["amount"]
    assert carried.currency == payload["currency"]
    assert carried.to_minor() == amount_minor
    assert carried.to_money() == money


def test_dumps_the_wire_form() -> None:
    carried = MoneyJSON(amount="1234567", currency="JPY")
    assert json.loads(carried.model_dump_json()) == {"amount": "1234567", "currency": "JPY"}


# --- from_money: the canonical form ---------------------------------------------------------

@pytest.mark.parametrize(("money", "amount"), [
    (Money(Decimal("12.5"), "GBP"), "12.50"),
    (Money(12, "USD"), "12.00"),
    (Money(Decimal("-0.05"), "EUR"), "-0.05"),
    (Money(1_234_567, "JPY"), "1234567"),
    (Money(0, "AUD"), "0.00"),
])
def test_from_money_writes_exactly_the_currency_decimals(money: Money, amount: str) -> None:
    carried = MoneyJSON.from_money(money)
    assert (carried.amount, carried.currency) == (amount, money.currency.code)
    assert carried.to_money() == money


def test_from_minor() -> None:
    assert MoneyJSON.from_minor(1250, "GBP") == MoneyJSON(amount="12.50", currency="GBP")
    assert MoneyJSON.from_minor(3_000_000, "JPY").amount == "3000000"


def test_from_money_refuses_rather_than_rounds() -> None:
    with pytest.raises(SibError) as caught:
        MoneyJSON.from_money(Money(Decimal("12.345"), "GBP"))
    assert caught.value.code == "AMOUNT_PRECISION"


@given(amount_minor=st.integers(min_value=-MAX_AMOUNT_MINOR, max_value=MAX_AMOUNT_MINOR),
       code=st.sampled_from(["JPY", "GBP", "USD", "EUR", "AUD"]))
def test_round_trip_through_json(amount_minor: int, code: str) -> None:
    carried = MoneyJSON.from_minor(amount_minor, code)
    again = MoneyJSON.model_validate_json(carried.model_dump_json())
    assert again == carried
    assert again.to_minor() == amount_minor


@given(amount_minor=st.integers(min_value=-MAX_AMOUNT_MINOR, max_value=MAX_AMOUNT_MINOR),
       code=st.sampled_from(["JPY", "GBP", "USD", "KWD", "gbp"]))
def test_the_wire_dict_is_the_validated_wire_form(amount_minor: int, code: str) -> None:
    """Responses written straight to JSON carry what MoneyJSON itself would accept and mean."""
    wire = MoneyJSON.wire(amount_minor, code)
    assert wire == MoneyJSON.writer(code)(amount_minor)
    assert wire == MoneyJSON.from_minor(amount_minor, code).model_dump()
    assert MoneyJSON.model_validate(wire).to_minor() == amount_minor


@pytest.mark.parametrize("amount, currency", [
    ("1000000000000001", "JPY"),  # 10^15 + 1 yen
    ("9223372036854775807", "JPY"),  # 2^63 − 1: accepted before, and balances became floats
    ("9223372036854775808", "JPY"),  # 2^63: a 500 before
    ("-1000000000000001", "JPY"),
    ("10000000000000.01", "GBP"),  # 10^15 + 1 pence
    ("1" + "0" * 400, "JPY"),
])
def test_refuses_an_amount_beyond_ten_to_the_fifteen_minor_units(amount: str,
                                                                 currency: str) -> None:
    error = refusal({"amount": amount, "currency": currency})
    assert (error["type"], error["loc"], error["ctx"]["code"]) == (
        "amount_too_large", ("amount",), "AMOUNT_TOO_LARGE")


def test_the_largest_amount_is_accepted() -> None:
    assert MoneyJSON(amount="1000000000000000", currency="JPY").to_minor() == 10**15
    assert MoneyJSON(amount="-10000000000000.00", currency="GBP").to_minor() == -(10**15)


def test_the_wire_dict_small_amounts() -> None:
    assert MoneyJSON.wire(-5, "GBP") == {"amount": "-0.05", "currency": "GBP"}
    assert MoneyJSON.wire(0, "KWD") == {"amount": "0.000", "currency": "KWD"}
    assert MoneyJSON.wire(-1, "JPY") == {"amount": "-1", "currency": "JPY"}


# --- refused: numbers -------------------------------------------------------------------------

def test_refuses_a_json_int_amount_asking_for_a_string() -> None:
    error = refusal({"amount": 1234567, "currency": "JPY"})
    assert error["type"] == "amount_not_string"
    assert error["loc"] == ("amount",)
    assert "JSON string" in error["msg"] and "1234567" in error["msg"]
    assert error["ctx"]["code"] == "AMOUNT_NOT_STRING"


def test_refuses_a_json_float_amount() -> None:
    error = refusal({"amount": 12.5, "currency": "GBP"})
    assert error["type"] == "amount_not_string"
    assert "binary float" in error["msg"]


def test_refuses_python_numbers_too() -> None:
    for number in (1234567, 12.5, Decimal("12.50")):
        with pytest.raises(ValidationError) as caught:
            MoneyJSON.model_validate({"amount": number, "currency": "GBP"})
        assert caught.value.errors()[0]["type"] == "amount_not_string"


@pytest.mark.parametrize(("value", "kind"), [
    (None, "null"), (True, "a boolean"), (["12"], "an array"), ({"v": "12"}, "an object"),
])
def test_refuses_other_json_kinds(value: Any, kind: str) -> None:
    error = refusal({"amount": value, "currency": "JPY"})
    assert error["type"] == "amount_not_string"
    assert error["msg"].endswith(f"got {kind}")


# --- refused: text ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN"])
def test_refuses_nan_and_infinity(text: str) -> None:
    error = refusal({"amount": text, "currency": "USD"})
    assert error["type"] == "amount_not_finite"
    assert error["loc"] == ("amount",)
    assert "not a finite number" in error["msg"]
    assert error["ctx"]["code"] == "AMOUNT_INVALID"


@pytest.mark.parametrize("text", [
    "abc", "", "12,50", "1,234,567", "1e3", "+5", ".5", "5.", " 12", "12 ", "１２", "0x10", "1_000",
])
def test_refuses_text_that_is_not_a_plain_decimal(text: str) -> None:
    error = refusal({"amount": text, "currency": "GBP"})
    assert error["type"] == "amount_invalid"
    assert error["loc"] == ("amount",)
    assert "not a plain decimal number" in error["msg"]
    assert error["ctx"]["code"] == "AMOUNT_INVALID"


@pytest.mark.parametrize(("amount", "currency", "places", "allowed"), [
    ("12.345", "GBP", 3, 2),
    ("0.001", "USD", 3, 2),
    ("1.999", "EUR", 3, 2),
    ("12.500", "AUD", 3, 2),    # the text is checked, not only the value
])
def test_refuses_more_decimals_than_the_currency_allows(amount: str, currency: str,
                                                        places: int, allowed: int) -> None:
    error = refusal({"amount": amount, "currency": currency})
    assert error["type"] == "amount_precision"
    assert error["loc"] == ("amount",)
    assert error["msg"] == (f'amount "{amount}" has {places} decimal places but {currency} '
                            f"allows at most {allowed}")
    assert error["ctx"]["code"] == "AMOUNT_PRECISION"


@pytest.mark.parametrize("amount", ["100.5", "100.0"])
def test_refuses_fractions_of_a_yen(amount: str) -> None:
    error = refusal({"amount": amount, "currency": "JPY"})
    assert error["type"] == "amount_precision"
    assert error["loc"] == ("amount",)
    assert "JPY has no minor unit" in error["msg"]


def test_precision_error_location_is_kept_when_nested() -> None:
    class Instalments(BaseModel):
        payments: list[MoneyJSON]

    payload = {"payments": [{"amount": "1000", "currency": "JPY"},
                            {"amount": "1000.5", "currency": "JPY"}]}
    with pytest.raises(ValidationError) as caught:
        Instalments.model_validate_json(json.dumps(payload))
    [error] = caught.value.errors()
    assert error["loc"] == ("payments", 1, "amount")
    assert error["type"] == "amount_precision"


# --- refused: currency -------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["ABC", "YEN", "ZZZ"])
def test_refuses_unknown_currency(code: str) -> None:
    error = refusal({"amount": "100", "currency": code})
    assert error["type"] == "currency_unknown"
    assert error["loc"] == ("currency",)
    assert error["msg"] == f'currency "{code}" is not a known ISO 4217 currency code'
    assert error["ctx"]["code"] == "CURRENCY_UNKNOWN"


@pytest.mark.parametrize("code", ["jpy", "JP", "JPYY", "¥", " JPY", ""])
def test_refuses_malformed_currency(code: str) -> None:
    error = refusal({"amount": "100", "currency": code})
    assert error["type"] == "currency_invalid"
    assert "three upper-case letters" in error["msg"]


def test_refuses_non_string_currency() -> None:
    error = refusal({"amount": "100", "currency": 392})  # 392 is JPY's numeric ISO code
    assert error["type"] == "currency_invalid"
    assert error["msg"].endswith("got a number")


def test_reports_amount_and_currency_problems_together() -> None:
    with pytest.raises(ValidationError) as caught:
        MoneyJSON.model_validate_json('{"amount": 5, "currency": "ABC"}')
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("amount",), "amount_not_string"), (("currency",), "currency_unknown")]


def test_refuses_missing_and_extra_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        MoneyJSON.model_validate_json('{"amount": "100", "currency": "JPY", "rate": "0.1"}')
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("rate",), "extra_forbidden")]
    with pytest.raises(ValidationError) as caught:
        MoneyJSON.model_validate_json('{"currency": "JPY"}')
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("amount",), "missing")]


def test_is_immutable() -> None:
    carried = MoneyJSON(amount="100", currency="JPY")
    with pytest.raises(ValidationError):
        carried.amount = "200"  # type: ignore[misc]
    assert carried.to_minor() == 100


def test_schema_documents_a_string_amount() -> None:
    schema = MoneyJSON.model_json_schema()
    assert schema["properties"]["amount"]["type"] == "string"
    assert schema["required"] == ["amount", "currency"]
    assert schema["additionalProperties"] is False
