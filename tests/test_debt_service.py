"""Debt service on due dates (issue 11, items 1–3): worked examples, each derived by hand in a
comment, and properties for random loans.

- A late instalment with 遅延損害金 to the yen, through the ledger (services and CLI).
- A prepayment that shortens the term and one that lowers the instalments.
- A loan drawn in two tranches, with interest on what was actually drawn.
- Properties: whatever the terms and the cash on each due date, principal paid + written
  down + recovered = drawn, every payment settles exactly one due date and never more than
  it owed, and a loan paid on time pays exactly its schedule.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from api.db import make_engine
from contracts.chart import Code, Kind
from contracts.instruments import Loan
from contracts.store import get_contract, load_contract
from contracts.validate import load_contract_file, validate_document
from ledger import read
from ledger.errors import SibError
from ledger.verify import verify
from settlement.close import close_year
from settlement.debt_service import prepay, read_state, service
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.servicing import (
    LoanRecord,
    Payment,
    Reduction,
    loan_state,
    nominal_schedule,
    owed_on,
    pay,
    principal_plan,
)

C = "servicing-sib"


def document(prepayment: dict | None = None) -> dict:
    """A vehicle borrowing 12,000,000 at 2 % from one bank, repaid 元金均等 in two semi-annual
    instalments (30 Sep 2021, 31 Mar 2022, 末日), 遅延損害金 14.6 %; a second bank lends
    6,000,000 on 15 Nov 2021 (a bullet a year later). The provider's fixed fee of
    11,000,000 on 15 April 2021 leaves the vehicle 1,000,000 for the first due date."""
    first = {"type": "loan", "id": "first-loan", "name_ja": "成果連動型事業資金",
             "lender": "bank-a", "borrower": "spv", "commitment": "12,000,000",
             "rate_annual": "0.02", "default_interest_rate_annual": "0.146",
             "draws": [{"drawn_on": "2021-04-01", "amount": "12,000,000"}],
             "repayment": {"profile": "equal_principal", "instalments": 2,
                           "frequency_months": 6, "first_repayment_on": "2021-09-30",
                           "end_of_month": True, "business_day": "modified_following"}}
    if prepayment is not None:
        first["prepayment"] = prepayment
    return {
        "id": C, "name_ja": "返済テスト", "name_en": "Servicing SIB", "currency": "JPY",
        "first_fiscal_year": 2021, "last_fiscal_year": 2021,
        "consumption_tax": {"exempt_reason": "test contract: no tax, to keep the figures plain"},
        "parties": [
            {"id": "city", "name_ja": "市", "kind": "municipality", "roles": ["outcome_payer"]},
            {"id": "spv", "name_ja": "SPV", "kind": "spv", "roles": ["intermediary"]},
            {"id": "provider", "name_ja": "事業者", "kind": "company",
             "roles": ["service_provider"]},
            {"id": "bank-a", "name_ja": "A銀行", "kind": "bank", "roles": ["lender"]},
            {"id": "bank-b", "name_ja": "B銀行", "kind": "bank", "roles": ["lender"]},
            {"id": "evaluator", "name_ja": "評価機関", "kind": "university",
             "roles": ["evaluator"]}],
        "payers": [{"party": "city", "authorisation": {
            "max_amount": "10,000,000", "from_fiscal_year": 2021, "to_fiscal_year": 2021}}],
        "providers": [{"party": "provider", "paid_by": "spv",
                       "fixed_by_year": {2021: "11,000,000"}}],
        "instruments": [
            first,
            {"type": "loan", "id": "second-loan", "lender": "bank-b", "borrower": "spv",
             "commitment": "6,000,000", "rate_annual": "0.01",
             "draws": [{"drawn_on": "2021-11-15", "amount": "6,000,000"}],
             "repayment": {"profile": "bullet", "first_repayment_on": "2022-11-15"}}],
        "kpis": [{"id": "participants", "unit": "people", "direction": "higher",
                  "targets": {2021: "1000"}, "evaluator": "evaluator"}],
        "tranches": [{"id": "fy2021-participants", "kpi": "participants", "fiscal_year": 2021,
                      "max_amount": "10,000,000", "rule": {"type": "pro_rata"}}],
    }


def _load_vehicle(session):
    terms, problems = validate_document(document(), "servicing.yaml")
    assert problems == []
    load_contract(session, terms)
    draw_loans(session, C, date(2021, 4, 1))
    pay_fixed_fees(session, C, 2021, date(2021, 4, 15))
    return get_contract(session, C)


@pytest.fixture
def vehicle(session):
    return _load_vehicle(session)


@pytest.mark.postgres
def test_a_late_instalment_on_postgresql(pg_url):
    """The same worked example on PostgreSQL, in one transaction rolled back at the end."""
    engine = make_engine(pg_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                test_a_late_instalment_pays_its_default_interest_to_the_yen(
                    session, _load_vehicle(session))
            finally:
                session.rollback()
    finally:
        engine.dispose()


def test_a_late_instalment_pays_its_default_interest_to_the_yen(session, vehicle):
    # 30 Sep 2021 (a Thursday): interest on 12,000,000 at 2 % for 182 days (1 April to 29
    # September, 片端) = 119,671.23 → 119,671; principal 6,000,000. The vehicle holds
    # 12,000,000 − 11,000,000 = 1,000,000: interest first, then 880,329 of the principal;
    # 5,119,671 stays overdue.
    interest = int(12_000_000 * Fraction("0.02") * 182 / 365)
    assert interest == 119_671
    run = service(session, C, date(2021, 10, 31))
    [day] = [d for d in run.days if d.paid]
    assert (day.on, day.available_minor) == (date(2021, 9, 30), 1_000_000)
    assert [(d.component, d.due_on, amount) for d, amount in day.paid] == [
        ("interest", date(2021, 9, 30), 119_671),
        ("principal", date(2021, 9, 30), 1_000_000 - 119_671)]
    assert [(d.component, d.amount_minor) for d in run.overdue] == [("principal", 5_119_671)]
    loan = vehicle.loans[0]
    state = read_state(session, vehicle, loan, date(2021, 10, 31))
    first = state.instalments[0]
    assert (first.status, first.overdue_principal_minor) == ("overdue", 5_119_671)
    # Default interest runs from 1 October: 31 days to 31 October on 5,119,671 at 14.6 %
    # = 5,119,671 × 0.146 × 31 / 365 = 63,483.9 → 63,483 (not booked until paid).
    assert first.default_interest_minor == int(5_119_671 * Fraction("0.146") * 31 / 365) \
        == 63_483

    # The second bank's 6,000,000 comes in on 15 November: the arrears are paid that day.
    # 46 days (1 October to 15 November, both counted) of default interest:
    # 5,119,671 × 0.146 × 46 / 365 = 94,201.9 → 94,201; then the principal.
    draw_loans(session, C, date(2021, 11, 15))
    run = service(session, C, date(2021, 11, 30))
    [day] = [d for d in run.days if d.paid]
    assert day.on == date(2021, 11, 15)
    assert [(d.component, d.due_on, amount) for d, amount in day.paid] == [
        ("default_interest", date(2021, 9, 30), 94_201),
        ("principal", date(2021, 9, 30), 5_119_671)]
    assert run.overdue == []
    state = read_state(session, vehicle, loan, date(2021, 11, 30))
    first = state.instalments[0]
    assert first.status == "paid_late"
    assert first.paid_on == (date(2021, 9, 30), date(2021, 11, 15))
    assert (first.default_interest_minor, first.default_interest_paid_minor) == (94_201,
                                                                                  94_201)
    assert state.outstanding_minor == 6_000_000
    # The ledger says the same: the loan account and the default interest booked and paid.
    balance = read.totals(session, C, Code.loan("first-loan"))
    assert balance.credits_minor - balance.debits_minor == 6_000_000
    assert read.totals(session, C, Code.interest_payable("first-loan"),
                       kinds=[Kind.DEFAULT_INTEREST_PAYMENT]).debits_minor == 94_201
    late = read.entries(session, C, kinds=[Kind.PRINCIPAL_REPAYMENT],
                        links={"due_on": "2021-09-30", "late": True})
    assert [e.effective_on for e in late] == [date(2021, 11, 15)]

    # The next period's interest runs on the 6,000,000 not fallen due: the overdue 5,119,671
    # bore default interest instead, so no day bears both. 30 Sep 2021 to 30 Mar 2022 is 182
    # days: 6,000,000 × 2 % × 182 / 365 = 59,835.6 → 59,835.
    assert state.instalments[1].interest_minor == int(6_000_000 * Fraction("0.02") * 182
                                                      / 365) == 59_835
    # Serviced again: nothing new is posted.
    before = len(read.entries(session, C))
    assert service(session, C, date(2021, 11, 30)).entries == []
    assert len(read.entries(session, C)) == before
    assert verify(session).ok


def test_a_cash_sweep_prepays_from_the_surplus(session):
    """The first loan repaid in four semi-annual instalments of 3,000,000 (to 31 March 2023),
    with half of each distribution's surplus swept into it from 2022."""
    doc = document()
    doc["instruments"][0]["repayment"]["instalments"] = 4
    doc["instruments"][0]["cash_sweep"] = {"share": "0.5", "from_on": "2022-01-01"}
    terms, problems = validate_document(doc, "sweep.yaml")
    assert problems == []
    load_contract(session, terms)
    draw_loans(session, C, date(2021, 11, 15))
    for row in submit_results(session, [ResultInput(C, 2021, "participants", "400")],
                              "evaluator"):
        audit_result(session, row.id, "evaluation committee")
    settle(session, C, 2021)
    close_year(session, C, 2021, "spv")
    # 40 % of 10,000,000 earned: 4,000,000 received; nothing else is owed from it (no
    # provider share, no units, no due date before 15 June), so all of it is surplus and
    # half, 2,000,000, prepays the loan.
    record_payment(session, C, "city", 4_000_000, date(2022, 5, 31), "FY2021")
    result = distribute(session, C, date(2022, 6, 15), reference="FY2021")
    assert result.waterfall.left_minor == 4_000_000
    [swept] = read.entries(session, C, links={"sweep": True})
    assert (swept.effective_on, swept.amount_on(Code.loan("first-loan"), "D")) == (
        date(2022, 6, 15), 2_000_000)
    # Shortening the term (the default effect): the last instalment, 31 March 2023, falls
    # from 3,000,000 to 1,000,000; 30 September 2022 is unchanged.
    state = read_state(session, get_contract(session, C), get_contract(session, C).loans[0],
                       date(2022, 6, 15))
    assert [(i.due_on, i.principal_minor) for i in state.instalments] == [
        (date(2021, 9, 30), 3_000_000), (date(2022, 3, 31), 3_000_000),
        (date(2022, 9, 30), 3_000_000), (date(2023, 3, 31), 1_000_000)]
    assert state.outstanding_minor == 4_000_000 and verify(session).ok


