"""Guarantees end to end (issue 11, item 4): a guarantor's payment is a recovery, never a loss.

A small SIB written here as a contract document: one city pays up to 10,000,000 yen for FY2021,
pro rata to 1,000 participants. The SPV borrows 10,000,000 from a bank at 1 % (repaid only from
outcome payments) and sells 1,000,000 of principal-protected units (10 × 100,000) to one
holder. A credit guarantee covers the loan's loss up to 4,000,000; a foundation's guarantee
covers the units' whole loss. The provider's fixed fee, 9,875,343, is set so that the loan
loses exactly 5,000,000 when the city pays for 400 participants (see the first test).
"""

from __future__ import annotations

import io
from datetime import date
from fractions import Fraction

import pytest
from pypdf import PdfReader

from contracts.store import load_contract
from contracts.validate import validate_document
from investors.documents import context, investor_statements, lender_statement
from investors.pdf_investor_statement import render_investor_statement
from investors.pdf_lender_statement import render_lender_statement
from investors.store import (
    HolderSpec,
    add_holder,
    capital_account,
    get_holder,
    holder_payments,
    pay_holders,
    subscribe,
)
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results
from settlement.runs import settle

C = "guarantee-sib"
DRAWN_ON = date(2021, 4, 1)
FEE = 9_875_343


def document(units_protected_by: list[str] | None = None) -> dict:
    protected_by = ["foundation-guarantee"] if units_protected_by is None else units_protected_by
    return {
        "id": C, "name_ja": "保証テスト", "name_en": "Guarantee SIB", "currency": "JPY",
        "first_fiscal_year": 2021, "last_fiscal_year": 2021,
        "consumption_tax": {"exempt_reason": "test contract: no tax, to keep the figures plain"},
        "parties": [
            {"id": "city", "name_ja": "市", "kind": "municipality", "roles": ["outcome_payer"]},
            {"id": "spv", "name_ja": "SPV", "kind": "spv", "roles": ["intermediary"]},
            {"id": "provider", "name_ja": "事業者", "kind": "company",
             "roles": ["service_provider"]},
            {"id": "bank", "name_ja": "銀行", "name_en": "The Bank", "kind": "bank",
             "roles": ["lender"]},
            {"id": "credit-guarantor", "name_ja": "信用保証協会", "kind": "other",
             "roles": ["guarantor"]},
            {"id": "foundation", "name_ja": "財団", "kind": "foundation", "roles": ["guarantor"]},
            {"id": "evaluator", "name_ja": "評価機関", "kind": "university",
             "roles": ["evaluator"]}],
        "payers": [{"party": "city", "authorisation": {
            "max_amount": "10,000,000", "from_fiscal_year": 2021, "to_fiscal_year": 2021}}],
        "providers": [{"party": "provider", "paid_by": "spv",
                       "fixed_by_year": {2021: f"{FEE:,}"}}],
        "instruments": [
            {"type": "loan", "id": "bank-loan", "name_ja": "成果連動型事業資金",
             "lender": "bank", "borrower": "spv", "commitment": "10,000,000",
             "rate_annual": "0.01", "seniority": 1,
             "draws": [{"drawn_on": DRAWN_ON.isoformat(), "amount": "10,000,000"}],
             "repayment": {"profile": "bullet", "first_repayment_on": "2023-06-30"},
             "repayment_from_outcomes": True},
            {"type": "unit_class", "id": "protected-units", "issuer": "spv",
             "unit_price": "100,000", "units_offered": 10, "seniority": 2,
             "principal": "protected", "protected_by": protected_by,
             "tax_category": "tokumei_kumiai", "first_sale_fiscal_year": 2021},
            {"type": "guarantee", "id": "loan-guarantee", "guarantor": "credit-guarantor",
             "covers": "bank-loan", "cover_max": "4,000,000"},
            {"type": "guarantee", "id": "foundation-guarantee", "guarantor": "foundation",
             "covers": "protected-units", "cover_percent": "100"}],
        "kpis": [{"id": "participants", "unit": "people", "direction": "higher",
                  "targets": {2021: "1000"}, "evaluator": "evaluator"}],
        "tranches": [{"id": "fy2021-participants", "kpi": "participants", "fiscal_year": 2021,
                      "max_amount": "10,000,000", "rule": {"type": "pro_rata"}}],
    }


def test_a_protected_class_must_name_the_guarantee_that_protects_it():
    codes = lambda doc: [(p.code, p.field) for p in validate_document(doc, "g.yaml")[1]]  # noqa: E731
    assert codes(document()) == []
    # Sold as protected, protected by nothing: refused.
    assert codes(document([])) == [("UNIT_CLASS_PROTECTION_MISSING",
                                    "instruments[1].protected_by")]
    # The loan's guarantee does not protect the units.
    assert codes(document(["loan-guarantee"])) == [("UNIT_CLASS_PROTECTION_NOT_COVERING",
                                                    "instruments[1].protected_by[0]")]
    # An at-risk class naming a protector is a contradiction.
    at_risk = document()
    at_risk["instruments"][1]["principal"] = "at_risk"
    assert codes(at_risk) == [("UNIT_CLASS_PROTECTION_ON_AT_RISK",
                               "instruments[1].protected_by")]


