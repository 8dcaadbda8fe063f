"""The demo's five years of debt service (issue 11, acceptance 1), read back from its books.

Every instalment of every loan is paid on its due date (adjusted by the loan's business-day
convention) when the vehicle has the cash; the one it could not pay is shown overdue, then
paid late with its 遅延損害金; no bullet is repaid before its due date; and the schedule every
document and ``sib schedule`` show agrees with the ledger on every date.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from api.db import make_engine
from contracts.chart import Code, Kind
from contracts.store import get_contract
from ledger import read
from settlement.debt_service import schedule_against_actual
from settlement.servicing import nominal_schedule

C = "sib-2019-five-municipalities"
END = date(2024, 12, 31)


@pytest.fixture(scope="module")
def books(demo_story):
    url, _ = demo_story
    engine = make_engine(url)
    with Session(engine) as session:
        yield session, get_contract(session, C)
    engine.dispose()


def test_every_instalment_is_paid_on_its_due_date_but_one_paid_late(books):
    session, contract = books
    late = []
    for loan in contract.loans:
        lines = schedule_against_actual(session, contract, loan, END)
        # The due dates are the schedule's, adjusted (末日, modified following).
        assert [line.due_on for line in lines] == [r.due_on for r in nominal_schedule(loan).rows]
        for line in lines:
            assert line.overdue == 0, (loan.id, line)
            if line.status == "paid_late":
                late.append((loan.id, line))
            else:
                assert line.status == "paid_on_time", (loan.id, line)
                assert line.paid_on == (line.due_on,), (loan.id, line)
    # One instalment was short: Yamaguchi's of 31 March 2021, when FY2020's 32,000,000 fee
    # had left the vehicle less than it owed; part paid on the day, the rest on 20 May 2021
    # when the outcome payments came in.
    [(loan_id, line)] = late
    assert (loan_id, line.due_on, line.paid_on) == (
        "loan-yamaguchi", date(2021, 3, 31), (date(2021, 3, 31), date(2021, 5, 20)))
    paid_late = sum(e.amount_on(Code.loan(loan_id), "D") for e in read.entries(
        session, C, kinds=[Kind.PRINCIPAL_REPAYMENT],
        links={"due_on": "2021-03-31", "late": True}))
    assert paid_late > 0
    # 遅延損害金 on it: 14.6 % a year for the 50 days from 1 April to 20 May (30 + 20), both
    # counted, truncated: overdue × 0.146 × 50 / 365 = overdue × 0.02.
    assert line.default_interest == paid_late * 146 * 50 // (1000 * 365)
    assert line.default_interest == line.default_interest_paid == read.totals(
        session, C, Code.interest_payable(loan_id),
        kinds=[Kind.DEFAULT_INTEREST_PAYMENT]).debits_minor


def test_no_bullet_is_repaid_before_its_due_date(books):
    session, contract = books
    for loan in contract.loans:
        dues = {r.due_on for r in nominal_schedule(loan).rows}
        for posting in read.postings(session, C, account=Code.loan(loan.id),
                                     kinds=[Kind.PRINCIPAL_REPAYMENT]):
            assert posting.links.get("due_on") is not None, (loan.id, posting)
            assert date.fromisoformat(posting.links["due_on"]) in dues
            assert posting.effective_on >= date.fromisoformat(posting.links["due_on"])
        if loan.repayment.profile == "bullet":
            [repaid] = read.postings(session, C, account=Code.loan(loan.id),
                                     kinds=[Kind.PRINCIPAL_REPAYMENT])
            assert repaid.effective_on == max(dues) == date(2024, 6, 28)


def test_the_schedule_agrees_with_the_ledger_on_every_date(books):
    session, contract = books
    for loan in contract.loans:
        for line in schedule_against_actual(session, contract, loan, END):
            assert line.actual_closing == read.balance_as_of(session, C, Code.loan(loan.id),
                                                             line.due_on), (loan.id, line)
            for component, account, kind, paid in (
                    ("principal", Code.loan(loan.id), Kind.PRINCIPAL_REPAYMENT,
                     line.paid_principal),
                    ("interest", Code.interest_payable(loan.id), Kind.INTEREST_PAYMENT,
                     line.paid_interest)):
                booked = sum(p.amount_minor for p in read.postings(
                    session, C, account=account, kinds=[kind])
                    if p.links.get("due_on") == line.due_on.isoformat())
                assert booked == paid, (loan.id, line.due_on, component)
        # Every interest payment names its due date, and they add up to the interest booked.
        payable = read.totals(session, C, Code.interest_payable(loan.id))
        assert payable.credits_minor == payable.debits_minor, loan.id