def _loan(effect: str) -> Loan:
    """12,000,000 drawn 1 April 2021 at 1 %, 元金均等 in four yearly instalments from 31 March
    2022 (末日), prepayable from 1 April 2022 in multiples of at least 1,000,000."""
    return Loan.model_validate({
        "id": "loan", "lender": "bank", "borrower": "spv", "commitment": "12,000,000",
        "rate_annual": "0.01", "draws": [{"drawn_on": "2021-04-01", "amount": "12,000,000"}],
        "repayment": {"profile": "equal_principal", "instalments": 4, "frequency_months": 12,
                      "first_repayment_on": "2022-03-31", "end_of_month": True,
                      "business_day": "modified_following"},
        "prepayment": {"allowed_from": "2022-04-01", "minimum": "1,000,000",
                       "effect": effect}})


def _after_prepayment(effect: str) -> tuple[list[int], int]:
    loan = _loan(effect)
    schedule = nominal_schedule(loan)
    first = schedule.rows[0]
    # The first instalment paid on time: interest on 12,000,000 for 364 days (1 April 2021
    # to 30 March 2022) = 119,671.2 → 119,671, and 3,000,000 of principal.
    assert (first.due_on, first.interest) == (date(2022, 3, 31), 119_671)
    record = LoanRecord(((date(2021, 4, 1), 12_000_000),), (
        Payment(date(2022, 3, 31), "interest", 119_671, date(2022, 3, 31)),
        Payment(date(2022, 3, 31), "principal", 3_000_000, date(2022, 3, 31)),
        Payment(date(2022, 6, 30), "principal", 4_000_000)))       # the prepayment
    state = loan_state(loan, record, date(2022, 7, 1), schedule)
    return principal_plan(loan, schedule, record), state.instalments[1].interest_minor


