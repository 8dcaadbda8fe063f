"""Loan repayment schedules: bullet, equal principal (元金均等) and annuity (元利均等).

A schedule is a pure function of the loan's terms. Each row is one due date: the interest of
the period (with its formula and rounding in a :class:`~settlement.trace.Trace`) and the
principal repaid. The conventions are per-loan settings because banks differ:

- **Day count.** ``ACT/365F`` (actual days over 365, also in leap years; the Japanese bank
  default), ``ACT/360``, or ``30/360`` (bond basis: every month has 30 days).
- **Which ends count.** 片端 (``count_first_day=True, count_last_day=False``, the default)
  counts the day a period starts and not the day it ends, so consecutive periods never count a
  day twice; 両端 counts both ends of every period, as the loan agreement then says.
- **Due dates.** Nominal dates are ``first_payment_on`` plus whole multiples of
  ``frequency_months``, each computed from ``first_payment_on`` (so a 31st clipped to 30 June
  comes back to 31 December). With ``end_of_month`` and a first date on its month's last day,
  every date is its month's last day (末日 stays 末日: 30 Sep → 31 Mar, 28 Feb 2023 → 31 Aug,
  29 Feb in a leap year); without it 30 Sep → 30 Mar. A date that is not a bank business day
  moves by ``business_day_convention``: ``following`` (翌営業日, the default),
  ``modified_following`` (翌営業日 unless that falls in the next month, then 前営業日),
  ``preceding`` (前営業日), or ``unadjusted``; interest runs to the adjusted date and the next
  period starts there.
- **Grace (据置期間).** Due dates on or before ``grace_period_months`` after the first draw pay
  interest only. ``instalments`` counts every due date of the term, interest-only ones included.
- **Rounding.** Interest is rounded once per row with ``interest_rounding`` (truncation by
  default); the annuity's level payment with ``payment_rounding``. Rounding happens only in
  :mod:`ledger.rounding`. Whatever rounding leaves over is absorbed by the last instalment, so
  the principal column always sums exactly to the amount drawn.

Interest accrues on each draw from its own draw date. All draws come before the first due date,
so only the first period can contain more than one draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from ledger.calendar import add_months, next_business_day, previous_business_day
from ledger.errors import Problem, Problems, SibError
from ledger.rounding import RemainderPolicy, RoundingMode, round_minor, split_evenly
from settlement.trace import (
    DAY_COUNT_TERMS,
    DAY_ENDS_TERMS,
    ROUNDING_TERMS,
    About,
    Phrase,
    Step,
    Subject,
    Trace,
    day,
    days,
    minor,
    number,
    rate,
)

DayCount = Literal["ACT/365F", "ACT/360", "30/360"]
BusinessDayConvention = Literal["following", "modified_following", "preceding", "unadjusted"]
RepaymentProfile = Literal["bullet", "equal_principal", "annuity", "custom"]
RemainderTo = Literal["first", "last"]

DAY_COUNTS: tuple[str, ...] = ("ACT/365F", "ACT/360", "30/360")
BUSINESS_DAY_CONVENTIONS: tuple[str, ...] = ("following", "modified_following", "preceding",
                                             "unadjusted")
PROFILES: tuple[str, ...] = ("bullet", "equal_principal", "annuity", "custom")
_YEAR_BASIS: dict[str, int] = {"ACT/365F": 365, "ACT/360": 360, "30/360": 360}
_PROFILE_NAMES: dict[str, str] = {"bullet": "bullet",
                                  "equal_principal": "equal principal (元金均等)",
                                  "annuity": "annuity (元利均等)"}


@dataclass(frozen=True)
class LoanTerms:
    """What the loan agreement says about interest and repayment.

    Attributes:
        draws: ``(drawn_on, amount_minor)`` for each drawdown; one for a single-draw loan.
            Every draw must come before ``first_payment_on``.
        rate_annual: annual interest rate as a fraction (``Decimal("0.01")`` = 1.0 %).
        first_payment_on: nominal date of the first due date (interest, and principal unless
            it falls in the grace period).
        instalments: number of due dates in the term, interest-only ones included.
        profile: ``bullet`` (all principal on the last due date), ``equal_principal``
            (元金均等: the same principal each time) or ``annuity`` (元利均等: the same payment
            each time).
        frequency_months: months between due dates (12 = annual, 6 = semi-annual, 1 = monthly).
        day_count: ``ACT/365F``, ``ACT/360`` or ``30/360``.
        count_first_day: count the first day of each interest period (片端 and 両端: yes).
        count_last_day: count the last day of each interest period (片端: no; 両端: yes).
        interest_rounding: how each row's exact interest becomes whole minor units.
        payment_rounding: how the annuity's exact level payment becomes whole minor units.
        grace_period_months: 据置期間, counted from the first draw: due dates on or before its
            end pay interest only.
        business_day_adjust: move due dates that are not bank business days, by
            ``business_day_convention`` (``False``: leave every date as it is).
        principal_remainder_to: for equal principal, which instalment takes the minor units
            left over by the split: ``first`` (端数計算法, the default) or ``last``.
        end_of_month: when ``first_payment_on`` is its month's last day, every due date is its
            month's last day (末日); the default keeps the day of the month, clipped.
        business_day_convention: where a due date on a bank holiday moves: ``following``
            (翌営業日, the default), ``modified_following``, ``preceding`` (前営業日) or
            ``unadjusted``.
    """

    draws: Sequence[tuple[date, int]]
    rate_annual: Decimal
    first_payment_on: date
    instalments: int
    profile: RepaymentProfile
    frequency_months: int = 12
    day_count: DayCount = "ACT/365F"
    count_first_day: bool = True
    count_last_day: bool = False
    interest_rounding: RoundingMode = RoundingMode.TRUNCATE
    payment_rounding: RoundingMode = RoundingMode.TRUNCATE
    grace_period_months: int = 0
    business_day_adjust: bool = True
    principal_remainder_to: RemainderTo = "first"
    end_of_month: bool = False
    business_day_convention: BusinessDayConvention = "following"
    custom_table: tuple[tuple[date, int], ...] = ()

    def __post_init__(self) -> None:
        # Stored as a tuple so that the terms stay immutable and hashable.
        object.__setattr__(self, "draws", tuple(
            tuple(d) if isinstance(d, (list, tuple)) else d for d in self.draws))
        for name in ("interest_rounding", "payment_rounding"):
            value = getattr(self, name)
            if isinstance(value, str) and value in {mode.value for mode in RoundingMode}:
                object.__setattr__(self, name, RoundingMode(value))

    @property
    def total_drawn_minor(self) -> int:
        """Sum of all draws: what the principal column must add up to."""
        return sum(amount for _, amount in self.draws)

    @property
    def first_drawn_on(self) -> date:
        """Date of the earliest draw: where interest and the grace period start."""
        return min(drawn_on for drawn_on, _ in self.draws)


@dataclass(frozen=True)
class ScheduleRow:
    """One due date of a schedule. Amounts are integer minor units.

    Attributes:
        number: 1-based instalment number.
        due_on: the date the payment is due (moved to a business day if the terms say so).
        nominal_on: the due date before business-day adjustment.
        period_start: first date of the interest period (a draw date or the previous due date).
        period_end: end of the interest period, which is ``due_on``.
        days: days of interest of the period for principal outstanding since ``period_start``
            under the loan's day count (a later draw in the period accrues fewer, see trace).
        opening_principal: principal outstanding on the due date before this repayment,
            including any draws made during the period.
        principal: principal repaid on this date.
        interest: interest of the period, rounded.
        payment: ``principal + interest``.
        closing_principal: principal outstanding after this repayment.
        trace: the interest formula with its figures and rounding, and how the principal was
            set.
    """

    number: int
    due_on: date
    nominal_on: date
    period_start: date
    period_end: date
    days: int
    opening_principal: int
    principal: int
    interest: int
    payment: int
    closing_principal: int
    trace: Trace = field(compare=False)


@dataclass(frozen=True)
class Schedule:
    """A loan's repayment schedule.

    Attributes:
        terms: the terms it was built from.
        rows: one row per due date, in order.
        level_payment_minor: the annuity's rounded level payment, ``None`` for other profiles.
    """

    terms: LoanTerms
    rows: tuple[ScheduleRow, ...]
    level_payment_minor: int | None = None

    @property
    def total_principal_minor(self) -> int:
        """Principal repaid over the schedule (always the total drawn)."""
        return sum(row.principal for row in self.rows)

    @property
    def total_interest_minor(self) -> int:
        """Interest paid over the schedule."""
        return sum(row.interest for row in self.rows)

    def lines(self) -> list[str]:
        """The schedule as readable lines, for the CLI and statements."""
        out = [f"{'no':>3} {'due':10} {'days':>5} {'opening':>15} {'principal':>15} "
               f"{'interest':>12} {'payment':>15} {'closing':>15}"]
        out += [f"{r.number:>3} {r.due_on.isoformat()} {r.days:>5} {r.opening_principal:>15,} "
                f"{r.principal:>15,} {r.interest:>12,} {r.payment:>15,} "
                f"{r.closing_principal:>15,}" for r in self.rows]
        return out


@dataclass(frozen=True)
class ComparisonRow:
    """A scheduled row next to what was actually paid for it.

    Differences are actual minus scheduled: negative means paid short, positive paid more.

    Attributes:
        number: instalment number of the schedule row.
        due_on: scheduled due date.
        paid_on: dates of the actual payments attributed to this row (empty if none).
        scheduled_principal, actual_principal, principal_difference: principal figures.
        scheduled_interest, actual_interest, interest_difference: interest figures.
        scheduled_closing_principal: principal outstanding after the row per the schedule.
        actual_closing_principal: total drawn less all principal actually repaid so far.
    """

    number: int
    due_on: date
    paid_on: tuple[date, ...]
    scheduled_principal: int
    actual_principal: int
    principal_difference: int
    scheduled_interest: int
    actual_interest: int
    interest_difference: int
    scheduled_closing_principal: int
    actual_closing_principal: int


# --- validation ---------------------------------------------------------------------------


def _is_amount(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_draws(terms: LoanTerms, problems: Problems) -> None:
    if not terms.draws:
        problems.add("LOAN_NO_DRAWS", "the loan has no draws: give at least one "
                     "(date, amount) pair", "draws")
    for index, draw in enumerate(terms.draws):
        if not isinstance(draw, tuple) or len(draw) != 2 or not isinstance(draw[0], date) \
                or not _is_amount(draw[1]):
            problems.add("LOAN_DRAW_INVALID", f"draw {index + 1} must be a (date, integer "
                         f"amount in minor units) pair, got {draw!r}", f"draws[{index}]")
            continue
        drawn_on, amount = draw
        if amount <= 0:
            problems.add("LOAN_DRAW_NOT_POSITIVE", f"draw {index + 1} on {drawn_on} is "
                         f"{amount:,}: a draw must be positive", f"draws[{index}].amount_minor")
        first_principal_on = _first_principal_on(terms)
        if first_principal_on is not None and drawn_on >= first_principal_on:
            problems.add("LOAN_DRAW_AFTER_FIRST_PAYMENT",
                         f"draw {index + 1} on {drawn_on} is not before the first principal "
                         f"due date {first_principal_on}", f"draws[{index}].drawn_on")


def _first_principal_on(terms: LoanTerms) -> date | None:
    """The first due date that repays principal; a multiple-draw loan may draw until then
    (interest-only dates of the grace period may come before a later draw)."""
    if not isinstance(terms.first_payment_on, date) or not terms.draws or \
            not isinstance(terms.instalments, int) or terms.instalments < 1:
        return None
    try:
        dates = _nominal_dates(terms)
        grace_rows = _grace_row_count(terms)
    except (TypeError, ValueError, AttributeError):
        return terms.first_payment_on
    if not dates:
        return terms.first_payment_on
    if terms.profile == "bullet":
        return dates[-1]
    if terms.profile == "custom":
        # Draws come before the first due date of the table, interest-only or not.
        return dates[0]
    return dates[min(grace_rows, len(dates) - 1)]


def _check_rate_and_conventions(terms: LoanTerms, problems: Problems) -> None:
    rate = terms.rate_annual
    if not isinstance(rate, Decimal) or not rate.is_finite():
        problems.add("LOAN_RATE_INVALID", f"the annual rate must be a finite Decimal such as "
                     f"Decimal(\"0.01\"), got {rate!r}", "rate_annual")
    elif rate < 0:
        problems.add("LOAN_RATE_NEGATIVE", f"the annual rate {rate} is negative", "rate_annual")
    if terms.day_count not in DAY_COUNTS:
        problems.add("LOAN_DAY_COUNT_UNKNOWN", f"day count {terms.day_count!r} is not one of "
                     f"{', '.join(DAY_COUNTS)}", "day_count")
    if terms.profile not in PROFILES:
        problems.add("LOAN_PROFILE_UNKNOWN", f"repayment profile {terms.profile!r} is not one "
                     f"of {', '.join(PROFILES)}", "profile")
    if terms.business_day_convention not in BUSINESS_DAY_CONVENTIONS:
        problems.add("LOAN_BUSINESS_DAY_CONVENTION_UNKNOWN", f"business-day convention "
                     f"{terms.business_day_convention!r} is not one of "
                     f"{', '.join(BUSINESS_DAY_CONVENTIONS)}", "business_day_convention")
    if terms.principal_remainder_to not in ("first", "last"):
        problems.add("LOAN_REMAINDER_UNKNOWN", f"principal remainder goes to 'first' or "
                     f"'last', not {terms.principal_remainder_to!r}", "principal_remainder_to")
    for name in ("interest_rounding", "payment_rounding"):
        if not isinstance(getattr(terms, name), RoundingMode):
            problems.add("LOAN_ROUNDING_UNKNOWN", f"{name} {getattr(terms, name)!r} is not "
                         f"one of {', '.join(m.value for m in RoundingMode)}", name)


def _check_term(terms: LoanTerms, problems: Problems) -> None:
    if not isinstance(terms.first_payment_on, date):
        problems.add("LOAN_FIRST_PAYMENT_INVALID", "the first due date must be a date",
                     "first_payment_on")
    if not _is_amount(terms.instalments) or terms.instalments < 1:
        problems.add("LOAN_INSTALMENTS_INVALID", f"the number of due dates must be at least "
                     f"1, got {terms.instalments!r}", "instalments")
    if not _is_amount(terms.frequency_months) or terms.frequency_months < 1:
        problems.add("LOAN_FREQUENCY_INVALID", f"months between due dates must be at least 1, "
                     f"got {terms.frequency_months!r}", "frequency_months")
    if not _is_amount(terms.grace_period_months) or terms.grace_period_months < 0:
        problems.add("LOAN_GRACE_INVALID", f"the grace period must be zero or more months, "
                     f"got {terms.grace_period_months!r}", "grace_period_months")
    if terms.profile == "custom":
        _check_table(terms, problems)


def _check_table(terms: LoanTerms, problems: Problems) -> None:
    """A custom table: one row per due date, in order, its principal adding up to the draws
    (a table with a zero row pays interest only that day; no separate grace period)."""
    table = terms.custom_table
    dates = [on for on, _ in table]
    if not table or len(table) != terms.instalments or dates != sorted(set(dates)):
        problems.add("LOAN_TABLE_INVALID", f"a custom schedule needs its {terms.instalments} "
                     "due dates once each, in order", "custom_table")
    elif sum(amount for _, amount in table) != terms.total_drawn_minor:
        problems.add("LOAN_TABLE_TOTAL", f"the table's principal adds up to "
                     f"{sum(a for _, a in table):,}, not to the {terms.total_drawn_minor:,} "
                     "drawn", "custom_table")
    if terms.grace_period_months:
        problems.add("LOAN_TABLE_WITH_GRACE", "a custom table states its interest-only dates "
                     "itself (principal 0); no grace period with it", "grace_period_months")


def _check_grace_fits(terms: LoanTerms, problems: Problems) -> None:
    """The grace period must leave at least one due date that repays principal."""
    grace_rows = _grace_row_count(terms)
    if grace_rows >= terms.instalments:
        grace_end = add_months(terms.first_drawn_on, terms.grace_period_months)
        problems.add("LOAN_GRACE_TOO_LONG",
                     f"the grace period of {terms.grace_period_months} months (to {grace_end}) "
                     f"covers all {terms.instalments} due dates: no principal would ever be "
                     f"repaid", "grace_period_months")


def validate_terms(terms: LoanTerms) -> list[Problem]:
    """Every problem with the terms, found together (an empty list when they are usable)."""
    problems = Problems()
    _check_term(terms, problems)
    _check_draws(terms, problems)
    _check_rate_and_conventions(terms, problems)
    if not problems:
        _check_grace_fits(terms, problems)
    return problems.items


# --- day counts ---------------------------------------------------------------------------


def _thirty_360_days(start: date, end: date) -> int:
    """30/360 bond basis: a day 31 counts as 30 (the end day only if the start day is 30/31)."""
    start_day = min(start.day, 30)
    end_day = 30 if end.day == 31 and start_day == 30 else end.day
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + end_day - start_day


def _elapsed_days(start: date, end: date, day_count: str) -> int:
    """Days from ``start`` to ``end`` under the day count, counting one end only."""
    if day_count == "30/360":
        return _thirty_360_days(start, end)
    return (end - start).days


def accrual_days(start: date, end: date, day_count: str = "ACT/365F",
                 count_first_day: bool = True, count_last_day: bool = False) -> int:
    """Days of interest for a period from ``start`` to ``end``.

    片端 (first day counted, last not) gives the plain difference; 両端 adds one day; counting
    neither end takes one away.
    """
    return _elapsed_days(start, end, day_count) - 1 + int(count_first_day) + int(count_last_day)


def year_basis(day_count: str) -> int:
    """Days in the year of the day count: 365 for ACT/365F (also in leap years), else 360."""
    return _YEAR_BASIS[day_count]


# --- due dates and principal ----------------------------------------------------------------


def _nominal_dates(terms: LoanTerms) -> list[date]:
    """Due dates before adjustment, each computed from the first (no drift from clipping),
    at month ends under the end-of-month rule; a custom table's own dates."""
    if terms.profile == "custom":
        return [on for on, _ in terms.custom_table]
    return [roll_months(terms.first_payment_on, k * terms.frequency_months, terms.end_of_month)
            for k in range(terms.instalments)]


