"""A contract's loans as repayment schedules, and what is due on a date. Pure.

What a loan owes at a date is read off its schedule: interest and principal of the due dates
on or before it. A loan repaid only from outcome payments (``repayment_from_outcomes``) owes
all its outstanding principal whenever outcome money arrives, and the waterfall decides how
much of it is paid. Interest accrued at a date is the scheduled interest already due plus what
has run since the last due date (for the year-end accrual to 31 March).

The schedule assumes principal comes back on its dates. A loan repaid from outcome payments
comes back whenever the waterfall pays it, so its interest is computed on the principal
actually outstanding: give :func:`position` the repayments made (``repaid``) and each period's
interest runs on the draws less those repayments, each from its own date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from contracts.instruments import Loan
from ledger.rounding import round_minor
from settlement.schedules import (
    LoanTerms,
    Schedule,
    accrual_days,
    accrued_interest,
    build_schedule,
    roll_months,
    year_basis,
)


def loan_terms(loan: Loan) -> LoanTerms:
    """The schedule terms of a contract loan.

    The contract counts *principal* instalments from the first principal date; interest is
    also due, at the same frequency, on the dates before it back to the first draw (the grace
    period, 据置期間, pays interest only) or from the agreement's first due date. The schedule
    counts every due date, so those interest-only dates are added in front. The end-of-month
    rule and the business-day convention are the loan's own.
    """
    repayment = loan.repayment
    if repayment.profile == "custom":
        # The agreement's own table: every due date, interest-only ones with principal 0.
        table = tuple((row.due_on, row.principal_minor) for row in repayment.table)
        return LoanTerms(
            draws=tuple((d.drawn_on, d.amount_minor) for d in loan.draws),
            rate_annual=loan.rate_annual, first_payment_on=table[0][0] if table else date.min,
            instalments=len(table), profile="custom",
            frequency_months=repayment.frequency_months, day_count=loan.day_count,
            count_first_day=loan.count_first_day, count_last_day=loan.count_last_day,
            interest_rounding=loan.interest_rounding, end_of_month=repayment.end_of_month,
            business_day_convention=repayment.business_day, custom_table=table)
    first_principal_on = repayment.first_repayment_on
    if first_principal_on is None:
        raise ValueError(f"loan {loan.id} has no first repayment date")
    first_drawn_on = min(d.drawn_on for d in loan.draws)
    interest_only = interest_only_dates(loan)
    first_due_on = interest_only[0] if interest_only else first_principal_on
    grace_months = _months_between(first_drawn_on, first_principal_on) - 1 \
        if interest_only else 0
    return LoanTerms(
        draws=tuple((d.drawn_on, d.amount_minor) for d in loan.draws),
        rate_annual=loan.rate_annual, first_payment_on=first_due_on,
        instalments=repayment.instalments + len(interest_only), profile=repayment.profile,
        frequency_months=repayment.frequency_months, day_count=loan.day_count,
        count_first_day=loan.count_first_day, count_last_day=loan.count_last_day,
        interest_rounding=loan.interest_rounding, grace_period_months=max(grace_months, 0),
        end_of_month=repayment.end_of_month,
        business_day_convention=repayment.business_day)


def interest_only_dates(loan: Loan) -> list[date]:
    """Nominal interest-only due dates before the first principal date.

    From the agreement's ``first_due_on`` forward, every ``frequency_months``, to the first
    principal date (which the steps must meet exactly: :class:`ValueError` otherwise); without
    it, back from the first principal date to just after the first draw.
    """
    repayment = loan.repayment
    first_principal_on = repayment.first_repayment_on
    if first_principal_on is None:
        raise ValueError(f"loan {loan.id} has no first repayment date")
    step_months, end_of_month = repayment.frequency_months, repayment.end_of_month
    if repayment.first_due_on is None:
        first_drawn_on = min(d.drawn_on for d in loan.draws)
        back: list[date] = []
        while True:
            candidate = roll_months(first_principal_on, -(len(back) + 1) * step_months,
                                    end_of_month)
            if candidate <= first_drawn_on:
                return sorted(back)
            back.append(candidate)
    forward: list[date] = []
    while True:
        candidate = roll_months(repayment.first_due_on, len(forward) * step_months,
                                end_of_month)
        if candidate == first_principal_on:
            return forward
        if candidate > first_principal_on:
            raise ValueError(
                f"loan {loan.id}: due dates every {step_months} months from "
                f"{repayment.first_due_on} do not meet the first repayment on "
                f"{first_principal_on}")
        forward.append(candidate)


def _months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (``end`` on or after the same day-of-month)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months if end.day >= start.day else months - 1


def loan_schedule(loan: Loan) -> Schedule:
    """The loan's repayment schedule."""
    return build_schedule(loan_terms(loan))


@dataclass(frozen=True)
class LoanPosition:
    """What a loan has cost and owes at a date, from its schedule (not from payments).

    Attributes:
        drawn_minor: principal drawn by the date.
        principal_due_minor: scheduled principal of due dates on or before the date.
        interest_due_minor: scheduled interest of due dates on or before the date.
        interest_accrued_minor: interest due plus interest run since the last due date.
    """

    drawn_minor: int
    principal_due_minor: int
    interest_due_minor: int
    interest_accrued_minor: int


def position(loan: Loan, schedule: Schedule, on: date,
             repaid: Sequence[tuple[date, int]] | None = None) -> LoanPosition:
    """The loan's position at the end of ``on``: from its schedule, or, when the principal
    ``repaid`` so far is given as ``(repaid on, amount)``, with interest on the principal
    actually outstanding (loans repaid from outcome payments)."""
    drawn = sum(d.amount_minor for d in loan.draws if d.drawn_on <= on)
    rows = [r for r in schedule.rows if r.due_on <= on]
    principal_due = sum(r.principal for r in rows)
    if repaid is None:
        interest_due = sum(r.interest for r in rows)
        running = accrued_interest(schedule.terms, schedule, on)
    else:
        interest_due = sum(_actual_interest(schedule.terms, repaid, r.period_start, r.due_on,
                                            False) for r in rows)
        running = next((_actual_interest(schedule.terms, repaid, r.period_start, on, True)
                        for r in schedule.rows if r.period_start <= on < r.due_on), 0)
    return LoanPosition(drawn, principal_due, interest_due, interest_due + running)


def _actual_interest(terms: LoanTerms, repaid: Sequence[tuple[date, int]], start: date,
                     end: date, through_end: bool) -> int:
    """Interest of one period on the principal actually outstanding, rounded once.

    The balance carried in at ``start`` accrues from ``start``; a draw in the period adds from
    its date, a repayment in it stops accruing from its date (the day of repayment is not
    counted, as 片端 does not count a period's last day). ``through_end`` counts ``end`` itself
    (interest accrued *to* a date, as at the year end).
    """
    carried = sum(a for on, a in terms.draws if on < start) - sum(a for on, a in repaid
                                                                   if on < start)
    moves = [(start, carried)]
    moves += [(on, a) for on, a in terms.draws if start <= on and (on <= end if through_end
                                                                    else on < end)]
    moves += [(on, -a) for on, a in repaid if start <= on and (on <= end if through_end
                                                                else on < end)]
    rate, basis = Fraction(terms.rate_annual), year_basis(terms.day_count)
    exact = sum((amount * rate * accrual_days(since, end, terms.day_count,
                                              terms.count_first_day,
                                              through_end or terms.count_last_day) / basis
                 for since, amount in moves if amount), Fraction(0))
    return round_minor(max(exact, Fraction(0)), terms.interest_rounding)
