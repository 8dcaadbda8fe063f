"""When outcomes fall short: the junior class loses principal and its guarantee is drawn.

A small SIB, written here as a contract document: one city pays up to 10,000,000 yen a year
for two years (FY2021–FY2022), pro rata to 1,000 participants. The SPV is funded by a senior
bank loan of 10,000,000 (1 %, repaid only from outcome payments) and 5,000,000 of junior
citizen units (3 % target return, principal at risk), half of whose loss a foundation
guarantees up to a maximum. The provider gets a fixed fee of 4,000,000 a year and 20 % of the
outcome money. Outcomes reach 40 % and then 30 %: the bank is repaid, the units are not.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from contracts.store import load_contract
from contracts.validate import validate_document
from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.money import from_minor
from ledger.reports import trial_balance
from ledger.schema import Entry
from ledger.service import post_entry
from ledger.verify import verify
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results
from settlement.runs import settle

C = "shortfall-sib"
DRAWN_ON = date(2021, 4, 1)


def document(cover_percent: str, cover_max: str) -> dict:
    return {
        "id": C, "name_ja": "成果未達テスト", "name_en": "Shortfall SIB", "currency": "JPY",
        "first_fiscal_year": 2021, "last_fiscal_year": 2022,
        "parties": [
            {"id": "city", "name_ja": "市", "kind": "municipality", "roles": ["outcome_payer"]},
            {"id": "spv", "name_ja": "SPV", "kind": "spv", "roles": ["intermediary"]},
            {"id": "provider", "name_ja": "事業者", "kind": "company",
             "roles": ["service_provider"]},
            {"id": "bank", "name_ja": "銀行", "kind": "bank", "roles": ["lender"]},
            {"id": "foundation", "name_ja": "財団", "kind": "foundation", "roles": ["guarantor"]},
            {"id": "evaluator", "name_ja": "評価機関", "kind": "university",
             "roles": ["evaluator"]}],
        "payers": [{"party": "city", "authorisation": {
            "max_amount": "20,000,000", "from_fiscal_year": 2021, "to_fiscal_year": 2022}}],
        "providers": [{"party": "provider", "paid_by": "spv", "outcome_share": "0.20",
                       "fixed_by_year": {2021: "4,000,000", 2022: "4,000,000"}}],
        "instruments": [
            {"type": "loan", "id": "senior-loan", "lender": "bank", "borrower": "spv",
             "commitment": "10,000,000", "rate_annual": "0.01", "seniority": 1,
             "draws": [{"drawn_on": DRAWN_ON.isoformat(), "amount": "10,000,000"}],
             "repayment": {"profile": "bullet", "first_repayment_on": "2023-06-30"},
             "repayment_from_outcomes": True},
            {"type": "unit_class", "id": "junior-units", "issuer": "spv",
             "unit_price": "100,000", "units_offered": 100, "seniority": 2,
             "principal": "at_risk", "target_return_annual": "0.03",
             "tax_category": "tokumei_kumiai", "first_sale_fiscal_year": 2021},
            {"type": "guarantee", "id": "foundation-guarantee", "guarantor": "foundation",
             "covers": "junior-units", "cover_percent": cover_percent,
             "cover_max": cover_max}],
        "kpis": [{"id": "participants", "unit": "people", "direction": "higher",
                  "targets": {2021: "1000", 2022: "1000"}, "evaluator": "evaluator"}],
        "tranches": [{"id": f"fy{y}-participants", "kpi": "participants", "fiscal_year": y,
                      "max_amount": "10,000,000", "rule": {"type": "pro_rata"}}
                     for y in (2021, 2022)],
        # The shortfall worked here is on the outcome money as received; tax is not its
        # subject.
        "consumption_tax": {"exempt_reason": "worked example of a shortfall without tax"},
    }


def interest(principal: int, first: date, last: date) -> Fraction:
    """1 % a year, ACT/365, every day from ``first`` to ``last`` counted."""
    return principal * Fraction("0.01") * ((last - first).days + 1) / 365


def tb(session) -> dict[str, int]:
    return {r.code: r.balance_minor for r in trial_balance(session, C).rows}


def year(session, fiscal_year: int, participants: str) -> None:
    for row in submit_results(session, [ResultInput(C, fiscal_year, "participants",
                                                    participants)], "evaluator"):
        audit_result(session, row.id, "evaluation committee")
    settle(session, C, fiscal_year)
    close_year(session, C, fiscal_year, "spv")


@pytest.mark.parametrize("cover_percent, cover_max, binding", [
    ("50", "2,000,000", "the percentage"), ("80", "1,500,000", "the maximum")])
def test_the_junior_units_lose_principal_and_the_guarantee_covers_part(
        session, cover_percent, cover_max, binding):
    terms, problems = validate_document(document(cover_percent, cover_max), "shortfall.yaml")
    assert problems == []
    load_contract(session, terms)
    draw_loans(session, C, DRAWN_ON)
    units = from_minor(5_000_000, "JPY")  # 50 units sold with the loan, posted directly here
    post_entry(session, EntryDraft(C, f"{C}:units:round-1", "unit_subscription", DRAWN_ON,
                                   [debit("cash", units), credit("units:junior-units", units)],
                                   "Junior units, 50 × 100,000", {"contract": C,
                                                                   "unit_class": "junior-units"}))
    pay_fixed_fees(session, C, 2021, date(2021, 4, 15))
    year(session, 2021, "400")                       # 40 % of the target: 4,000,000 earned
    pay_fixed_fees(session, C, 2022, date(2022, 4, 15))
    record_payment(session, C, "city", 4_000_000, date(2022, 5, 31), "FY2021")
    june = distribute(session, C, date(2022, 6, 30), reference="FY2021")
    # Run again (a retried command), the same receipts would be spent twice: refused.
    entries = session.scalar(select(func.count()).select_from(Entry))
    with pytest.raises(SibError) as again:
        distribute(session, C, date(2022, 6, 30), reference="FY2021")
    assert again.value.code == "ALREADY_DISTRIBUTED"
    assert session.scalar(select(func.count()).select_from(Entry)) == entries
    year(session, 2022, "300")                       # 30 %: 3,000,000 earned
    record_payment(session, C, "city", 3_000_000, date(2023, 5, 31), "FY2022")
    final = distribute(session, C, date(2023, 6, 30), final=True, reference="FY2022")
    pack = close_year(session, C, 2023, "spv")
    session.commit()

    # The loan is serviced on its due dates (interest every 30 June, the bullet on 30 June
    # 2023), from the vehicle's cash, whatever the outcome money: 30 June 2021, interest from
    # 1 April to 29 June (90 days) on 10,000,000 = 24,657.5 → 24,657; 30 June 2022, 365 days
    # → 100,000. Cash never runs short (15,000,000 raised − 4,000,000 fee = 11,000,000).
    interest_0 = int(interest(10_000_000, DRAWN_ON, date(2021, 6, 29)))
    interest_1 = int(interest(10_000_000, date(2021, 6, 30), date(2022, 6, 29)))
    assert (interest_0, interest_1) == (24_657, 100_000)
    assert [(due.component, due.due_on, amount) for d in june.service.days
            for due, amount in d.paid] == [("interest", date(2022, 6, 30), interest_1)]
    # June 2022, 4,000,000 received: the provider's 20 %, then the units' return for 455
    # days (1 April 2021 to 29 June 2022) at 3 % on 5,000,000; the loan is owed nothing
    # before its due date, and what is left stays in cash (no sweep term).
    fee_1 = int(4_000_000 * Fraction("0.20"))
    coupon_1 = int(5_000_000 * Fraction("0.03") * 455 / 365)
    assert (fee_1, coupon_1) == (800_000, 186_986)
    assert allocations(june) == {("provider_fees", "provider"): (fee_1, fee_1),
                                 ("investor_returns", "junior-units"): (coupon_1, coupon_1)}

    # June 2023, the end. First the due date: interest 100,000 and the bullet 10,000,000,
    # on time. Then the waterfall on the cash left for it: 15,000,000 raised − 8,000,000
    # of fees + 4,000,000 + 3,000,000 received − 224,657 interest − 10,000,000 principal −
    # 800,000 provider − 186,986 return reserved for the holders = 2,788,357.
    interest_2 = int(interest(10_000_000, date(2022, 6, 30), date(2023, 6, 29)))
    assert interest_2 == 100_000
    assert [(due.component, due.due_on, amount) for d in final.service.days
            for due, amount in d.paid] == [("interest", date(2023, 6, 30), interest_2),
                                           ("principal", date(2023, 6, 30), 10_000_000)]
    cash = 15_000_000 - 8_000_000 + 4_000_000 + 3_000_000 \
        - (interest_0 + interest_1 + interest_2) - 10_000_000 - fee_1 - coupon_1
    fee_2 = int(3_000_000 * Fraction("0.20"))
    returned = cash - fee_2          # capital comes before returns in the waterfall
    unpaid = 5_000_000 - returned
    # The return owed: 820 days (1 April 2021 to 29 June 2023) at 3 % less what was paid.
    coupon_2 = int(5_000_000 * Fraction("0.03") * 820 / 365) - coupon_1
    assert (cash, returned, unpaid, coupon_2) == (2_788_357, 2_188_357, 2_811_643, 150_000)
    assert allocations(final) == {("provider_fees", "provider"): (fee_2, fee_2),
                                  ("principal", "junior-units"): (5_000_000, returned),
                                  ("investor_returns", "junior-units"): (coupon_2, 0)}
    assert final.waterfall.left_minor == 0

    # The loss falls on the junior units only; the guarantee pays its share, up to its cap.
    share, cap = Fraction(cover_percent) / 100, int(cover_max.replace(",", ""))
    guaranteed = min(int(unpaid * share), cap)
    written_down = unpaid - guaranteed
    # 50 % of 2,811,643 = 1,405,821.5 → 1,405,821 (under the 2,000,000 cap); 80 % would be
    # 2,249,314, capped at 1,500,000.
    assert guaranteed == {"the percentage": 1_405_821, "the maximum": 1_500_000}[binding]
    assert [(x.instrument, x.unpaid_minor, x.guaranteed_minor, x.written_down_minor)
            for x in final.losses] == [("junior-units", unpaid, guaranteed, written_down)]
    kinds = [e.kind for e in session.scalars(select(Entry).where(
        Entry.links.like('%"instrument":"junior-units"%')))]
    assert kinds == ["guarantee_draw", "write_down"]  # entries, not edits

    balances = tb(session)
    assert balances["units:junior-units"] == 0                # capital: returned or lost
    assert balances["distributions-payable:junior-units"] == returned + coupon_1  # holders
    assert balances["guarantor-claim:foundation-guarantee"] == guaranteed  # owed to the
    assert balances["write-down-gain"] == written_down                     # foundation
    assert balances["loan:senior-loan"] == 0
    assert balances["interest-payable:senior-loan"] == 0
    assert balances["interest-expense:senior-loan"] == interest_0 + interest_1 + interest_2
    assert balances["distributions:junior-units"] == coupon_1  # the 2022 return
    assert balances["cash"] == returned + coupon_1            # only the holders' money left
    assert balances["fees:provider"] == 8_000_000 + fee_1 + fee_2
    assert verify(session).ok
    # The pack of the year the contract ended in (FY2023, closed after the final waterfall).
    [junior] = pack.investor_classes
    assert (junior["capital"], junior["capital_returned"], junior["written_down"]) == (
        5_000_000, returned, unpaid)  # written down: the guaranteed part and the loss
    [loan] = pack.lenders
    assert (loan["drawn"], loan["repaid"], loan["written_down"], loan["outstanding"]) == (
        10_000_000, 10_000_000, 0, 0)
    assert loan["interest_paid_year"] == interest_2


def allocations(distribution) -> dict[tuple[str, str], tuple[int, int]]:
    return {(a.claim.step, a.claim.instrument): (a.claim.amount_minor, a.paid_minor)
            for a in distribution.waterfall.allocations}
