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
