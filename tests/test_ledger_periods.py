"""Fiscal periods: closed in order, reopened only explicitly (the latest, with a reason, logged),
and the snapshots taken at each close keep balances as of any date fast and exact.

The book runs April–March. It holds three loan drawdowns into cash — ¥100 on 1 May 2019
(FY2019), ¥200 on 1 June 2020 (FY2020), ¥300 on 1 July 2021 (FY2021).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from moneyed import Money
from sqlalchemy import func, select, text

from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.periods import close_period, periods_of, posted_totals, reopen_period
from ledger.reports import balance_as_of, normal_sign, posted_balances_as_of, trial_balance
from ledger.schema import Account, Period, PeriodEvent, PeriodSnapshot
from ledger.service import (
    AccountSpec,
    create_book,
    get_book,
    open_account,
    post_entry,
    post_pending,
    void_pending,
)

BOOK = "b"
OPENED = date(2019, 4, 1)


def yen(amount: int) -> Money:
    return Money(amount, "JPY")


@pytest.fixture
def book(session):
    create_book(session, BOOK, "JPY")
    open_account(session, BOOK, AccountSpec("cash", "asset", opened_on=OPENED))
    open_account(session, BOOK, AccountSpec("loan", "liability", opened_on=OPENED))
    for n, on in enumerate([date(2019, 5, 1), date(2020, 6, 1), date(2021, 7, 1)], start=1):
        post(session, f"drawdown-{n}", on, 100 * n)
    session.commit()
    return session


def post(session, key: str, on: date, amount: int, pending: bool = False):
    return post_entry(session, EntryDraft(BOOK, key, "loan_drawdown", on,
                                          [debit("cash", yen(amount)),
                                           credit("loan", yen(amount))]), pending=pending)


def period_state(session) -> tuple:
    """Everything closing or reopening writes: the lock date, periods, snapshots, the log."""
    return (get_book(session, BOOK).closed_through_on,
            session.execute(select(Period.fiscal_year, Period.status)
                            .order_by(Period.fiscal_year)).all(),
            session.execute(select(PeriodSnapshot.period_id, PeriodSnapshot.account_id,
                                   PeriodSnapshot.debits_posted, PeriodSnapshot.credits_posted)
                            .order_by(PeriodSnapshot.period_id, PeriodSnapshot.account_id)).all(),
            session.scalar(select(func.count()).select_from(PeriodEvent)))


def refused(session, action, code: str) -> SibError:
    before = period_state(session)
    with pytest.raises(SibError) as caught:
        action()
    assert caught.value.codes == [code]
    assert period_state(session) == before
    session.rollback()
    assert period_state(session) == before
    return caught.value


def snapshot_of(session, fiscal_year: int, account: str) -> tuple[int, int]:
    return session.execute(select(PeriodSnapshot.debits_posted, PeriodSnapshot.credits_posted)
                           .join(Period, Period.id == PeriodSnapshot.period_id)
                           .join(Account, Account.id == PeriodSnapshot.account_id)
                           .where(Period.fiscal_year == fiscal_year,
                                  Account.code == account)).one()


def test_periods_close_in_order_and_once(book):
    error = refused(book, lambda: close_period(book, BOOK, 2020), "PERIOD_CLOSE_OUT_OF_ORDER")
    assert "2019-05-01" in error.problems[0].message  # the open date that must close first

    close_period(book, BOOK, 2019, "twr-finance", "FY2019 year-end")
    book.commit()
    assert get_book(book, BOOK).closed_through_on == date(2020, 3, 31)
    assert [(p.fiscal_year, p.start_on, p.end_on, p.status) for p in periods_of(book, BOOK)] == [
        (2019, date(2019, 4, 1), date(2020, 3, 31), "closed")]
    assert snapshot_of(book, 2019, "cash") == (100, 0)
    assert snapshot_of(book, 2019, "loan") == (0, 100)
    assert [(e.action, e.actor, e.reason) for e in book.scalars(select(PeriodEvent))] == [
        ("close", "twr-finance", "FY2019 year-end")]

    refused(book, lambda: close_period(book, BOOK, 2019), "PERIOD_ALREADY_CLOSED")
    refused(book, lambda: close_period(book, BOOK, 2018), "PERIOD_ALREADY_CLOSED")
    refused(book, lambda: close_period(book, BOOK, 2021), "PERIOD_CLOSE_OUT_OF_ORDER")


def test_a_closed_period_locks_its_dates(book):
    close_period(book, BOOK, 2019)
    book.commit()
    with pytest.raises(SibError) as caught:
        post(book, "late", date(2020, 3, 31), 1)
    assert caught.value.code == "PERIOD_CLOSED"
    book.rollback()
    post(book, "on-time", date(2020, 4, 1), 1)
    book.commit()


def test_reopening_needs_a_reason_and_only_the_latest_period(book):
    close_period(book, BOOK, 2019, "twr-finance", "FY2019 year-end")
    close_period(book, BOOK, 2020, "twr-finance", "FY2020 year-end")
    book.commit()
    refused(book, lambda: reopen_period(book, BOOK, 2020, "twr-finance", "  "),
            "REASON_REQUIRED")
    refused(book, lambda: reopen_period(book, BOOK, 2019, "twr-finance", "auditor's adjustment"),
            "PERIOD_NOT_LATEST")
    refused(book, lambda: reopen_period(book, BOOK, 2021, "twr-finance", "auditor's adjustment"),
            "PERIOD_NOT_CLOSED")


def test_reopening_allows_posting_again_and_closing_again_rebuilds_the_snapshot(book):
    close_period(book, BOOK, 2019, "twr-finance", "FY2019 year-end")
    close_period(book, BOOK, 2020, "twr-finance", "FY2020 year-end")
    book.commit()
    assert snapshot_of(book, 2020, "cash") == (300, 0)

    # the auditor finds a ¥7 drawdown missing from FY2020
    reopen_period(book, BOOK, 2020, "twr-finance", "auditor's adjustment: missing drawdown")
    book.commit()
    assert get_book(book, BOOK).closed_through_on == date(2020, 3, 31)  # FY2019 stays closed
    assert [(p.fiscal_year, p.status) for p in periods_of(book, BOOK)] == [
        (2019, "closed"), (2020, "open")]
    assert book.scalar(select(func.count()).select_from(PeriodSnapshot).join(
        Period, Period.id == PeriodSnapshot.period_id).where(Period.fiscal_year == 2020)) == 0
    post(book, "adjustment", date(2021, 3, 31), 7)
    book.commit()

    close_period(book, BOOK, 2020, "twr-finance", "FY2020 closed again after adjustment")
    book.commit()
    assert snapshot_of(book, 2020, "cash") == (307, 0)
    assert snapshot_of(book, 2020, "loan") == (0, 307)
    assert snapshot_of(book, 2019, "cash") == (100, 0)
    assert balance_as_of(book, BOOK, "cash", date(2021, 3, 31)) == 307
    assert balance_as_of(book, BOOK, "loan", date(2021, 6, 30)) == 307
    with pytest.raises(SibError) as caught:
        post(book, "another", date(2021, 3, 31), 1)
    assert caught.value.code == "PERIOD_CLOSED"
    book.rollback()
    assert [(e.action, e.reason) for e in book.scalars(
        select(PeriodEvent).order_by(PeriodEvent.id))] == [
        ("close", "FY2019 year-end"),
        ("close", "FY2020 year-end"),
        ("reopen", "auditor's adjustment: missing drawdown"),
        ("close", "FY2020 closed again after adjustment")]


def test_balances_as_of_are_read_from_the_snapshots(book):
    """Nudge FY2020's snapshot behind the ledger's back: balances from 31 March 2021 on move
    with it (they start from it); earlier ones, computed from FY2019's, do not."""
    close_period(book, BOOK, 2019)
    close_period(book, BOOK, 2020)
    book.commit()
    before = {on: balance_as_of(book, BOOK, "cash", on)
              for on in (date(2020, 3, 31), date(2021, 3, 30), date(2021, 3, 31),
                         date(2021, 12, 31))}
    assert before == {date(2020, 3, 31): 100, date(2021, 3, 30): 300, date(2021, 3, 31): 300,
                      date(2021, 12, 31): 600}
    book.execute(text("UPDATE ledger_period_snapshot SET debits_posted = debits_posted + 1000 "
                      "WHERE period_id = (SELECT id FROM ledger_period WHERE fiscal_year = 2020) "
                      "AND account_id = (SELECT id FROM ledger_account WHERE code = 'cash')"))
    book.expire_all()  # forget snapshot rows the session already holds
    assert {on: balance_as_of(book, BOOK, "cash", on) for on in before} == {
        date(2020, 3, 31): 100, date(2021, 3, 30): 300, date(2021, 3, 31): 1300,
        date(2021, 12, 31): 1600}
    book.rollback()


