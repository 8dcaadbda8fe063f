"""Every refusal of the ledger, each with its named code — and nothing written when refused.

The book below belongs to a project SPV keeping yen. Its cash account cannot be overdrawn
(credits may not exceed debits) and its escrow account cannot pay out more than it received
(debits may not exceed credits). The bank has lent ¥1,000 into cash. Each test asks the ledger
for something it must refuse and checks three things: the error code(s), that nothing moved in
the same database transaction (entry and posting counts, every maintained balance, the head of
the hash chain), and that even a caller who commits after the refusal writes nothing.
"""

from __future__ import annotations

from datetime import date

import pytest
from moneyed import Money
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from ledger.entries import EntryDraft, credit, debit
from ledger.errors import Conflict, NotFound, SibError
from ledger.periods import close_period
from ledger.schema import AccountBalance, Book, Entry, Posting
from ledger.service import (
    AccountSpec,
    close_account,
    create_book,
    entry_state,
    get_book,
    open_account,
    post_entry,
    post_pending,
    reverse_entry,
    void_pending,
)

BOOK = "spv"
OPENED = date(2019, 4, 1)
ON = date(2019, 7, 1)


def yen(amount: int) -> Money:
    return Money(amount, "JPY")


@pytest.fixture
def ledger(session):
    """The SPV's book with ¥1,000 of loan in cash; committed, so every test starts clean."""
    create_book(session, BOOK, "JPY", "SIB 特別目的会社", "SIB SPV")
    for spec in (AccountSpec("cash", "asset", "現金預金", "Cash", opened_on=OPENED,
                             credits_must_not_exceed_debits=True),
                 AccountSpec("loan", "liability", "借入金", "Loan", opened_on=OPENED),
                 AccountSpec("fees", "expense", "業務委託費", "Service fees", opened_on=OPENED),
                 AccountSpec("escrow", "liability", "預り金", "Escrow", opened_on=OPENED,
                             debits_must_not_exceed_credits=True),
                 AccountSpec("late", "asset", "未収金", "Opened in January",
                             opened_on=date(2020, 1, 1)),
                 AccountSpec("old", "asset", "旧口座", "To be closed", opened_on=OPENED)):
        open_account(session, BOOK, spec)
    post_entry(session, draft("drawdown", debit("cash", yen(1000)), credit("loan", yen(1000)),
                              kind="loan_drawdown"))
    session.commit()
    return session


def draft(key: str, *postings, on: date = ON, kind: str = "service_fee") -> EntryDraft:
    return EntryDraft(BOOK, key, kind, on, list(postings))


def state(session) -> tuple:
    """What a refusal must leave untouched: rows written, maintained balances, chain head."""
    book = session.execute(select(Book.entry_count, Book.head_hash, Book.closed_through_on)
                           .where(Book.code == BOOK)).one()
    return (session.scalar(select(func.count()).select_from(Entry)),
            session.scalar(select(func.count()).select_from(Posting)),
            sorted(session.execute(select(
                AccountBalance.account_id, AccountBalance.debits_posted,
                AccountBalance.credits_posted, AccountBalance.debits_pending,
                AccountBalance.credits_pending)).all()),
            tuple(book))


def refused(session, action, *codes: str) -> SibError:
    """Run ``action``, expect exactly ``codes``, and check that nothing was written."""
    before = state(session)
    with pytest.raises(SibError) as caught:
        action()
    assert caught.value.codes == list(codes), caught.value
    assert state(session) == before, "the refused request wrote something"
    session.commit()  # a careless caller commits anyway: still nothing
    assert state(session) == before
    return caught.value


def cash(session) -> int:
    """Cash on hand: posted debits less posted credits."""
    bal = session.get(AccountBalance, _account_id(session, "cash"))
    session.refresh(bal)
    return bal.debits_posted - bal.credits_posted


def _account_id(session, code: str) -> int:
    return session.scalar(text("SELECT id FROM ledger_account WHERE code = :c"), {"c": code})


# --------------------------------------------------------------------------- the entry itself

@pytest.mark.parametrize("postings, codes", [
    ([], ["ENTRY_TOO_FEW_POSTINGS"]),
    # one posting cannot balance either: both problems are reported
    ([debit("fees", yen(5))], ["ENTRY_TOO_FEW_POSTINGS", "ENTRY_UNBALANCED"]),
], ids=["no postings", "one posting"])
def test_an_entry_needs_at_least_two_postings(ledger, postings, codes):
    error = refused(ledger, lambda: post_entry(ledger, draft("fee", *postings)), *codes)
    assert error.problems[0].field == "postings"