def roll_months(start_on: date, months: int, end_of_month: bool) -> date:
    """``start_on`` moved by ``months`` (negative: back): the same day of the month, clipped to
    the month's length, or — with ``end_of_month`` and ``start_on`` its month's last day — the
    target month's last day (30 Sep + 6 → 31 Mar; 28 Feb 2023 + 6 → 31 Aug)."""
    if end_of_month and is_month_end(start_on):
        return _month_end(add_months(start_on.replace(day=1), months))
    return add_months(start_on, months)


def is_month_end(day_on: date) -> bool:
    """``day_on`` is the last day of its month (末日)."""
    return (day_on + timedelta(days=1)).month != day_on.month


def _month_end(day_on: date) -> date:
    return add_months(day_on.replace(day=1), 1) - timedelta(days=1)


def adjust_to_business_day(nominal_on: date, convention: str) -> date:
    """The date a payment falls due when ``nominal_on`` is not a bank business day.

    ``following``: the next business day (翌営業日); ``modified_following``: the next one
    unless it is in the next month, then the previous one (a 末日 stays in its month);
    ``preceding``: the previous business day (前営業日); ``unadjusted``: ``nominal_on``.
    """
    if convention == "unadjusted":
        return nominal_on
    if convention == "preceding":
        return previous_business_day(nominal_on)
    following = next_business_day(nominal_on)
    if convention == "modified_following" and following.month != nominal_on.month:
        return previous_business_day(nominal_on)
    return following


