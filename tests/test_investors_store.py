"""Holders, subscriptions and per-holder payments with withholding, reconciled to the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from moneyed import Money

from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import (
    HolderSpec,
    add_holder,
    capital_account,
    get_holder,
    pay_holders,
    payment_records,
    returns_of,
    subscribe,
    units_held,
)
from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.reports import trial_balance
from ledger.service import post_entry
from ledger.verify import verify
from settlement.payments import draw_loans

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
UNITS = "citizen-units"


@pytest.fixture
def book(session):
    contract, problems = load_contract_file(FIVE)
    assert problems == []
    load_contract(session, contract)
    draw_loans(session, C, date(2021, 3, 31))
    for spec in (HolderSpec("h-sato", "individual", "佐藤 花子", "ｻﾄｳ ﾊﾅｺ", "Hanako Sato"),
                 HolderSpec("h-ube-kogyo", "company", "宇部興業株式会社", "ｳﾍﾞｺｳｷﾞｮｳ(ｶ",
                            tax_category="corporate"),
                 HolderSpec("h-foundation", "company", "公益財団法人まちづくり基金",
                            tax_category="tax_exempt")):
        add_holder(session, spec)
    subscribe(session, C, UNITS, "h-sato", 10, date(2021, 6, 1))        # 500,000
    subscribe(session, C, UNITS, "h-ube-kogyo", 40, date(2021, 6, 1))   # 2,000,000
    subscribe(session, C, UNITS, "h-foundation", 50, date(2021, 6, 1))  # 2,500,000
    session.commit()
    return session


def _class_distribution(session, amount: int, on: date) -> None:
    money = Money(amount, "JPY")
    post_entry(session, EntryDraft(C, f"test:dist:{on}", "investor_distribution", on,
                                   [debit(f"distributions:{UNITS}", money),
                                    credit(f"distributions-payable:{UNITS}", money)],
                                   "target return", {"unit_class": UNITS}))


def test_subscriptions_issue_units_against_cash(book):
    tb = {r.code: r for r in trial_balance(book, C).rows}
    assert tb[f"units:{UNITS}"].credit_minor == 5_000_000
    assert units_held(book, C, UNITS, date(2021, 6, 1)) == {
        get_holder(book, c).id: n for c, n in (("h-sato", 10), ("h-ube-kogyo", 40),
                                               ("h-foundation", 50))}


def test_refusals_for_subscriptions(book):
    with pytest.raises(SibError) as err:
        subscribe(book, C, UNITS, "h-sato", 301, date(2021, 7, 1))  # 400 offered, 100 sold
    assert err.value.code == "UNITS_EXCEED_OFFER"
    with pytest.raises(SibError) as err:
        subscribe(book, C, UNITS, "h-sato", 1, date(2020, 7, 1))  # on sale from FY2021
    assert err.value.code == "UNITS_NOT_ON_SALE"
    again = subscribe(book, C, UNITS, "h-sato", 10, date(2021, 6, 1))
    assert again.units == 10  # a retry returns the subscription


def test_a_distribution_is_split_by_units_and_withheld_per_holder(book):
    _class_distribution(book, 100_001, date(2022, 6, 30))
    rows = {r.holder_id: r for r in pay_holders(book, C, date(2022, 6, 30))}
    book.commit()
    sato, kogyo, fund = (get_holder(book, c).id for c in ("h-sato", "h-ube-kogyo",
                                                           "h-foundation"))
    # 100,001 by 10:40:50 → 10,000.1 / 40,000.4 / 50,000.5 → largest remainder: the last
    assert [rows[h].gross_minor for h in (sato, kogyo, fund)] == [10_000, 40_000, 50_001]
    # 匿名組合 distributions: 20.42 % for individuals and companies, none for tax-exempt
    assert rows[sato].withheld_minor == 2_042          # 10,000 × 20.42 %
    assert rows[kogyo].withheld_minor == 8_168         # 40,000 × 20.42 %
    assert rows[fund].withheld_minor == 0
    tb = {r.code: r for r in trial_balance(book, C).rows}
    assert tb[f"distributions-payable:{UNITS}"].balance_minor == 0
    assert tb["withholding-payable"].balance_minor == 10_210
    assert verify(book).ok
    again = pay_holders(book, C, date(2022, 6, 30))  # idempotent
    assert sum(r.gross_minor for r in again) == 100_001


def test_payment_records_capital_accounts_and_returns(book):
    _class_distribution(book, 100_000, date(2022, 6, 30))
    pay_holders(book, C, date(2022, 6, 30))
    records = {r.recipient.holder_id: r for r in payment_records(book, C, 2022)}
    assert (records["h-sato"].paid_minor, records["h-sato"].withheld_minor) == (10_000, 2_042)
    sato = get_holder(book, "h-sato")
    account = capital_account(book, C, sato, UNITS, date(2021, 4, 1), date(2023, 3, 31))
    assert account.opening_minor == 0 and account.contributions_minor == 500_000
    assert account.distributions_gross_minor == 10_000
    assert account.distributions_withheld_minor == 2_042
    assert account.closing_minor == 500_000  # income allocated and paid out
    summary = returns_of(book, C, sato, UNITS, date(2022, 6, 30))
    assert summary.contributed_minor == 500_000 and summary.distributed_minor == 10_000
    assert summary.moic == Decimal("1.02")
    pyxirr = pytest.importorskip("pyxirr")
    expected = pyxirr.xirr([date(2021, 6, 1), date(2022, 6, 30)], [-500_000, 510_000])
    assert abs(float(summary.irr) - expected) < 1e-6  # float-ok: comparing with pyxirr


def test_a_subscription_round_issues_units_in_one_entry_and_is_idempotent(session):
    from investors.store import subscribe_round
    contract, _ = load_contract_file(FIVE)
    load_contract(session, contract)
    for i in range(5):
        add_holder(session, HolderSpec(f"r{i}", "individual", f"市民 {i}"))
    orders = [(f"r{i}", i + 1) for i in range(5)]  # 15 units
    assert subscribe_round(session, C, UNITS, orders, date(2021, 7, 1), "round-1") == 15
    assert subscribe_round(session, C, UNITS, orders, date(2021, 7, 1), "round-1") == 0
    tb = {r.code: r for r in trial_balance(session, C).rows}
    assert tb[f"units:{UNITS}"].credit_minor == 15 * 50_000
    with pytest.raises(SibError) as err:
        subscribe_round(session, C, UNITS, [("r0", 390), ("nobody", 1)], date(2021, 7, 2), "r2")
    assert set(err.value.codes) == {"HOLDER_NOT_FOUND", "UNITS_EXCEED_OFFER"}
