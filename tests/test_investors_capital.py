"""Capital account roll-forward: a junior unit holder over three fiscal years, and class totals."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from investors.capital import (
    CapitalAccount,
    CapitalMovement,
    MovementKind,
    check_movements,
    class_totals,
    roll_forward,
    roll_forward_all,
)
from ledger.errors import SibError

# The movement kinds by initial, so that the rows below read as a table.
C, I, D, W = (MovementKind.CONTRIBUTION, MovementKind.INCOME,  # noqa: E741
              MovementKind.DISTRIBUTION, MovementKind.WRITE_DOWN)


def fy(year: int) -> tuple[date, date]:
    return date(year, 4, 1), date(year + 1, 3, 31)


HISTORY = [
    # FY2021: 20 units of 50,000 bought; 30,000 profit allocated and distributed (20.42 %).
    CapitalMovement("h-000123", "junior", date(2021, 7, 1), C, 1_000_000),
    CapitalMovement("h-000123", "junior", date(2022, 3, 25), I, 30_000),
    CapitalMovement("h-000123", "junior", date(2022, 3, 25), D, 30_000, 6_126),
    # FY2022: continuation fell short; the junior class bears a loss of 150,000 for this holder.
    CapitalMovement("h-000123", "junior", date(2023, 3, 31), W, 150_000),
    # FY2023: 200,000 of capital returned, no profit.
    CapitalMovement("h-000123", "junior", date(2023, 9, 29), D, 200_000),
    # Another holder and class, which this holder's account ignores.
    CapitalMovement("h-000124", "junior", date(2021, 7, 1), C, 500_000),
    CapitalMovement("c-000001", "senior", date(2021, 7, 1), C, 5_000_000),
]


def test_first_year_worked_example():
    account = roll_forward("h-000123", "junior", HISTORY, *fy(2021))
    assert (account.opening_minor, account.contributions_minor, account.income_minor,
            account.distributions_gross_minor, account.distributions_withheld_minor,
            account.write_downs_minor, account.closing_minor) == (
        0, 1_000_000, 30_000, 30_000, 6_126, 0, 1_000_000)
    assert account.distributions_net_minor == 23_874


def test_each_year_opens_where_the_last_closed():
    fy2021, fy2022, fy2023 = (roll_forward("h-000123", "junior", HISTORY, *fy(y))
                              for y in (2021, 2022, 2023))
    assert fy2022.opening_minor == fy2021.closing_minor == 1_000_000
    # closing = opening + contributions + income − distributions − write-downs
    assert fy2022.closing_minor == 1_000_000 - 150_000 == 850_000
    assert fy2023.opening_minor == 850_000
    assert fy2023.closing_minor == 850_000 - 200_000 == 650_000


def test_class_totals_are_the_exact_sum_of_the_holders():
    accounts = roll_forward_all(HISTORY, *fy(2021))
    assert [(a.class_id, a.holder_id) for a in accounts] == [
        ("junior", "h-000123"), ("junior", "h-000124"), ("senior", "c-000001")]
    totals = class_totals(accounts)
    junior = totals["junior"]
    assert junior.holder_id == "*"
    assert (junior.contributions_minor, junior.distributions_gross_minor,
            junior.closing_minor) == (1_500_000, 30_000, 1_500_000)
    assert totals["senior"].closing_minor == 5_000_000


def test_every_problem_with_the_movements_is_reported_together():
    bad = [CapitalMovement("h-1", "junior", date(2021, 7, 1), C, -5),
           CapitalMovement("h-1", "junior", date(2021, 7, 1), C, 10, withheld_minor=2),
           CapitalMovement("h-1", "junior", date(2022, 3, 25), D, 100, withheld_minor=101)]
    assert [p.code for p in check_movements(bad)] == [
        "MOVEMENT_AMOUNT_INVALID", "MOVEMENT_WITHHOLDING_INVALID",
        "MOVEMENT_WITHHOLDING_INVALID"]
    with pytest.raises(SibError) as caught:
        roll_forward("h-1", "junior", bad, *fy(2021))
    assert [p.field for p in caught.value.problems] == [
        "movements[0].amount_minor", "movements[1].withheld_minor",
        "movements[2].withheld_minor"]


def test_other_currencies_and_mixed_periods_are_refused():
    pounds = [CapitalMovement("h-1", "junior", date(2021, 7, 1), C, 1_000, currency="GBP")]
    with pytest.raises(SibError) as caught:
        roll_forward("h-1", "junior", pounds, *fy(2021))
    assert caught.value.code == "CURRENCY_MIXED"
    accounts = [roll_forward("h-000123", "junior", HISTORY, *fy(2021)),
                roll_forward("h-000123", "junior", HISTORY, *fy(2022))]
    with pytest.raises(SibError) as caught:
        class_totals(accounts)
    assert caught.value.code == "PERIOD_MIXED"


def test_an_account_that_does_not_roll_forward_cannot_exist():
    with pytest.raises(SibError) as caught:
        CapitalAccount("h-1", "junior", "JPY", *fy(2021), 0, 1_000_000, 0, 0, 0, 0, 999_999)
    assert caught.value.code == "CAPITAL_ACCOUNT_UNBALANCED"


movements = st.lists(st.builds(
    lambda holder, klass, day, kind, amount, share: CapitalMovement(
        holder, klass, date.fromordinal(date(2021, 4, 1).toordinal() + day), kind, amount,
        amount * share // 10_000 if kind is D else 0),
    st.sampled_from(["h-1", "h-2", "h-3"]), st.sampled_from(["junior", "senior"]),
    st.integers(0, 3 * 365), st.sampled_from(list(MovementKind)),
    st.integers(0, 10**9), st.integers(0, 2_042)), max_size=40)


@settings(max_examples=80, deadline=None)
@given(movements)
def test_roll_forward_identities_hold_for_any_movements(history):
    years = [roll_forward_all(history, *fy(y)) for y in (2021, 2022, 2023)]
    for accounts in years:
        for account in accounts:
            assert account.closing_minor == (
                account.opening_minor + account.contributions_minor + account.income_minor
                - account.distributions_gross_minor - account.recoveries_minor
                - account.write_downs_minor)
        for class_id, total in class_totals(accounts).items() if accounts else ():
            own = [a for a in accounts if a.class_id == class_id]
            assert total.closing_minor == sum(a.closing_minor for a in own)
            assert total.distributions_withheld_minor == sum(
                a.distributions_withheld_minor for a in own)
    for holder, klass in {(m.holder_id, m.class_id) for m in history}:
        chain = [roll_forward(holder, klass, history, *fy(y)) for y in (2021, 2022, 2023)]
        assert chain[1].opening_minor == chain[0].closing_minor
        assert chain[2].opening_minor == chain[1].closing_minor
