"""A project book's first year, as a worked example: a bank lends, the grant arrives, the
provider is paid, an outcome tranche is reserved and posted in part, a mistake is reversed and
posted again, the fiscal year is closed — every balance asserted along the way."""

from __future__ import annotations

from datetime import date

from moneyed import Money

from ledger.entries import EntryDraft, credit, debit
from ledger.reports import account_statement, balance_as_of, trial_balance
from ledger.schema import Entry
from ledger.periods import close_period
from ledger.service import (AccountSpec, create_book, entry_state, open_account, post_entry,
                            post_pending, reversal_of, reverse_entry)
from ledger.verify import verify

Y = lambda n: Money(n, "JPY")  # noqa: E731
B = "spv-2019"


def balances(session):
    """Account → (posted balance in its normal sign, pending debits, pending credits)."""
    return {r.code: (r.balance_minor, r.debits_pending, r.credits_pending)
            for r in trial_balance(session, B).rows}


def test_the_first_year_of_a_project_book(session):
    create_book(session, B, "JPY", "SIB 特別目的会社", "SIB SPV")
    opened = date(2019, 4, 1)
    for spec in (AccountSpec("cash", "asset", "現金預金", "Cash", opened_on=opened,
                             credits_must_not_exceed_debits=True),
                 AccountSpec("loan:yamaguchi", "liability", "借入金", "Loan", opened_on=opened),
                 AccountSpec("grant-income", "income", "交付金収入", "Grant", opened_on=opened),
                 AccountSpec("fees:thl", "expense", "業務委託費", "Fees", opened_on=opened),
                 AccountSpec("receivable:ube", "asset", "未収金 宇部市", "Receivable",
                             opened_on=opened),
                 AccountSpec("outcome-income:ube", "income", "成果連動収入", "Outcome income",
                             opened_on=opened)):
        open_account(session, B, spec)

    # 1 July: the bank lends 50,000,000
    post_entry(session, EntryDraft(B, "draw-1", "loan_drawdown", date(2019, 7, 1),
                                   [debit("cash", Y(50_000_000)),
                                    credit("loan:yamaguchi", Y(50_000_000))]))
    assert balances(session)["cash"] == (50_000_000, 0, 0)
    assert balances(session)["loan:yamaguchi"] == (50_000_000, 0, 0)

    # 31 July: the grant of 10,000,000 arrives
    post_entry(session, EntryDraft(B, "grant-1", "grant_receipt", date(2019, 7, 31),
                                   [debit("cash", Y(10_000_000)),
                                    credit("grant-income", Y(10_000_000))]))
    # 30 September: the provider is paid 12,000,000 — but 21,000,000 is keyed by mistake
    wrong = post_entry(session, EntryDraft(B, "fee-1", "service_fee", date(2019, 9, 30),
                                           [debit("fees:thl", Y(21_000_000)),
                                            credit("cash", Y(21_000_000))]))
    assert balances(session)["cash"] == (39_000_000, 0, 0)
    # … corrected by a reversal and the right entry, never by an edit
    reversal = reverse_entry(session, B, wrong.id, "fee-1-reverse", date(2019, 10, 1),
                             "wrong amount keyed")
    post_entry(session, EntryDraft(B, "fee-1-right", "service_fee", date(2019, 10, 1),
                                   [debit("fees:thl", Y(12_000_000)),
                                    credit("cash", Y(12_000_000))]))
    assert reversal_of(session, wrong.id).id == reversal.id
    assert reversal.reverses_entry_id == wrong.id
    assert entry_state(session, wrong) == "reversed"
    assert balances(session)["fees:thl"] == (12_000_000, 0, 0)
    assert balances(session)["cash"] == (48_000_000, 0, 0)

    # a KPI-conditional tranche of 3,000,000 is reserved for Ube …
    tranche = post_entry(session, EntryDraft(B, "tranche-ube", "tranche_commitment",
                                             date(2019, 4, 1),
                                             [debit("receivable:ube", Y(3_000_000)),
                                              credit("outcome-income:ube", Y(3_000_000))]),
                         pending=True)
    assert balances(session)["receivable:ube"] == (0, 3_000_000, 0)
    assert balances(session)["outcome-income:ube"] == (0, 0, 3_000_000)
    # … and the audited result earns 2,250,000 of it: the rest is released
    earned = post_pending(session, B, tranche.id, "tranche-ube-earned", date(2020, 3, 31),
                          amount=Y(2_250_000))
    assert entry_state(session, tranche) == "posted"
    assert earned.resolves_entry_id == tranche.id
    assert balances(session)["receivable:ube"] == (2_250_000, 0, 0)
    assert balances(session)["outcome-income:ube"] == (2_250_000, 0, 0)
    session.commit()

    tb = trial_balance(session, B)
    assert tb.balanced and tb.total_debit_minor == 62_250_000
    # cash 48,000,000 + receivable 2,250,000 + fees 12,000,000 = loan 50,000,000 +
    # grant 10,000,000 + outcome 2,250,000
    assert tb.total_debit_minor == 48_000_000 + 2_250_000 + 12_000_000

    # the account statement runs the balance entry by entry
    statement = account_statement(session, B, "cash")
    assert [ln.balance_minor for ln in statement.lines] == [
        50_000_000, 60_000_000, 39_000_000, 60_000_000, 48_000_000]

    # close FY2019 (令和元年度): balances are snapshotted and the dates locked
    close_period(session, B, 2019, "twr", "year-end close")
    post_entry(session, EntryDraft(B, "fee-2", "service_fee", date(2020, 4, 30),
                                   [debit("fees:thl", Y(1_000_000)),
                                    credit("cash", Y(1_000_000))]))
    session.commit()
    assert balance_as_of(session, B, "cash", date(2020, 3, 31)) == 48_000_000
    assert balance_as_of(session, B, "cash", date(2020, 4, 30)) == 47_000_000
    assert balance_as_of(session, B, "cash", date(2019, 9, 30)) == 39_000_000
    as_of_close = trial_balance(session, B, date(2020, 3, 31))
    assert as_of_close.balanced and as_of_close.total_debit_minor == 62_250_000
    assert verify(session).ok
    assert session.query(Entry).count() == 8
