"""Money at the edges of the ledger: py-moneyed ``Money`` in code, integer minor units stored.

The minor-unit exponent comes from the currency (JPY 0, GBP/USD/EUR/AUD 2), never from a
constant. Floats are refused everywhere: a float has already lost the exact amount.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
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


# A plain decimal as people and files write it: ASCII digits, an optional sign, an optional
# "." fraction, and commas only as correct thousands grouping ("1,234,567.50"). Anything looser
# is ambiguous: "12,50" is 12.50 in much of Europe, and must not silently become 1250.
_AMOUNT_TEXT = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_NON_FINITE_TEXT = re.compile(r"[+-]?(?:s?nan|inf|infinity)", re.IGNORECASE)


def to_minor(money: Money) -> int:
    """Integer minor units of ``money``; refuses amounts finer than the currency allows.

    The scaling is done with exact fractions: ``Decimal`` arithmetic would round to the
    context precision (28 digits) and could turn a too-precise amount into an accepted one.
    """
    exp = exponent(money.currency)
    if not money.amount.is_finite():
        raise SibError(f"{money.amount} is not a finite amount", "AMOUNT_INVALID", "amount")
    scaled: Fraction = Fraction(money.amount) * 10**exp
    if scaled.denominator != 1:
        raise SibError(
            f"{money.amount} has more decimals than {money.currency.code} allows ({exp})",
            "AMOUNT_PRECISION", "amount")
    return scaled.numerator


def from_minor(amount_minor: int, code: str | Currency) -> Money:
    """``Money`` for an integer amount of minor units."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise SibError("amount in minor units must be an integer", "AMOUNT_NOT_INTEGER", "amount")
    cur = currency_of(code)
    # Built from text, which is exact; Decimal arithmetic would round to 28 digits.
    return Money(Decimal(f"{amount_minor}E-{exponent(cur)}"), cur)


def parse_amount(value: Any, code: str | Currency, field: str = "amount") -> Money:
    """Parse a decimal string (``"1234567"``, ``"12.50"``, ``"1,234,567"``) into ``Money``.

    Only strings, ints and Decimals are accepted: a JSON number arrives as float or int, and a
    float is refused because it cannot carry an exact amount. Text must be a plain decimal
    (ASCII digits, optional sign and ``.`` fraction, commas only as thousands grouping);
    exponents, ``NaN`` and ``Infinity`` are refused.
    """
    if isinstance(value, (bool, float)):
        raise SibError("amount must be a string such as \"1234567\", not a number",
                       "AMOUNT_NOT_STRING", field)
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        if _NON_FINITE_TEXT.fullmatch(text):
            raise SibError(f"{value!r} is not a finite amount", "AMOUNT_INVALID", field)
        if not _AMOUNT_TEXT.fullmatch(text):
            raise SibError(f"{value!r} is not a decimal amount such as \"1234567\" or \"12.50\"",
                           "AMOUNT_INVALID", field)
        amount = Decimal(text.replace(",", ""))
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
    """Canonical string of the amount with exactly the currency's decimals (``"12.50"``).

    Goes through :func:`to_minor`, so an amount finer than the currency allows is refused
    rather than silently rounded.
    """
    amount_minor, exp = to_minor(money), exponent(money.currency)
    sign = "-" if amount_minor < 0 else ""
    units, fraction = divmod(abs(amount_minor), 10**exp)
    return f"{sign}{units}.{fraction:0{exp}d}" if exp else f"{sign}{units}"


def zero(code: str | Currency) -> Money:
    """The zero of a currency, the start value for ``sum(xs, zero(code))``."""
    return Money(0, currency_of(code))


# Symbols a reader of English expects before an amount; other currencies are written with
# their code (``CHF 12.50``). Yen amounts in the project's own messages and traces are written
# bare (``1,234,567``): the contracts this system was built for are in yen, and their readers
# have always read them so.
SYMBOLS_EN: dict[str, str] = {"GBP": "£", "EUR": "€", "USD": "US$", "JPY": "¥"}
HOME_CURRENCY = "JPY"
_APPROX_PLACES = 6