def _grace_row_count(terms: LoanTerms) -> int:
    """How many due dates fall on or before the end of the grace period (interest only)."""
    grace_end = add_months(terms.first_drawn_on, terms.grace_period_months)
    if terms.grace_period_months == 0:
        return 0
    return sum(1 for nominal_on in _nominal_dates(terms) if nominal_on <= grace_end)


def _due_on(nominal_on: date, terms: LoanTerms) -> date:
    if not terms.business_day_adjust:
        return nominal_on
    return adjust_to_business_day(nominal_on, terms.business_day_convention)


def _equal_principal_parts(terms: LoanTerms, count: int) -> list[int]:
    """元金均等 instalments: equal parts, the split's remainder on the first (or last) one."""
    parts = split_evenly(terms.total_drawn_minor, count, RemainderPolicy.FIRST_PART)
    return parts if terms.principal_remainder_to == "first" else parts[::-1]


def level_payment_exact(principal_minor: int, rate_annual: Decimal, frequency_months: int,
                        count: int) -> Fraction:
    """The exact 元利均等 payment repaying ``principal_minor`` in ``count`` equal payments.

    Standard annuity formula with the periodic rate ``i = rate × months / 12``:
    ``P × i × (1 + i)^n / ((1 + i)^n − 1)``, or ``P / n`` without interest. Computed with
    fractions, so the only rounding is the one the terms name.
    """
    periodic = Fraction(rate_annual) * frequency_months / 12
    if periodic == 0:
        return Fraction(principal_minor, count)
    growth = (1 + periodic) ** count
    return principal_minor * periodic * growth / (growth - 1)


