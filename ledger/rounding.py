"""The one place where amounts are rounded and split.

Rounding is a named, per-contract choice (:class:`RoundingMode`); splitting an amount across
payers, instalments or investors always adds back to the total exactly (:func:`allocate`).
The remainder policies are the two in use: "largest remainder" (Hamilton's method, fair
across parts) and "first part" (the Japanese municipal rule: a split's remainder goes to the
first instalment, 端数計算法).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import Enum
from fractions import Fraction
from typing import Sequence


class RoundingMode(str, Enum):
    """How a fractional minor-unit amount becomes an integer.

    ``truncate`` drops the fraction toward zero (municipal payments, bank interest);
    ``half_up`` rounds 0.5 away from zero; ``half_even`` is banker's rounding.
    """

    TRUNCATE = "truncate"
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"


_DECIMAL_MODES = {
    RoundingMode.TRUNCATE: ROUND_DOWN,
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: ROUND_HALF_EVEN,
}


class RemainderPolicy(str, Enum):
    """Where the minor units left over by a split go."""

    LARGEST_REMAINDER = "largest_remainder"
    FIRST_PART = "first_part"


def round_minor(value: Decimal | int | Fraction, mode: RoundingMode | str) -> int:
    """Round an amount expressed in minor units to an integer with ``mode``."""
    mode = RoundingMode(mode)
    if isinstance(value, float):
        raise TypeError("floats are refused: pass Decimal, Fraction or int")
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return int(Decimal(value).to_integral_value(rounding=_DECIMAL_MODES[mode]))


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
    largest fractional remainders (ties to the earlier part), or all to the first part.
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
    shares = [Fraction(total_minor) * w / weight_sum for w in exact]
    parts = [int(s) for s in shares]  # floor, as shares are non-negative
    leftover = total_minor - sum(parts)
    if policy is RemainderPolicy.FIRST_PART:
        parts[0] += leftover
        return parts
    order = sorted(range(len(parts)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def split_evenly(total_minor: int, count: int,
                 remainder_policy: RemainderPolicy | str = RemainderPolicy.FIRST_PART) -> list[int]:
    """Split into ``count`` equal instalments; by default the remainder goes to the first."""
    if count <= 0:
        raise ValueError("count must be positive")
    return allocate(total_minor, [1] * count, remainder_policy)