def test_a_prepayment_that_shortens_the_term():
    # 4,000,000 prepaid on 30 June 2022 cancels the instalments from the last one back: the
    # 2025 one (3,000,000) and 1,000,000 of the 2024 one. 3,000,000 + 3,000,000 + 2,000,000
    # + 0 + the 4,000,000 prepaid = 12,000,000.
    plan, interest = _after_prepayment("shorten_term")
    assert plan == [3_000_000, 3_000_000, 2_000_000, 0]
    # The cancelled 2025 instalment reads as prepaid, not as paid on time.
    loan = _loan("shorten_term")
    record = LoanRecord(((date(2021, 4, 1), 12_000_000),), (
        Payment(date(2022, 3, 31), "interest", 119_671, date(2022, 3, 31)),
        Payment(date(2022, 3, 31), "principal", 3_000_000, date(2022, 3, 31)),
        Payment(date(2022, 6, 30), "principal", 4_000_000)))
    last = loan_state(loan, record, date(2026, 1, 1)).instalments[-1]
    assert (last.due_on, last.principal_minor, last.interest_minor, last.status) == (
        date(2025, 3, 31), 0, 0, "prepaid")
    # Interest to 31 March 2023 runs on 9,000,000 for 91 days (31 March to 29 June) and on
    # 5,000,000 for 274 days (30 June to 30 March): (9,000,000 × 91 + 5,000,000 × 274) × 1 %
    # / 365 = 59,972.6 → 59,972.
    assert interest == int((9_000_000 * 91 + 5_000_000 * 274) * Fraction("0.01") / 365) \
        == 59_972