def test_balances_as_of_any_day_equal_the_full_recomputation(session):
    """A busier book over three years — fees and repayments, a tranche reserved in FY2019 and
    posted in FY2020, another voided — with FY2019 and FY2020 closed: on every eighth day of
    the three years and on each side of every year end, the snapshot-based balances equal a
    recomputation from every posting."""
    create_book(session, BOOK, "JPY")
    for code, kind in (("cash", "asset"), ("receivable", "asset"), ("loan", "liability"),
                       ("income", "income"), ("fees", "expense")):
        open_account(session, BOOK, AccountSpec(code, kind, opened_on=OPENED))
    on, n = date(2019, 4, 20), 0
    while on < date(2022, 3, 31):
        n += 1
        debit_code, credit_code = [("cash", "loan"), ("fees", "cash"), ("loan", "cash"),
                                   ("cash", "income")][n % 4]
        post_entry(session, EntryDraft(BOOK, f"e{n}", "activity", on,
                                       [debit(debit_code, yen(1_000 + 37 * n)),
                                        credit(credit_code, yen(1_000 + 37 * n))]))
        on += timedelta(days=23)
    posted_later = post_entry(session, EntryDraft(
        BOOK, "tranche", "outcome_tranche", date(2019, 12, 1),
        [debit("receivable", yen(3_000)), credit("income", yen(3_000))]), pending=True)
    voided = post_entry(session, EntryDraft(
        BOOK, "tranche-2", "outcome_tranche", date(2019, 12, 1),
        [debit("receivable", yen(500)), credit("income", yen(500))]), pending=True)
    close_period(session, BOOK, 2019)
    post_pending(session, BOOK, posted_later.id, "tranche-result", date(2020, 6, 30),
                 amount=yen(2_250))
    void_pending(session, BOOK, voided.id, "tranche-2-void", date(2020, 6, 30))
    close_period(session, BOOK, 2020)
    session.commit()

    bk = get_book(session, BOOK)
    accounts = {a.code: a for a in session.scalars(select(Account))}
    days = {date(2019, 4, 1) + timedelta(days=k) for k in range(0, 1126, 8)}
    for year_end in (date(2020, 3, 31), date(2021, 3, 31), date(2022, 3, 31)):
        days |= {year_end - timedelta(days=1), year_end, year_end + timedelta(days=1)}
    for day in sorted(days):
        expected = posted_totals(session, bk.id, through_on=day)  # every posting, no snapshot
        assert posted_balances_as_of(session, bk, day) == expected, day
        for code, account in accounts.items():
            d, c = expected.get(account.id, (0, 0))
            assert balance_as_of(session, BOOK, code, day) == normal_sign(account.type) * (d - c)
    assert balance_as_of(session, BOOK, "receivable", date(2020, 3, 31)) == 0  # pending only
    assert balance_as_of(session, BOOK, "receivable", date(2020, 6, 30)) == 2_250
    at_fy2020_end = trial_balance(session, BOOK, date(2021, 3, 31))
    assert at_fy2020_end.balanced and at_fy2020_end.total_debit_minor > 0


def test_a_book_may_keep_calendar_years(session):
    """Fiscal years are April–March by default, but a book may start them in January."""
    create_book(session, "cal", "JPY", fiscal_year_start_month=1)
    open_account(session, "cal", AccountSpec("cash", "asset", opened_on=OPENED))
    open_account(session, "cal", AccountSpec("loan", "liability", opened_on=OPENED))
    post_entry(session, EntryDraft("cal", "d", "loan_drawdown", date(2019, 6, 1),
                                   [debit("cash", yen(5)), credit("loan", yen(5))]))
    period = close_period(session, "cal", 2019)
    session.commit()
    assert (period.start_on, period.end_on) == (date(2019, 1, 1), date(2019, 12, 31))
    assert get_book(session, "cal").closed_through_on == date(2019, 12, 31)
    post_entry(session, EntryDraft("cal", "e", "loan_drawdown", date(2020, 1, 1),
                                   [debit("cash", yen(5)), credit("loan", yen(5))]))
    session.commit()
