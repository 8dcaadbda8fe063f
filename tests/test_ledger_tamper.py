"""Tamper evidence: whatever is changed behind the ledger's back, ``verify`` finds and names.

The ledger refuses to change history itself, and SQLite's triggers refuse a stray UPDATE or
DELETE. A tamperer with the database file can drop those triggers first; these tests do exactly
that, then check that ``verify`` fails and its first problem names the entry or account that was
altered: a posting amount (the entry's hash no longer matches), a maintained balance (it no
longer equals the postings), an entry removed from the end (the book's recorded chain head no
longer matches) or from the middle (a gap in the sequence).
"""

from __future__ import annotations

from datetime import date

import pytest
from moneyed import Money
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ledger.entries import EntryDraft, credit, debit
from ledger.service import AccountSpec, create_book, open_account, post_entry
from ledger.verify import verify

OPENED = date(2019, 4, 1)


def yen(amount: int) -> Money:
    return Money(amount, "JPY")


@pytest.fixture
def entries(session):
    """Two books: the SPV's, with four entries (one of them pending), and another one."""
    for book in ("spv", "other"):
        create_book(session, book, "JPY")
        for spec in (AccountSpec("cash", "asset", opened_on=OPENED),
                     AccountSpec("loan", "liability", opened_on=OPENED),
                     AccountSpec("grant", "income", opened_on=OPENED),
                     AccountSpec("fees", "expense", opened_on=OPENED)):
            open_account(session, book, spec)
    posted = {
        "drawdown": post_entry(session, EntryDraft(
            "spv", "drawdown", "loan_drawdown", date(2019, 7, 1),
            [debit("cash", yen(50_000_000)), credit("loan", yen(50_000_000))])),
        "grant": post_entry(session, EntryDraft(
            "spv", "grant", "grant_receipt", date(2019, 7, 31),
            [debit("cash", yen(10_000_000)), credit("grant", yen(10_000_000))])),
        "fee": post_entry(session, EntryDraft(
            "spv", "fee", "service_fee", date(2019, 9, 30),
            [debit("fees", yen(12_000_000)), credit("cash", yen(12_000_000))])),
        "hold": post_entry(session, EntryDraft(
            "spv", "hold", "service_fee", date(2019, 10, 31),
            [debit("fees", yen(1_000_000)), credit("cash", yen(1_000_000))]), pending=True),
    }
    post_entry(session, EntryDraft("other", "drawdown", "loan_drawdown", date(2019, 7, 1),
                                   [debit("cash", yen(5)), credit("loan", yen(5))]))
    session.commit()
    report = verify(session)
    assert report.ok and report.books["spv"]["entries"] == 4
    return posted


def tamper(session, *statements: str, **params) -> None:
    """Run SQL outside the ledger and commit it, as someone with the database file could."""
    for statement in statements:
        session.execute(text(statement), params)
    session.commit()


def test_a_posting_amount_changed_in_sql_names_its_entry(session, entries):
    fee = entries["fee"]
    change = "UPDATE ledger_posting SET amount_minor = 1200000 WHERE entry_id = :e AND side = 'D'"
    with pytest.raises(IntegrityError, match="LEDGER_IMMUTABLE"):
        session.execute(text(change), {"e": fee.id})  # the trigger is in the way…
    session.rollback()

    tamper(session, "DROP TRIGGER ledger_posting_no_update", change, e=fee.id)  # …so drop it

    report = verify(session)
    assert not report.ok
    first = report.problems[0]
    assert first.code == "ENTRY_TAMPERED"
    assert f"entry {fee.id} (book spv, sequence 3)" in first.message
    assert verify(session, "other").ok  # the other book is untouched


def test_a_careful_tamperer_who_keeps_everything_balanced_is_still_caught(session, entries):
    """Both postings of the fee lowered to ¥1,200,000 and the maintained balances adjusted to
    match: every sum agrees, but the entry no longer matches its hash."""
    fee = entries["fee"]
    tamper(session, "DROP TRIGGER ledger_posting_no_update",
           "UPDATE ledger_posting SET amount_minor = 1200000 WHERE entry_id = :e",
           "UPDATE ledger_balance SET debits_posted = 1200000 WHERE account_id = "
           "(SELECT account_id FROM ledger_posting WHERE entry_id = :e AND side = 'D')",
           "UPDATE ledger_balance SET credits_posted = 1200000 WHERE account_id = "
           "(SELECT account_id FROM ledger_posting WHERE entry_id = :e AND side = 'C')",
           e=fee.id)
    report = verify(session, "spv")
    assert [p.code for p in report.problems] == ["ENTRY_TAMPERED"]
    assert f"entry {fee.id} " in report.problems[0].message


def test_an_entry_redated_in_sql_names_it(session, entries):
    grant = entries["grant"]
    tamper(session, "DROP TRIGGER ledger_entry_no_update",
           "UPDATE ledger_entry SET effective_on = '2020-04-01' WHERE id = :e", e=grant.id)
    report = verify(session)
    assert report.problems[0].code == "ENTRY_TAMPERED"
    assert f"entry {grant.id} (book spv, sequence 2)" in report.problems[0].message


def test_a_maintained_balance_edited_in_sql_names_the_account(session, entries):
    """The balance table has no trigger (it changes with every entry), but it must always
    equal its postings: a yen added to cash is found."""
    tamper(session, "UPDATE ledger_balance SET debits_posted = debits_posted + 1 WHERE "
                    "account_id = (SELECT a.id FROM ledger_account a JOIN ledger_book b "
                    "ON b.id = a.book_id WHERE b.code = 'spv' AND a.code = 'cash')")
    report = verify(session)
    assert [p.code for p in report.problems] == ["BALANCE_MISMATCH"]
    assert "account cash (book spv)" in report.problems[0].message
    assert verify(session, "other").ok


def test_a_pending_reservation_edited_in_sql_is_found_too(session, entries):
    tamper(session, "UPDATE ledger_balance SET credits_pending = 0 WHERE account_id = "
                    "(SELECT account_id FROM ledger_posting WHERE entry_id = :e AND side = 'C')",
           e=entries["hold"].id)
    report = verify(session)
    assert report.problems[0].code == "BALANCE_MISMATCH"
    assert "account cash (book spv)" in report.problems[0].message


def _delete_entry(session, entry_id: int) -> None:
    """Remove an entry and its postings, the triggers that refuse it dropped first."""
    tamper(session, "DROP TRIGGER ledger_posting_no_delete",
           "DROP TRIGGER ledger_entry_no_delete",
           "DELETE FROM ledger_posting WHERE entry_id = :e",
           "DELETE FROM ledger_entry WHERE id = :e", e=entry_id)


def test_the_last_entry_deleted_in_sql_breaks_the_chain_head(session, entries):
    _delete_entry(session, entries["hold"].id)
    report = verify(session)
    assert [p.code for p in report.problems] == ["CHAIN_HEAD_MISMATCH"]
    assert "book spv" in report.problems[0].message
    assert "ends at entry 3 but the book records 4" in report.problems[0].message


def test_an_entry_deleted_from_the_middle_leaves_a_gap(session, entries):
    _delete_entry(session, entries["grant"].id)
    report = verify(session)
    assert report.problems[0].code == "CHAIN_GAP"
    # the first entry out of place is the fee, now second where it was third
    assert f"entry {entries['fee'].id} (book spv, sequence 3)" in report.problems[0].message