# --- interest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Accrual:
    """Principal accruing interest from ``since`` to a period end (one draw or the balance)."""

    amount_minor: int
    since: date


def _period_accruals(terms: LoanTerms, carried_minor: int, period_start: date,
                     period_end: date) -> list[_Accrual]:
    """The balance carried into the period, and each draw made during it from its date."""
    accruals = [_Accrual(carried_minor, period_start)] if carried_minor else []
    accruals += [_Accrual(amount, drawn_on) for drawn_on, amount in sorted(terms.draws)
                 if period_start <= drawn_on < period_end]
    return accruals


class _DaysFn:
    """Days between two dates under the terms' conventions (a small callable, for tracing)."""

    def __init__(self, terms: LoanTerms, inclusive_end: bool = False) -> None:
        self.terms, self.inclusive_end = terms, inclusive_end

    def __call__(self, start: date, end: date) -> int:
        if self.inclusive_end:
            # Accrued "to" a date counts that date itself: the year-end's last day is earned.
            return _elapsed_days(start, end, self.terms.day_count) + int(self.terms.count_first_day)
        return accrual_days(start, end, self.terms.day_count, self.terms.count_first_day,
                            self.terms.count_last_day)


def _rule(terms: LoanTerms) -> Step:
    """The interest terms as a trace's rule: rate, day count, which ends count, rounding."""
    return Step(Phrase.RULE_LOAN_INTEREST, params={
        "rate": rate(terms.rate_annual), "day_count": DAY_COUNT_TERMS[terms.day_count],
        "ends": DAY_ENDS_TERMS[(terms.count_first_day, terms.count_last_day)],
        "rounding": ROUNDING_TERMS[terms.interest_rounding]})