def test_a_prepayment_that_lowers_the_instalments():
    # The 5,000,000 left after the prepayment over the same three dates, 元金均等, the
    # remainder on the first: 1,666,668 + 1,666,666 + 1,666,666.
    plan, interest = _after_prepayment("lower_instalment")
    assert plan == [3_000_000, 1_666_668, 1_666_666, 1_666_666]
    assert sum(plan) + 4_000_000 == 12_000_000
    assert interest == 59_972     # the balance is the same whichever way it comes back


def test_a_prepayment_is_refused_by_its_terms(session):
    terms, _ = validate_document(document({"allowed_from": "2021-10-01",
                                           "minimum": "500,000", "fee_rate": "0.01"}),
                                 "servicing.yaml")
    load_contract(session, terms)
    draw_loans(session, C, date(2021, 4, 1))

    def code(loan: str, amount: int, on: date) -> str:
        with pytest.raises(SibError) as refused:
            prepay(session, C, loan, amount, on)
        return refused.value.problems[0].code
    assert code("second-loan", 1_000_000, date(2021, 12, 1)) == "LOAN_PREPAYMENT_NOT_ALLOWED"
    assert code("first-loan", 1_000_000, date(2021, 7, 1)) == "LOAN_PREPAYMENT_TOO_EARLY"
    assert code("first-loan", 100_000, date(2021, 10, 1)) == "LOAN_PREPAYMENT_BELOW_MINIMUM"
    # On 1 Oct 2021 the first instalment (30 Sep) is paid on time from the 12,000,000 (no fee
    # was paid in this story): 6,000,000 is not yet due, 7,000,000 is too much.
    assert code("first-loan", 7_000_000, date(2021, 10, 1)) == \
        "LOAN_PREPAYMENT_EXCEEDS_BALANCE"
    session.rollback()
    load_contract(session, terms)
    draw_loans(session, C, date(2021, 4, 1))
    # 1,000,000 prepaid with its 1 % fee, 10,000.
    done = prepay(session, C, "first-loan", 1_000_000, date(2021, 10, 1))
    assert (done.amount_minor, done.fee_minor) == (1_000_000, 10_000)
    assert [i.principal_minor for i in done.schedule_after.instalments] == [6_000_000,
                                                                            5_000_000]


