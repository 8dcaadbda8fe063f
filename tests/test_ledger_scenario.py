"""The project book of an SIB's special-purpose vehicle through its first fiscal year.

FY2019 (令和元年度) runs from 1 April 2019 to 31 March 2020. Along the way:

1. 1 July: Yamaguchi Bank lends ¥50,000,000 (cash against loan payable);
2. 31 July: the national regional-revitalisation grant of ¥10,000,000 arrives;
3. 30 September: Tanita Health Link is paid ¥12,000,000 of service fees;
4. 1 October: an outcome tranche of ¥3,000,000 due from Ube City is reserved (pending);
5. 28 February: the audited KPI result earns ¥2,250,000 of it; the other ¥750,000 is released;
6. 10 March: the bank's ¥250,000 interest is keyed to service fees by mistake; on 12 March
   the entry is reversed and posted again to interest expense;
7. the year is closed, and on 30 April 2020 the next year's first fee of ¥1,000,000 is paid.

After each step every balance of the book is asserted: posted balances in each account's normal
sign (assets and expenses as debits, the rest as credits) and the pending amounts separately.
"""

from __future__ import annotations

from datetime import date

import pytest
from moneyed import Money
from sqlalchemy import func, select

from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.periods import close_period
from ledger.reports import account_statement, balance_as_of, trial_balance
from ledger.schema import Entry
from ledger.service import (
    AccountSpec,
    create_book,
    entry_state,
    open_account,
    post_entry,
    post_pending,
    resolution_of,
    reversal_of,
    reverse_entry,
)
from ledger.verify import verify

BOOK = "sib-2019-spv"
FY2019_STARTS = date(2019, 4, 1)

ACCOUNTS = (
    AccountSpec("cash", "asset", "現金預金", "Cash at bank", opened_on=FY2019_STARTS,
                credits_must_not_exceed_debits=True),
    AccountSpec("receivable:ube", "asset", "未収金 宇部市", "Outcome payment due from Ube City",
                opened_on=FY2019_STARTS, party_ref="payer:ube"),
    AccountSpec("loan:yamaguchi", "liability", "長期借入金 山口銀行", "Loan from Yamaguchi Bank",
                opened_on=FY2019_STARTS, party_ref="lender:yamaguchi"),
    AccountSpec("income:grant", "income", "地方創生推進交付金", "Regional revitalisation grant",
                opened_on=FY2019_STARTS),
    AccountSpec("income:outcome:ube", "income", "成果連動収入 宇部市", "Outcome income, Ube",
                opened_on=FY2019_STARTS, party_ref="payer:ube"),
    AccountSpec("expense:fees:thl", "expense", "業務委託費 タニタヘルスリンク",
                "Service fees, Tanita Health Link", opened_on=FY2019_STARTS,
                party_ref="provider:thl"),
    AccountSpec("expense:interest", "expense", "支払利息", "Interest expense",
                opened_on=FY2019_STARTS),
)


def yen(amount: int) -> Money:
    return Money(amount, "JPY")


def posted(session) -> dict[str, int]:
    """Posted balances in normal sign, accounts at zero left out (the full dict is compared)."""
    return {r.code: r.balance_minor for r in trial_balance(session, BOOK).rows
            if r.balance_minor}


def pending(session) -> dict[str, tuple[int, int]]:
    """Reserved (pending debits, pending credits) per account, accounts without any left out."""
    return {r.code: (r.debits_pending, r.credits_pending) for r in trial_balance(session, BOOK).rows
            if r.debits_pending or r.credits_pending}


def entry(key: str, kind: str, on: date, *postings, description: str = "") -> EntryDraft:
    return EntryDraft(BOOK, key, kind, on, list(postings), description,
                      {"contract": "sib-2019-health"})


@pytest.fixture
def spv(session):
    create_book(session, BOOK, "JPY", "SIB 特別目的会社 2019", "SIB SPV 2019")
    for spec in ACCOUNTS:
        open_account(session, BOOK, spec)
    session.commit()
    return session