def test_debits_must_equal_credits(ledger):
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees", yen(5000)), credit("cash", yen(4000)))), "ENTRY_UNBALANCED")
    assert error.problems[0].field == "postings"
    assert "5000" in error.problems[0].message and "4000" in error.problems[0].message


def test_entries_balance_per_currency_not_in_sum(ledger):
    """¥5 against £5 is not balanced: each currency must balance on its own (and the GBP
    posting does not belong on a yen account either)."""
    refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees", yen(5)), credit("cash", Money(5, "GBP")))),
        "ENTRY_UNBALANCED", "ENTRY_UNBALANCED", "CURRENCY_MISMATCH")


@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_must_be_positive(ledger, amount):
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees", yen(amount)), credit("cash", yen(amount)))),
        "AMOUNT_NOT_POSITIVE", "AMOUNT_NOT_POSITIVE")
    assert [p.field for p in error.problems] == ["postings[0].amount", "postings[1].amount"]


def test_amounts_finer_than_the_currency_are_refused(ledger):
    """The yen has no minor unit: ¥0.5 cannot be recorded."""
    refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees", Money("0.5", "JPY")), credit("cash", Money("0.5", "JPY")))),
        "AMOUNT_PRECISION", "AMOUNT_PRECISION")


# --------------------------------------------------------------------------- accounts

def test_an_unknown_account(ledger):
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees:unknown", yen(5)), credit("cash", yen(5)))), "ACCOUNT_NOT_FOUND")
    assert error.problems[0].field == "postings[0].account"
    assert "fees:unknown" in error.problems[0].message


def test_a_closed_account(ledger):
    close_account(ledger, BOOK, "old", date(2019, 6, 30))
    ledger.commit()
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("old", yen(5)), credit("cash", yen(5)))), "ACCOUNT_CLOSED")
    assert "2019-06-30" in error.problems[0].message
    # up to the day it closed, the account still takes postings (a late-dated correction)
    post_entry(ledger, draft("fee-june", debit("old", yen(5)), credit("cash", yen(5)),
                             on=date(2019, 6, 30)))


def test_an_account_with_a_balance_cannot_be_closed(ledger):
    refused(ledger, lambda: close_account(ledger, BOOK, "cash", date(2019, 12, 31)),
            "ACCOUNT_NOT_EMPTY")
    assert ledger.scalar(text("SELECT closed_on FROM ledger_account WHERE code = 'cash'")) \
        is None


def test_a_currency_other_than_the_accounts(ledger):
    """A GBP posting on the yen book, even a balanced one, is refused on both accounts."""
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees", Money(5, "GBP")), credit("cash", Money(5, "GBP")))),
        "CURRENCY_MISMATCH", "CURRENCY_MISMATCH")
    assert "JPY" in error.problems[0].message and "GBP" in error.problems[0].message


def test_a_date_before_the_account_opened(ledger):
    refused(ledger, lambda: post_entry(ledger, draft(
        "accrual", debit("late", yen(5)), credit("loan", yen(5)), on=date(2019, 12, 31))),
        "BEFORE_ACCOUNT_OPENED")
    post_entry(ledger, draft("accrual", debit("late", yen(5)), credit("loan", yen(5)),
                             on=date(2020, 1, 1)))


# --------------------------------------------------------------------------- periods

