"""Debt service on due dates, as a bank's own loan system keeps it. Pure.

A loan's instalments fall due on their dates (the schedule's, adjusted by the loan's
business-day convention) whether or not outcome money has arrived. This module says, from the
loan's terms and what the ledger records of it (:class:`LoanRecord`: draws, payments, each
against its due date, guarantee draws and write-downs), what each instalment is, what has been
paid of it and when, what is overdue and what default interest it has run up — and, for a
service date with some cash, what to pay.

The rules, each a term of the loan or stated here:

- **Principal** of each due date is the schedule's principal column (元金均等, 元利均等, bullet),
  rebuilt after every prepayment by the loan's prepayment effect: ``shorten_term`` cancels
  instalments from the last one back; ``lower_instalment`` rebuilds the remaining instalments
  on the lower balance over the same dates. It never exceeds what is still outstanding.
- **Interest** of a period runs on the principal actually performing, from each movement's
  date: draws from their date, prepayments from theirs, and an instalment's principal stops
  earning ordinary interest on its due date, paid or not (an overdue amount bears default
  interest instead, so no day bears both). Exact, summed over the period and rounded once
  (:mod:`ledger.rounding`); each period's trace gives base, days, rate, day count and rounding.
- **Default interest (遅延損害金)** on what is not paid on its due date: the overdue amount ×
  the loan's default rate × days / 365, from the day after the due date to the day paid, both
  counted (a day late is one day), truncated to the minor unit per arrear and payment.
- **Appropriation (充当)**: a payment settles default interest, then interest, then principal
  (民法489条: 費用・利息・元本の順), oldest due date first; across loans, by step, then by
  seniority, pro rata within a rank (:func:`settlement.waterfall.run_waterfall`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Literal

from contracts.instruments import Loan
from ledger.rounding import (
    RemainderPolicy,
    RoundingMode,
    allocate,
    round_minor,
    split_evenly,
)
from settlement.loans import loan_terms
from settlement.schedules import (
    LoanTerms,
    Schedule,
    _rule,
    _thirty_360_days,
    build_schedule,
    year_basis,
)
from settlement.trace import About, Phrase, Subject, Trace, day, days, minor, rate
from settlement.waterfall import Claim, run_waterfall

Component = Literal["default_interest", "interest", "principal"]
COMPONENTS: tuple[Component, ...] = ("default_interest", "interest", "principal")
"""The order a payment settles a loan's amounts in (民法489条), and the service's steps."""

DEFAULT_INTEREST_BASIS_DAYS = 365

Status = Literal["not_due", "paid_on_time", "paid_late", "prepaid", "overdue",
                 "written_down", "recovered", "part_recovered"]


@dataclass(frozen=True)
class Payment:
    """Money paid to the lender against one due date (or ahead of the schedule).

    Attributes:
        paid_on: the value date.
        component: ``default_interest``, ``interest`` or ``principal``.
        amount_minor: the amount.
        due_on: the due date it settles; ``None`` for a prepayment of principal.
    """

    paid_on: date
    component: Component
    amount_minor: int
    due_on: date | None = None


@dataclass(frozen=True)
class Reduction:
    """Principal the lender got otherwise than from the borrower: ``guarantee`` (paid by a
    guarantor, a recovery) or ``write_down`` (a loss)."""

    on: date
    kind: Literal["guarantee", "write_down"]
    amount_minor: int


@dataclass(frozen=True)
class LoanRecord:
    """What the ledger records of one loan: draws, payments and reductions."""

    draws: tuple[tuple[date, int], ...]
    payments: tuple[Payment, ...] = ()
    reductions: tuple[Reduction, ...] = ()

    @property
    def drawn_minor(self) -> int:
        return sum(a for _, a in self.draws)

    def outstanding_on(self, on: date) -> int:
        """Principal outstanding at the end of ``on``."""
        return (sum(a for d, a in self.draws if d <= on)
                - sum(p.amount_minor for p in self.payments
                      if p.component == "principal" and p.paid_on <= on)
                - sum(r.amount_minor for r in self.reductions if r.on <= on))


@dataclass(frozen=True)
class Instalment:
    """One due date of a loan as it stands at ``as_of``.

    Attributes:
        number: 1-based.
        due_on: the adjusted due date.
        period_start: the first day of its interest period.
        interest_minor / principal_minor: what falls due on it (principal after any
            prepayment rebuilt the schedule).
        interest_paid_minor / principal_paid_minor: paid against it by ``as_of``.
        default_interest_minor: default interest it has run up by ``as_of``.
        default_interest_paid_minor: default interest paid by ``as_of``.
        recovered_minor / written_down_minor: its principal settled by a guarantor / lost.
        paid_on: dates of the payments against it.
        interest_trace: how its interest was computed.
        cancelled: its principal was taken away by an earlier prepayment (期間短縮, or the
            payoff at the contract's end): nothing falls due on it any more.
    """

    number: int
    due_on: date
    period_start: date
    interest_minor: int
    principal_minor: int
    interest_paid_minor: int
    principal_paid_minor: int
    default_interest_minor: int
    default_interest_paid_minor: int
    recovered_minor: int
    written_down_minor: int
    paid_on: tuple[date, ...]
    as_of: date
    interest_trace: Trace = field(compare=False, repr=False)
    cancelled: bool = False

    @property
    def scheduled_minor(self) -> int:
        return self.interest_minor + self.principal_minor

    @property
    def overdue_interest_minor(self) -> int:
        return self.interest_minor - self.interest_paid_minor if self.is_due else 0

    @property
    def overdue_principal_minor(self) -> int:
        return (self.principal_minor - self.principal_paid_minor - self.recovered_minor
                - self.written_down_minor) if self.is_due else 0

    @property
    def default_interest_owed_minor(self) -> int:
        return self.default_interest_minor - self.default_interest_paid_minor

    @property
    def overdue_minor(self) -> int:
        return self.overdue_interest_minor + self.overdue_principal_minor

    @property
    def is_due(self) -> bool:
        return self.due_on <= self.as_of

    @property
    def status(self) -> Status:
        """paid on time / paid late / prepaid / overdue / written down / recovered / not due."""
        settled = (self.interest_paid_minor >= self.interest_minor
                   and self.principal_paid_minor + self.recovered_minor
                   + self.written_down_minor >= self.principal_minor)
        if self.written_down_minor and settled:
            return "written_down"
        if self.recovered_minor and settled:
            return "recovered"
        if not settled:
            if self.is_due:
                return "part_recovered" if self.recovered_minor else "overdue"
            return "not_due"
        if self.cancelled and not self.paid_on and self.scheduled_minor == 0:
            return "prepaid"
        last = max(self.paid_on, default=self.due_on)
        if last > self.due_on:
            return "paid_late"
        if last < self.due_on and not self.is_due:
            return "prepaid"
        return "paid_on_time"


@dataclass(frozen=True)
class LoanState:
    """A loan at ``as_of``: its instalments and the totals a statement shows."""

    loan_id: str
    as_of: date
    instalments: tuple[Instalment, ...]
    outstanding_minor: int
    interest_running_minor: int
    prepaid_minor: int

    @property
    def overdue_interest_minor(self) -> int:
        return sum(i.overdue_interest_minor for i in self.instalments)

    @property
    def overdue_principal_minor(self) -> int:
        return sum(i.overdue_principal_minor for i in self.instalments)

    @property
    def default_interest_owed_minor(self) -> int:
        return sum(i.default_interest_owed_minor for i in self.instalments)

    @property
    def next_due(self) -> Instalment | None:
        return next((i for i in self.instalments if not i.is_due), None)


# --------------------------------------------------------------------------- principal plan

def nominal_schedule(loan: Loan) -> Schedule:
    """The loan's schedule as its terms set it, before any payment."""
    return build_schedule(loan_terms(loan))


def principal_plan(loan: Loan, schedule: Schedule, record: LoanRecord) -> list[int]:
    """Principal due on each of the schedule's dates after the prepayments in ``record``
    (each rebuilding what follows it by the loan's prepayment effect), capped so that what
    falls due never exceeds what was drawn less what was prepaid or reduced."""
    plan = [row.principal for row in schedule.rows]
    dues = [row.due_on for row in schedule.rows]
    effect = loan.prepayment.effect if loan.prepayment is not None else "shorten_term"
    for prepaid in sorted((p for p in record.payments if p.due_on is None
                           and p.component == "principal"), key=lambda p: p.paid_on):
        later = [k for k, due_on in enumerate(dues) if due_on > prepaid.paid_on]
        if not later:
            continue
        if effect == "shorten_term":
            left = prepaid.amount_minor
            for k in reversed(later):
                take = min(plan[k], left)
                plan[k] -= take
                left -= take
        else:
            remaining = max(sum(plan[k] for k in later) - prepaid.amount_minor, 0)
            for k, part in zip(later, _rebuilt(loan, schedule, later, remaining,
                                               prepaid.paid_on)):
                plan[k] = part
    drawn, taken = record.drawn_minor, 0
    reduced = sum(r.amount_minor for r in record.reductions)
    prepaid_total = sum(p.amount_minor for p in record.payments
                        if p.due_on is None and p.component == "principal")
    cap = max(drawn - prepaid_total, 0)
    last_reduction = max((r.on for r in record.reductions), default=None)
    for k, due_on in enumerate(dues):
        if last_reduction is not None and due_on > last_reduction and reduced:
            plan[k] = 0   # nothing falls due after the loan was written down or recovered
        plan[k] = min(plan[k], cap - taken)
        taken += plan[k]
    return plan


def _rebuilt(loan: Loan, schedule: Schedule, later: list[int], remaining: int,
             prepaid_on: date) -> list[int]:
    """返済額軽減型: the remaining principal over the same remaining due dates — equal parts
    (元金均等), a new level payment (元利均等), or all on the last date (bullet)."""
    count = len(later)
    if remaining == 0:
        return [0] * count
    terms = schedule.terms
    if terms.profile == "bullet":
        return [0] * (count - 1) + [remaining]
    if terms.profile == "equal_principal":
        return split_evenly(remaining, count, RemainderPolicy.FIRST_PART)
    if terms.profile == "custom":
        # The table's remaining rows keep their proportions, on the lower balance.
        weights = [schedule.rows[k].principal for k in later]
        if sum(weights) == 0:
            return [0] * (count - 1) + [remaining]
        return allocate(remaining, weights, RemainderPolicy.LARGEST_REMAINDER)
    first = schedule.rows[later[0]]
    rebuilt = build_schedule(LoanTerms(
        draws=((prepaid_on, remaining),), rate_annual=terms.rate_annual,
        first_payment_on=first.nominal_on, instalments=count, profile="annuity",
        frequency_months=terms.frequency_months, day_count=terms.day_count,
        count_first_day=terms.count_first_day, count_last_day=terms.count_last_day,
        interest_rounding=terms.interest_rounding, payment_rounding=terms.payment_rounding,
        end_of_month=terms.end_of_month,
        business_day_convention=terms.business_day_convention))
    return [row.principal for row in rebuilt.rows]


# --------------------------------------------------------------------------- interest

class Performing:
    """The principal earning ordinary interest at the end of each day: what is outstanding less
    what has fallen due and is unpaid (which bears default interest instead). A draw earns
    from its date; a payment or reduction stops earning on its date (片端: the day of
    repayment is not counted); an instalment's principal leaves on its due date."""

    def __init__(self, schedule: Schedule, plan: Sequence[int], record: LoanRecord,
                 reductions: dict[date, tuple[int, int, date | None]]) -> None:
        self.record = record
        self.rows = [(row.due_on, principal) for row, principal in zip(schedule.rows, plan)]
        self.reductions = reductions
        self.dates = sorted({on for on, _ in record.draws}
                            | {p.paid_on for p in record.payments}
                            | {r.on for r in record.reductions}
                            | {due_on for due_on, _ in self.rows})

    def at(self, on: date) -> int:
        """Performing principal at the end of ``on``."""
        overdue = 0
        for due_on, principal in self.rows:
            if due_on > on:
                continue
            paid = sum(p.amount_minor for p in self.record.payments
                       if p.component == "principal" and p.due_on == due_on
                       and p.paid_on <= on)
            recovered, written, reduced_on = self.reductions.get(due_on, (0, 0, None))
            reduced = recovered + written if reduced_on is not None and reduced_on <= on else 0
            overdue += max(principal - paid - reduced, 0)
        return max(self.record.outstanding_on(on) - overdue, 0)


def _elapsed(start: date, end: date, terms: LoanTerms) -> int:
    if terms.day_count == "30/360":
        return _thirty_360_days(start, end)
    return (end - start).days


def period_interest(terms: LoanTerms, performing: Performing, start: date, end: date,
                    about: About, through_end: bool = False) -> Trace:
    """Interest on the performing principal from ``start`` to ``end``: each stretch of
    constant balance × rate × days / basis, summed exactly and rounded once. The period
    counts its first day and not its last (片端) unless the terms say otherwise;
    ``through_end`` counts ``end`` itself (interest accrued *to* a date, as at a year end)."""
    trace = Trace(about, _rule(terms))
    points = sorted({on for on in performing.dates if start < on < end} | {start})
    annual, basis = Fraction(terms.rate_annual), year_basis(terms.day_count)
    exact = Fraction(0)
    extra = int(terms.count_first_day) + int(terms.count_last_day or through_end) - 1
    # A stretch runs while the balance stays the same (a date where it does not move, a
    # payment of an overdue amount say, does not split it).
    balances = {on: performing.at(on) for on in points}
    points = [on for k, on in enumerate(points)
              if k == 0 or balances[on] != balances[points[k - 1]]]
    for k, since in enumerate(points):
        until = points[k + 1] if k + 1 < len(points) else end
        counted = _elapsed(since, until, terms) + (extra if until == end else 0)
        balance = balances[since]
        if balance > 0 and counted > 0:
            part = balance * annual * counted / basis
            trace.step(Phrase.INTEREST_ON, minor(part), amount=minor(balance),
                       since=day(since), until=day(until), rate=rate(terms.rate_annual),
                       days=days(counted), basis=days(basis))
            exact += part
    if len(trace.steps) > 1:
        trace.step(Phrase.INTEREST_BEFORE_ROUNDING, minor(exact))
    trace.result_minor = trace.rounded(exact, terms.interest_rounding)
    return trace


# --------------------------------------------------------------------------- default interest

def default_interest_of(amount_minor: int, due_on: date,
                        settlements: Iterable[tuple[date, int]], as_of: date,
                        rate_annual: Fraction) -> int:
    """遅延損害金 run up by ``as_of`` on ``amount_minor`` due on ``due_on``, settled by
    ``(date, amount)`` payments: each stretch from the day after the last settlement (or the
    due date) to the next one, both … counted as days elapsed, truncated per stretch."""
    if rate_annual == 0 or amount_minor <= 0:
        return 0
    owed, since, total = amount_minor, due_on, 0
    for on, paid in sorted(settlements):
        if on > as_of:
            break
        if on > since and owed > 0:
            total += round_minor(owed * rate_annual * (on - since).days
                                 / DEFAULT_INTEREST_BASIS_DAYS, RoundingMode.TRUNCATE)
            since = on
        owed -= paid
    if owed > 0 and as_of > since:
        total += round_minor(owed * rate_annual * (as_of - since).days
                             / DEFAULT_INTEREST_BASIS_DAYS, RoundingMode.TRUNCATE)
    return total


# --------------------------------------------------------------------------- the loan's state

def loan_state(loan: Loan, record: LoanRecord, as_of: date,
               schedule: Schedule | None = None) -> LoanState:
    """Every instalment of the loan as it stands at the end of ``as_of``."""
    schedule = schedule or nominal_schedule(loan)
    terms = schedule.terms
    plan = principal_plan(loan, schedule, record)
    reductions = _reductions_by_due(schedule, plan, record)
    performing = Performing(schedule, plan, record, reductions)
    default_rate = Fraction(loan.default_interest_rate_annual) \
        if loan.default_interest_rate_annual is not None else Fraction(0)
    rows: list[Instalment] = []
    for row, principal in zip(schedule.rows, plan):
        about = About(Subject.INSTALMENT, instrument=loan.id, on=row.due_on,
                      instalment=row.number, nominal_on=row.nominal_on)
        trace = period_interest(terms, performing, row.period_start, row.due_on, about)
        interest = trace.result_minor or 0
        paid = [p for p in record.payments if p.due_on == row.due_on and p.paid_on <= as_of]
        interest_paid = [(p.paid_on, p.amount_minor) for p in paid if p.component == "interest"]
        principal_paid = [(p.paid_on, p.amount_minor) for p in paid
                          if p.component == "principal"]
        recovered, written = reductions.get(row.due_on, (0, 0, None))[:2]
        reduced_on = reductions.get(row.due_on, (0, 0, None))[2]
        default = 0
        if row.due_on < as_of:
            if "interest" in loan.default_interest_on:
                default += default_interest_of(interest, row.due_on, interest_paid, as_of,
                                               default_rate)
            if "principal" in loan.default_interest_on:
                settles = list(principal_paid)
                if reduced_on is not None and reduced_on <= as_of:
                    settles.append((reduced_on, recovered + written))
                default += default_interest_of(principal, row.due_on, settles, as_of,
                                               default_rate)
        rows.append(Instalment(
            row.number, row.due_on, row.period_start, interest, principal,
            sum(a for _, a in interest_paid), sum(a for _, a in principal_paid), default,
            sum(p.amount_minor for p in paid if p.component == "default_interest"),
            recovered if reduced_on is not None and reduced_on <= as_of else 0,
            written if reduced_on is not None and reduced_on <= as_of else 0,
            tuple(sorted({p.paid_on for p in paid})), as_of, trace,
            row.principal > 0 and principal == 0 and any(
                p.due_on is None and p.component == "principal" and p.paid_on < row.due_on
                for p in record.payments)))
    current = next((r for r in schedule.rows if r.period_start <= as_of < r.due_on), None)
    running = 0
    if current is not None:
        running = period_interest(terms, performing, current.period_start, as_of,
                                  About(Subject.ACCRUED_INTEREST, instrument=loan.id, on=as_of),
                                  through_end=True).result_minor or 0
    prepaid = sum(p.amount_minor for p in record.payments
                  if p.due_on is None and p.component == "principal" and p.paid_on <= as_of)
    return LoanState(loan.id, as_of, tuple(rows), record.outstanding_on(as_of), running,
                     prepaid)


def _reductions_by_due(schedule: Schedule, plan: Sequence[int],
                       record: LoanRecord) -> dict[date, tuple[int, int, date | None]]:
    """A guarantee draw or write-down settles the unpaid principal of the due dates, oldest
    first: (recovered, written down, date) per due date."""
    paid: dict[date, int] = {}
    for p in record.payments:
        if p.component == "principal" and p.due_on is not None:
            paid[p.due_on] = paid.get(p.due_on, 0) + p.amount_minor
    dues = [row.due_on for row in schedule.rows]
    unpaid = [principal - paid.get(due_on, 0) for due_on, principal in zip(dues, plan)]
    out: dict[date, tuple[int, int, date | None]] = {}
    for reduction in sorted(record.reductions, key=lambda r: (r.on, r.kind)):
        left = reduction.amount_minor
        for k, due_on in enumerate(dues):
            take = min(unpaid[k], left)
            if take <= 0:
                continue
            unpaid[k] -= take
            left -= take
            recovered, written, _ = out.get(due_on, (0, 0, None))
            if reduction.kind == "guarantee":
                recovered += take
            else:
                written += take
            out[due_on] = (recovered, written, reduction.on)
            if left == 0:
                break
    return out


# --------------------------------------------------------------------------- what to pay

@dataclass(frozen=True)
class Due:
    """An amount owed on a service date: a loan, a component and the due date it belongs to."""

    loan_id: str
    lender: str
    seniority: int
    component: Component
    due_on: date
    amount_minor: int


def owed_on(loan: Loan, state: LoanState) -> list[Due]:
    """What the loan owes at the state's date, oldest due date first within each component:
    default interest run up, interest and principal fallen due and unpaid."""
    out = []
    for component in COMPONENTS:
        for row in state.instalments:
            if not row.is_due:
                continue
            amount = {"default_interest": row.default_interest_owed_minor,
                      "interest": row.overdue_interest_minor,
                      "principal": row.overdue_principal_minor}[component]
            if amount > 0:
                out.append(Due(loan.id, loan.lender, loan.seniority, component, row.due_on,
                               amount))
    return out


def pay(available_minor: int, owed: Sequence[Due]) -> tuple[list[tuple[Due, int]], Trace]:
    """Spend ``available_minor`` on ``owed``: by component (default interest, interest,
    principal), then seniority, pro rata within a rank across loans; within a loan, oldest
    due date first. Returns (due, amount paid) for every amount paid, and the trace."""
    by_loan: dict[tuple[str, Component], list[Due]] = {}
    for due in owed:
        by_loan.setdefault((due.loan_id, due.component), []).append(due)
    claims = [Claim(component, loan_id, dues[0].lender,
                    sum(d.amount_minor for d in dues), dues[0].seniority)
              for (loan_id, component), dues in by_loan.items()]
    result = run_waterfall(available_minor, claims, COMPONENTS)
    paid: list[tuple[Due, int]] = []
    for allocation in result.allocations:
        left = allocation.paid_minor
        for due in sorted(by_loan[(allocation.claim.instrument,
                                   allocation.claim.step)],  # type: ignore[index]
                          key=lambda d: d.due_on):
            take = min(due.amount_minor, left)
            if take > 0:
                paid.append((due, take))
                left -= take
    return paid, result.trace


def due_dates(schedule: Schedule) -> list[date]:
    """The loan's due dates, adjusted."""
    return [row.due_on for row in schedule.rows]


def day_before(on: date) -> date:
    return on - timedelta(days=1)


__all__ = ["COMPONENTS", "Due", "Instalment", "LoanRecord", "LoanState", "Payment",
           "Reduction", "default_interest_of", "due_dates", "loan_state", "nominal_schedule",
           "owed_on", "pay", "period_interest", "principal_plan"]
