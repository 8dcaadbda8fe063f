"""Rounding and splitting: worked examples for ``ledger.rounding``, then properties.

The founding case (seed 000) splits costs across five municipalities by population; municipal
instalments put the remainder on the first instalment (端数計算法). Whatever the policy, the
parts add back to the total exactly.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.rounding import RemainderPolicy, RoundingMode, allocate, round_minor, split_evenly

TRUNCATE, HALF_UP, HALF_EVEN = RoundingMode.TRUNCATE, RoundingMode.HALF_UP, RoundingMode.HALF_EVEN
LARGEST, FIRST = RemainderPolicy.LARGEST_REMAINDER, RemainderPolicy.FIRST_PART


# --- round_minor: one worked example per mode -------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("1234.99"), 1234),     # a municipal payment drops the fraction of a yen
    (Decimal("1234.5"), 1234),
    (Decimal("-1234.99"), -1234),   # toward zero, not toward minus infinity
    (Decimal("-0.5"), 0),
    (Decimal("7"), 7),
    (7, 7),
    (Fraction(20, 3), 6),           # 6.666...
    (Fraction(-20, 3), -6),
])
def test_truncate_drops_the_fraction_toward_zero(value: Decimal | int | Fraction,
                                                 expected: int) -> None:
    assert round_minor(value, TRUNCATE) == expected


def test_truncate_bank_interest_act_365() -> None:
    # 10,000,000 yen at 1.5 % for 31 days, ACT/365: 12,739.726... yen, truncated to 12,739.
    interest = Fraction(10_000_000) * Fraction("0.015") * Fraction(31, 365)
    assert round_minor(interest, TRUNCATE) == 12_739
    assert round_minor(interest, "truncate") == 12_739


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("2.5"), 3),
    (Decimal("3.5"), 4),
    (Decimal("2.4999"), 2),
    (Decimal("-2.5"), -3),          # 0.5 goes away from zero
    (Decimal("-2.4"), -2),
    (Fraction(7, 2), 4),
])
def test_half_up_rounds_half_away_from_zero(value: Decimal | Fraction, expected: int) -> None:
    assert round_minor(value, HALF_UP) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("0.5"), 0),
    (Decimal("1.5"), 2),
    (Decimal("2.5"), 2),
    (Decimal("3.5"), 4),
    (Decimal("-2.5"), -2),
    (Decimal("-3.5"), -4),
    (Decimal("2.51"), 3),           # only an exact half goes to even
    (Fraction(5, 2), 2),
])
def test_half_even_rounds_exact_halves_to_even(value: Decimal | Fraction, expected: int) -> None:
    assert round_minor(value, HALF_EVEN) == expected


def test_rounding_is_exact_beyond_decimal_precision() -> None:
    # 0.49999... with 29 nines: a 28-digit Decimal would make it 0.5 and round it up.
    just_below_half = Fraction(5 * 10**28 - 1, 10**29)
    assert round_minor(just_below_half, HALF_UP) == 0
    assert round_minor(1 + just_below_half, HALF_EVEN) == 1


def test_round_minor_refuses_floats_and_unknown_modes() -> None:
    with pytest.raises(TypeError):
        round_minor(2.5, HALF_UP)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        round_minor(Decimal("2.5"), "round_to_nearest_hundred")
    with pytest.raises(ValueError):
        round_minor(Decimal("NaN"), TRUNCATE)


# --- allocate: worked examples -------------------------------------------------------------

POPULATIONS = [165_000, 28_000, 73_000, 42_000, 11_000]  # Ube, Tono, Yawata, Ibusuki, Misato


def test_ten_million_yen_split_by_population_largest_remainder() -> None:
    # Exact shares: 5,172,413.79 / 877,742.95 / 2,288,401.25 / 1,316,614.42 / 344,827.59.
    # Truncated they sum to 9,999,997; the 3 yen left go to the largest fractions:
    # Tono (.95), Ube (.79), Misato (.59).
    parts = allocate(10_000_000, POPULATIONS, LARGEST)
    assert parts == [5_172_414, 877_743, 2_288_401, 1_316_614, 344_828]
    assert sum(parts) == 10_000_000


def test_ten_million_yen_split_by_population_first_part() -> None:
    # Same truncated shares; the 3 yen go to the lead municipality, Ube.
    parts = allocate(10_000_000, POPULATIONS, FIRST)
    assert parts == [5_172_416, 877_742, 2_288_401, 1_316_614, 344_827]
    assert sum(parts) == 10_000_000


def test_hundred_split_three_ways() -> None:
    assert allocate(100, [1, 1, 1], FIRST) == [34, 33, 33]
    assert allocate(100, [1, 1, 1], LARGEST) == [34, 33, 33]  # ties go to the earlier part
    assert allocate(100, [1, 1, 1], "first_part") == [34, 33, 33]


def test_instalments_put_the_remainder_on_the_first() -> None:
    # FY2023 Kashima budget of 4,730,000 yen paid in 3 instalments: 4,730,000 / 3 is
    # 1,576,666.67; the 2 yen left over go to the first instalment.
    assert split_evenly(4_730_000, 3) == [1_576_668, 1_576_666, 1_576_666]
    # Twelve monthly instalments of 10,000,000 yen: 833,333 each and 4 yen more first.
    monthly = split_evenly(10_000_000, 12)
    assert monthly[0] == 833_337
    assert monthly[1:] == [833_333] * 11
    assert sum(monthly) == 10_000_000


def test_split_evenly_largest_remainder_spreads_the_units() -> None:
    assert split_evenly(1_000_000, 3, LARGEST) == [333_334, 333_333, 333_333]
    assert split_evenly(5, 3, LARGEST) == [2, 2, 1]
    assert split_evenly(5, 3, FIRST) == [3, 1, 1]


def test_decimal_and_string_weights() -> None:
    # A 3,000,000 yen KPI payment shared 50 / 30 / 20 between providers.
    assert allocate(3_000_000, [Decimal("0.5"), "0.3", Fraction(1, 5)]) == [
        1_500_000, 900_000, 600_000]


def test_negative_total_mirrors_the_positive_split() -> None:
    # A clawback of 100 yen is split like a payment of 100 yen, with the signs reversed.
    assert allocate(-100, [1, 1, 1], FIRST) == [-34, -33, -33]
    assert allocate(-10_000_000, POPULATIONS, LARGEST) == [
        -5_172_414, -877_743, -2_288_401, -1_316_614, -344_828]


def test_zero_total_and_zero_weights() -> None:
    assert allocate(0, [1, 2, 3]) == [0, 0, 0]
    assert allocate(1_000, [1, 0, 2], LARGEST) == [333, 0, 667]
    # A payer with a zero share never receives the remainder, even when listed first.
    assert allocate(11, [0, 1, 1], FIRST) == [0, 6, 5]


def test_allocate_refusals() -> None:
    with pytest.raises(TypeError):
        allocate(100, [0.5, 0.5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        allocate(Decimal("100"), [1, 1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        allocate(100, [])
    with pytest.raises(ValueError, match="negative"):
        allocate(100, [2, -1])
    with pytest.raises(ValueError, match="positive sum"):
        allocate(100, [0, 0])
    with pytest.raises(ValueError):
        allocate(100, [1, 1], "round_robin")
    with pytest.raises(ValueError):
        split_evenly(100, 0)


# --- properties ------------------------------------------------------------------------------

totals = st.integers(min_value=-10**15, max_value=10**15)
int_weights = st.integers(min_value=0, max_value=10**9)
decimal_weights = st.decimals(min_value=0, max_value=10**6, places=4,
                              allow_nan=False, allow_infinity=False)
weight_lists = st.lists(st.one_of(int_weights, decimal_weights), min_size=1, max_size=12).filter(
    lambda ws: sum(Fraction(w) for w in ws) > 0)
policies = st.sampled_from(list(RemainderPolicy))


@given(total=totals, weights=weight_lists, policy=policies)
def test_parts_always_sum_to_the_total(total: int, weights: list[int | Decimal],
                                       policy: RemainderPolicy) -> None:
    parts = allocate(total, weights, policy)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(isinstance(p, int) for p in parts)


@given(total=totals, weights=weight_lists)
def test_largest_remainder_is_within_one_of_the_exact_share(
        total: int, weights: list[int | Decimal]) -> None:
    parts = allocate(total, weights, LARGEST)
    weight_sum = sum(Fraction(w) for w in weights)
    for part, weight in zip(parts, weights):
        exact_share = Fraction(total) * Fraction(weight) / weight_sum
        assert abs(part - exact_share) < 1
        if weight == 0:
            assert part == 0


@given(total=totals, weights=weight_lists)
def test_first_part_gives_zero_weights_nothing(total: int,
                                               weights: list[int | Decimal]) -> None:
    parts = allocate(total, weights, FIRST)
    assert all(p == 0 for p, w in zip(parts, weights) if w == 0)


@given(total=totals, count=st.integers(min_value=1, max_value=60))
def test_split_evenly_differs_only_in_the_first_instalment(total: int, count: int) -> None:
    parts = split_evenly(total, count)
    assert sum(parts) == total
    assert len(set(parts[1:])) <= 1
    assert abs(parts[0] - parts[-1]) < count


@given(weights=st.lists(st.floats(min_value=0.1, max_value=1e6), min_size=1, max_size=5))
def test_float_weights_are_refused(weights: list[float]) -> None:
    with pytest.raises(TypeError):
        allocate(100, weights)  # type: ignore[arg-type]


@given(value=st.floats(allow_nan=False, allow_infinity=False), mode=st.sampled_from(RoundingMode))
def test_float_values_are_refused(value: float, mode: RoundingMode) -> None:
    with pytest.raises(TypeError):
        round_minor(value, mode)  # type: ignore[arg-type]


@given(value=st.fractions(max_denominator=1000), mode=st.sampled_from(RoundingMode))
def test_rounding_moves_less_than_one_unit(value: Fraction, mode: RoundingMode) -> None:
    rounded = round_minor(value, mode)
    assert abs(rounded - value) < 1
    if mode is TRUNCATE:
        assert abs(rounded) <= abs(value)
    else:
        assert abs(rounded - value) <= Fraction(1, 2)