@pytest.fixture
def story(session):
    terms, problems = validate_document(document(), "g.yaml")
    assert problems == []
    load_contract(session, terms)
    draw_loans(session, C, DRAWN_ON)
    add_holder(session, HolderSpec("h-ito", "individual", "伊藤 一郎", "イトウ イチロウ",
                                   tax_category="individual"))
    subscribe(session, C, "protected-units", "h-ito", 10, DRAWN_ON)
    pay_fixed_fees(session, C, 2021, date(2021, 4, 15))
    for row in submit_results(session, [ResultInput(C, 2021, "participants", "400")],
                              "evaluator"):
        audit_result(session, row.id, "evaluation committee")
    settle(session, C, 2021)
    close_year(session, C, 2021, "spv")
    record_payment(session, C, "city", 4_000_000, date(2022, 5, 31), "FY2021")
    final = distribute(session, C, date(2022, 6, 30), final=True, reference="FY2021")
    paid = pay_holders(session, C, date(2022, 6, 30))
    pack = close_year(session, C, 2022, "spv")
    session.commit()
    return final, paid, pack


def test_a_guarantor_paying_4m_of_a_5m_loss_is_4m_recovered_and_1m_written_down(session, story):
    final, _, pack = story
    # Debt service on the due dates (interest every 30 June, back from the bullet's date):
    # 30 June 2021, 10,000,000 × 1 % × 90/365 = 24,657.5 → 24,657, paid from the cash left
    # after the fee (10,000,000 + 1,000,000 − 9,875,343 = 1,124,657); 30 June 2022, 365 days
    # → 100,000, paid by the service the final distribution runs first. Interest 124,657.
    first = int(10_000_000 * Fraction("0.01") * 90 / 365)
    assert (first, first + 100_000) == (24_657, 124_657)
    assert [(d.on, [(due.component, due.due_on, amount) for due, amount in d.paid])
            for d in final.service.days if d.paid] == [
        (date(2022, 6, 30), [("interest", date(2022, 6, 30), 100_000)])]
    # Cash at the payoff: 1,124,657 − 24,657 + 4,000,000 from the city − 100,000 = 5,000,000
    # for the principal, of the 10,000,000; nothing is left for the units.
    assert {(a.claim.step, a.claim.instrument): (a.claim.amount_minor, a.paid_minor)
            for a in final.waterfall.allocations} == {
        ("principal", "bank-loan"): (10_000_000, 5_000_000),
        ("principal", "protected-units"): (1_000_000, 0)}
    # The loan's 5,000,000 unpaid: the guarantee pays up to 4,000,000, 1,000,000 is lost.
    # The units' 1,000,000: the foundation covers 100 %, nothing is written down.
    assert [(x.instrument, x.unpaid_minor, x.guaranteed_minor, x.written_down_minor)
            for x in final.losses] == [("bank-loan", 5_000_000, 4_000_000, 1_000_000),
                                       ("protected-units", 1_000_000, 1_000_000, 0)]

    # The pack and `sib close --json`: guaranteed and loss apart; written_down keeps its old
    # meaning (both together) for existing readers.
    [loan] = pack.as_dict()["lenders"]
    assert (loan["drawn"], loan["repaid"], loan["guaranteed"], loan["loss"],
            loan["written_down"], loan["outstanding"]) == (
        10_000_000, 5_000_000, 4_000_000, 1_000_000, 5_000_000, 0)
    assert (loan["opening"], loan["repaid_year"], loan["guaranteed_year"],
            loan["written_down_year"], loan["closing"]) == (
        10_000_000, 5_000_000, 4_000_000, 1_000_000, 0)
    [units] = pack.as_dict()["investor_classes"]
    assert (units["capital"], units["capital_returned"], units["guaranteed"], units["loss"]) \
        == (1_000_000, 0, 1_000_000, 0)

    # The bank's FY2022 statement: 4,000,000 recovered from the guarantor, 1,000,000 written
    # down; 10,000,000 − 5,000,000 − 4,000,000 − 1,000,000 = 0 at the year end.
    statement = lender_statement(session, context(session, C, 2022), "bank")
    [section] = statement.loans
    assert (section.opening_balance_minor, section.principal_repaid_minor,
            section.recovered_minor, section.written_down_minor,
            section.closing_balance_minor) == (10_000_000, 5_000_000, 4_000_000, 1_000_000, 0)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(
        render_lender_statement(statement, "ja"))).pages)
    assert "保証履行による回収 4,000,000円" in text and "元本減額 1,000,000円" in text
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(
        render_lender_statement(statement, "en"))).pages)
    assert "Guarantee recovery JPY 4,000,000" in text
    assert "Written down JPY 1,000,000" in text


def test_the_holder_of_a_protected_class_recovers_from_its_guarantor(session, story):
    _, paid, _ = story
    # The foundation's 1,000,000 reaches the holder as a recovery, not a write-down; the
    # guarantor pays it, so the vehicle's cash does not move for it.
    assert [(p.kind, p.gross_minor, p.withheld_minor, p.net_minor) for p in paid] == [
        ("guarantee_recovery", 1_000_000, 0, 1_000_000)]
    assert [p.kind for p in holder_payments(session, C)] == ["guarantee_recovery"]
    [statement] = investor_statements(session, context(session, C, 2022))
    account = statement.capital_account
    # 1,000,000 in, 1,000,000 back from the guarantor, nothing lost: 1.00×, not 0.00×.
    assert (account.opening_minor, account.recoveries_minor, account.write_downs_minor,
            account.closing_minor) == (1_000_000, 1_000_000, 0, 0)
    assert statement.returns.moic == 1
    # The capital account the API serves reads the payment the same way.
    holder = get_holder(session, statement.holder.holder_id)
    served = capital_account(session, C, holder, statement.class_id, date(2022, 4, 1),
                             date(2023, 3, 31))
    assert (served.recoveries_minor, served.write_downs_minor) == (1_000_000, 0)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(
        render_investor_statement(statement, "ja"))).pages)
    assert "保証履行による回収 -1,000,000円" in text