def test_nothing_may_be_dated_in_a_closed_period(ledger):
    """After FY2019 (April 2019 – March 2020) is closed, no posting, resolution or reversal
    may be dated on or before 31 March 2020; 1 April 2020 is open."""
    reserved = post_entry(ledger, draft("hold", debit("fees", yen(100)), credit("cash", yen(100)),
                                        on=date(2019, 9, 1)), pending=True)
    fee = post_entry(ledger, draft("fee", debit("fees", yen(10)), credit("cash", yen(10))))
    close_period(ledger, BOOK, 2019, "twr", "year-end close")
    ledger.commit()
    march_31, april_1 = date(2020, 3, 31), date(2020, 4, 1)

    refused(ledger, lambda: post_entry(ledger, draft(
        "late-fee", debit("fees", yen(5)), credit("cash", yen(5)), on=march_31)), "PERIOD_CLOSED")
    refused(ledger, lambda: post_pending(ledger, BOOK, reserved.id, "hold-post", march_31),
            "PERIOD_CLOSED")
    refused(ledger, lambda: void_pending(ledger, BOOK, reserved.id, "hold-void", march_31),
            "PERIOD_CLOSED")
    refused(ledger, lambda: reverse_entry(ledger, BOOK, fee.id, "fee-reversal", march_31),
            "PERIOD_CLOSED")

    post_entry(ledger, draft("late-fee", debit("fees", yen(5)), credit("cash", yen(5)),
                             on=april_1))
    void_pending(ledger, BOOK, reserved.id, "hold-void", april_1)
    reverse_entry(ledger, BOOK, fee.id, "fee-reversal", april_1)
    ledger.commit()
    assert cash(ledger) == 1000 - 10 - 5 + 10


# --------------------------------------------------------------------------- balance limits

def test_cash_cannot_be_overdrawn(ledger):
    """credits_must_not_exceed_debits: ¥1,000 in cash pays ¥1,000, never ¥1,001."""
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees", yen(1001)), credit("cash", yen(1001)))), "BALANCE_LIMIT_EXCEEDED")
    assert "cash" in error.problems[0].message
    post_entry(ledger, draft("fee", debit("fees", yen(1000)), credit("cash", yen(1000))))
    ledger.commit()
    assert cash(ledger) == 0


def test_escrow_cannot_pay_out_more_than_it_received(ledger):
    """debits_must_not_exceed_credits: ¥500 received in escrow pays out ¥500, never ¥501."""
    post_entry(ledger, draft("escrow-in", debit("cash", yen(500)), credit("escrow", yen(500))))
    ledger.commit()
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "escrow-out", debit("escrow", yen(501)), credit("cash", yen(501)))),
        "BALANCE_LIMIT_EXCEEDED")
    assert "escrow" in error.problems[0].message
    post_entry(ledger, draft("escrow-out", debit("escrow", yen(500)), credit("cash", yen(500))))


def test_a_reservation_uses_up_cash_until_it_is_released(ledger):
    """A pending ¥800 payment leaves ¥200 to spend; voiding it gives the ¥800 back."""
    hold = post_entry(ledger, draft("hold", debit("fees", yen(800)), credit("cash", yen(800))),
                      pending=True)
    ledger.commit()
    refused(ledger, lambda: post_entry(ledger, draft(
        "fee", debit("fees", yen(300)), credit("cash", yen(300)))), "BALANCE_LIMIT_EXCEEDED")
    # a second reservation is held to the same limit
    refused(ledger, lambda: post_entry(ledger, draft(
        "hold-2", debit("fees", yen(201)), credit("cash", yen(201))), pending=True),
        "BALANCE_LIMIT_EXCEEDED")
    post_entry(ledger, draft("fee", debit("fees", yen(200)), credit("cash", yen(200))))
    void_pending(ledger, BOOK, hold.id, "hold-void", ON)
    post_entry(ledger, draft("fee-2", debit("fees", yen(800)), credit("cash", yen(800))))
    ledger.commit()
    assert cash(ledger) == 0


def test_pending_money_in_is_not_money_to_spend(ledger):
    """On escrow, a pending ¥500 credit (money announced, not received) allows no payment,
    while a pending ¥400 debit reserves part of what was received."""
    post_entry(ledger, draft("escrow-announced", debit("cash", yen(500)),
                             credit("escrow", yen(500))), pending=True)
    ledger.commit()
    refused(ledger, lambda: post_entry(ledger, draft(
        "escrow-out", debit("escrow", yen(1)), credit("cash", yen(1)))),
        "BALANCE_LIMIT_EXCEEDED")
    post_entry(ledger, draft("escrow-in", debit("cash", yen(500)), credit("escrow", yen(500))))
    post_entry(ledger, draft("escrow-hold", debit("escrow", yen(400)), credit("cash", yen(400))),
               pending=True)
    ledger.commit()
    refused(ledger, lambda: post_entry(ledger, draft(
        "escrow-out", debit("escrow", yen(101)), credit("cash", yen(101)))),
        "BALANCE_LIMIT_EXCEEDED")
    post_entry(ledger, draft("escrow-out", debit("escrow", yen(100)), credit("cash", yen(100))))


