"""A loan's year as the ledger records it: one computation for every document that shows it.

The lender statement, the year-end report and the settlement pack all show, per loan and
fiscal year, the opening balance, draws, principal repaid, amounts written down or paid by a
guarantor, the closing balance, interest accrued and paid, and the payments made against the
schedule. They are computed here, once, from the postings of the loan's three accounts
(``loan:<id>``, ``interest-expense:<id>``, ``interest-payable:<id>``) read through the ledger's
read model. :func:`loan_year` is pure (postings in, figures out); :func:`read_loan_year` reads
the postings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from contracts.chart import Code, Kind
from ledger import read
from ledger.entries import CREDIT, DEBIT


@dataclass(frozen=True)
class LoanYear:
    """One loan between ``start_on`` and ``end_on`` (inclusive), in minor units.

    Attributes:
        opening_minor / closing_minor: principal outstanding (the loan account's credit
            balance) at the end of the day before ``start_on`` and at the end of ``end_on``.
        draws: (drawn on, amount) in the period.
        repaid_minor: principal repayments in the period.
        written_down_minor / guaranteed_minor: principal written down, and principal paid by a
            guarantor, in the period.
        other_minor: any other movement of principal in the period (a reversal of a draw or
            a repayment, say), so that opening + drawn − repaid − written down − guaranteed −
            other = closing always.
        interest_accrued_minor / interest_paid_minor: interest booked (the periods' interest,
            on the principal outstanding), and interest paid, in the period.
        default_interest_accrued_minor / default_interest_paid_minor: 遅延損害金 booked and
            paid in the period (apart from the interest).
        interest_payable_opening_minor / interest_payable_closing_minor: interest accrued and
            not yet paid, before and at the end of the period.
        payments: (paid on, principal, interest) per payment date from the first payment to
            ``end_on`` (what a schedule is compared against).
        balance_series: (date, principal outstanding at the end of that date) for every date the
            balance moved up to ``end_on``, ending with ``end_on``.
    """

    loan_id: str
    start_on: date
    end_on: date
    opening_minor: int
    draws: tuple[tuple[date, int], ...]
    repaid_minor: int
    written_down_minor: int
    guaranteed_minor: int
    closing_minor: int
    interest_accrued_minor: int
    interest_paid_minor: int
    interest_payable_opening_minor: int
    interest_payable_closing_minor: int
    payments: tuple[tuple[date, int, int], ...]
    balance_series: tuple[tuple[date, int], ...]
    default_interest_accrued_minor: int = 0
    default_interest_paid_minor: int = 0

    @property
    def drawn_minor(self) -> int:
        return sum(amount for _, amount in self.draws)

    @property
    def other_minor(self) -> int:
        return (self.opening_minor + self.drawn_minor - self.repaid_minor
                - self.written_down_minor - self.guaranteed_minor - self.closing_minor)


def loan_year(loan_id: str, postings: Iterable[read.PostingView], start_on: date,
              end_on: date) -> LoanYear:
    """The loan's figures for the period from the postings of its accounts up to ``end_on``."""
    principal, interest_expense, interest_payable = (
        Code.loan(loan_id), Code.interest_expense(loan_id), Code.interest_payable(loan_id))
    opening = closing = repaid = written = guaranteed = accrued = paid_interest = 0
    default_accrued = default_paid = 0
    payable_opening = payable_closing = 0
    draws: list[tuple[date, int]] = []
    payments: dict[date, list[int]] = {}
    by_day: dict[date, int] = {}
    for p in postings:
        if p.effective_on > end_on:
            continue
        in_period = p.effective_on >= start_on
        if p.account == principal:
            change = p.amount_minor if p.side == CREDIT else -p.amount_minor
            by_day[p.effective_on] = by_day.get(p.effective_on, 0) + change
            closing += change
            if not in_period:
                opening += change
            elif p.side == CREDIT and p.kind == Kind.LOAN_DRAWDOWN:
                draws.append((p.effective_on, p.amount_minor))
            elif p.side == DEBIT and p.kind == Kind.PRINCIPAL_REPAYMENT:
                repaid += p.amount_minor
            elif p.side == DEBIT and p.kind == Kind.WRITE_DOWN:
                written += p.amount_minor
            elif p.side == DEBIT and p.kind == Kind.GUARANTEE_DRAW:
                guaranteed += p.amount_minor
            if p.side == DEBIT and p.kind == Kind.PRINCIPAL_REPAYMENT:
                payments.setdefault(p.effective_on, [0, 0])[0] += p.amount_minor
        elif p.account == interest_expense and in_period:
            if p.kind == Kind.DEFAULT_INTEREST_ACCRUAL:
                default_accrued += p.debit_minor - p.credit_minor
            elif p.kind != Kind.PREPAYMENT_FEE:
                accrued += p.debit_minor - p.credit_minor
        elif p.account == interest_payable:
            payable_closing += p.credit_minor - p.debit_minor
            if not in_period:
                payable_opening += p.credit_minor - p.debit_minor
            if p.side == DEBIT and p.kind == Kind.INTEREST_PAYMENT:
                payments.setdefault(p.effective_on, [0, 0])[1] += p.amount_minor
                if in_period:
                    paid_interest += p.amount_minor
            if p.side == DEBIT and p.kind == Kind.DEFAULT_INTEREST_PAYMENT and in_period:
                default_paid += p.amount_minor
    series, balance = [], 0
    for on in sorted(by_day):
        balance += by_day[on]
        series.append((on, balance))
    if not series or series[-1][0] < end_on:
        series.append((end_on, balance))
    return LoanYear(loan_id, start_on, end_on, opening, tuple(draws), repaid, written, guaranteed,
                    closing, accrued, paid_interest, payable_opening, payable_closing,
                    tuple((on, pr, it) for on, (pr, it) in sorted(payments.items())),
                    tuple(series), default_accrued, default_paid)


def read_loan_year(session: Session, contract_id: str, loan_id: str, start_on: date,
                   end_on: date) -> LoanYear:
    """:func:`loan_year` on the loan's postings in the contract's book."""
    found = read.postings(session, contract_id, through_on=end_on,
                          accounts=[Code.loan(loan_id), Code.interest_expense(loan_id),
                                    Code.interest_payable(loan_id)])
    return loan_year(loan_id, found, start_on, end_on)
