"""Every refusal of the ledger, each with its named code — and nothing written when refused."""

from __future__ import annotations

from datetime import date

import pytest
from moneyed import Money
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from ledger.entries import EntryDraft, PostingDraft, credit, debit
from ledger.errors import SibError
from ledger.schema import AccountBalance, Entry, Posting
from ledger.periods import close_period
from ledger.service import (AccountSpec, close_account, create_book, open_account, post_entry,
                            post_pending, reverse_entry, void_pending)

Y = lambda n: Money(n, "JPY")  # noqa: E731
D = date(2019, 7, 1)


@pytest.fixture
def book(session):
    create_book(session, "spv", "JPY", "SPV", "SPV")
    for spec in (AccountSpec("cash", "asset", opened_on=date(2019, 4, 1),
                             credits_must_not_exceed_debits=True),
                 AccountSpec("loan", "liability", opened_on=date(2019, 4, 1)),
                 AccountSpec("fees", "expense", opened_on=date(2019, 4, 1)),
                 AccountSpec("escrow", "liability", opened_on=date(2019, 4, 1),
                             debits_must_not_exceed_credits=True),
                 AccountSpec("late", "asset", opened_on=date(2020, 1, 1)),
                 AccountSpec("old", "asset", opened_on=date(2019, 4, 1))):
        open_account(session, "spv", spec)
    post_entry(session, EntryDraft("spv", "fund", "loan_drawdown", D,
                                   [debit("cash", Y(1000)), credit("loan", Y(1000))]))
    session.commit()
    return session


def state(session):
    """What a refusal must not change: row counts and every maintained balance."""
    return (session.scalar(select(func.count()).select_from(Entry)),
            session.scalar(select(func.count()).select_from(Posting)),
            sorted(tuple(b.model_dump().values()) for b in session.scalars(
                select(AccountBalance))))


def refused(session, action, *codes):
    before = state(session)
    with pytest.raises(SibError) as err:
        action()
    session.rollback()
    assert set(codes) <= set(err.value.codes), err.value.codes
    assert state(session) == before
    return err.value


def draft(key, *postings, on=D, kind="test"):
    return EntryDraft("spv", key, kind, on, list(postings))


def test_fewer_than_two_postings(book):
    refused(book, lambda: post_entry(book, draft("k", debit("cash", Y(5)))),
            "ENTRY_TOO_FEW_POSTINGS")


def test_debits_must_equal_credits(book):
    error = refused(book, lambda: post_entry(book, draft("k", debit("fees", Y(5)),
                                                         credit("cash", Y(4)))),
                    "ENTRY_UNBALANCED")
    assert error.problems[0].field == "postings"


@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_must_be_positive(book, amount):
    refused(book, lambda: post_entry(book, draft("k", debit("fees", Y(amount)),
                                                 credit("cash", Y(amount)))),
            "AMOUNT_NOT_POSITIVE")


def test_unknown_account(book):
    error = refused(book, lambda: post_entry(book, draft("k", debit("nope", Y(5)),
                                                         credit("cash", Y(5)))),
                    "ACCOUNT_NOT_FOUND")
    assert error.problems[0].field == "postings[0].account"


def test_closed_account(book):
    close_account(book, "spv", "old", date(2019, 6, 30))
    book.commit()
    refused(book, lambda: post_entry(book, draft("k", debit("old", Y(5)), credit("cash", Y(5)))),
            "ACCOUNT_CLOSED")


def test_currency_other_than_the_accounts(book):
    refused(book, lambda: post_entry(book, draft("k", debit("fees", Money(5, "GBP")),
                                                 credit("cash", Money(5, "GBP")))),
            "CURRENCY_MISMATCH")


def test_date_in_a_closed_period(book):
    close_period(book, "spv", 2019)
    book.commit()
    refused(book, lambda: post_entry(book, draft("k", debit("fees", Y(5)), credit("cash", Y(5)),
                                                 on=date(2020, 3, 31))),
            "PERIOD_CLOSED")


def test_date_before_the_account_opened(book):
    refused(book, lambda: post_entry(book, draft("k", debit("late", Y(5)), credit("cash", Y(5)),
                                                 on=date(2019, 12, 31))),
            "BEFORE_ACCOUNT_OPENED")


