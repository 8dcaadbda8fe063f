"""Which budget year a payment belongs to (issue 12, item 1), worked by hand: the obligation's
year, not the cash date's; the closing period (出納整理期間) to 31 May for an April year; the
contract's choice between paying FY-N results from the FY-N or the FY-N+1 budget; no closing
period for a contract that is not a Japanese local government's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from contracts.model import PaymentTerms
from contracts.validate import load_contract_file
from settlement.budget import (
    budget_year,
    closing_period_end,
    due_on,
    obligation_year_of,
    planned_by_budget_year,
    results_year,
    terms_of,
)
from settlement.payer_ledger import paid_by_budget_year

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"


def _contract(name: str, **terms: object):
    contract, problems = load_contract_file(EXAMPLES / name)
    assert contract is not None and not problems
    if terms:
        contract = contract.model_copy(update={"payment_terms": PaymentTerms(**terms)})
    return contract


def test_a_payment_in_the_closing_period_belongs_to_the_year_just_ended():
    five = _contract("sib-2019-five-municipalities.yaml")
    # FY2023 runs 1 Apr 2023 – 31 Mar 2024; its closing period runs to 31 May 2024.
    assert closing_period_end(five, 2023) == date(2024, 5, 31)
    assert obligation_year_of(five, date(2024, 5, 20)) == 2023   # in the closing period
    assert obligation_year_of(five, date(2024, 5, 31)) == 2023   # its last day
    assert obligation_year_of(five, date(2024, 6, 1)) == 2024    # after it
    assert obligation_year_of(five, date(2024, 3, 31)) == 2023   # inside the year
    # A payment that names the results it settles belongs to them, whatever its date.
    assert obligation_year_of(five, date(2024, 7, 10), "FY2023") == 2023
    assert obligation_year_of(five, date(2024, 5, 20), "late FY2021 recount") == 2021


def test_the_budget_year_is_a_term_of_the_contract():
    same = _contract("sib-2019-five-municipalities.yaml")
    following = _contract("sib-2019-five-municipalities.yaml", budget_year="following_year")
    assert terms_of(same).budget_year == "obligation_year"
    assert (budget_year(same, 2021), results_year(same, 2021)) == (2021, 2021)
    assert (budget_year(following, 2021), results_year(following, 2022)) == (2022, 2021)
    # Paid 20 May 2022 for FY2021's results: FY2021's budget, or FY2022's where the contract
    # pays year-N results from the next budget.
    by_results = {obligation_year_of(same, date(2022, 5, 20)): 1_000}
    assert paid_by_budget_year(same, by_results) == {2021: 1_000}
    assert paid_by_budget_year(following, by_results) == {2022: 1_000}


def test_the_budget_table_moves_with_the_term():
    same = _contract("sib-2019-five-municipalities.yaml")
    following = _contract("sib-2019-five-municipalities.yaml", budget_year="following_year")
    by_year = planned_by_budget_year(same, "ube")
    moved = planned_by_budget_year(following, "ube")
    # The same maxima, each one budget year later; the sum over the term is unchanged.
    assert sorted(by_year) == list(range(2019, 2024))
    assert sorted(moved) == list(range(2020, 2025))
    assert {year + 1: figures for year, figures in by_year.items()} == moved


def test_due_dates_and_a_contract_without_a_closing_period():
    five = _contract("sib-2019-five-municipalities.yaml")
    # Two months after 31 March 2020 is Sunday 31 May 2020: due Friday 29 May.
    assert due_on(five, 2019) == date(2020, 5, 29)
    # 31 May 2024 is a Friday: due that day.
    assert due_on(five, 2023) == date(2024, 5, 31)
    gbp = _contract("gbp-rate-card-employment.yaml")
    assert terms_of(gbp).closing_period_months == 0
    assert closing_period_end(gbp, 2024) == date(2025, 3, 31)
    assert obligation_year_of(gbp, date(2025, 5, 20)) == 2025   # no closing period