def test_the_first_year_of_a_project_book(spv):
    s = spv
    assert posted(s) == {} and pending(s) == {}

    # 1. the bank lends ¥50,000,000
    drawdown = post_entry(s, entry("yamaguchi-drawdown-1", "loan_drawdown", date(2019, 7, 1),
                                   debit("cash", yen(50_000_000)),
                                   credit("loan:yamaguchi", yen(50_000_000))))
    s.commit()
    assert posted(s) == {"cash": 50_000_000, "loan:yamaguchi": 50_000_000}
    assert pending(s) == {}

    # 2. the grant arrives; the bank's notice is processed twice, and posts once
    grant = post_entry(s, entry("grant-2019", "grant_receipt", date(2019, 7, 31),
                                debit("cash", yen(10_000_000)),
                                credit("income:grant", yen(10_000_000))))
    s.commit()
    retried = post_entry(s, entry("grant-2019", "grant_receipt", date(2019, 7, 31),
                                  debit("cash", yen(10_000_000)),
                                  credit("income:grant", yen(10_000_000))))
    s.commit()
    assert retried.id == grant.id
    assert posted(s) == {"cash": 60_000_000, "loan:yamaguchi": 50_000_000,
                         "income:grant": 10_000_000}

    # 3. the provider is paid its service fees
    post_entry(s, entry("thl-fee-2019-h1", "service_fee", date(2019, 9, 30),
                        debit("expense:fees:thl", yen(12_000_000)),
                        credit("cash", yen(12_000_000))))
    s.commit()
    assert posted(s) == {"cash": 48_000_000, "loan:yamaguchi": 50_000_000,
                         "income:grant": 10_000_000, "expense:fees:thl": 12_000_000}

    # 4. a KPI-conditional tranche is reserved: shown as pending, not in the posted balances
    tranche = post_entry(s, entry("ube-tranche-2019", "outcome_tranche", date(2019, 10, 1),
                                  debit("receivable:ube", yen(3_000_000)),
                                  credit("income:outcome:ube", yen(3_000_000)),
                                  description="FY2019 outcome tranche, Ube City"),
                         pending=True)
    s.commit()
    assert entry_state(s, tranche) == "pending"
    assert posted(s) == {"cash": 48_000_000, "loan:yamaguchi": 50_000_000,
                         "income:grant": 10_000_000, "expense:fees:thl": 12_000_000}
    assert pending(s) == {"receivable:ube": (3_000_000, 0),
                          "income:outcome:ube": (0, 3_000_000)}
    assert account_statement(s, BOOK, "receivable:ube").pending_debits_minor == 3_000_000

    # 5. the audited result earns ¥2,250,000 of the ¥3,000,000: the rest is released
    earned = post_pending(s, BOOK, tranche.id, "ube-tranche-2019-result", date(2020, 2, 28),
                          amount=yen(2_250_000), kind="outcome_earned",
                          links={"kpi_result": "ube-fy2019-audited"})
    s.commit()
    assert earned.resolves_entry_id == tranche.id
    assert resolution_of(s, tranche.id).id == earned.id
    assert entry_state(s, tranche) == "posted" and entry_state(s, earned) == "posted"
    assert posted(s) == {"cash": 48_000_000, "loan:yamaguchi": 50_000_000,
                         "income:grant": 10_000_000, "expense:fees:thl": 12_000_000,
                         "receivable:ube": 2_250_000, "income:outcome:ube": 2_250_000}
    assert pending(s) == {}

    # 6. interest keyed to the wrong account; corrected by a reversal and a new entry
    wrong = post_entry(s, entry("yamaguchi-interest-2019", "interest_payment", date(2020, 3, 10),
                                debit("expense:fees:thl", yen(250_000)),
                                credit("cash", yen(250_000))))
    s.commit()
    assert posted(s)["expense:fees:thl"] == 12_250_000
    assert posted(s)["cash"] == 47_750_000
    reversal = reverse_entry(s, BOOK, wrong.id, "yamaguchi-interest-2019-reversal",
                             date(2020, 3, 12), "interest keyed to service fees")
    right = post_entry(s, entry("yamaguchi-interest-2019-corrected", "interest_payment",
                                date(2020, 3, 12), debit("expense:interest", yen(250_000)),
                                credit("cash", yen(250_000))))
    s.commit()
    assert reversal.reverses_entry_id == wrong.id and reversal_of(s, wrong.id).id == reversal.id
    assert entry_state(s, wrong) == "reversed"
    assert entry_state(s, reversal) == "posted" and entry_state(s, right) == "posted"
    assert entry_state(s, drawdown) == "posted"
    year_end = {"cash": 47_750_000, "loan:yamaguchi": 50_000_000, "income:grant": 10_000_000,
                "expense:fees:thl": 12_000_000, "expense:interest": 250_000,
                "receivable:ube": 2_250_000, "income:outcome:ube": 2_250_000}
    assert posted(s) == year_end and pending(s) == {}

    # the trial balance: debits (cash, receivable, fees, interest) equal credits (loan, grant,
    # outcome income)
    tb = trial_balance(s, BOOK)
    assert tb.total_debit_minor == 47_750_000 + 2_250_000 + 12_000_000 + 250_000 == 62_250_000
    assert tb.total_credit_minor == 50_000_000 + 10_000_000 + 2_250_000 == 62_250_000
    assert tb.balanced

    # 7. close FY2019: its dates are locked, its balances snapshotted
    close_period(s, BOOK, 2019, "twr-finance", "FY2019 year-end close")
    s.commit()
    with pytest.raises(SibError) as refused:
        post_entry(s, entry("late-fee", "service_fee", date(2020, 3, 31),
                            debit("expense:fees:thl", yen(1)), credit("cash", yen(1))))
    assert refused.value.code == "PERIOD_CLOSED"
    s.rollback()
    post_entry(s, entry("thl-fee-2020-04", "service_fee", date(2020, 4, 30),
                        debit("expense:fees:thl", yen(1_000_000)),
                        credit("cash", yen(1_000_000))))
    s.commit()
    assert posted(s) == dict(year_end, **{"cash": 46_750_000, "expense:fees:thl": 13_000_000})

    # balances as of a date: before the close from the postings, after it from the snapshot
    assert balance_as_of(s, BOOK, "cash", date(2019, 6, 30)) == 0
    assert balance_as_of(s, BOOK, "cash", date(2019, 9, 30)) == 48_000_000
    assert balance_as_of(s, BOOK, "cash", date(2020, 3, 10)) == 47_750_000
    assert balance_as_of(s, BOOK, "cash", date(2020, 3, 31)) == 47_750_000
    assert balance_as_of(s, BOOK, "cash", date(2020, 4, 29)) == 47_750_000
    assert balance_as_of(s, BOOK, "cash", date(2020, 4, 30)) == 46_750_000
    assert balance_as_of(s, BOOK, "expense:fees:thl", date(2020, 3, 11)) == 12_250_000
    assert balance_as_of(s, BOOK, "expense:fees:thl", date(2020, 3, 31)) == 12_000_000
    assert balance_as_of(s, BOOK, "receivable:ube", date(2020, 2, 27)) == 0  # pending only
    assert balance_as_of(s, BOOK, "receivable:ube", date(2020, 3, 31)) == 2_250_000
    at_close = trial_balance(s, BOOK, date(2020, 3, 31))
    assert {r.code: r.balance_minor for r in at_close.rows if r.balance_minor} == year_end
    assert at_close.total_debit_minor == at_close.total_credit_minor == 62_250_000
    mid_year = trial_balance(s, BOOK, date(2019, 9, 30))
    assert mid_year.total_debit_minor == mid_year.total_credit_minor == 60_000_000
    now = trial_balance(s, BOOK)
    assert now.total_debit_minor == now.total_credit_minor == 62_250_000

    # the cash statement runs the balance entry by entry
    statement = account_statement(s, BOOK, "cash")
    assert [(ln.effective_on, ln.kind, ln.debit_minor, ln.credit_minor, ln.balance_minor)
            for ln in statement.lines] == [
        (date(2019, 7, 1), "loan_drawdown", 50_000_000, 0, 50_000_000),
        (date(2019, 7, 31), "grant_receipt", 10_000_000, 0, 60_000_000),
        (date(2019, 9, 30), "service_fee", 0, 12_000_000, 48_000_000),
        (date(2020, 3, 10), "interest_payment", 0, 250_000, 47_750_000),
        (date(2020, 3, 12), "reversal", 250_000, 0, 48_000_000),
        (date(2020, 3, 12), "interest_payment", 0, 250_000, 47_750_000),
        (date(2020, 4, 30), "service_fee", 0, 1_000_000, 46_750_000),
    ]
    assert statement.opening_minor == 0 and statement.closing_minor == 46_750_000
    fy2020 = account_statement(s, BOOK, "cash", from_on=date(2020, 4, 1))
    assert fy2020.opening_minor == 47_750_000
    assert [(ln.credit_minor, ln.balance_minor) for ln in fy2020.lines] == [
        (1_000_000, 46_750_000)]

    # nine entries, every one accounted for, and the chain intact
    assert s.scalar(select(func.count()).select_from(Entry)) == 9
    report = verify(s)
    assert report.ok, report.problems
    assert report.books[BOOK]["entries"] == 9