def test_credits_must_not_exceed_debits_on_cash(book):
    error = refused(book, lambda: post_entry(book, draft("k", debit("fees", Y(1001)),
                                                         credit("cash", Y(1001)))),
                    "BALANCE_LIMIT_EXCEEDED")
    assert "cash" in error.problems[0].message


def test_debits_must_not_exceed_credits_on_escrow(book):
    refused(book, lambda: post_entry(book, draft("k", debit("escrow", Y(1)),
                                                 credit("loan", Y(1)))),
            "BALANCE_LIMIT_EXCEEDED")


def test_a_pending_reservation_counts_against_the_limit(book):
    post_entry(book, draft("hold", debit("fees", Y(800)), credit("cash", Y(800))), pending=True)
    book.commit()
    refused(book, lambda: post_entry(book, draft("k", debit("fees", Y(300)),
                                                 credit("cash", Y(300)))),
            "BALANCE_LIMIT_EXCEEDED")


def test_an_idempotency_key_reused_for_other_content(book):
    first = post_entry(book, draft("same", debit("fees", Y(5)), credit("cash", Y(5))))
    book.commit()
    again = post_entry(book, draft("same", debit("fees", Y(5)), credit("cash", Y(5))))
    assert again.id == first.id
    refused(book, lambda: post_entry(book, draft("same", debit("fees", Y(6)),
                                                 credit("cash", Y(6)))),
            "IDEMPOTENCY_CONFLICT")


def test_two_phase_refusals(book):
    pending = post_entry(book, draft("p", debit("fees", Y(300)), credit("cash", Y(300))),
                         pending=True)
    posted = post_entry(book, draft("q", debit("fees", Y(10)), credit("cash", Y(10))))
    book.commit()
    refused(book, lambda: post_pending(book, "spv", pending.id, "r1", D, amount=Y(301)),
            "RESOLVE_EXCEEDS_PENDING")
    refused(book, lambda: post_pending(book, "spv", posted.id, "r2", D), "NOT_PENDING")
    refused(book, lambda: post_pending(book, "spv", 99999, "r3", D), "PENDING_NOT_FOUND")
    post_pending(book, "spv", pending.id, "r4", D, amount=Y(200))
    book.commit()
    refused(book, lambda: void_pending(book, "spv", pending.id, "r5", D),
            "PENDING_ALREADY_RESOLVED")
    refused(book, lambda: post_pending(book, "spv", pending.id, "r6", D),
            "PENDING_ALREADY_RESOLVED")


def test_reversal_refusals(book):
    posted = post_entry(book, draft("q", debit("fees", Y(10)), credit("cash", Y(10))))
    pending = post_entry(book, draft("p", debit("fees", Y(5)), credit("cash", Y(5))),
                         pending=True)
    book.commit()
    refused(book, lambda: reverse_entry(book, "spv", pending.id, "v1", D), "NOT_REVERSIBLE")
    reversal = reverse_entry(book, "spv", posted.id, "v2", D)
    book.commit()
    refused(book, lambda: reverse_entry(book, "spv", posted.id, "v3", D), "ALREADY_REVERSED")
    refused(book, lambda: reverse_entry(book, "spv", reversal.id, "v4", D), "NOT_REVERSIBLE")
    close_period(book, "spv", 2019)
    book.commit()
    other = post_entry(book, draft("x", debit("fees", Y(1)), credit("cash", Y(1)),
                                   on=date(2020, 4, 2)))
    book.commit()
    refused(book, lambda: reverse_entry(book, "spv", other.id, "v5", date(2020, 3, 1)),
            "PERIOD_CLOSED")


def test_every_problem_is_reported_at_once(book):
    error = refused(book, lambda: post_entry(book, draft(
        "k", debit("nope", Y(5)), debit("late", Y(1)), credit("cash", Y(9)),
        on=date(2019, 12, 1))), "ACCOUNT_NOT_FOUND", "BEFORE_ACCOUNT_OPENED", "ENTRY_UNBALANCED")
    assert len(error.problems) == 3


def test_the_database_refuses_to_change_or_delete_history(book):
    for statement in ("UPDATE ledger_posting SET amount_minor = 1",
                      "DELETE FROM ledger_posting", "UPDATE ledger_entry SET kind = 'x'",
                      "DELETE FROM ledger_entry"):
        with pytest.raises(DatabaseError) as err:
            book.execute(text(statement))
        assert "LEDGER_IMMUTABLE" in str(err.value)
        book.rollback()
