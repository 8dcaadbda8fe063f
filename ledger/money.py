"""Money at the edges of the ledger: py-moneyed ``Money`` in code, integer minor units stored.

The minor-unit exponent comes from the currency (JPY 0, GBP/USD/EUR/AUD 2), never from a
constant. Floats are refused everywhere: a float has already lost the exact amount.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from moneyed import Currency, Money, get_currency

from ledger.errors import SibError


def currency_of(code: str | Currency) -> Currency:
    """The py-moneyed currency for an ISO 4217 code, or a clear refusal."""
    if isinstance(code, Currency):
        return code
    try:
        return get_currency(str(code).upper())
    except Exception as exc:  # moneyed raises CurrencyDoesNotExist
        raise SibError(f"unknown currency code {code!r}", "CURRENCY_UNKNOWN", "currency") from exc


def exponent(code: str | Currency) -> int:
    """Number of decimals of the currency's minor unit (JPY 0, GBP 2)."""
    cur = currency_of(code)
    sub = cur.sub_unit if cur.sub_unit else 1
    return len(str(sub)) - 1


def to_minor(money: Money) -> int:
    """Integer minor units of ``money``; refuses amounts finer than the currency allows."""
    exp = exponent(money.currency)
    scaled = money.amount * (Decimal(10) ** exp)
    if scaled != scaled.to_integral_value():
        raise SibError(
            f"{money.amount} has more decimals than {money.currency.code} allows ({exp})",
            "AMOUNT_PRECISION", "amount")
    return int(scaled)


def from_minor(amount_minor: int, code: str | Currency) -> Money:
    """``Money`` for an integer amount of minor units."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise SibError("amount in minor units must be an integer", "AMOUNT_NOT_INTEGER", "amount")
    cur = currency_of(code)
    return Money(Decimal(amount_minor).scaleb(-exponent(cur)), cur)


def parse_amount(value: Any, code: str | Currency, field: str = "amount") -> Money:
    """Parse a decimal string (``"1234567"``, ``"12.50"``) into ``Money``.

    Only strings, ints and Decimals are accepted: a JSON number arrives as float or int, and a
    float is refused because it cannot carry an exact amount.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise SibError("amount must be a string such as \"1234567\", not a number",
                       "AMOUNT_NOT_STRING", field)
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise SibError(f"{value!r} is not a decimal amount", "AMOUNT_INVALID", field) from exc
    else:
        raise SibError(f"amount must be a decimal string, got {type(value).__name__}",
                       "AMOUNT_NOT_STRING", field)
    if not amount.is_finite():
        raise SibError(f"{value!r} is not a finite amount", "AMOUNT_INVALID", field)
    money = Money(amount, currency_of(code))
    try:
        to_minor(money)
    except SibError as exc:
        raise SibError(exc.problems[0].message, "AMOUNT_PRECISION", field) from exc
    return money


def format_plain(money: Money) -> str:
    """Canonical string of the amount with exactly the currency's decimals (``"12.50"``)."""
    exp = exponent(money.currency)
    return f"{money.amount.quantize(Decimal(1).scaleb(-exp)):f}" if exp else f"{to_minor(money)}"


def zero(code: str | Currency) -> Money:
    """The zero of a currency, the start value for ``sum(xs, zero(code))``."""
    return Money(0, currency_of(code))