def test_interest_runs_on_what_was_actually_drawn():
    contract, problems = load_contract_file(
        "contracts/examples/sib-2019-five-municipalities.yaml")
    assert contract is not None and not problems
    yamaguchi = contract.loans[0]
    schedule = nominal_schedule(yamaguchi)
    both = LoanRecord(((date(2019, 7, 1), 15_000_000), (date(2020, 4, 1), 15_000_000)))
    one = LoanRecord(((date(2019, 7, 1), 15_000_000),))
    on = date(2020, 10, 1)
    # 30 Sep 2020: 15,000,000 on 31 March (1 day) and 30,000,000 from 1 April to 29
    # September (182 days) at 0.8 %: (15,000,000 + 30,000,000 × 182) × 0.008 / 365 =
    # 120,000 exactly. Drawn only once, 15,000,000 for 183 days: 60,164.4 → 60,164.
    assert loan_state(yamaguchi, both, on, schedule).instalments[2].interest_minor == 120_000
    assert loan_state(yamaguchi, one, on, schedule).instalments[2].interest_minor == int(
        15_000_000 * Fraction("0.008") * 183 / 365) == 60_164
    # And the principal falling due never exceeds what was drawn: 8 × 3,750,000 was planned
    # on 30,000,000; 15,000,000 drawn comes back in the first four.
    assert principal_plan(yamaguchi, schedule, one) == [0, 0] + [3_750_000] * 4 + [0] * 4


def test_a_custom_repayment_table():
    """A 約定返済表: 9,000,000 drawn 1 April 2021 at 1 %, interest every 30 Sep / 31 Mar,
    principal 0, 2,000,000, 3,000,000, 4,000,000."""
    document = {"id": "loan", "lender": "bank", "borrower": "spv", "commitment": "9,000,000",
                "rate_annual": "0.01",
                "draws": [{"drawn_on": "2021-04-01", "amount": "9,000,000"}],
                "repayment": {"profile": "custom", "table": [
                    {"due_on": "2021-09-30", "principal": "0"},
                    {"due_on": "2022-03-31", "principal": "2,000,000"},
                    {"due_on": "2022-09-30", "principal": "3,000,000"},
                    {"due_on": "2023-03-31", "principal": "4,000,000"}]}}
    schedule = nominal_schedule(Loan.model_validate(document))
    # 182 days on 9,000,000 (1 Apr–29 Sep) = 24,657.5…: 9,000,000 × 1 % × 182 / 365 =
    # 44,876.7 → 44,876; again 182 days (30 Sep–30 Mar) → 44,876; then 183 days on
    # 7,000,000 → 35,095.8 → 35,095; 182 days on 4,000,000 → 19,945.2 → 19,945.
    assert [(r.due_on, r.principal, r.interest) for r in schedule.rows] == [
        (date(2021, 9, 30), 0, 44_876), (date(2022, 3, 31), 2_000_000, 44_876),
        (date(2022, 9, 30), 3_000_000, 35_095), (date(2023, 3, 31), 4_000_000, 19_945)]
    # The table must add up to what is drawn.
    bad = document | {"repayment": {"profile": "custom", "table": [
        {"due_on": "2022-03-31", "principal": "8,000,000"}]}}
    contract = document_with_loan(bad)
    assert ("LOAN_TABLE_TOTAL", "instruments[0].repayment.table") in [
        (p.code, p.field) for p in validate_document(contract, "custom.yaml")[1]]


def document_with_loan(loan: dict) -> dict:
    """The servicing contract with ``loan`` as its only loan (lent by bank-a)."""
    doc = document()
    doc["instruments"] = [loan | {"type": "loan", "id": "custom-loan", "lender": "bank-a"}]
    return doc


# --------------------------------------------------------------------------- properties

@st.composite
def loans(draw: st.DrawFn) -> tuple[Loan, LoanRecord]:
    profile = draw(st.sampled_from(["bullet", "equal_principal", "annuity"]))
    frequency = draw(st.sampled_from([1, 3, 6, 12]))
    instalments = 1 if profile == "bullet" else draw(st.integers(1, 8))
    first_draw = date(2021, 1, 1) + timedelta(days=draw(st.integers(0, 365)))
    amounts = draw(st.lists(st.integers(1, 50_000_000), min_size=1, max_size=2))
    # A second draw comes before the first due date, interest-only ones included: the
    # hand-worked Yamaguchi example covers a draw between due dates.
    gap = draw(st.integers(31, 400))
    second = draw(st.integers(0, min(gap - 1, 28 * frequency - 1)))
    draws = [(first_draw + timedelta(days=second * k), a) for k, a in enumerate(amounts)]
    first_due = first_draw + timedelta(days=gap)
    rate = Decimal(draw(st.integers(0, 1500))) / 10_000
    default = draw(st.sampled_from([None, "0.146", "0.14"]))
    def build(draws: list[tuple[date, int]]) -> Loan:
        return Loan.model_validate({
            "id": "loan", "lender": "bank", "borrower": "spv",
            "commitment": str(sum(amounts)), "rate_annual": str(rate),
            "default_interest_rate_annual": default,
            "draws": [{"drawn_on": d.isoformat(), "amount": str(a)} for d, a in draws],
            "repayment": {"profile": profile, "instalments": instalments,
                          "frequency_months": frequency,
                          "first_repayment_on": first_due.isoformat(),
                          "end_of_month": end_of_month}})
    end_of_month = draw(st.booleans())
    loan = build(draws)
    try:
        nominal_schedule(loan)
    except SibError:   # the second draw fell after the first (interest-only) due date
        draws = [(first_draw, a) for _, a in draws]
        loan = build(draws)
    return loan, LoanRecord(tuple(draws))


