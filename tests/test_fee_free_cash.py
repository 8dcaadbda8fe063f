"""A fixed fee is paid out of the vehicle's own money (the money conservation rule of the
one-source-of-truth issue, applied to fees): the cash it holds for unit holders it has not yet
paid, and the tax it has withheld for the tax office, are not its to spend."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.store import load_contract
from contracts.validate import validate_document
from investors.store import HolderSpec, add_holder, pay_holders, subscribe
from ledger import read
from ledger.errors import SibError
from ledger.verify import verify
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, free_cash, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results
from tests.test_class_returns import _payments_document

C = "payment-tiers"


def test_a_fee_beyond_the_vehicles_own_cash_is_refused(session):
    """The class of 1,000,000 (subscribed 1 April 2020) is owed 30,000 on 1 April 2021 out of
    FY2020's 50,000 received (3 % of 1,000,000; see tests/test_class_returns.py): cash
    1,050,000, of which 30,000 is owed to its holder until it is paid (distributions
    payable): own cash 1,020,000. A fixed fee of 1,040,000 for FY2021 fits the cash but not
    the vehicle's own money: refused, nothing written. Paying the holder does not change the
    own cash (cash 1,020,000, payable 0): still refused. FY2021's 100,000 received on
    1 April 2022 brings it to 1,120,000: the fee dated that day is paid, 80,000 left (dated
    5 April 2021 it is still refused: the money was not there then); paying again is the
    same entry."""
    doc = _payments_document()
    doc["parties"].append({"id": "provider", "name_en": "Provider", "kind": "npo",
                           "roles": ["service_provider"]})
    doc["providers"] = [{"party": "provider", "paid_by": "spv",
                         "fixed_by_year": {2021: "1,040,000"}}]
    contract, problems = validate_document(doc, "test")
    assert problems == []
    load_contract(session, contract)
    add_holder(session, HolderSpec("holder", "company", "出資者", tax_category="corporate"))
    subscribe(session, C, "units", "holder", 20, date(2020, 4, 1))

    def year(fy: int, value: str, on: date) -> None:
        for row in submit_results(session, [ResultInput(C, fy, "continuation", value)], "ev"):
            audit_result(session, row.id or 0, "auditor")
        for p in close_year(session, C, fy, "spv").payers:
            record_payment(session, C, p["payer"], p["outstanding"], on, f"FY{fy}")
        session.commit()

    year(2020, "65", date(2021, 4, 1))
    distribute(session, C, date(2021, 4, 1), reference="FY2020")
    session.commit()
    assert read.totals(session, C, "cash").net_debit_minor == 1_050_000
    assert free_cash(session, contract) == 1_020_000
    with pytest.raises(SibError) as refused:
        pay_fixed_fees(session, C, 2021, date(2021, 4, 2))
    assert refused.value.code == "FEE_EXCEEDS_FREE_CASH"
    assert "the vehicle has 1,020,000 of its own" in str(refused.value)
    session.rollback()
    assert read.entries(session, C, kinds=["service_fee"]) == []
    pay_holders(session, C, date(2021, 4, 1))
    session.commit()
    assert read.totals(session, C, "cash").net_debit_minor == 1_020_000
    with pytest.raises(SibError):
        pay_fixed_fees(session, C, 2021, date(2021, 4, 5))
    session.rollback()
    year(2021, "70", date(2022, 4, 1))
    # Money received on 1 April 2022 cannot pay a fee dated before it (a reviewer found the
    # check blind to the fee's date): dated 5 April 2021 it is still refused.
    with pytest.raises(SibError) as refused:
        pay_fixed_fees(session, C, 2021, date(2021, 4, 5))
    assert refused.value.code == "FEE_EXCEEDS_FREE_CASH"
    session.rollback()
    [paid] = pay_fixed_fees(session, C, 2021, date(2022, 4, 1))
    again = pay_fixed_fees(session, C, 2021, date(2022, 4, 1))  # a retry: the same entry
    assert [e.id for e in again] == [paid.id]
    assert read.totals(session, C, "cash").net_debit_minor == 80_000
    assert verify(session).ok