def _interest(terms: LoanTerms, accruals: list[_Accrual], end: date, about: About,
              days_of: _DaysFn) -> Trace:
    """Interest on each accrual up to ``end``, summed, then rounded once; as a trace."""
    trace = Trace(about, _rule(terms))
    annual, basis = Fraction(terms.rate_annual), year_basis(terms.day_count)
    exact = Fraction(0)
    for accrual in accruals:
        counted = days_of(accrual.since, end)
        part = accrual.amount_minor * annual * counted / basis
        trace.step(Phrase.INTEREST_ON, minor(part), amount=minor(accrual.amount_minor),
                   since=day(accrual.since), until=day(end), rate=rate(terms.rate_annual),
                   days=days(counted), basis=days(basis))
        exact += part
    if len(accruals) > 1:
        trace.step(Phrase.INTEREST_BEFORE_ROUNDING, minor(exact))
    trace.result_minor = trace.rounded(exact, terms.interest_rounding)
    return trace


# --- building the schedule ----------------------------------------------------------------


@dataclass
class _Builder:
    """Walks the due dates in order, carrying the outstanding principal."""

    terms: LoanTerms
    grace_rows: int
    principal_parts: list[int] | None
    level_payment_minor: int | None
    carried_minor: int = 0
    rows: list[ScheduleRow] = field(default_factory=list)

    def principal_for(self, index: int, outstanding: int, interest: int) -> tuple[int, Step]:
        """Principal repaid on due date ``index`` (0-based), and why as a trace step."""
        last = index == self.terms.instalments - 1
        if index < self.grace_rows:
            return 0, Step(Phrase.PRINCIPAL_GRACE, minor(0))
        if last:
            return outstanding, Step(Phrase.PRINCIPAL_LAST, minor(outstanding))
        if self.terms.profile == "bullet":
            return 0, Step(Phrase.PRINCIPAL_BULLET, minor(0))
        if self.terms.profile == "custom":
            part = min(self.terms.custom_table[index][1], outstanding)
            return part, Step(Phrase.PRINCIPAL_TABLE, minor(part))
        if self.principal_parts is not None:
            part = min(self.principal_parts[index - self.grace_rows], outstanding)
            return part, Step(Phrase.PRINCIPAL_EQUAL, minor(part))
        assert self.level_payment_minor is not None
        principal = min(outstanding, max(0, self.level_payment_minor - interest))
        return principal, Step(Phrase.PRINCIPAL_LEVEL, minor(principal), {
            "level": minor(self.level_payment_minor), "interest": minor(interest)})

    def add_row(self, index: int, nominal_on: date, period_start: date) -> date:
        """Build row ``index`` and return the start of the next period."""
        terms = self.terms
        due_on = _due_on(nominal_on, terms)
        accruals = _period_accruals(terms, self.carried_minor, period_start, due_on)
        outstanding = sum(a.amount_minor for a in accruals)
        trace = _interest(terms, accruals, due_on, About(
            Subject.INSTALMENT, instalment=index + 1, on=due_on, nominal_on=nominal_on),
            _DaysFn(terms))
        principal, why = self.principal_for(index, outstanding, trace.result_minor)
        trace.steps.append(why)
        interest = trace.result_minor
        self.rows.append(ScheduleRow(
            number=index + 1, due_on=due_on, nominal_on=nominal_on, period_start=period_start,
            period_end=due_on, days=_DaysFn(terms)(period_start, due_on),
            opening_principal=outstanding, principal=principal, interest=interest,
            payment=principal + interest, closing_principal=outstanding - principal,
            trace=trace))
        self.carried_minor = outstanding - principal
        return due_on


