"""Withheld tax paid over to the tax office, as worked examples: the month's 納付書 figures to
the yen, its due date, once per month, and withholding-payable back to zero in the ledger."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from moneyed import Money

from contracts.chart import Code, Kind
from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import HolderSpec, add_holder, pay_holders, remit_withholding, subscribe
from investors.tax import (
    INTEREST_ETC_FORM_JA,
    Month,
    WithheldPayment,
    days_late,
    due_on,
    parse_month,
    remittance_slip,
    split_surtax,
)
from investors.withholding import INTEREST, TOKUMEI_KUMIAI
from ledger import read
from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.service import post_entry
from ledger.verify import verify
from settlement.payments import draw_loans

ROOT = Path(__file__).resolve().parent.parent
FIVE = ROOT / "contracts/examples/sib-2019-five-municipalities.yaml"
C = "sib-2019-five-municipalities"
UNITS = "citizen-units"
MAY_2023 = date(2023, 5, 31)  # a Wednesday; the 10th of June 2023 is a Saturday


# --------------------------------------------------------------------------- the due date


@pytest.mark.parametrize("month, due", [
    (Month(2022, 5), date(2022, 6, 10)),   # 10 June 2022 is a Friday: due that day
    (Month(2023, 5), date(2023, 6, 12)),   # 10 June 2023 is a Saturday: Monday the 12th
    (Month(2022, 9), date(2022, 10, 11)),  # 10 Oct 2022 is スポーツの日 (a Monday): the 11th
    (Month(2020, 12), date(2021, 1, 12)),  # 10 Jan 2021 a Sunday, the 11th 成人の日: the 12th
])
def test_the_slip_is_due_on_the_10th_of_the_next_month_or_the_next_business_day(month, due):
    assert due_on(month) == due


def test_months_are_written_yyyy_mm_and_anything_else_is_refused_by_name():
    assert parse_month("2023-05") == Month(2023, 5) and str(Month(2023, 5)) == "2023-05"
    assert Month(2022, 12).next() == Month(2023, 1)
    assert Month(2024, 2).last_day == date(2024, 2, 29)
    for text in ("2023-13", "2023-5", "May 2023", "2023-00"):
        with pytest.raises(SibError) as caught:
            parse_month(text)
        assert (caught.value.code, caught.value.problems[0].field) == ("TAX_MONTH_INVALID",
                                                                       "month")


def test_paying_after_the_due_date_counts_the_days_late():
    assert days_late(date(2023, 6, 12), date(2023, 6, 12)) == 0
    assert days_late(date(2023, 6, 12), date(2023, 6, 1)) == 0
    assert days_late(date(2023, 6, 12), date(2023, 6, 19)) == 7


# --------------------------------------------------------------------------- the slip (pure)


def test_the_slip_of_a_month_counts_recipients_and_splits_the_two_taxes():
    payments = [
        # 24,691 × 20.42 % = 5,041.90 → 5,041 (an individual)
        WithheldPayment("h-sato", date(2023, 5, 31), TOKUMEI_KUMIAI, 24_691, 5_041),
        # 98,765 × 20.42 % = 20,167.81 → 20,167 (a company: the same 20.42 %)
        WithheldPayment("h-ube-kogyo", date(2023, 5, 31), TOKUMEI_KUMIAI, 98_765, 20_167),
        # A tax-exempt holder: nothing withheld, not on the slip.
        WithheldPayment("h-foundation", date(2023, 5, 31), TOKUMEI_KUMIAI, 50_000, 0),
    ]
    slip = remittance_slip(Month(2023, 5), payments, "JPY")
    assert slip.due_on == date(2023, 6, 12)
    (line,) = slip.lines
    assert line.category.form_ja == INTEREST_ETC_FORM_JA
    assert line.category.category_ja == "匿名組合契約等に基づく利益の分配"
    # 人員 2; 支払額 24,691 + 98,765 = 123,456; 税額 5,041 + 20,167 = 25,208
    assert (line.recipients, line.paid_minor, line.withheld_minor) == (2, 123_456, 25_208)
    # 所得税 25,208 ÷ 1.021 = 24,689.52 → 24,689; 復興特別所得税 the rest, 519 (2.1 % of
    # 24,689 is 518.47: the truncated yen fraction lands in the surtax)
    assert (line.income_tax_minor, line.reconstruction_tax_minor) == (24_689, 519)
    assert (slip.recipients, slip.withheld_minor, slip.last_paid_on) == (2, 25_208, MAY_2023)


def test_a_round_payment_splits_into_20_and_0_42_percent():
    # 100,000 × 20.42 % = 20,420 = 100,000 × 20 % (20,000) + 100,000 × 0.42 % (420)
    slip = remittance_slip(Month(2022, 5), [
        WithheldPayment("a", date(2022, 5, 30), TOKUMEI_KUMIAI, 100_000, 20_420)], "JPY")
    assert (slip.income_tax_minor, slip.reconstruction_tax_minor) == (20_000, 420)


def test_the_surtax_is_levied_from_2013_to_2037_only():
    # 5,136 ÷ 1.021 = 5,030.36 → 5,030 + 106 (the demo's May 2023, 120 small payments)
    assert split_surtax(5_136, Month(2023, 5)) == (5_030, 106)
    assert split_surtax(20_000, Month(2038, 1)) == (20_000, 0)
    assert split_surtax(20_000, Month(2012, 12)) == (20_000, 0)
    assert split_surtax(0, Month(2023, 5)) == (0, 0)


def test_the_slip_refuses_a_payment_of_another_month_and_an_income_type_it_cannot_carry():
    with pytest.raises(SibError) as caught:
        remittance_slip(Month(2022, 5), [
            WithheldPayment("a", date(2022, 6, 1), TOKUMEI_KUMIAI, 100, 20)], "JPY")
    assert caught.value.code == "TAX_PAYMENT_OUTSIDE_MONTH"
    # Interest withheld from an individual carries the prefecture's 利子割: not this slip's.
    with pytest.raises(SibError) as caught:
        remittance_slip(Month(2022, 5), [
            WithheldPayment("a", date(2022, 5, 2), INTEREST, 12_345, 2_507)], "JPY")
    assert (caught.value.code, caught.value.problems[0].field) == (
        "TAX_SLIP_CATEGORY_UNKNOWN", "income_type")


def test_the_tax_module_is_pure():
    tree = ast.parse((ROOT / "investors/tax.py").read_text(encoding="utf-8"))
    imported = {n.module.split(".")[0] for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names}
    assert not imported & {"sqlalchemy", "sqlmodel", "fastapi", "typer", "reportlab"}


# --------------------------------------------------------------------------- in the ledger


@pytest.fixture
def paid_in_may(session):
    """An individual (10 units, ¥500,000) and a company (40 units, ¥2,000,000) hold units
    since June 2021; a class distribution of ¥123,456 on 31 May 2023 is paid to them."""
    contract, problems = load_contract_file(FIVE)
    assert problems == []
    load_contract(session, contract)
    draw_loans(session, C, date(2021, 3, 31))
    add_holder(session, HolderSpec("h-sato", "individual", "佐藤 花子", "ｻﾄｳ ﾊﾅｺ"))
    add_holder(session, HolderSpec("h-ube-kogyo", "company", "宇部興業株式会社",
                                   tax_category="corporate"))
    subscribe(session, C, UNITS, "h-sato", 10, date(2021, 6, 1))
    subscribe(session, C, UNITS, "h-ube-kogyo", 40, date(2021, 6, 1))
    _class_distribution(session, 123_456, MAY_2023)
    paid = pay_holders(session, C, MAY_2023)
    # Split 1 : 4 (the same capital-days from the same day): 24,691.2 and 98,764.8, the
    # largest remainder takes the odd yen → 24,691 and 98,765. Both bear 20.42 % (匿名組合, an
    # individual and a company alike): 5,041 and 20,167.
    assert sorted((p.gross_minor, p.withheld_minor) for p in paid) == [(24_691, 5_041),
                                                                       (98_765, 20_167)]
    session.commit()
    return session


def _class_distribution(session, amount: int, on: date) -> None:
    money = Money(amount, "JPY")
    post_entry(session, EntryDraft(C, f"test:dist:{on}", Kind.INVESTOR_DISTRIBUTION, on,
                                   [debit(Code.distributions(UNITS), money),
                                    credit(Code.distributions_payable(UNITS), money)],
                                   "target return", {"unit_class": UNITS}))


def _withholding_payable(session, through_on: date | None = None) -> int:
    return read.totals(session, C, Code.WITHHOLDING_PAYABLE,
                       through_on=through_on).net_credit_minor


def test_a_month_with_two_holder_payments_is_remitted_once_on_its_due_date(paid_in_may):
    s = paid_in_may
    assert _withholding_payable(s) == 25_208
    result = remit_withholding(s, C, "2023-05")
    # Due 10 June 2023, a Saturday → Monday 12 June; paid then by default, not late.
    assert (result.posted, result.paid_on, result.days_late) == (True, date(2023, 6, 12), 0)
    assert (result.slip.recipients, result.slip.paid_minor, result.slip.withheld_minor) == (
        2, 123_456, 25_208)
    assert (result.slip.income_tax_minor, result.slip.reconstruction_tax_minor) == (24_689, 519)
    (entry,) = read.entries(s, C, kinds=[Kind.TAX_REMITTANCE])
    assert entry.id == result.entry_id and entry.effective_on == date(2023, 6, 12)
    assert sorted(entry.postings) == [("cash", "C", 25_208),
                                      ("withholding-payable", "D", 25_208)]
    assert entry.links["month"] == "2023-05"
    # withholding-payable is empty after the remittance, and was full the day before
    assert _withholding_payable(s) == 0
    assert _withholding_payable(s, date(2023, 6, 11)) == 25_208
    assert verify(s).ok

    again = remit_withholding(s, C, "2023-05")  # the same month again: the same remittance
    assert (again.posted, again.entry_id, again.paid_on) == (False, result.entry_id,
                                                             result.paid_on)
    assert again.slip == result.slip
    assert len(read.entries(s, C, kinds=[Kind.TAX_REMITTANCE])) == 1
    assert _withholding_payable(s) == 0


def test_paying_late_is_allowed_and_said(paid_in_may):
    result = remit_withholding(paid_in_may, C, "2023-05", date(2023, 6, 20))
    assert (result.posted, result.days_late) == (True, 8)  # 12 June → 20 June


def test_a_month_with_nothing_withheld_posts_nothing(paid_in_may):
    result = remit_withholding(paid_in_may, C, "2023-04")
    assert (result.posted, result.entry_id, result.paid_on) == (False, None, None)
    assert result.slip.lines == () and result.slip.withheld_minor == 0
    assert result.slip.due_on == date(2023, 5, 10)
    assert read.entries(paid_in_may, C, kinds=[Kind.TAX_REMITTANCE]) == []


def test_refusals_name_their_field(paid_in_may):
    s = paid_in_may

    def refused(*args, **kwargs) -> tuple[str, str | None]:
        with pytest.raises(SibError) as caught:
            remit_withholding(s, *args, **kwargs)
        return caught.value.code, caught.value.problems[0].field

    assert refused("nowhere", "2023-05") == ("CONTRACT_NOT_FOUND", "contract")
    assert refused(C, "2023-5") == ("TAX_MONTH_INVALID", "month")
    assert refused(C, "2023-07", today=date(2023, 6, 30)) == ("TAX_MONTH_IN_FUTURE", "month")
    assert refused(C, "2023-05", date(2023, 5, 30)) == ("TAX_PAID_BEFORE_WITHHELD", "paid_on")
    assert read.entries(s, C, kinds=[Kind.TAX_REMITTANCE]) == []  # a refusal writes nothing
    remit_withholding(s, C, "2023-05", date(2023, 6, 9))  # early is fine
    assert refused(C, "2023-05", date(2023, 6, 12)) == ("TAX_ALREADY_REMITTED", "paid_on")


def test_a_slip_that_differs_from_the_ledger_is_refused(paid_in_may):
    # A holder-payment entry crediting withholding-payable with no holder rows behind it: the
    # rows say 25,208, the ledger 25,209.
    one = Money(1, "JPY")
    post_entry(paid_in_may, EntryDraft(C, "test:stray", Kind.HOLDER_PAYMENT, date(2023, 5, 15),
                                       [debit(Code.distributions_payable(UNITS), one),
                                        credit(Code.WITHHOLDING_PAYABLE, one)], "stray"))
    with pytest.raises(SibError) as caught:
        remit_withholding(paid_in_may, C, "2023-05")
    assert (caught.value.code, caught.value.problems[0].field) == (
        "WITHHOLDING_LEDGER_MISMATCH", "month")
    assert "25,208" in caught.value.problems[0].message
    assert "25,209" in caught.value.problems[0].message


def test_a_month_whose_withholding_grew_after_it_was_remitted_is_refused(paid_in_may):
    s = paid_in_may
    remit_withholding(s, C, "2023-05")
    # A second distribution in the same month, paid to the holders after the remittance.
    _class_distribution(s, 10_000, date(2023, 5, 30))
    pay_holders(s, C, date(2023, 5, 30))
    with pytest.raises(SibError) as caught:
        remit_withholding(s, C, "2023-05")
    assert (caught.value.code, caught.value.problems[0].field) == (
        "TAX_REMITTANCE_OUTDATED", "month")
