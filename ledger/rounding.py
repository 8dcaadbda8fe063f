"""The one place where amounts are rounded and split.

Rounding is a named, per-contract choice (:class:`RoundingMode`); splitting an amount across
payers, instalments or investors always adds back to the total exactly (:func:`allocate`).
The remainder policies are the two in use: "largest remainder" (Hamilton's method, fair
across parts) and "first part" (the Japanese municipal rule: a split's remainder goes to the
first instalment, 端数計算法).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from math import gcd


class RoundingMode(str, Enum):
    """How a fractional minor-unit amount becomes an integer.

    ``truncate`` drops the fraction toward zero (municipal payments, bank interest);
    ``half_up`` rounds 0.5 away from zero; ``half_even`` is banker's rounding.
    """

    TRUNCATE = "truncate"
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"


class RemainderPolicy(str, Enum):
    """Where the minor units left over by a split go."""

    LARGEST_REMAINDER = "largest_remainder"
    FIRST_PART = "first_part"


def round_minor(value: Decimal | int | Fraction, mode: RoundingMode | str) -> int:
    """Round an amount expressed in minor units to an integer with ``mode``.

    The rounding is exact for every input: a ``Fraction`` is not first converted to a
    28-digit ``Decimal``, which could move a value just below ``.5`` onto ``.5``.
    """
    mode = RoundingMode(mode)
    if isinstance(value, float):
        raise TypeError("floats are refused: pass Decimal, Fraction or int")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    exact = Fraction(value)
    magnitude, sign = abs(exact), (-1 if exact < 0 else 1)
    whole, fraction = divmod(magnitude, 1)  # whole is an int, 0 <= fraction < 1
    half = Fraction(1, 2)
    if mode is RoundingMode.TRUNCATE:
        rounded = whole
    elif mode is RoundingMode.HALF_UP:
        rounded = whole + (1 if fraction >= half else 0)
    else:
        rounded = whole + (1 if fraction > half or (fraction == half and whole % 2) else 0)
    return sign * int(rounded)


def _exact(weight: Decimal | int | Fraction | str) -> Fraction:
    if isinstance(weight, float):
        raise TypeError("floats are refused as weights: pass Decimal, Fraction, int or str")
    return Fraction(Decimal(weight)) if isinstance(weight, (str, Decimal)) else Fraction(weight)


def allocate(total_minor: int, weights: Sequence[Decimal | int | Fraction | str],
             remainder_policy: RemainderPolicy | str = RemainderPolicy.LARGEST_REMAINDER
             ) -> list[int]:
    """Split ``total_minor`` in proportion to ``weights`` so that the parts sum to the total.

    Each part first gets the truncated exact share; the leftover units (always fewer than the
    number of parts) are then handed out by ``remainder_policy``: one each to the parts with the
    largest fractional remainders (ties to the earlier part), or all to the first part with a
    non-zero weight.
    Negative totals are split as the mirror of the positive total. Weights must be
    non-negative with a positive sum.
    """
    policy = RemainderPolicy(remainder_policy)
    if not isinstance(total_minor, int) or isinstance(total_minor, bool):
        raise TypeError("total_minor must be an int of minor units")
    if not weights:
        raise ValueError("allocate needs at least one weight")
    exact = [_exact(w) for w in weights]
    if any(w < 0 for w in exact):
        raise ValueError("weights must not be negative")
    weight_sum = sum(exact, Fraction(0))
    if weight_sum <= 0:
        raise ValueError("weights must have a positive sum")
    if total_minor < 0:
        return [-p for p in allocate(-total_minor, weights, policy)]
    # Exact shares in integers: over a common denominator, share_i = total × n_i / Σn, so the
    # floor and the remainder come from one divmod each (fast for many thousands of parts).
    denominator = 1
    for w in exact:
        denominator = denominator * w.denominator // gcd(denominator, w.denominator)
    numerators = [w.numerator * (denominator // w.denominator) for w in exact]
    numerator_sum = sum(numerators)
    split = [divmod(total_minor * n, numerator_sum) for n in numerators]
    parts = [q for q, _ in split]  # floor, as shares are non-negative
    leftover = total_minor - sum(parts)
    if policy is RemainderPolicy.FIRST_PART:
        # The first part that has a share at all: a zero weight never receives money.
        first = next(i for i, w in enumerate(exact) if w > 0)
        parts[first] += leftover
        return parts
    order = sorted(range(len(parts)), key=lambda i: (-split[i][1], i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def split_evenly(total_minor: int, count: int,
                 remainder_policy: RemainderPolicy | str = RemainderPolicy.FIRST_PART) -> list[int]:
    """Split into ``count`` equal instalments; by default the remainder goes to the first."""
    if count <= 0:
        raise ValueError("count must be positive")
    return allocate(total_minor, [1] * count, remainder_policy)
