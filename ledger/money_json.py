"""Money on the wire: ``{"amount": "1234567", "currency": "JPY"}``.

The HTTP API carries every amount as a JSON *string* plus an ISO 4217 currency code, never as a
JSON number. A JSON number is read by many clients (JavaScript, spreadsheets, some JSON
libraries) as a binary float, and a float has already lost the exact amount: 0.1 + 0.2 is not
0.3, and integers above 2**53 are rounded. So :class:`MoneyJSON` is validated in strict mode and
refuses, each with a named reason:

- ``amount_not_string``: a JSON number (int or float), boolean, null, array or object;
- ``amount_not_finite``: ``"NaN"``, ``"Infinity"``, ``"-inf"``;
- ``amount_invalid``: text that is not a plain decimal (``"12,50"``, ``"1e3"``, ``" 12"``,
  ``"+5"``, ``".5"``, ``"abc"``);
- ``amount_precision``: more decimal places than the currency's minor unit (``"12.345"`` GBP,
  ``"100.5"`` JPY, and also ``"100.0"`` JPY: the text is checked, not only the value);
- ``currency_invalid``: a currency that is not three upper-case letters (``"jpy"``, ``"¥"``);
- ``currency_unknown``: three letters that are not an ISO 4217 currency (``"ABC"``);
- ``amount_too_large``: more than 10^15 minor units either way
  (:data:`ledger.inputs.MAX_AMOUNT_MINOR`), so that no sum overflows the database's integers.

Each error's context carries ``code``, the matching :class:`~ledger.errors.SibError` code
(``AMOUNT_NOT_STRING``, ``AMOUNT_PRECISION`` ...), so the API layer can report pydantic errors
and domain refusals in one vocabulary. Precision errors are reported at ``loc`` ``("amount",)``
even though the check needs the currency.

The number of decimals allowed comes from the currency (:func:`ledger.money.exponent`: JPY 0;
GBP, USD, EUR, AUD 2), never from a constant. Fewer decimals than allowed are accepted
(``"12.5"`` GBP is 12.50); the canonical form written by :meth:`MoneyJSON.from_money` always
has exactly the currency's decimals (``"12.50"``, ``"1234567"``). Negative amounts are allowed:
whether money goes in or out is the meaning of the field that carries it, not of the amount.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Self

from moneyed import Money
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from ledger.errors import SibError
from ledger.inputs import MAX_AMOUNT_MINOR
from ledger.money import currency_of, exponent, format_plain, parse_amount, to_minor

# The only amount text accepted on the wire: ASCII digits, an optional leading minus and an
# optional "." fraction with at least one digit. No spaces, grouping commas, plus sign or
# exponent, so that one amount has few spellings and none of them is ambiguous.
_AMOUNT_WIRE = re.compile(r"-?[0-9]+(?:\.(?P<fraction>[0-9]+))?")
_NON_FINITE = re.compile(r"\s*[+-]?(?:s?nan|inf|infinity)\s*", re.IGNORECASE)
_CURRENCY_WIRE = re.compile(r"[A-Z]{3}")


def _json_kind(value: object) -> str:
    """How a client would name the JSON value it sent, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _decimal_places(amount_text: str) -> int:
    """Decimal places written in an amount that already matched ``_AMOUNT_WIRE``."""
    match = _AMOUNT_WIRE.fullmatch(amount_text)
    fraction = match.group("fraction") if match else None
    return len(fraction) if fraction else 0


