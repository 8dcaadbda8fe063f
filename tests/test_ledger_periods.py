"""Periods close in order, reopen only explicitly and with a reason; snapshots keep as-of
balances exact; verify names what was altered outside the ledger."""

from __future__ import annotations

from datetime import date

import pytest
from moneyed import Money
from sqlalchemy import text

from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.reports import balance_as_of, posted_balances_as_of, trial_balance
from ledger.schema import PeriodEvent
from ledger.periods import close_period, posted_totals, reopen_period
from ledger.service import AccountSpec, create_book, get_book, open_account, post_entry
from ledger.verify import verify

Y = lambda n: Money(n, "JPY")  # noqa: E731


@pytest.fixture
def book(session):
    create_book(session, "b", "JPY")
    open_account(session, "b", AccountSpec("cash", "asset", opened_on=date(2019, 4, 1)))
    open_account(session, "b", AccountSpec("loan", "liability", opened_on=date(2019, 4, 1)))
    for n, on in enumerate([date(2019, 5, 1), date(2020, 6, 1), date(2021, 7, 1)]):
        post_entry(session, EntryDraft("b", f"e{n}", "draw", on,
                                       [debit("cash", Y(100 * (n + 1))),
                                        credit("loan", Y(100 * (n + 1)))]))
    session.commit()
    return session


def test_periods_close_in_order(book):
    with pytest.raises(SibError) as err:
        close_period(book, "b", 2020)
    assert err.value.code == "PERIOD_CLOSE_OUT_OF_ORDER"
    close_period(book, "b", 2019)
    with pytest.raises(SibError) as err:
        close_period(book, "b", 2019)
    assert err.value.code == "PERIOD_ALREADY_CLOSED"


def test_reopening_needs_a_reason_is_logged_and_only_the_latest(book):
    close_period(book, "b", 2019, "twr", "close")
    close_period(book, "b", 2020, "twr", "close")
    book.commit()
    with pytest.raises(SibError) as err:
        reopen_period(book, "b", 2020, "twr", " ")
    assert err.value.code == "REASON_REQUIRED"
    with pytest.raises(SibError) as err:
        reopen_period(book, "b", 2019, "twr", "audit adjustment")
    assert err.value.code == "PERIOD_NOT_LATEST"
    reopen_period(book, "b", 2020, "twr", "audit adjustment")
    book.commit()
    assert get_book(book, "b").closed_through_on == date(2020, 3, 31)
    post_entry(book, EntryDraft("b", "late", "adjustment", date(2021, 3, 31),
                                [debit("cash", Y(7)), credit("loan", Y(7))]))
    close_period(book, "b", 2020, "twr", "close again")
    book.commit()
    assert balance_as_of(book, "b", "cash", date(2021, 3, 31)) == 307
    events = [(e.action, e.reason) for e in book.query(PeriodEvent).order_by(PeriodEvent.id)]
    assert events[-2:] == [("reopen", "audit adjustment"), ("close", "close again")]


def test_as_of_balances_from_snapshots_equal_the_full_recomputation(book):
    close_period(book, "b", 2019)
    close_period(book, "b", 2020)
    book.commit()
    bk = get_book(book, "b")
    for as_of in (date(2019, 4, 30), date(2020, 3, 31), date(2020, 12, 31), date(2021, 12, 31)):
        assert posted_balances_as_of(book, bk, as_of) == posted_totals(book, bk.id,
                                                                        through_on=as_of)
    assert trial_balance(book, "b", date(2020, 12, 31)).total_debit_minor == 300


def test_verify_names_an_altered_balance_and_a_deleted_entry(book):
    assert verify(book).ok
    book.execute(text("UPDATE ledger_balance SET debits_posted = debits_posted + 1 "
                      "WHERE account_id = (SELECT id FROM ledger_account WHERE code = 'cash')"))
    book.commit()
    report = verify(book)
    assert report.problems[0].code == "BALANCE_MISMATCH" and "cash" in report.problems[0].message
    book.execute(text("UPDATE ledger_balance SET debits_posted = debits_posted - 1 "
                      "WHERE account_id = (SELECT id FROM ledger_account WHERE code = 'cash')"))
    book.execute(text("DROP TRIGGER ledger_posting_no_delete"))
    book.execute(text("DROP TRIGGER ledger_entry_no_delete"))
    book.execute(text("DELETE FROM ledger_posting WHERE entry_id = (SELECT max(id) FROM "
                      "ledger_entry)"))
    book.execute(text("DELETE FROM ledger_entry WHERE id = (SELECT max(id) FROM ledger_entry)"))
    book.commit()
    assert verify(book).problems[0].code == "CHAIN_HEAD_MISMATCH"
