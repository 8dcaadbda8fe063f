"""Value types of the contract models: amounts, exact rates, identifiers, fiscal years.

Why custom types: a contract is drafted in YAML by people, and two things must never happen
silently — an amount losing precision through a float, and a rate like 1/3 becoming 0.333.

- **Amounts** are written in the contract's currency as strings or whole numbers
  (``"1,200,000"``, ``"1250.50"``, ``1200000``) and held as ``int`` minor units. The model
  attribute ends in ``_minor``; the document key is the alias without it (``max_amount``).
  The currency is the enclosing contract's: :class:`~contracts.model.Contract` sets it for the
  duration of its own validation and serialisation (:func:`currency_scope`).
- **Rates, percentages and KPI figures** are ``Decimal`` (``Fraction`` where a contract writes
  ``"1/2"``). A YAML number without quotes reaches us as :class:`YamlDecimal`, built from its
  exact text, so ``0.10`` is accepted for a rate; it is refused for an amount.

Every refusal is a ``PydanticCustomError`` whose type is a stable problem code, so that
:mod:`contracts.validate` reports it with its field path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, SerializationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from ledger.errors import SibError
from ledger.money import exponent, format_plain, from_minor, parse_amount, to_minor


class YamlDecimal(Decimal):
    """A number written without quotes in a YAML document, kept as its exact source text.

    Rates accept it (``rate_annual: 0.015`` means exactly 0.015); amounts refuse it, because an
    amount written as ``1.5`` is a float to every other YAML reader and may not be exact.
    """


_CURRENCY: ContextVar[str | None] = ContextVar("contract_currency", default=None)


@contextmanager
def currency_scope(code: str | None) -> Iterator[None]:
    """Within the block, amounts are parsed and formatted in currency ``code``."""
    token = _CURRENCY.set(code)
    try:
        yield
    finally:
        _CURRENCY.reset(token)


def _known_exponent() -> int | None:
    """Decimals of the current contract currency, or None if it is unknown or unset."""
    code = _CURRENCY.get()
    if not code:
        return None
    try:
        return exponent(code)
    except SibError:
        return None


# --- amounts -------------------------------------------------------------------------------

def _amount_to_minor(value: Any) -> int:
    """Parse an amount written in the contract currency into integer minor units."""
    if isinstance(value, (float, YamlDecimal)):
        raise PydanticCustomError(
            "AMOUNT_NOT_STRING",
            "amount {value} is written as a decimal number; write it as a string such as "
            "\"1,200,000\" or \"1250.50\", or as a whole number",
            {"value": str(value)})
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise PydanticCustomError("AMOUNT_INVALID", "an amount must be a string or whole number")
    # With an unknown currency (reported on its own), read amounts as whole units rather than
    # adding a precision problem to every amount.
    code = _CURRENCY.get() if _known_exponent() is not None else None
    try:
        money = parse_amount(value, code or "JPY")
    except SibError as exc:
        raise PydanticCustomError(exc.code, exc.problems[0].message) from exc
    minor = to_minor(money)
    if minor < 0:
        raise PydanticCustomError("AMOUNT_NEGATIVE", "an amount in the terms cannot be negative")
    return minor


def _minor_to_document(value: int, info: SerializationInfo) -> int | str:
    """Document form (``by_alias``): the decimal string in the currency; else minor units."""
    code = _CURRENCY.get()
    if info.by_alias and code and _known_exponent() is not None:
        return format_plain(from_minor(value, code))
    return value


AmountMinor = Annotated[
    int,
    PlainValidator(_amount_to_minor),
    PlainSerializer(_minor_to_document),
    WithJsonSchema({
        "anyOf": [{"type": "string", "pattern": r"^[0-9][0-9,_]*(\.[0-9]+)?$"},
                  {"type": "integer", "minimum": 0}],
        "description": "Amount in the contract currency, as a string (\"1,200,000\", "
                       "\"1250.50\") or whole number; never a decimal number.",
    }),
]
"""Integer minor units of the contract currency; written in documents in major units."""


# --- exact decimals, percentages, fractions --------------------------------------------------

_DECIMAL_SCHEMA = {
    "anyOf": [{"type": "string", "pattern": r"^-?[0-9][0-9,_]*(\.[0-9]+)?$"},
              {"type": "number"}],
    "description": "Exact decimal, best written as a string (\"0.10\", \"85\").",
}


def _exact_decimal(value: Any) -> Decimal:
    """A Decimal from text, an int, a Decimal, or a YAML number's exact text; never a float."""
    if isinstance(value, float):
        raise PydanticCustomError(
            "RATE_NOT_EXACT",
            "{value} arrived as a binary floating-point number; write it as a string such as "
            "\"0.10\"", {"value": repr(value)})
    if isinstance(value, bool):
        raise PydanticCustomError("NOT_A_NUMBER", "expected a number, got yes/no")
    if isinstance(value, (Decimal, int)):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", "").replace("_", ""))
        except InvalidOperation:
            raise PydanticCustomError("NOT_A_NUMBER", "'{value}' is not a number",
                                      {"value": value}) from None
    else:
        raise PydanticCustomError("NOT_A_NUMBER", "expected a number written as a string")
    if not result.is_finite():
        raise PydanticCustomError("NOT_A_NUMBER", "the number must be finite")
    return result


