"""XIRR and multiple on invested capital, checked against pyxirr (an independent implementation)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyxirr import xirr as reference_xirr

from investors.returns import (
    CashFlow,
    HolderCashFlow,
    moic,
    returns_by_class,
    returns_by_holder,
    returns_for_contract,
    summarise,
    xirr,
)
from ledger.errors import SibError

TOLERANCE = 1e-6


def _reference(flows: list[CashFlow]) -> float:
    return reference_xirr([f.on for f in flows], [f.amount_minor for f in flows])


def test_a_bond_paying_3_percent_a_year_returns_3_percent():
    flows = [CashFlow(date(2019, 7, 1), -1_000_000), CashFlow(date(2020, 6, 30), 30_000),
             CashFlow(date(2021, 6, 30), 30_000), CashFlow(date(2022, 6, 30), 1_030_000)]
    rate = xirr(flows)
    assert isinstance(rate, Decimal)
    assert abs(rate - Decimal("0.03")) < Decimal("1e-9")
    assert abs(float(rate) - _reference(flows)) < TOLERANCE


def test_a_citizen_unit_holder_to_date():
    """20 units bought on 1 July 2021, 30,000 distributed on 25 March 2022, the account still
    at 1,000,000 on 31 March 2022: about 4.03 % a year."""
    flows = [CashFlow(date(2021, 7, 1), -1_000_000), CashFlow(date(2022, 3, 25), 30_000),
             CashFlow(date(2022, 3, 31), 1_000_000)]
    rate = xirr(flows)
    assert abs(float(rate) - _reference(flows)) < TOLERANCE
    assert Decimal("0.0402") < rate < Decimal("0.0404")


def test_a_junior_tranche_that_lost_principal_has_a_negative_return():
    flows = [CashFlow(date(2021, 7, 1), -5_000_000), CashFlow(date(2022, 6, 30), 100_000),
             CashFlow(date(2023, 6, 30), 100_000), CashFlow(date(2024, 6, 28), 3_200_000)]
    rate = xirr(flows)
    assert rate < 0
    assert abs(float(rate) - _reference(flows)) < TOLERANCE


def test_flows_on_the_same_day_are_netted_and_order_does_not_matter():
    flows = [CashFlow(date(2022, 6, 30), 600_000), CashFlow(date(2020, 7, 1), -1_000_000),
             CashFlow(date(2022, 6, 30), 500_000)]
    assert xirr(flows) == xirr([CashFlow(date(2020, 7, 1), -1_000_000),
                                CashFlow(date(2022, 6, 30), 1_100_000)])


def test_flows_without_both_signs_are_refused():
    with pytest.raises(SibError) as caught:
        xirr([CashFlow(date(2021, 7, 1), -1_000_000)])
    assert caught.value.code == "IRR_NEEDS_BOTH_SIGNS"
    with pytest.raises(SibError):
        xirr([CashFlow(date(2021, 7, 1), 10), CashFlow(date(2022, 7, 1), 10)])


@st.composite
def conventional_flows(draw: st.DrawFn) -> list[CashFlow]:
    """Money paid in over the first months, then received over up to ten years."""
    start = date(2019, 4, 1) + timedelta(days=draw(st.integers(0, 2000)))
    paid = draw(st.lists(st.integers(10_000, 100_000_000), min_size=1, max_size=3))
    received = draw(st.lists(st.integers(0, 100_000_000), min_size=1, max_size=8))
    assume(sum(received) > 0)
    flows = [CashFlow(start + timedelta(days=30 * i), -amount) for i, amount in enumerate(paid)]
    day = start + timedelta(days=30 * len(paid))
    for amount in received:
        day += timedelta(days=draw(st.integers(30, 500)))
        flows.append(CashFlow(day, amount))
    return flows


@settings(max_examples=60, deadline=None)
@given(conventional_flows())
def test_xirr_agrees_with_pyxirr(flows):
    reference = _reference(flows)
    assume(reference is not None and -0.99 < reference < 50)
    assert abs(float(xirr(flows)) - reference) < TOLERANCE


def test_moic_is_what_came_back_over_what_went_in():
    assert moic(1_000_000, 30_000, 1_000_000) == Decimal("1.03")
    assert moic(5_000_000, 200_000, 3_200_000) == Decimal("0.68")
    with pytest.raises(SibError) as caught:
        moic(0, 10)
    assert caught.value.code == "MOIC_NO_CONTRIBUTIONS"


def test_summary_counts_flows_to_the_valuation_date_and_the_residual():
    flows = [CashFlow(date(2021, 7, 1), -1_000_000), CashFlow(date(2022, 3, 25), 30_000),
             CashFlow(date(2022, 9, 26), 30_000)]
    summary = summarise(flows, 1_000_000, date(2022, 3, 31))
    assert (summary.contributed_minor, summary.distributed_minor, summary.residual_minor) == (
        1_000_000, 30_000, 1_000_000)
    assert summary.moic == Decimal("1.03")
    assert summary.irr == xirr(flows[:2] + [CashFlow(date(2022, 3, 31), 1_000_000)])
    no_return_yet = summarise(flows[:1], 0, date(2021, 9, 30))
    assert no_return_yet.irr is None and no_return_yet.moic == 0


def test_returns_per_holder_class_and_contract_pool_the_money():
    on_in, on_out, as_of = date(2021, 7, 1), date(2022, 3, 25), date(2022, 3, 31)
    flows = [HolderCashFlow("h-1", "junior", on_in, -1_000_000),
             HolderCashFlow("h-1", "junior", on_out, 30_000),
             HolderCashFlow("h-2", "junior", on_in, -500_000),
             HolderCashFlow("h-1", "senior", on_in, -2_000_000),
             HolderCashFlow("h-1", "senior", on_out, 40_000)]
    residuals = {("h-1", "junior"): 1_000_000, ("h-2", "junior"): 500_000,
                 ("h-1", "senior"): 2_000_000}
    by_holder = returns_by_holder(flows, residuals, as_of)
    assert by_holder["h-1"].contributed_minor == 3_000_000
    assert by_holder["h-1"].moic == Decimal(3_070_000) / Decimal(3_000_000)
    assert by_holder["h-2"].moic == 1 and by_holder["h-2"].irr == 0
    by_class = returns_by_class(flows, residuals, as_of)
    assert by_class["junior"].distributed_minor == 30_000
    assert by_class["junior"].residual_minor == 1_500_000
    contract = returns_for_contract(flows, residuals, as_of)
    assert (contract.contributed_minor, contract.distributed_minor, contract.residual_minor) == (
        3_500_000, 70_000, 3_500_000)
    pooled = [CashFlow(on_in, -3_500_000), CashFlow(on_out, 70_000),
              CashFlow(as_of, 3_500_000)]
    assert contract.irr == xirr(pooled)
    assert abs(float(contract.irr) - _reference(pooled)) < TOLERANCE
