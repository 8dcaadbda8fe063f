"""Money that is not outcome money reaches the ledger (issue 12, item 4, in part): the Kashima
2023 programme (seed 001) has no outcome payments — the city pays both providers' fixed fees
itself, and Sumitomo Life puts in its Vitality trial licences in kind. Worked by hand from the
contract (contracts/examples/kashima-2023.yaml)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from api import db
from contracts.store import load_contract
from contracts.validate import load_contract_file
from ledger import read
from ledger.errors import SibError
from settlement.payments import pay_fixed_fees, receive_grant, record_contributions

KASHIMA = Path(__file__).resolve().parent.parent / "contracts/examples/kashima-2023.yaml"
C = "kashima-2023"
PAYERS_BOOK = f"{C}:payers"


@pytest.fixture
def kashima(db_url):
    contract, problems = load_contract_file(KASHIMA)
    assert contract is not None and not problems
    with db.unit_of_work(db_url) as s:
        load_contract(s, contract, KASHIMA.name)
    return db_url


def test_the_city_pays_its_providers_and_the_partner_gives_in_kind(kashima):
    with db.unit_of_work(kashima) as s:
        fees = pay_fixed_fees(s, C, 2023, date(2023, 9, 29))
        given = record_contributions(s, C, 2023, date(2023, 6, 1))
    assert len(fees) == 2 and len(given) == 1
    with db.unit_of_work(kashima) as s:
        # The city's books: 1,430,000 to Sumitomo Life (Vitality) + 3,300,000 to PREVENT
        # (Mystar) = 4,730,000, its whole 令和5年度 budget, paid out of its treasury.
        cost = read.totals(s, PAYERS_BOOK, "fixed-fees:kashima")
        assert cost.net_debit_minor == 1_430_000 + 3_300_000 == 4_730_000
        assert read.totals(s, PAYERS_BOOK, "bank:kashima").net_debit_minor == -4_730_000
        # The SPV's books: the licences given in kind, at their stated 1,000,000, stand for
        # Sumitomo Life's service, against contribution income; no cash moved.
        assert read.totals(s, C, "fees:sumitomo-life").net_debit_minor == 1_000_000
        assert read.totals(s, C, "contribution-income").net_credit_minor == 1_000_000
        assert read.totals(s, C, "cash").net_debit_minor == 0
        assert {e.kind for e in read.entries(s, PAYERS_BOOK)} == {"service_fee"}
    # Each is posted once: the same year again posts nothing new.
    with db.unit_of_work(kashima) as s:
        assert [e.id for e in pay_fixed_fees(s, C, 2023, date(2023, 9, 29))] == \
            [e.id for e in fees]
        assert [e.id for e in record_contributions(s, C, 2023, date(2023, 6, 1))] == \
            [e.id for e in given]


def test_a_grant_receipt_needs_a_receivable_and_a_positive_amount(kashima):
    for amount, code in ((1, "GRANT_EXCEEDS_RECEIVABLE"), (0, "AMOUNT_NOT_POSITIVE")):
        with pytest.raises(SibError) as refused, db.unit_of_work(kashima) as s:
            receive_grant(s, C, "kashima", amount, date(2024, 3, 29), "交付決定")
        assert refused.value.code == code
    with db.unit_of_work(kashima) as s:
        assert read.entries(s, PAYERS_BOOK) == []


def test_the_grant_on_the_fees_is_recognised_at_the_close_and_received(kashima):
    from settlement.close import close_year
    with db.unit_of_work(kashima) as s:
        pay_fixed_fees(s, C, 2023, date(2023, 9, 29))
    with db.unit_of_work(kashima) as s:
        close_year(s, C, 2023, "kashima")
    with db.unit_of_work(kashima) as s:
        # The insurer-incentive grant pays 1/2 of the fees (its terms make them the eligible
        # cost): 4,730,000 × 1/2 = 2,365,000, in thousands 2,365,000, capped by its decision
        # at 2,000,000 — recognised on 31 March 2024, the year's end.
        granted = read.postings(s, PAYERS_BOOK, account="grant-income:kashima")
        assert [(p.effective_on, p.credit_minor, p.links["eligible_cost"]) for p in granted] \
            == [(date(2024, 3, 31), 2_000_000, 4_730_000)]
    with db.unit_of_work(kashima) as s:
        receive_grant(s, C, "kashima", 2_000_000, date(2024, 7, 31), "交付決定 R5-001")
    with db.unit_of_work(kashima) as s:
        assert read.totals(s, PAYERS_BOOK, "grant-receivable:kashima").net_debit_minor == 0
        # The city's net cost: 4,730,000 paid out, 2,000,000 of grant back.
        assert read.totals(s, PAYERS_BOOK, "bank:kashima").net_debit_minor == -2_730_000


def test_a_grant_is_computed_in_its_unit_and_within_its_caps():
    from fractions import Fraction

    from contracts.instruments import Grant
    from ledger.rounding import RoundingMode
    from settlement.grants import grant_room, rounded_grant

    grant = Grant.model_validate({"id": "g", "grantor": "state", "subsidises": ["city"],
                                  "rate": "1/2", "rounding_unit": "1,000", "cap": "1,000,000",
                                  "cap_per_year": "600,000", "first_fiscal_year": 2023,
                                  "last_fiscal_year": 2024})
    # 1,234,567 × 1/2 = 617,283.5: in thousands, fractions dropped, 617,000.
    assert rounded_grant(grant, Fraction(1_234_567, 2), RoundingMode.HALF_UP) == 617_000
    # Room: the year's 600,000 less 100,000 already this year; the total's 1,000,000 less
    # 700,000 granted in all: 300,000.
    assert grant_room(grant, 700_000, 100_000) == 300_000
    assert grant_room(grant, 0, 0) == 600_000