def build_schedule(terms: LoanTerms) -> Schedule:
    """The repayment schedule of a loan, one row per due date, with a trace per row.

    Raises :class:`SibError` with every problem of the terms (codes ``LOAN_…``, each naming
    its field) if they cannot make a schedule.
    """
    problems = validate_terms(terms)
    if problems:
        raise SibError(problems)
    grace_rows = _grace_row_count(terms)
    amortising = terms.instalments - grace_rows
    parts = _equal_principal_parts(terms, amortising) \
        if terms.profile == "equal_principal" else None
    level = round_minor(level_payment_exact(terms.total_drawn_minor, terms.rate_annual,
                                            terms.frequency_months, amortising),
                        terms.payment_rounding) if terms.profile == "annuity" else None
    builder = _Builder(terms, grace_rows, parts, level)
    period_start = terms.first_drawn_on
    for index, nominal_on in enumerate(_nominal_dates(terms)):
        period_start = builder.add_row(index, nominal_on, period_start)
    return Schedule(terms, tuple(builder.rows), level)


# --- accrual at a date (year-end close) -----------------------------------------------------


def accrued_interest_trace(terms: LoanTerms, schedule: Schedule, as_of: date) -> Trace:
    """Interest earned up to and including ``as_of`` but not yet due, with its trace.

    The period containing ``as_of`` is the one with ``period_start ≤ as_of < due_on``; the
    principal is what was outstanding in it (each draw from its own date, if drawn by
    ``as_of``). ``as_of`` itself counts as a day of interest: accruing to 31 March includes
    31 March, which belongs to the closing fiscal year. Before the first draw and after the
    last due date nothing accrues.
    """
    if schedule.terms != terms:
        raise SibError("the schedule was built from other terms", "SCHEDULE_TERMS_MISMATCH",
                       "schedule")
    about = About(Subject.ACCRUED_INTEREST, on=as_of)
    for index, row in enumerate(schedule.rows):
        if row.period_start <= as_of < row.period_end:
            carried = schedule.rows[index - 1].closing_principal if index else 0
            accruals = [a for a in _period_accruals(terms, carried, row.period_start,
                                                    row.period_end) if a.since <= as_of]
            trace = _interest(terms, accruals, as_of, about, _DaysFn(terms, True))
            trace.step(Phrase.NEXT_DUE_DATE, day(row.due_on), instalment=number(row.number))
            return trace
    trace = Trace(about, _rule(terms))
    trace.step(Phrase.NO_OPEN_PERIOD, minor(0), on=day(as_of))
    return trace


