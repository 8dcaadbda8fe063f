"""What a person or a client sends, read strictly and within bounds, before any service uses it.

Every reader here refuses with a named :class:`~ledger.errors.SibError` naming the field, never
a ``ValueError`` or an overflow further down:

- amounts are at most :data:`MAX_AMOUNT_MINOR` minor units (10^15: ¥1,000 trillion, far above
  any contract, and a sum of thousands of them still fits the 64-bit integers SQLite and
  PostgreSQL store, so no balance can overflow into a float or an error);
- dates lie in :data:`EARLIEST_ON` … :data:`LATEST_ON` (1990–2100: no contract of this kind
  starts before, none runs after; a typo such as 9999-12-31 or 0202-05-20 is refused);
- decimals (KPI values) are written plainly: ASCII digits, an optional minus, an optional
  ``.`` fraction and ``,`` thousands separators — no exponent (``3e3``, ``1E+100000``), no
  full-width or other scripts' digits (``１２３４``), no NaN or Infinity;
- codes a person chooses (a holder's code) are NFKC-normalised and then limited to letters,
  digits, ``.``, ``_`` and ``-`` (no control, zero-width or bidirectional characters, no ``/``
  and no ``..``), so a code cannot look like another or like a path.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from ledger.errors import SibError
from ledger.money import amount_text

MAX_AMOUNT_MINOR = 10**15
EARLIEST_ON = date(1990, 1, 1)
LATEST_ON = date(2100, 12, 31)
MAX_DECIMAL_DIGITS = 20
MAX_CODE_LENGTH = 64

_PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_SAFE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_amount_minor(amount_minor: int, field: str, currency: str | None = None) -> int:
    """``amount_minor`` if it is within ±:data:`MAX_AMOUNT_MINOR`; else ``AMOUNT_TOO_LARGE``,
    saying both figures in ``currency`` as a person typed them when it is given."""
    if abs(amount_minor) > MAX_AMOUNT_MINOR:
        if currency is not None:
            raise SibError(f"{amount_text(amount_minor, currency)} is more than the largest "
                           "amount the ledger accepts "
                           f"({amount_text(MAX_AMOUNT_MINOR, currency)}); check the figure",
                           "AMOUNT_TOO_LARGE", field)
        raise SibError(f"{amount_minor:,} is more than the largest amount the ledger accepts "
                       f"({MAX_AMOUNT_MINOR:,} in minor units); check the figure",
                       "AMOUNT_TOO_LARGE", field)
    return amount_minor


def check_count(count: int, field: str, largest: int = 10**9) -> int:
    """A count typed by a person (units bought), between 0 and ``largest``."""
    if not 0 <= count <= largest:
        raise SibError(f"{count:,} is outside 0 to {largest:,}", "COUNT_OUT_OF_RANGE", field)
    return count


def check_date_window(day: date, field: str) -> date:
    """``day`` if it lies in 1990–2100; else ``DATE_OUT_OF_RANGE`` naming the field."""
    if not EARLIEST_ON <= day <= LATEST_ON:
        raise SibError(f"{day.isoformat()} is outside {EARLIEST_ON.isoformat()} to "
                       f"{LATEST_ON.isoformat()}; check the year", "DATE_OUT_OF_RANGE", field)
    return day


def parse_plain_decimal(text: str, field: str, code: str = "VALUE_INVALID") -> Decimal:
    """The exact decimal written in ``text``, or a refusal saying what is wrong with it.

    ``"7,000"``, ``"68.5"`` and ``"-3"`` are read; ``"3e3"``, ``"１２３４"``, ``"NaN"`` and
    anything longer than :data:`MAX_DECIMAL_DIGITS` digits are refused, because each is either
    ambiguous to the person who typed it or can make later arithmetic fail.
    """
    stripped = text.strip()
    if _PLAIN_DECIMAL.fullmatch(stripped):
        digits = sum(ch.isdigit() for ch in stripped)
        if digits > MAX_DECIMAL_DIGITS:
            raise SibError(f"{stripped[:30]!r}… has {digits} digits; at most "
                           f"{MAX_DECIMAL_DIGITS} are accepted", "VALUE_TOO_LONG", field)
        return Decimal(stripped.replace(",", ""))
    raise SibError(f"{stripped[:40]!r} is not a number written plainly: {_why(stripped)}",
                   code, field)


def _why(text: str) -> str:
    lowered = text.lower()
    if any(word in lowered for word in ("nan", "inf")):
        return "NaN and Infinity are not values"
    if any(ch.isdigit() and not "0" <= ch <= "9" for ch in text):
        return "use half-width digits 0-9 (not full-width １２３)"
    if re.search(r"[0-9.]e[+-]?[0-9]", lowered):
        return "write the number out in full, without an exponent (3000, not 3e3)"
    return "use digits 0-9, an optional minus and a '.' decimal point, such as 7000 or 68.5"


def normalise_code(text: str, field: str, what: str = "code") -> str:
    """``text`` in NFKC form if it is a safe code; else ``CODE_INVALID`` naming the field.

    NFKC first, so that a full-width ``ｃｉｔｉｚｅｎ`` is stored as ``citizen`` rather than as a
    second holder that looks the same.
    """
    code = unicodedata.normalize("NFKC", text).strip()
    if not code:
        raise SibError(f"a {what} is required", "CODE_INVALID", field)
    if len(code) > MAX_CODE_LENGTH:
        raise SibError(f"a {what} has at most {MAX_CODE_LENGTH} characters, this one "
                       f"{len(code)}", "CODE_INVALID", field)
    if ".." in code or not _SAFE_CODE.fullmatch(code):
        raise SibError(f"{code[:40]!r} is not a usable {what}: use letters, digits, '.', '_' "
                       "and '-' only, starting with a letter or digit (no spaces, '/', '..', "
                       "control or invisible characters)", "CODE_INVALID", field)
    return code


def check_text(text: str, field: str, longest: int = 200) -> str:
    """A short free text a person typed (a donor's name, a reference), stripped: at most
    ``longest`` characters (``TEXT_TOO_LONG``), with no control, format (zero-width,
    bidirectional override) or private-use characters (``TEXT_INVALID``)."""
    cleaned = text.strip()
    if len(cleaned) > longest:
        raise SibError(f"at most {longest} characters, this has {len(cleaned)}",
                       "TEXT_TOO_LONG", field)
    bad = next((ch for ch in cleaned if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")),
               None)
    if bad is not None:
        raise SibError(f"the character U+{ord(bad):04X} cannot be used here (control or "
                       "invisible characters)", "TEXT_INVALID", field)
    return cleaned
