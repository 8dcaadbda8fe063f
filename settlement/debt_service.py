"""Debt service posted: instalments paid on their due dates from the vehicle's cash, arrears
and 遅延損害金, prepayments and cash sweeps — the one way a loan gets paid.

:func:`service` walks the dates from the last one serviced to ``through_on``: every loan's due
dates and every date cash came in while something is overdue. On each it accrues the interest
that fell due and the default interest run up, then pays what is owed from the cash available
(:mod:`settlement.servicing` decides what and in which order). Each payment is an entry that
names the due date it settles (``links.due_on``; none for a prepayment), so statements read
back exactly which instalment was paid, when, and how late. The waterfall
(:func:`settlement.payments.distribute`) and the year-end close call it first; a loan is
never paid by a second route.

Cash available on a date is the cash balance less what is already owed out of it (unit
holders' distributions payable, withholding payable), and never more than the lowest such
balance on any later date already in the books — so servicing a past date cannot overdraw a
payment posted after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from sqlmodel import Session

from contracts.chart import Code, Kind
from contracts.instruments import Loan
from contracts.model import Contract
from contracts.store import get_contract
from ledger import read
from ledger.entries import CREDIT, DEBIT, EntryDraft, credit, debit
from ledger.errors import Conflict, NotFound, Problems
from ledger.money import amount_text, from_minor
from ledger.rounding import round_minor
from ledger.service import EntryRecord, get_book, post_entry
from settlement.schedules import Schedule
from settlement.servicing import (
    Due,
    LoanRecord,
    LoanState,
    Payment,
    Reduction,
    loan_state,
    nominal_schedule,
    owed_on,
    pay,
)
from settlement.trace import Trace

KEY = "service"
"""Idempotency keys of debt service start ``<contract>:service:``."""

_PAYMENT_KINDS = {"interest": Kind.INTEREST_PAYMENT, "principal": Kind.PRINCIPAL_REPAYMENT,
                  "default_interest": Kind.DEFAULT_INTEREST_PAYMENT}


def _post(session: Session, contract: Contract, key: str, kind: str, on: date, amount: int,
          debit_account: str, credit_account: str, description: str,
          links: dict[str, Any]) -> EntryRecord:
    money = from_minor(amount, contract.currency)
    return post_entry(session, EntryDraft(contract.id, key, kind, on,
                                          [debit(debit_account, money),
                                           credit(credit_account, money)],
                                          description, links))


# --------------------------------------------------------------------------- reading

def read_record(session: Session, contract_id: str, loan_id: str,
                through_on: date | None = None) -> LoanRecord:
    """The loan as the ledger records it: draws, payments (each against the due date its
    entry names) and guarantee draws / write-downs."""
    found = read.postings(session, contract_id, through_on=through_on,
                          accounts=[Code.loan(loan_id), Code.interest_payable(loan_id)])
    return record_from_postings(loan_id, found)


def record_from_postings(loan_id: str, postings: Iterable[read.PostingView]) -> LoanRecord:
    """:class:`LoanRecord` from the postings of the loan's principal and interest-payable
    accounts (pure)."""
    draws: list[tuple[date, int]] = []
    payments: list[Payment] = []
    reductions: list[Reduction] = []
    for p in postings:
        due = p.links.get("due_on")
        due_on = date.fromisoformat(due) if isinstance(due, str) else None
        if p.account == Code.loan(loan_id):
            if p.side == CREDIT and p.kind == Kind.LOAN_DRAWDOWN:
                draws.append((p.effective_on, p.amount_minor))
            elif p.side == DEBIT and p.kind == Kind.PRINCIPAL_REPAYMENT:
                payments.append(Payment(p.effective_on, "principal", p.amount_minor, due_on))
            elif p.side == DEBIT and p.kind == Kind.GUARANTEE_DRAW:
                reductions.append(Reduction(p.effective_on, "guarantee", p.amount_minor))
            elif p.side == DEBIT and p.kind == Kind.WRITE_DOWN:
                reductions.append(Reduction(p.effective_on, "write_down", p.amount_minor))
        elif p.account == Code.interest_payable(loan_id) and p.side == DEBIT:
            if p.kind == Kind.INTEREST_PAYMENT:
                payments.append(Payment(p.effective_on, "interest", p.amount_minor, due_on))
            elif p.kind == Kind.DEFAULT_INTEREST_PAYMENT:
                payments.append(Payment(p.effective_on, "default_interest", p.amount_minor,
                                        due_on))
    return LoanRecord(tuple(draws), tuple(payments), tuple(reductions))


def read_state(session: Session, contract: Contract, loan: Loan, as_of: date,
               schedule: Schedule | None = None) -> LoanState:
    """The loan at the end of ``as_of`` from the ledger: every instalment, paid, overdue,
    default interest."""
    return loan_state(loan, read_record(session, contract.id, loan.id, as_of), as_of,
                      schedule or nominal_schedule(loan))


def find_loan(contract: Contract, loan_id: str) -> Loan:
    loan = next((ln for ln in contract.loans if ln.id == loan_id), None)
    if loan is None:
        raise NotFound(f"contract {contract.id} has no loan {loan_id!r}; its loans: "
                       f"{', '.join(ln.id for ln in contract.loans) or 'none'}",
                       "LOAN_NOT_FOUND", "loan")
    return loan


def available_cash(session: Session, contract: Contract, on: date) -> int:
    """Cash the vehicle may spend on ``on``: the cash balance less distributions payable to
    unit holders and withholding payable, at the end of ``on`` and at every later date already
    posted (the lowest of them)."""
    reserved = [Code.distributions_payable(u.id) for u in contract.unit_classes] + \
        [Code.WITHHOLDING_PAYABLE]
    found = read.postings(session, contract.id, accounts=[Code.CASH, *reserved])
    balance_at: dict[date, int] = {}
    for p in found:
        change = p.debit_minor - p.credit_minor if p.account == Code.CASH \
            else -(p.credit_minor - p.debit_minor)
        balance_at[p.effective_on] = balance_at.get(p.effective_on, 0) + change
    running, lowest = 0, None
    for day_on in sorted(balance_at):
        running += balance_at[day_on]
        if day_on >= on:
            lowest = running if lowest is None else min(lowest, running)
    now = sum(v for d, v in balance_at.items() if d <= on)
    return max(min(now, lowest) if lowest is not None else now, 0)


@dataclass(frozen=True)
class ScheduleLine:
    """One due date of a loan, scheduled against what the ledger records, at ``as_of``: what
    every document and the API show as "schedule against actual".

    ``scheduled_*`` is the schedule as it now stands (rebuilt after any prepayment);
    ``paid_*`` what was paid against this due date (on ``paid_on``); ``overdue`` what is
    still unpaid of it after its due date; ``actual_closing`` the loan account's balance at
    the end of the due date (None when it is still ahead).
    """

    number: int
    due_on: date
    scheduled_principal: int
    scheduled_interest: int
    paid_principal: int
    paid_interest: int
    paid_on: tuple[date, ...]
    overdue: int
    default_interest: int
    default_interest_paid: int
    recovered: int
    written_down: int
    status: str
    scheduled_closing: int
    actual_closing: int | None


def schedule_against_actual(session: Session, contract: Contract, loan: Loan,
                            as_of: date) -> list[ScheduleLine]:
    """Every due date of the loan at the end of ``as_of``, from the ledger (the one reading
    of a loan's instalments: lender statement, pack, ``sib schedule``, API)."""
    record = read_record(session, contract.id, loan.id, as_of)
    state = loan_state(loan, record, as_of)
    out, scheduled = [], 0
    for i in state.instalments:
        scheduled += i.principal_minor
        prepaid = sum(p.amount_minor for p in record.payments
                      if p.due_on is None and p.component == "principal"
                      and p.paid_on <= i.due_on)
        drawn = sum(a for on, a in record.draws if on <= i.due_on)
        out.append(ScheduleLine(
            i.number, i.due_on, i.principal_minor, i.interest_minor, i.principal_paid_minor,
            i.interest_paid_minor, i.paid_on, i.overdue_minor, i.default_interest_minor,
            i.default_interest_paid_minor, i.recovered_minor, i.written_down_minor, i.status,
            max(drawn - scheduled - prepaid, 0),
            record.outstanding_on(i.due_on) if i.due_on <= as_of else None))
    return out


def books_date(session: Session, contract_id: str) -> date:
    """The latest date the contract's book has anything on (its "today" for statements
    asked without a date)."""
    found = read.entries(session, contract_id)
    return max((e.effective_on for e in found), default=date.today())


# --------------------------------------------------------------------------- servicing

@dataclass
class ServiceDay:
    """What one service date did: interest accrued, payments made (each against its due
    date) and what stayed overdue."""

    on: date
    available_minor: int
    paid: list[tuple[Due, int]] = field(default_factory=list)
    overdue: list[Due] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    trace: Trace | None = None

    @property
    def paid_minor(self) -> int:
        return sum(amount for _, amount in self.paid)


@dataclass
class ServiceRun:
    """Every service date of one run, in date order."""

    contract_id: str
    through_on: date
    days: list[ServiceDay] = field(default_factory=list)

    @property
    def entries(self) -> list[int]:
        return [e for d in self.days for e in d.entries]

    @property
    def overdue(self) -> list[Due]:
        return self.days[-1].overdue if self.days else []


def serviced_through(session: Session, contract_id: str) -> date | None:
    """The last date debt service posted anything for (accruals included)."""
    found = read.entries(session, contract_id, key_prefix=f"{contract_id}:{KEY}:")
    return max((e.effective_on for e in found), default=None)


def service(session: Session, contract_id: str, through_on: date) -> ServiceRun:
    """Pay every instalment falling due up to ``through_on`` on its due date, as far as the
    cash allows; what cannot be paid stays overdue and runs up default interest until a later
    date with cash pays it. Dates already serviced are not serviced again (a rerun posts
    nothing)."""
    contract = get_contract(session, contract_id)
    get_book(session, contract.id, lock=True)
    run = ServiceRun(contract.id, through_on)
    if not contract.loans:
        return run
    schedules = {loan.id: nominal_schedule(loan) for loan in contract.loans}
    after = serviced_through(session, contract.id)
    for on in _service_dates(session, contract, schedules, after, through_on):
        run.days.append(_service_day(session, contract, schedules, on))
    return run


def _service_dates(session: Session, contract: Contract, schedules: dict[str, Schedule],
                   after: date | None, through_on: date) -> list[date]:
    """Due dates of every loan, and dates cash came in, after ``after`` up to ``through_on``."""
    dates = {row.due_on for s in schedules.values() for row in s.rows}
    dates |= {p.effective_on for p in read.postings(session, contract.id, account=Code.CASH,
                                                    side=DEBIT, through_on=through_on)}
    return sorted(d for d in dates if d <= through_on and (after is None or d > after))


def _service_day(session: Session, contract: Contract, schedules: dict[str, Schedule],
                 on: date) -> ServiceDay:
    """Accrue what fell due on ``on`` and pay what is owed from the cash available."""
    states = {}
    entries: list[int] = []
    for loan in contract.loans:
        state = read_state(session, contract, loan, on, schedules[loan.id])
        entries += _accrue(session, contract, loan, state, on)
        states[loan.id] = state
    owed = [due for loan in contract.loans for due in owed_on(loan, states[loan.id])]
    available = available_cash(session, contract, on) if owed else 0
    day = ServiceDay(on, available, entries=entries)
    if not owed:
        return day
    paid, day.trace = pay(available, owed)
    for due, amount in paid:
        day.entries.append(_post_payment(session, contract, due, amount, on).id or 0)
    day.paid = paid
    settled = {(d.loan_id, d.component, d.due_on): a for d, a in paid}
    day.overdue = [Due(d.loan_id, d.lender, d.seniority, d.component, d.due_on,
                       d.amount_minor - settled.get((d.loan_id, d.component, d.due_on), 0))
                   for d in owed
                   if d.amount_minor > settled.get((d.loan_id, d.component, d.due_on), 0)]
    return day


def _accrue(session: Session, contract: Contract, loan: Loan, state: LoanState,
            on: date) -> list[int]:
    """Book the interest of every period ended by ``on`` and the default interest run up to
    ``on``, as far as not booked yet (a year-end accrual may have booked part of it)."""
    due_interest = sum(i.interest_minor for i in state.instalments if i.is_due)
    return _book(session, contract, loan, state, on, due_interest,
                 f"{contract.id}:{KEY}:{on}:{loan.id}:{{suffix}}",
                 {"contract": contract.id, "loan": loan.id, KEY: on.isoformat()},
                 f"Interest due on {on}")


def _book(session: Session, contract: Contract, loan: Loan, state: LoanState, on: date,
          interest_minor: int, key: str, links: dict[str, Any], wording: str) -> list[int]:
    """Bring the loan's booked interest up to ``interest_minor`` and its booked default
    interest up to what the state has run up (each as far as not booked yet), on ``on``.
    ``key`` is the entries' idempotency key with ``{suffix}`` for ``accrue`` / ``default``."""
    out = []
    payable = Code.interest_payable(loan.id)
    for kind, target, suffix, what in (
            (Kind.INTEREST_ACCRUAL, interest_minor, "accrue", wording),
            (Kind.DEFAULT_INTEREST_ACCRUAL,
             sum(i.default_interest_minor for i in state.instalments), "default",
             f"Default interest (遅延損害金) to {on}")):
        booked = read.totals(session, contract.id, payable, kinds=[kind]).credits_minor
        if target > booked:
            out.append(_post(session, contract, key.replace("{suffix}", suffix), kind, on,
                             target - booked,
                             Code.interest_expense(loan.id), payable,
                             f"{what} — {loan.id}", links).id or 0)
    return out


def _post_payment(session: Session, contract: Contract, due: Due, amount: int,
                  on: date) -> EntryRecord:
    account = Code.loan(due.loan_id) if due.component == "principal" \
        else Code.interest_payable(due.loan_id)
    late = on > due.due_on
    links = {"contract": contract.id, "loan": due.loan_id, "party": due.lender,
             "step": due.component, "component": due.component,
             "due_on": due.due_on.isoformat(), KEY: on.isoformat(), "late": late}
    what = {"interest": "Interest", "principal": "Principal",
            "default_interest": "Default interest (遅延損害金)"}[due.component]
    return _post(session, contract,
                 f"{contract.id}:{KEY}:{on}:{due.loan_id}:{due.component}:{due.due_on}",
                 _PAYMENT_KINDS[due.component], on, amount, account, Code.CASH,
                 f"{what} due {due.due_on}{' (paid late)' if late else ''} — {due.loan_id}",
                 links)


# --------------------------------------------------------------------------- year end

def accrue_to(session: Session, contract: Contract, on: date, tag: str,
              fiscal_year: int | None = None) -> list[int]:
    """Book each loan's interest earned to the end of ``on`` (the periods due, and what has
    run since the last due date, counting ``on``) and the default interest run up to it."""
    out = []
    for loan in contract.loans:
        state = read_state(session, contract, loan, on)
        earned = sum(i.interest_minor for i in state.instalments if i.is_due) \
            + state.interest_running_minor
        links: dict[str, Any] = {"contract": contract.id, "loan": loan.id}
        if fiscal_year is not None:
            links["fiscal_year"] = fiscal_year
        out += _book(session, contract, loan, state, on, earned,
                     f"{tag}:{{suffix}}:{loan.id}", links, f"Interest accrued to {on}")
    return out


# --------------------------------------------------------------------------- prepayment

@dataclass(frozen=True)
class PrepaymentResult:
    loan_id: str
    on: date
    amount_minor: int
    fee_minor: int
    entries: tuple[int, ...]
    schedule_after: LoanState


def prepay(session: Session, contract_id: str, loan_id: str, amount_minor: int,
           on: date) -> PrepaymentResult:
    """Repay ``amount_minor`` of the loan's principal ahead of its schedule on ``on``, under
    its prepayment terms (allowed from, minimum, fee), after servicing everything due to that
    date; the remaining schedule is rebuilt by the terms' effect. Refused, with nothing
    written, when the loan has no prepayment terms, the date is too early, the amount is
    under the minimum or over the principal not yet due, something is overdue, or the cash is
    short. The same prepayment again is refused ``ALREADY_PREPAID``."""
    contract = get_contract(session, contract_id)
    loan = find_loan(contract, loan_id)
    key = f"{contract.id}:prepay:{loan.id}:{on}"
    if read.entries(session, contract.id, key_prefix=key):
        raise Conflict(f"a prepayment of {loan.id} on {on} is already posted",
                       "ALREADY_PREPAID", "on")
    terms = loan.prepayment
    problems = Problems()

    def money(amount: int) -> str:
        return amount_text(amount, contract.currency)
    if terms is None:
        problems.add("LOAN_PREPAYMENT_NOT_ALLOWED", f"loan {loan.id} has no prepayment terms: "
                     "its agreement does not allow repaying ahead of the schedule", "loan")
        problems.raise_if_any()
    assert terms is not None
    if terms.allowed_from is not None and on < terms.allowed_from:
        problems.add("LOAN_PREPAYMENT_TOO_EARLY", f"loan {loan.id} may be prepaid from "
                     f"{terms.allowed_from}, not on {on}", "on")
    if amount_minor <= 0 or amount_minor < terms.minimum_minor:
        problems.add("LOAN_PREPAYMENT_BELOW_MINIMUM", f"a prepayment of {loan.id} is at least "
                     f"{money(max(terms.minimum_minor, 1))}; got {money(amount_minor)}",
                     "amount")
    problems.raise_if_any()
    run = service(session, contract.id, on)
    state = read_state(session, contract, loan, on)
    overdue = state.overdue_interest_minor + state.overdue_principal_minor \
        + state.default_interest_owed_minor
    not_due = state.outstanding_minor - state.overdue_principal_minor
    if overdue:
        problems.add("LOAN_PREPAYMENT_WITH_ARREARS", f"loan {loan.id} has {money(overdue)} overdue "
                     f"on {on}; arrears are paid before any prepayment", "loan")
    if amount_minor > not_due:
        problems.add("LOAN_PREPAYMENT_EXCEEDS_BALANCE", f"only {money(not_due)} of {loan.id}'s "
                     f"principal is not yet due on {on}; a prepayment of {money(amount_minor)} "
                     "is more", "amount")
    fee = round_minor(Fraction(amount_minor) * Fraction(terms.fee_rate),
                      contract.rounding.mode) if terms.fee_rate else 0
    cash = available_cash(session, contract, on)
    if amount_minor + fee > cash:
        problems.add("INSUFFICIENT_CASH", f"the vehicle has {money(cash)} available on {on}; "
                     f"the prepayment and its fee need {money(amount_minor + fee)}", "amount")
    problems.raise_if_any()
    links = {"contract": contract.id, "loan": loan.id, "party": loan.lender,
             "component": "principal", "prepayment": True}
    entries = list(run.entries)
    entries.append(_post(session, contract, key, Kind.PRINCIPAL_REPAYMENT, on, amount_minor,
                         Code.loan(loan.id), Code.CASH,
                         f"Prepayment (期限前弁済) — {loan.id}", links).id or 0)
    if fee:
        entries.append(_post(session, contract, f"{key}:fee", Kind.PREPAYMENT_FEE, on, fee,
                             Code.interest_expense(loan.id), Code.CASH,
                             f"Prepayment fee — {loan.id}", links).id or 0)
    return PrepaymentResult(loan.id, on, amount_minor, fee, tuple(entries),
                            read_state(session, contract, loan, on))


def sweep(session: Session, contract: Contract, surplus_minor: int, on: date,
          tag: str) -> list[int]:
    """Cash sweep: each loan whose terms sweep a share of the surplus from a date on or before
    ``on`` is prepaid that share (rounded by the contract), up to its principal not yet due,
    senior loans first."""
    out = []
    left = surplus_minor
    for loan in sorted(contract.loans, key=lambda ln: ln.seniority):
        terms = loan.cash_sweep
        if terms is None or terms.from_on > on or left <= 0:
            continue
        state = read_state(session, contract, loan, on)
        not_due = state.outstanding_minor - state.overdue_principal_minor
        amount = min(round_minor(Fraction(surplus_minor) * Fraction(terms.share),
                                 contract.rounding.mode), not_due, left)
        if amount <= 0:
            continue
        out.append(_post(session, contract, f"{tag}:sweep:{loan.id}", Kind.PRINCIPAL_REPAYMENT,
                         on, amount, Code.loan(loan.id), Code.CASH,
                         f"Cash sweep (prepayment) — {loan.id}",
                         {"contract": contract.id, "loan": loan.id, "party": loan.lender,
                          "component": "principal", "prepayment": True,
                          "sweep": True}).id or 0)
        left -= amount
    return out


__all__ = ["ScheduleLine", "ServiceDay", "ServiceRun", "PrepaymentResult", "accrue_to",
           "available_cash", "books_date", "schedule_against_actual",
           "find_loan", "prepay", "read_record", "read_state", "record_from_postings",
           "service", "serviced_through", "sweep"]