# --------------------------------------------------------------------------- idempotency

def test_a_retry_returns_the_original_entry_and_writes_nothing(ledger):
    first = post_entry(ledger, draft("fee-2019-07", debit("fees", yen(5)), credit("cash", yen(5))))
    ledger.commit()
    before = state(ledger)
    again = post_entry(ledger, draft("fee-2019-07", debit("fees", yen(5)),
                                     credit("cash", yen(5))))
    ledger.commit()
    assert again.id == first.id and again.hash == first.hash
    assert state(ledger) == before


@pytest.mark.parametrize("changed, pending", [
    (draft("fee-2019-07", debit("fees", yen(6)), credit("cash", yen(6))), False),
    (draft("fee-2019-07", debit("fees", yen(5)), credit("cash", yen(5)), on=date(2019, 7, 2)),
     False),
    (draft("fee-2019-07", debit("fees", yen(5)), credit("cash", yen(5)), kind="interest"), False),
    (draft("fee-2019-07", debit("fees", yen(5)), credit("cash", yen(5))), True),
], ids=["other amount", "other date", "other kind", "pending instead of posted"])
def test_a_key_reused_for_other_content_is_a_conflict(ledger, changed, pending):
    first = post_entry(ledger, draft("fee-2019-07", debit("fees", yen(5)), credit("cash", yen(5))))
    ledger.commit()
    error = refused(ledger, lambda: post_entry(ledger, changed, pending=pending),
                    "IDEMPOTENCY_CONFLICT")
    assert isinstance(error, Conflict)
    assert f"entry {first.id}" in error.problems[0].message


def test_resolutions_and_reversals_are_idempotent_too(ledger):
    hold = post_entry(ledger, draft("hold", debit("fees", yen(300)), credit("cash", yen(300))),
                      pending=True)
    fee = post_entry(ledger, draft("fee", debit("fees", yen(10)), credit("cash", yen(10))))
    posted = post_pending(ledger, BOOK, hold.id, "hold-post", ON, amount=yen(200))
    reversal = reverse_entry(ledger, BOOK, fee.id, "fee-reversal", ON)
    ledger.commit()
    before = state(ledger)
    assert post_pending(ledger, BOOK, hold.id, "hold-post", ON, amount=yen(200)).id == posted.id
    assert reverse_entry(ledger, BOOK, fee.id, "fee-reversal", ON).id == reversal.id
    ledger.commit()
    assert state(ledger) == before
    refused(ledger, lambda: post_pending(ledger, BOOK, hold.id, "hold-post", ON, amount=yen(250)),
            "IDEMPOTENCY_CONFLICT")


# --------------------------------------------------------------------------- two-phase

def test_a_pending_entry_is_resolved_exactly_once(ledger):
    posted_hold = post_entry(ledger, draft("hold-a", debit("fees", yen(300)),
                                           credit("cash", yen(300))), pending=True)
    voided_hold = post_entry(ledger, draft("hold-b", debit("fees", yen(100)),
                                           credit("cash", yen(100))), pending=True)
    post_pending(ledger, BOOK, posted_hold.id, "hold-a-post", ON, amount=yen(200))
    void_pending(ledger, BOOK, voided_hold.id, "hold-b-void", ON)
    ledger.commit()

    for entry, key in ((posted_hold, "a"), (voided_hold, "b")):
        error = refused(ledger, lambda: post_pending(ledger, BOOK, entry.id, f"{key}-again", ON),
                        "PENDING_ALREADY_RESOLVED")
        assert isinstance(error, Conflict)
        refused(ledger, lambda: void_pending(ledger, BOOK, entry.id, f"{key}-void-again", ON),
                "PENDING_ALREADY_RESOLVED")
    assert entry_state(ledger, posted_hold) == "posted"
    assert entry_state(ledger, voided_hold) == "voided"
    assert cash(ledger) == 1000 - 200