@settings(max_examples=150, deadline=None)
@given(loans(), st.lists(st.integers(0, 100), min_size=12, max_size=12),
       st.integers(0, 100), st.booleans())
def test_principal_paid_written_down_and_recovered_is_what_was_drawn(
        case, cash_percent, guarantee_percent, early_end):
    """Service each due date with a random share of what is owed (cash runs short at
    random), end the contract (on the last due date, or early), recover part of the unpaid
    principal from a guarantor and write down the rest."""
    loan, record = case
    schedule = nominal_schedule(loan)
    dues = [row.due_on for row in schedule.rows]
    end = dues[len(dues) // 2] if early_end else dues[-1]
    payments = list(record.payments)
    for k, on in enumerate(d for d in dues if d <= end):
        state = loan_state(loan, LoanRecord(record.draws, tuple(payments)), on, schedule)
        owed = owed_on(loan, state)
        cash = sum(d.amount_minor for d in owed) * cash_percent[k % 12] // 100
        paid, _ = pay(cash, owed)
        assert sum(amount for _, amount in paid) == min(cash, sum(d.amount_minor
                                                                  for d in owed))
        payments += [Payment(on, d.component, amount, d.due_on) for d, amount in paid]
    now = LoanRecord(record.draws, tuple(payments))
    unpaid = now.outstanding_on(end)
    recovered = unpaid * guarantee_percent // 100
    reductions = tuple(r for r in (Reduction(end, "guarantee", recovered),
                                   Reduction(end, "write_down", unpaid - recovered))
                       if r.amount_minor)
    final = LoanRecord(record.draws, tuple(payments), reductions)
    state = loan_state(loan, final, end, schedule)
    principal_paid = sum(p.amount_minor for p in payments if p.component == "principal")
    assert principal_paid + recovered + (unpaid - recovered) == record.drawn_minor
    assert final.outstanding_on(end) == 0
    # Every payment settles one due date of the schedule, never more than that date owed.
    for row in state.instalments:
        assert row.principal_paid_minor + row.recovered_minor + row.written_down_minor \
            <= row.principal_minor
        assert row.interest_paid_minor <= row.interest_minor
        assert row.default_interest_paid_minor <= row.default_interest_minor
    assert {p.due_on for p in payments} <= set(dues)
    assert sum(r.principal_paid_minor + r.recovered_minor + r.written_down_minor
               for r in state.instalments) == record.drawn_minor or early_end
    assert sum(r.principal_paid_minor for r in state.instalments) == principal_paid


@settings(max_examples=100, deadline=None)
@given(loans())
def test_a_loan_paid_on_time_pays_exactly_its_schedule(case):
    """With cash on every due date, debt service pays the schedule to the yen: the same
    interest as the schedule's (interest on the actual balance is the schedule's when
    nothing is late), every instalment on time, no default interest."""
    loan, record = case
    schedule = nominal_schedule(loan)
    payments: list[Payment] = []
    for row in schedule.rows:
        state = loan_state(loan, LoanRecord(record.draws, tuple(payments)), row.due_on,
                           schedule)
        paid, _ = pay(10**15, owed_on(loan, state))
        payments += [Payment(row.due_on, d.component, a, d.due_on) for d, a in paid]
    state = loan_state(loan, LoanRecord(record.draws, tuple(payments)), schedule.rows[-1]
                       .due_on, schedule)
    assert [(i.interest_minor, i.principal_minor) for i in state.instalments] == \
        [(r.interest, r.principal) for r in schedule.rows]
    assert {i.status for i in state.instalments} == {"paid_on_time"}
    assert sum(i.default_interest_minor for i in state.instalments) == 0
    assert state.outstanding_minor == 0