ExactDecimal = Annotated[Decimal, PlainValidator(_exact_decimal),
                         PlainSerializer(lambda d: str(d), return_type=str),
                         WithJsonSchema(_DECIMAL_SCHEMA)]
"""A Decimal that never went through a float: KPI targets, thresholds, rates."""


def _percent(value: Any) -> Decimal:
    result = _exact_decimal(value)
    if not Decimal(0) <= result <= Decimal(100):
        raise PydanticCustomError("PERCENT_OUT_OF_RANGE",
                                  "{value} % is outside 0–100 %", {"value": str(result)})
    return result


Percent = Annotated[Decimal, PlainValidator(_percent),
                    PlainSerializer(lambda d: str(d), return_type=str),
                    WithJsonSchema({**_DECIMAL_SCHEMA, "description": "Percentage 0–100."})]
"""A percentage between 0 and 100 (``"40"`` means 40 %)."""


def _unit_rate(value: Any) -> Decimal:
    result = _exact_decimal(value)
    if not Decimal(0) <= result <= Decimal(1):
        raise PydanticCustomError("RATE_OUT_OF_RANGE",
                                  "rate {value} is outside 0–1 (write 10 % as \"0.10\")",
                                  {"value": str(result)})
    return result


UnitRate = Annotated[Decimal, PlainValidator(_unit_rate),
                     PlainSerializer(lambda d: str(d), return_type=str),
                     WithJsonSchema({**_DECIMAL_SCHEMA,
                                     "description": "Rate between 0 and 1 (\"0.10\" = 10 %)."})]
"""A rate between 0 and 1, such as a tax rate, a share or an interest rate."""


def _exact_fraction(value: Any) -> Fraction:
    """``"1/2"``, ``"0.5"``, ``1`` or a YAML number's text as an exact Fraction."""
    if isinstance(value, str) and "/" in value:
        numerator, _, denominator = value.partition("/")
        try:
            top, bottom = Decimal(numerator.strip()), Decimal(denominator.strip())
        except InvalidOperation:
            raise PydanticCustomError("NOT_A_NUMBER", "'{value}' is not a fraction such as "
                                      "\"1/2\"", {"value": value}) from None
        if bottom == 0:
            raise PydanticCustomError("NOT_A_NUMBER",
                                      "'{value}' is not a fraction: it divides by zero",
                                      {"value": value})
        return Fraction(top) / Fraction(bottom)
    return Fraction(_exact_decimal(value))


def _grant_rate(value: Any) -> Fraction:
    result = _exact_fraction(value)
    if not 0 <= result <= 1:
        raise PydanticCustomError(
            "GRANT_RATE_OUT_OF_RANGE",
            "a grant rate of {value} is impossible: it must lie between 0 and 1 (\"1/2\" for half)",
            {"value": str(result)})
    return result