def test_posting_more_than_was_reserved(ledger):
    hold = post_entry(ledger, draft("hold", debit("fees", yen(300)), credit("cash", yen(300))),
                      pending=True)
    ledger.commit()
    error = refused(ledger, lambda: post_pending(ledger, BOOK, hold.id, "post", ON,
                                                 amount=yen(301)),
                    "RESOLVE_EXCEEDS_PENDING", "RESOLVE_EXCEEDS_PENDING")
    assert error.problems[0].field == "postings[0].amount"
    refused(ledger, lambda: post_pending(ledger, BOOK, hold.id, "post", ON, postings=[
        debit("loan", yen(300)), credit("cash", yen(300))]), "RESOLVE_ACCOUNT_MISMATCH")
    assert entry_state(ledger, hold) == "pending"


def test_only_a_pending_entry_can_be_resolved(ledger):
    fee = post_entry(ledger, draft("fee", debit("fees", yen(10)), credit("cash", yen(10))))
    ledger.commit()
    refused(ledger, lambda: post_pending(ledger, BOOK, fee.id, "post", ON), "NOT_PENDING")
    refused(ledger, lambda: void_pending(ledger, BOOK, fee.id, "void", ON), "NOT_PENDING")
    error = refused(ledger, lambda: post_pending(ledger, BOOK, 99_999, "post", ON),
                    "PENDING_NOT_FOUND")
    assert isinstance(error, NotFound)


# --------------------------------------------------------------------------- reversals

def test_an_entry_is_reversed_at_most_once(ledger):
    fee = post_entry(ledger, draft("fee", debit("fees", yen(10)), credit("cash", yen(10))))
    reverse_entry(ledger, BOOK, fee.id, "fee-reversal", ON)
    ledger.commit()
    error = refused(ledger, lambda: reverse_entry(ledger, BOOK, fee.id, "fee-reversal-2", ON),
                    "ALREADY_REVERSED")
    assert isinstance(error, Conflict)
    assert cash(ledger) == 1000


def test_what_cannot_be_reversed(ledger):
    """A pending entry is voided, not reversed; a reversal and a voiding entry are not
    reversed either (post a new entry instead)."""
    hold = post_entry(ledger, draft("hold", debit("fees", yen(5)), credit("cash", yen(5))),
                      pending=True)
    other_hold = post_entry(ledger, draft("hold-2", debit("fees", yen(7)),
                                          credit("cash", yen(7))), pending=True)
    voiding = void_pending(ledger, BOOK, other_hold.id, "hold-2-void", ON)
    fee = post_entry(ledger, draft("fee", debit("fees", yen(10)), credit("cash", yen(10))))
    reversal = reverse_entry(ledger, BOOK, fee.id, "fee-reversal", ON)
    ledger.commit()
    for n, entry in enumerate((hold, voiding, reversal)):
        refused(ledger, lambda: reverse_entry(ledger, BOOK, entry.id, f"undo-{n}", ON),
                "NOT_REVERSIBLE")
    refused(ledger, lambda: reverse_entry(ledger, BOOK, 99_999, "undo", ON), "ENTRY_NOT_FOUND")


# --------------------------------------------------------------------------- all at once

def test_every_problem_is_reported_at_once(ledger):
    """One bad request, four problems, one answer: the finance officer fixes them together."""
    close_period(ledger, BOOK, 2019)
    ledger.commit()
    error = refused(ledger, lambda: post_entry(ledger, draft(
        "bad", debit("fees:unknown", yen(5)), debit("late", yen(1)), credit("cash", yen(9)),
        on=date(2019, 12, 1))),
        "ENTRY_UNBALANCED", "ACCOUNT_NOT_FOUND", "BEFORE_ACCOUNT_OPENED", "PERIOD_CLOSED")
    assert [p.field for p in error.problems] == [
        "postings", "postings[0].account", "effective_on", "effective_on"]


# --------------------------------------------------------------------------- the database

@pytest.mark.parametrize("statement", [
    "UPDATE ledger_posting SET amount_minor = 999999",
    "DELETE FROM ledger_posting",
    "UPDATE ledger_entry SET description = 'rewritten'",
    "DELETE FROM ledger_entry",
])
def test_the_database_refuses_to_rewrite_history(ledger, statement):
    """Even raw SQL cannot change or remove a posted entry on SQLite: triggers refuse it."""
    before = state(ledger)
    with pytest.raises((IntegrityError, OperationalError)) as caught:
        ledger.execute(text(statement))
    assert "LEDGER_IMMUTABLE" in str(caught.value)
    ledger.rollback()
    assert state(ledger) == before
    assert get_book(ledger, BOOK).entry_count == 1