class MoneyJSON(BaseModel):
    """An exact amount of money as the HTTP API sends and receives it.

    Attributes:
        amount: the amount as a decimal string in major units (``"1234567"`` yen,
            ``"12.50"`` pounds), with at most the currency's number of decimals.
        currency: the ISO 4217 code, three upper-case letters (``"JPY"``).
    """

    model_config = ConfigDict(
        strict=True,
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{"amount": "1234567", "currency": "JPY"},
                                        {"amount": "12.50", "currency": "GBP"}]},
    )

    amount: str = Field(
        description="Decimal string in major units, never a JSON number; at most the "
                    "currency's decimals (JPY 0, GBP/USD/EUR/AUD 2).",
        examples=["1234567", "12.50", "-300"],
    )
    currency: str = Field(description="ISO 4217 currency code.", examples=["JPY", "GBP"])

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_is_a_string(cls, value: Any) -> Any:
        """Refuse a JSON number (or anything else) before strict mode's generic message."""
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            raise PydanticCustomError(
                "amount_not_string",
                "amount must be sent as a JSON string such as \"1234567\" or \"12.50\", not as "
                "the number {number}: a JSON number may be read as a binary float and lose the "
                "exact amount",
                {"code": "AMOUNT_NOT_STRING", "number": str(value)})
        raise PydanticCustomError(
            "amount_not_string",
            "amount must be a JSON string such as \"1234567\" or \"12.50\", got {kind}",
            {"code": "AMOUNT_NOT_STRING", "kind": _json_kind(value)})

    @field_validator("amount")
    @classmethod
    def _amount_is_a_plain_decimal(cls, value: str) -> str:
        """Refuse NaN/Infinity and any text that is not a plain decimal number."""
        if _NON_FINITE.fullmatch(value):
            raise PydanticCustomError(
                "amount_not_finite",
                "amount \"{amount}\" is not a finite number: NaN and Infinity are not amounts",
                {"code": "AMOUNT_INVALID", "amount": value})
        if not _AMOUNT_WIRE.fullmatch(value):
            raise PydanticCustomError(
                "amount_invalid",
                "amount \"{amount}\" is not a plain decimal number: send digits with an "
                "optional leading minus and a \".\" decimal point, such as \"1234567\" or "
                "\"-12.50\" (no spaces, commas, plus sign or exponent)",
                {"code": "AMOUNT_INVALID", "amount": value})
        return value

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_is_a_string(cls, value: Any) -> Any:
        """Refuse a non-string currency with a message that shows the expected form."""
        if isinstance(value, str):
            return value
        raise PydanticCustomError(
            "currency_invalid",
            "currency must be a JSON string holding an ISO 4217 code such as \"JPY\", got {kind}",
            {"code": "CURRENCY_INVALID", "kind": _json_kind(value)})

    @field_validator("currency")
    @classmethod
    def _currency_is_known(cls, value: str) -> str:
        """Refuse malformed and unknown currency codes."""
        if not _CURRENCY_WIRE.fullmatch(value):
            raise PydanticCustomError(
                "currency_invalid",
                "currency \"{currency}\" is not an ISO 4217 code: send three upper-case "
                "letters such as \"JPY\" or \"GBP\"",
                {"code": "CURRENCY_INVALID", "currency": value})
        try:
            currency_of(value)
        except SibError:
            raise PydanticCustomError(
                "currency_unknown",
                "currency \"{currency}\" is not a known ISO 4217 currency code",
                {"code": "CURRENCY_UNKNOWN", "currency": value}) from None
        return value

    @model_validator(mode="after")
    def _amount_fits_the_currency(self) -> Self:
        """Refuse more decimal places than the currency's minor unit allows.

        Raised as a ``ValidationError`` located at ``amount`` (pydantic keeps the location and
        prefixes it when the model is nested), rather than as a model-level error.
        """
        places, allowed = _decimal_places(self.amount), exponent(self.currency)
        if places <= allowed:
            return self._within_bounds(allowed)
        if allowed == 0:
            error = PydanticCustomError(
                "amount_precision",
                "amount \"{amount}\" has decimals but {currency} has no minor unit: send a whole "
                "number such as \"1234567\"",
                {"code": "AMOUNT_PRECISION", "amount": self.amount, "places": places,
                 "allowed": allowed, "currency": self.currency})
        else:
            error = PydanticCustomError(
                "amount_precision",
                "amount \"{amount}\" has {places} decimal places but {currency} allows at most "
                "{allowed}",
                {"code": "AMOUNT_PRECISION", "amount": self.amount, "places": places,
                 "allowed": allowed, "currency": self.currency})
        raise ValidationError.from_exception_data(
            type(self).__name__,
            [InitErrorDetails(type=error, loc=("amount",), input=self.amount)])

    def _within_bounds(self, allowed: int) -> Self:
        """Refuse an amount beyond :data:`MAX_AMOUNT_MINOR` minor units (checked on the text's
        length first, so that a thousand-digit amount costs nothing to refuse)."""
        whole = self.amount.lstrip("-").split(".")[0].lstrip("0")
        if len(whole) + allowed <= 15 or abs(Decimal(self.amount).scaleb(allowed)) \
                <= MAX_AMOUNT_MINOR:
            return self
        error = PydanticCustomError(
            "amount_too_large",
            "amount \"{amount}\" is more than the largest amount accepted ({largest} "
            "{currency} in minor units); check the figure",
            {"code": "AMOUNT_TOO_LARGE", "amount": self.amount[:30],
             "largest": f"{MAX_AMOUNT_MINOR:,}", "currency": self.currency})
        raise ValidationError.from_exception_data(
            type(self).__name__,
            [InitErrorDetails(type=error, loc=("amount",), input=self.amount)])

    @classmethod
    def from_money(cls, money: Money) -> Self:
        """The canonical wire form of ``money``: exactly the currency's decimals (``"12.50"``).

        Refuses (``SibError`` ``AMOUNT_PRECISION``) a ``Money`` finer than its currency allows
        rather than rounding it: rounding is a named choice made in :mod:`ledger.rounding`.
        Not bounded: the bound is on what a client sends, and a figure the service computed
        (a total) is reported as it is.
        """
        amount = format_plain(money)  # refuses a Money finer than its currency
        return cls.model_construct(amount=amount, currency=money.currency.code)

    @classmethod
    def from_minor(cls, amount_minor: int, currency: str) -> Self:
        """The wire form of an integer amount of minor units (``1250, "GBP"`` → ``"12.50"``).

        Built without re-validation: an integer of minor units in a known currency is exact by
        construction (responses carry hundreds of amounts; validating each costs more than
        the query that produced them).
        """
        wire = cls.wire(amount_minor, currency)
        return cls.model_construct(amount=wire["amount"], currency=wire["currency"])

    @staticmethod
    def wire(amount_minor: int, currency: str) -> dict[str, str]:
        """The JSON object of an integer amount of minor units, for responses written
        straight to JSON: ``{"amount": "12.50", "currency": "GBP"}`` for ``1250, "GBP"``."""
        return MoneyJSON.writer(currency)(amount_minor)

    @staticmethod
    def writer(currency: str) -> Callable[[int], dict[str, str]]:
        """:meth:`wire` for many amounts of one currency: the currency is looked up once."""
        places, code = exponent(currency), str(currency).upper()
        if not places:
            return lambda amount_minor: {"amount": str(int(amount_minor)), "currency": code}

        def write(amount_minor: int) -> dict[str, str]:
            sign = "-" if amount_minor < 0 else ""
            digits = str(abs(int(amount_minor))).rjust(places + 1, "0")
            return {"amount": f"{sign}{digits[:-places]}.{digits[-places:]}", "currency": code}
        return write

    def to_money(self) -> Money:
        """The exact ``Money`` this carries."""
        return parse_amount(self.amount, self.currency)

    def to_minor(self) -> int:
        """The amount in integer minor units, as the ledger stores it (``"12.50"`` GBP → 1250)."""
        return to_minor(self.to_money())