def accrued_interest(terms: LoanTerms, schedule: Schedule, as_of: date) -> int:
    """Interest accrued but not yet due at the end of ``as_of`` (e.g. 31 March, for the close).

    See :func:`accrued_interest_trace` for the rule; this returns its amount.
    """
    return accrued_interest_trace(terms, schedule, as_of).result_minor


# --- schedule against actual ----------------------------------------------------------------


def _nearest_row(schedule: Schedule, paid_on: date) -> int:
    """Index of the row whose due date is nearest to ``paid_on`` (the earlier one on a tie)."""
    return min(range(len(schedule.rows)),
               key=lambda i: (abs((schedule.rows[i].due_on - paid_on).days), i))


def _check_actual(actual_payments: Sequence[tuple[date, int, int]]) -> None:
    problems = Problems()
    for index, payment in enumerate(actual_payments):
        ok = len(payment) == 3 and isinstance(payment[0], date) and \
            all(_is_amount(v) and v >= 0 for v in payment[1:])
        if not ok:
            problems.add("ACTUAL_PAYMENT_INVALID", f"actual payment {index + 1} must be "
                         f"(date, principal, interest) with non-negative integer amounts, got "
                         f"{payment!r}", f"actual_payments[{index}]")
    problems.raise_if_any()


def compare(schedule: Schedule, actual_payments: Sequence[tuple[date, int, int]]
            ) -> list[ComparisonRow]:
    """The schedule row by row against what was actually paid.

    Each actual ``(paid_on, principal, interest)`` is attributed to the row whose due date is
    nearest (a payment a few days early or late still meets its instalment); several payments
    to one row are added up. Rows with nothing attributed show zero actual amounts.
    """
    _check_actual(actual_payments)
    paid: list[list[tuple[date, int, int]]] = [[] for _ in schedule.rows]
    for payment in sorted(actual_payments):
        paid[_nearest_row(schedule, payment[0])].append(payment)
    out: list[ComparisonRow] = []
    actual_outstanding = schedule.terms.total_drawn_minor
    for row, payments in zip(schedule.rows, paid):
        actual_principal = sum(p[1] for p in payments)
        actual_interest = sum(p[2] for p in payments)
        actual_outstanding -= actual_principal
        out.append(ComparisonRow(
            number=row.number, due_on=row.due_on, paid_on=tuple(p[0] for p in payments),
            scheduled_principal=row.principal, actual_principal=actual_principal,
            principal_difference=actual_principal - row.principal,
            scheduled_interest=row.interest, actual_interest=actual_interest,
            interest_difference=actual_interest - row.interest,
            scheduled_closing_principal=row.closing_principal,
            actual_closing_principal=actual_outstanding))
    return out


__all__ = ["BUSINESS_DAY_CONVENTIONS", "DAY_COUNTS", "PROFILES", "ComparisonRow", "LoanTerms",
           "Schedule", "ScheduleRow",
           "accrual_days", "accrued_interest", "accrued_interest_trace",
           "adjust_to_business_day", "build_schedule", "compare", "is_month_end",
           "level_payment_exact", "roll_months", "validate_terms", "year_basis"]
