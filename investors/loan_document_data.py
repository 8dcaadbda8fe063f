"""The data of the three loan documents a bank receives besides its statement (issue 11, item 5):
the balance confirmation (残高証明書) of one loan as of a date, the interest statement (利息計算書)
of one due date, and the repayment notice (返済予定通知書) sent before a due date.

Immutable records, filled by :mod:`investors.loan_documents` from the ledger through
:func:`settlement.debt_service.read_state` and the ledger's read model; rendered by
:mod:`investors.pdf_loan_documents` (which formats and never computes money) and written as
JSON by :func:`document_json`. Each record checks on construction the identities a credit
officer checks by hand — the arrears add up to the overdue totals, an interest period's
stretches add up to its exact interest and that rounds to the interest due, a notice's lines
add up to its total — so an inconsistent document cannot even be built. Pure: no database,
web or PDF code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, ClassVar, Literal

from investors.statement_data import DocumentHeader, Party, Text
from ledger.errors import SibError
from ledger.money import amount_text
from ledger.money_json import MoneyJSON
from ledger.rounding import RoundingMode, round_minor

Component = Literal["default_interest", "interest", "principal"]


def _check(ok: bool, message: str, code: str, field: str) -> None:
    if not ok:
        raise SibError(message, code, field)


@dataclass(frozen=True)
class LoanParties:
    """Which loan a document is about and between whom.

    Attributes:
        loan_id: the loan's id in the contract.
        name: what the bank calls the loan (``loan.name_ja``, or the lender's name and 貸付金).
        lender: the bank (the issuer of a confirmation).
        borrower: the SPV or intermediary (its addressee).
        rate_annual: the loan's yearly interest rate (``Fraction(2, 100)`` = 2 %).
        default_rate_annual: the yearly 遅延損害金 rate, None when the loan has none.
        day_count: the day count and the ends of a period counted, in both languages.
        commitment_minor: the amount the bank committed (融資枠).
    """

    loan_id: str
    name: Text
    lender: Party
    borrower: Party
    rate_annual: Fraction
    default_rate_annual: Fraction | None
    day_count: Text
    commitment_minor: int


@dataclass(frozen=True)
class Arrear:
    """One due date with something unpaid at the document's date.

    Attributes:
        due_on: the due date.
        principal_minor / interest_minor: principal and interest fallen due and unpaid.
        days_late: days from the day after the due date to the document's date, both counted.
        default_interest_minor: the 遅延損害金 this due date has run up to the document's date.
        default_interest_paid_minor: what of it has been paid.
    """

    due_on: date
    principal_minor: int
    interest_minor: int
    days_late: int
    default_interest_minor: int
    default_interest_paid_minor: int

    @property
    def default_interest_owed_minor(self) -> int:
        return self.default_interest_minor - self.default_interest_paid_minor


@dataclass(frozen=True)
class ScheduledDue:
    """A due date ahead and what its schedule asks for (interest on the principal performing
    at the document's date).

    Attributes:
        number: the instalment's number (1-based).
        due_on: the due date (already moved to a bank business day).
        principal_minor / interest_minor: what falls due on it.
    """

    number: int
    due_on: date
    principal_minor: int
    interest_minor: int

    @property
    def total_minor(self) -> int:
        return self.principal_minor + self.interest_minor


@dataclass(frozen=True)
class BalanceConfirmation:
    """残高証明書: one loan at the end of ``as_of``.

    Attributes:
        header: the common header.
        loan: the loan and its parties.
        as_of: the day the balances are confirmed at (at the end of that day).
        issued_on: the day the confirmation is issued (never before ``as_of``).
        principal_minor: principal outstanding: the loan account's balance at the end of
            ``as_of``.
        drawn_minor: drawn to ``as_of`` (the loan account's draws).
        overdue_principal_minor / overdue_interest_minor: fallen due and unpaid at ``as_of``.
        default_interest_owed_minor: 遅延損害金 run up to ``as_of`` and not paid.
        interest_running_minor: interest since the last due date, counting ``as_of``, not due
            yet (経過利息).
        interest_payable_minor: interest and 遅延損害金 booked and not paid: the
            interest-payable account's balance at the end of ``as_of``.
        default_interest_booked_minor: the part of it that is 遅延損害金.
        arrears: each due date with something unpaid.
        next_due: the next due date after ``as_of`` and its scheduled amounts, if any.
    """

    kind: ClassVar[str] = "loan_confirmation"
    header: DocumentHeader
    loan: LoanParties
    as_of: date
    issued_on: date
    principal_minor: int
    drawn_minor: int
    overdue_principal_minor: int
    overdue_interest_minor: int
    default_interest_owed_minor: int
    interest_running_minor: int
    interest_payable_minor: int
    default_interest_booked_minor: int
    arrears: tuple[Arrear, ...]
    next_due: ScheduledDue | None

    def __post_init__(self) -> None:
        _check(self.issued_on >= self.as_of, f"a confirmation as of {self.as_of} cannot be "
               f"issued on {self.issued_on}, before that date", "CONFIRMATION_BEFORE_AS_OF",
               "issued_on")
        sums = (sum(a.principal_minor for a in self.arrears),
                sum(a.interest_minor for a in self.arrears),
                sum(a.default_interest_owed_minor for a in self.arrears))
        totals = (self.overdue_principal_minor, self.overdue_interest_minor,
                  self.default_interest_owed_minor)
        _check(sums == totals, f"loan {self.loan.loan_id}: the arrears add up to {sums}, the "
               f"totals say {totals}", "LOAN_ARREARS_UNBALANCED", "arrears")
        _check(0 <= self.overdue_principal_minor <= self.principal_minor,
               f"loan {self.loan.loan_id}: overdue principal "
               f"{amount_text(self.overdue_principal_minor, self.header.currency)} is more than "
               f"the {amount_text(self.principal_minor, self.header.currency)} outstanding",
               "LOAN_OVERDUE_EXCEEDS_BALANCE", "overdue_principal_minor")

    @property
    def undrawn_minor(self) -> int:
        """The commitment not drawn (未実行額); never negative on a document."""
        return max(self.loan.commitment_minor - self.drawn_minor, 0)

    @property
    def interest_payable_not_due_minor(self) -> int:
        """Booked interest not yet due (a year-end accrual of the running period)."""
        return (self.interest_payable_minor - self.overdue_interest_minor
                - self.default_interest_booked_minor)


@dataclass(frozen=True)
class InterestStretch:
    """A stretch of an interest period on a constant principal.

    Attributes:
        since_on / until_on: the stretch's first day and the day it ends on.
        principal_minor: the principal it ran on.
        days: the days counted (片端: ``since_on`` counted, ``until_on`` not).
        basis_days: the year's days of the day count (365 for ACT/365F).
        rate_annual: the yearly rate.
        exact_minor: principal × rate × days / basis, exact.
    """

    since_on: date
    until_on: date
    principal_minor: int
    days: int
    basis_days: int
    rate_annual: Fraction
    exact_minor: Fraction


@dataclass(frozen=True)
class Paid:
    """A payment against the due date: value date and amount."""

    paid_on: date
    amount_minor: int


@dataclass(frozen=True)
class InterestStatement:
    """利息計算書: how one due date's interest was computed, and what was paid of it.

    Attributes:
        header: the common header.
        loan: the loan and its parties.
        as_of: the day payments and 遅延損害金 are counted to.
        number: the instalment's number.
        due_on: the due date (the period's last day, not counted under 片端).
        period_start_on: the period's first day.
        stretches: the period in stretches of constant principal.
        exact_minor: the interest before rounding (the stretches' sum).
        rounding: the rounding mode of the loan (truncation for a Japanese bank).
        interest_minor: the interest due: ``exact_minor`` rounded once.
        payments: interest paid against the due date, by value date.
        default_interest_minor: 遅延損害金 the due date has run up to ``as_of``.
        default_interest_payments: 遅延損害金 paid against the due date.
        trace: the calculation's trace, line by line in both languages.
    """

    kind: ClassVar[str] = "interest_statement"
    header: DocumentHeader
    loan: LoanParties
    as_of: date
    number: int
    due_on: date
    period_start_on: date
    stretches: tuple[InterestStretch, ...]
    exact_minor: Fraction
    rounding: RoundingMode
    interest_minor: int
    payments: tuple[Paid, ...]
    default_interest_minor: int
    default_interest_payments: tuple[Paid, ...]
    trace: tuple[Text, ...]

    def __post_init__(self) -> None:
        total = sum((s.exact_minor for s in self.stretches), Fraction(0))
        _check(total == self.exact_minor, f"the stretches add up to {total}, not "
               f"{self.exact_minor}", "INTEREST_STRETCHES_UNBALANCED", "stretches")
        rounded = round_minor(self.exact_minor, self.rounding)
        _check(rounded == self.interest_minor, f"{self.exact_minor} rounded ({self.rounding}) "
               f"is {rounded}, not {self.interest_minor}", "INTEREST_ROUNDING_MISMATCH",
               "interest_minor")

    @property
    def interest_paid_minor(self) -> int:
        return sum(p.amount_minor for p in self.payments)

    @property
    def interest_unpaid_minor(self) -> int:
        """Interest of the due date not paid by ``as_of`` (overdue once the date is past)."""
        return self.interest_minor - self.interest_paid_minor

    @property
    def default_interest_paid_minor(self) -> int:
        return sum(p.amount_minor for p in self.default_interest_payments)

    @property
    def rounding_dropped_minor(self) -> Fraction:
        """What the rounding took away."""
        return self.exact_minor - self.interest_minor


@dataclass(frozen=True)
class NoticeLine:
    """One amount a repayment notice asks for: its component and the due date it belongs to."""

    component: Component
    due_on: date
    amount_minor: int


@dataclass(frozen=True)
class RepaymentNotice:
    """返済予定通知書: what the borrower will owe the bank on ``due_on``, as the ledger stands at
    ``notice_on`` (payments after that day not yet known).

    Attributes:
        header: the common header.
        loan: the loan and its parties.
        notice_on: the day of the notice (the ledger read to the end of it).
        due_on: the due date the notice is for.
        number: its instalment number.
        lines: the amounts owed on ``due_on``: this date's interest and principal, and any
            arrears of earlier dates with their 遅延損害金 run up to ``due_on``.
        principal_after_minor: principal outstanding after the notice is paid.
    """

    kind: ClassVar[str] = "repayment_notice"
    header: DocumentHeader
    loan: LoanParties
    notice_on: date
    due_on: date
    number: int
    lines: tuple[NoticeLine, ...]
    principal_after_minor: int

    def __post_init__(self) -> None:
        _check(self.notice_on <= self.due_on, f"a notice for {self.due_on} cannot be dated "
               f"{self.notice_on}, after it", "NOTICE_AFTER_DUE_DATE", "notice_on")

    def amount(self, component: Component, current: bool) -> int:
        """The amount of a component owed on this due date (``current``) or in arrears."""
        return sum(line.amount_minor for line in self.lines if line.component == component
                   and (line.due_on == self.due_on) == current)

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


LoanDocument = BalanceConfirmation | InterestStatement | RepaymentNotice


# --------------------------------------------------------------------------- JSON

def _money(amount_minor: int, currency: str) -> dict[str, str]:
    return MoneyJSON.from_minor(amount_minor, currency).model_dump()


def _exact(value: Fraction) -> str:
    """An exact amount as text: a decimal when it terminates, else ``numerator/denominator``."""
    return str(value) if value.denominator != 1 else str(value.numerator)


def _loan_json(loan: LoanParties, cur: str) -> dict[str, Any]:
    return {"id": loan.loan_id, "name": {"ja": loan.name.ja, "en": loan.name.en},
            "lender": {"id": loan.lender.party_id, "ja": loan.lender.name.ja,
                       "en": loan.lender.name.en},
            "borrower": {"id": loan.borrower.party_id, "ja": loan.borrower.name.ja,
                         "en": loan.borrower.name.en},
            "rate_annual": _rate(loan.rate_annual),
            "default_rate_annual": None if loan.default_rate_annual is None
            else _rate(loan.default_rate_annual),
            "day_count": {"ja": loan.day_count.ja, "en": loan.day_count.en},
            "commitment": _money(loan.commitment_minor, cur)}


def _rate(value: Fraction) -> str:
    """A rate as an exact decimal string (``"0.146"``) when it has one within 12 places, else
    as ``numerator/denominator``."""
    for places in range(13):
        scaled = value * 10 ** places
        if scaled.denominator == 1:
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            sign = "-" if value < 0 else ""
            return f"{sign}{digits[:-places]}.{digits[-places:]}" if places \
                else f"{sign}{digits}"
    return _exact(value)


def _head(doc: LoanDocument) -> dict[str, Any]:
    h = doc.header
    return {"document": doc.kind, "document_id": h.document_id, "contract": h.contract_id,
            "generated_at": h.generated_at.isoformat(), "ledger_state_hash": h.ledger_state_hash,
            "currency": h.currency, "loan": _loan_json(doc.loan, h.currency)}


def document_json(doc: LoanDocument) -> dict[str, Any]:
    """The document as JSON data: amounts as ``{"amount": "…", "currency": "JPY"}``, dates ISO,
    rates and exact amounts as exact strings."""
    cur = doc.header.currency
    out = _head(doc)
    if isinstance(doc, BalanceConfirmation):
        out.update({
            "as_of": doc.as_of.isoformat(), "issued_on": doc.issued_on.isoformat(),
            "principal": _money(doc.principal_minor, cur),
            "drawn": _money(doc.drawn_minor, cur), "undrawn": _money(doc.undrawn_minor, cur),
            "overdue_principal": _money(doc.overdue_principal_minor, cur),
            "overdue_interest": _money(doc.overdue_interest_minor, cur),
            "default_interest_owed": _money(doc.default_interest_owed_minor, cur),
            "interest_running": _money(doc.interest_running_minor, cur),
            "interest_payable_booked": _money(doc.interest_payable_minor, cur),
            "default_interest_booked": _money(doc.default_interest_booked_minor, cur),
            "arrears": [{"due_on": a.due_on.isoformat(), "days_late": a.days_late,
                         "principal": _money(a.principal_minor, cur),
                         "interest": _money(a.interest_minor, cur),
                         "default_interest": _money(a.default_interest_minor, cur),
                         "default_interest_paid": _money(a.default_interest_paid_minor, cur),
                         "default_interest_owed": _money(a.default_interest_owed_minor, cur)}
                        for a in doc.arrears],
            "next_due": None if doc.next_due is None else {
                "number": doc.next_due.number, "due_on": doc.next_due.due_on.isoformat(),
                "principal": _money(doc.next_due.principal_minor, cur),
                "interest": _money(doc.next_due.interest_minor, cur),
                "total": _money(doc.next_due.total_minor, cur)}})
    elif isinstance(doc, InterestStatement):
        out.update({
            "as_of": doc.as_of.isoformat(), "number": doc.number,
            "due_on": doc.due_on.isoformat(), "period_start_on": doc.period_start_on.isoformat(),
            "stretches": [{"since_on": s.since_on.isoformat(), "until_on": s.until_on.isoformat(),
                           "principal": _money(s.principal_minor, cur), "days": s.days,
                           "basis_days": s.basis_days, "rate_annual": _rate(s.rate_annual),
                           "exact_minor": _exact(s.exact_minor)} for s in doc.stretches],
            "exact_minor": _exact(doc.exact_minor), "rounding": doc.rounding.value,
            "interest": _money(doc.interest_minor, cur),
            "payments": [{"paid_on": p.paid_on.isoformat(), "amount": _money(p.amount_minor, cur)}
                         for p in doc.payments],
            "interest_paid": _money(doc.interest_paid_minor, cur),
            "interest_unpaid": _money(doc.interest_unpaid_minor, cur),
            "default_interest": _money(doc.default_interest_minor, cur),
            "default_interest_payments": [
                {"paid_on": p.paid_on.isoformat(), "amount": _money(p.amount_minor, cur)}
                for p in doc.default_interest_payments],
            "trace": {"ja": [t.ja for t in doc.trace], "en": [t.en for t in doc.trace]}})
    else:
        out.update({
            "notice_on": doc.notice_on.isoformat(), "due_on": doc.due_on.isoformat(),
            "number": doc.number,
            "lines": [{"component": line.component, "due_on": line.due_on.isoformat(),
                       "amount": _money(line.amount_minor, cur)} for line in doc.lines],
            "total": _money(doc.total_minor, cur),
            "principal_after": _money(doc.principal_after_minor, cur)})
    return out