_FRACTION_SCHEMA = {
    "anyOf": [{"type": "string", "pattern": r"^[0-9.]+(/[0-9.]+)?$"}, {"type": "number"}],
    "description": "Exact fraction (\"1/2\") or decimal (\"0.5\").",
}

GrantRate = Annotated[Fraction, PlainValidator(_grant_rate),
                      PlainSerializer(lambda f: str(f), return_type=str),
                      WithJsonSchema(_FRACTION_SCHEMA)]
"""The share of a payer's cost a grant pays, exactly (``Fraction(1, 2)``)."""


# --- identifiers and years -------------------------------------------------------------------

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _slug(value: Any) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise PydanticCustomError(
            "ID_INVALID", "'{value}' is not a valid id: use lower-case letters, digits, "
            "hyphens and underscores, such as \"ube\" or \"fy2019-participants\"",
            {"value": value})
    return value


Slug = Annotated[str, PlainValidator(_slug),
                 WithJsonSchema({"type": "string", "pattern": _SLUG.pattern})]
"""A lower-case identifier used to reference parties, KPIs, tranches and instruments."""


def _fiscal_year(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2200:
        raise PydanticCustomError(
            "FISCAL_YEAR_INVALID",
            "'{value}' is not a fiscal year; write the year in which it starts, such as 2019",
            {"value": value})
    return value


FiscalYear = Annotated[int, PlainValidator(_fiscal_year),
                       WithJsonSchema({"type": "integer", "minimum": 1900, "maximum": 2200})]
"""A fiscal year named by the calendar year in which it starts (FY2019 = April 2019 – March
2020 with the default start month)."""


_INVOICE = re.compile(r"^T[0-9]{13}$")


def _invoice_number(value: Any) -> str:
    if not isinstance(value, str) or not _INVOICE.match(value):
        raise PydanticCustomError(
            "INVOICE_NUMBER_INVALID",
            "'{value}' is not a qualified-invoice registration number: \"T\" followed by "
            "13 digits, such as \"T7000012050002\"", {"value": value})
    return value


InvoiceNumber = Annotated[str, PlainValidator(_invoice_number),
                          WithJsonSchema({"type": "string", "pattern": _INVOICE.pattern})]
"""適格請求書発行事業者登録番号: ``T`` + 13 digits (the corporate number for companies)."""


def corporate_number_check_digit(twelve_digits: str) -> int:
    """Check digit of a Japanese corporate number (法人番号), the first of its 13 digits.

    9 − (Σ Pₙ·Qₙ mod 9), Pₙ being the n-th digit counted from the right of the 12-digit
    base number and Qₙ 1 for odd n, 2 for even n. A qualified-invoice number of a company is
    ``T`` + its corporate number, so a mistyped digit is caught before an invoice is issued.
    """
    digits = [int(c) for c in reversed(twelve_digits)]
    total = sum(d * (1 if n % 2 else 2) for n, d in enumerate(digits, start=1))
    return 9 - total % 9


def _currency_code(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("CURRENCY_UNKNOWN", "the currency must be an ISO 4217 code "
                                  "such as \"JPY\" or \"GBP\"")
    try:
        exponent(value)
    except SibError:
        raise PydanticCustomError("CURRENCY_UNKNOWN", "'{value}' is not an ISO 4217 currency "
                                  "code such as \"JPY\" or \"GBP\"", {"value": value}) from None
    return value.upper()


CurrencyCode = Annotated[str, PlainValidator(_currency_code),
                         WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$"})]
"""An ISO 4217 currency code known to py-moneyed (``JPY``, ``GBP``)."""


def format_amount(amount_minor: int, currency: str) -> str:
    """``15,517,241 JPY`` or ``1,250.50 GBP``: an amount as a finance officer reads it."""
    try:
        text = format_plain(from_minor(amount_minor, currency))
    except SibError:
        return f"{amount_minor} (minor units) {currency}"
    whole, dot, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}{dot}{fraction} {currency}"