def _grouped(text: str) -> str:
    """An unsigned plain decimal with its integer part grouped: ``1250.5`` → ``1,250.5``."""
    units, _, decimals = text.partition(".")
    return f"{int(units):,}" + (f".{decimals}" if decimals else "")


def _terminating(value: Fraction) -> str | None:
    """The exact decimal text of a non-negative fraction, or None when it does not end."""
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return None
    places = max(twos, fives)
    units, fraction = divmod(value.numerator * 10**places // value.denominator, 10**places)
    return f"{units}.{fraction:0{places}d}" if places else str(units)


def _major_body(amount_major: Fraction, places: int) -> tuple[str, str | None]:
    """The unsigned amount in major units: at least the currency's decimals, more only when
    the exact amount has them (``123.456``); a fraction that does not end as ``a/b (≈x)``."""
    magnitude = abs(amount_major)
    exact = _terminating(magnitude)
    if exact is None:
        scaled = magnitude.numerator * 10**_APPROX_PLACES * 2 // magnitude.denominator
        approx = (scaled + 1) // 2  # half up, on the 7th place, for the approximation only
        units, fraction = divmod(approx, 10**_APPROX_PLACES)
        return f"{magnitude.numerator}/{magnitude.denominator}", f"{units:,}.{fraction:06d}"
    units, _, decimals = exact.partition(".")
    decimals = decimals.ljust(places, "0")
    return _grouped(f"{units}.{decimals}" if decimals else units), None


def amount_text(amount_minor: int | Fraction | Decimal, currency: str | Currency,
                lang: str = "en") -> str:
    """An amount of minor units as a person reads it, in major units with its currency.

    The one way the project's messages, CLI lines and calculation traces write money:
    ``125050, "GBP"`` → ``£1,250.50``; ``27000000, "USD"`` → ``US$270,000.00``;
    ``Fraction(617283, 5), "GBP"`` (an exact amount finer than a penny) → ``£1,234.566``;
    ``Fraction(2000000, 3), "GBP"`` → ``£20000/3 (≈£6,666.666667)``; a currency without an
    English symbol, or any currency in Japanese, by its code (``CHF 12.50``, ``GBP 1,250.50``;
    an approximation in Japanese as ``GBP 20000/3（≒GBP 6,666.666667）``).
    Yen are written as they always were, bare and grouped (``1,234,567``); documents add
    ``円`` or ``JPY`` themselves. Floats are refused.
    """
    if isinstance(amount_minor, (float, bool)):
        raise TypeError("an amount is an int, Fraction or Decimal of minor units, not "
                        f"{amount_minor!r}")
    cur = currency_of(currency)
    exact = Fraction(amount_minor) / 10**exponent(cur)
    body, approx = _major_body(exact, exponent(cur))
    sign = "-" if exact < 0 else ""
    if cur.code == HOME_CURRENCY:
        return f"{sign}{body}" + (f" (≈{sign}{approx})" if approx else "")
    symbol = SYMBOLS_EN.get(cur.code) if lang == "en" else None
    mark = symbol if symbol else f"{cur.code} "
    if approx is None:
        return f"{sign}{mark}{body}"
    if lang == "ja":
        return f"{sign}{mark}{body}（≒{sign}{mark}{approx}）"
    return f"{sign}{mark}{body} (≈{sign}{mark}{approx})"


def parse_major(text: str, currency: str | Currency, field: str = "amount") -> int:
    """Integer minor units of an amount a person typed in major units (``"270000.00"`` USD →
    27,000,000 cents; ``"14146566"`` JPY), refusing more decimals than the currency has
    (``AMOUNT_PRECISION``) through :func:`parse_amount`'s rules. The text is checked as well
    as the value, as on the wire: ``"100.0"`` yen is refused, since a person who wrote a
    decimal point for yen may have meant another currency or another figure."""
    money = parse_amount(text, currency, field)
    places, allowed = len(text.strip().partition(".")[2]), exponent(currency)
    if places > allowed:
        raise SibError(f"{text.strip()} has {places} decimal places but {money.currency.code} "
                       + (f"allows at most {allowed}" if allowed else "has no minor unit: write "
                          "a whole number"), "AMOUNT_PRECISION", field)
    return to_minor(money)
