"""Investor unit returns: what capital has earned at the target rate, and what is still owed.

Pure. A class's (or a holder's) capital is a timeline of dated changes: money paid in starts
earning on the day it is paid in; money returned or written down stops earning on the day it
leaves. The return accrued by a date is, for every change, ``amount × rate × days from its date
to that date / 365`` (ACT/365: the first day counts, the last does not), summed exactly as a
Fraction and rounded once with the contract's rounding mode. What is owed is that accrued
total less every return already paid, so:

- a return paid only in part carries its unpaid part (arrears) to the next distribution;
- capital subscribed later earns only from its own date;
- rounding happens once on the cumulative figure, so yearly payments add up exactly to the
  return on the whole period (no yen drifts over the years);
- computing the figure again after it is paid gives zero (the ledger is the memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from math import gcd, lcm
from typing import cast

from ledger.rounding import RoundingMode
from settlement.trace import (
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
    show,
)

DAYS_IN_YEAR = 365


@dataclass(frozen=True)
class CapitalChange:
    """One dated change of the capital that earns a return.

    Attributes:
        on: the day the capital starts earning (paid in) or stops earning (returned).
        amount_minor: signed minor units: positive paid in, negative returned or written down.
        source: what caused it (entry kind and id), for the trace.
    """

    on: date
    amount_minor: int
    source: str = ""


@dataclass(frozen=True)
class ReturnOwed:
    """The return owed at a date and how it was obtained.

    Attributes:
        on: the date of the figure (a distribution date).
        accrued_exact: the return accrued on the capital timeline to ``on``, unrounded.
        accrued_minor: ``accrued_exact`` rounded once with the contract's mode.
        paid_minor: returns already paid by ``on``.
        owed_minor: ``accrued_minor − paid_minor``, never below zero.
        trace: every capital change, the sum, the rounding and the subtraction.
    """

    on: date
    accrued_exact: Fraction
    accrued_minor: int
    paid_minor: int
    owed_minor: int
    trace: Trace


def _rate(rate_annual: Decimal | Fraction | int | str) -> Fraction:
    if isinstance(rate_annual, float):
        raise TypeError("a rate is never a float: pass Decimal, Fraction, int or str")
    return Fraction(Decimal(rate_annual)) if isinstance(rate_annual, str) else Fraction(rate_annual)


Rate = Decimal | Fraction | int | str


@dataclass(frozen=True)
class RateSchedule:
    """The target return in force over time: ``(from_on, annual rate)`` pairs in date order,
    each rate applying from its day until the next one's (an amendment effective from a fiscal
    year changes the rate from that year's first day, never before).

    Amounts are counted in *rate-days*: days × rate × ``denominator`` (an integer, the least
    common multiple of the rates' denominators), so sums over thousands of holders stay
    integers."""

    periods: tuple[tuple[date, Fraction], ...]

    @classmethod
    def of(cls, rate: Rate | RateSchedule | Sequence[tuple[date, Rate]]) -> RateSchedule:
        if isinstance(rate, RateSchedule):
            return rate
        if isinstance(rate, (list, tuple)):
            periods = sorted((on, _rate(r)) for on, r in rate)
            if not periods or periods[0][0] != date.min:
                periods.insert(0, (date.min, Fraction(0)))
            return cls(tuple(periods))
        # One rate. (A str is a Sequence too, so mypy cannot narrow the union by the check above.)
        return cls(((date.min, _rate(cast(Rate, rate))),))

    @property
    def single(self) -> Fraction | None:
        """The one rate, when it never changes."""
        rates = {r for _, r in self.periods}
        return next(iter(rates)) if len(rates) == 1 else None

    @cached_property
    def denominator(self) -> int:
        return lcm(*(r.denominator for _, r in self.periods))

    @cached_property
    def _spans(self) -> tuple[tuple[date, date, int], ...]:
        """(from, until, rate × denominator) of each period."""
        bounds = [on for on, _ in self.periods[1:]] + [date.max]
        return tuple((since, until, rate.numerator * (self.denominator // rate.denominator))
                     for (since, rate), until in zip(self.periods, bounds))

    def rate_days(self, start: date, end: date) -> int:
        """Σ days × rate × ``denominator`` over ``[start, end)`` (first day in, last out)."""
        total = 0
        for since, until, scaled in self._spans:
            days = (min(end, until) - max(start, since)).days
            if days > 0:
                total += days * scaled
        return total

    def exact(self, start: date, end: date) -> Fraction:
        """The return of one unit of capital over ``[start, end)``, as a fraction of it."""
        return Fraction(self.rate_days(start, end), self.denominator * DAYS_IN_YEAR)

    def text(self) -> str:
        single = self.single
        if single is not None:
            return show(single)
        return "; ".join(f"{show(r)} from {on.isoformat()}" if on != date.min else show(r)
                         for on, r in self.periods)

    def terms(self) -> tuple[Step, ...]:
        """The schedule as trace data: each rate and the day it applies from."""
        single = self.single
        if single is not None:
            return (Step(Phrase.RATE_FROM, params={"rate": rate(single)}),)
        return tuple(Step(Phrase.RATE_FROM, params={
            "rate": rate(r), "from": None if on == date.min else day(on)})
            for on, r in self.periods)


def days_earning(change_on: date, on: date) -> int:
    """Days a change dated ``change_on`` counts by ``on`` (first day in, last day out)."""
    return max((on - change_on).days, 0)


def accrued_exact(changes: Sequence[CapitalChange],
                  rate_annual: Rate | RateSchedule, on: date) -> Fraction:
    """The exact return accrued to ``on`` on the capital timeline ``changes`` (changes dated
    after ``on`` do not count), at a rate or a :class:`RateSchedule`."""
    schedule = RateSchedule.of(rate_annual)
    return sum((Fraction(c.amount_minor) * schedule.exact(c.on, on)
                for c in changes if c.on <= on), Fraction(0))


def unpaid_weights(holdings: Sequence[tuple[int, int]], rate_annual: Rate) -> list[int]:
    """For each ``(yen-days of capital, return already paid)``, an integer proportional to the
    return accrued on that capital less what was paid (zero if paid in full or more), for
    splitting one payment between holders exactly.

    With the rate ``p/q``, the unpaid return is ``yen-days × p / (q × 365) − paid``; times the
    positive constant ``q × 365`` it is ``yen-days × p − paid × q × 365``: the same proportions,
    in integers, then divided by their greatest common divisor (holders who subscribed on the
    same day and were paid alike get weights in the ratio of their capital). At one rate
    ``p/q`` a day is ``p`` rate-days (the schedule's denominator is ``q``), so this is
    :func:`unpaid_weights_scheduled` on ``yen-days × p``.
    """
    rate = _rate(rate_annual)
    return unpaid_weights_scheduled([(yen_days * rate.numerator, paid_minor)
                                     for yen_days, paid_minor in holdings],
                                    RateSchedule.of(rate))


def unpaid_weights_scheduled(holdings: Sequence[tuple[int, int]],
                             schedule: RateSchedule) -> list[int]:
    """:func:`unpaid_weights` for ``(yen-rate-days, paid)`` pairs under ``schedule``: the
    unpaid return is ``yen-rate-days / (denominator × 365) − paid``, so the integers
    ``yen-rate-days − paid × denominator × 365`` are in the same proportions."""
    scale = schedule.denominator * DAYS_IN_YEAR
    return _reduced([max(yen_rate_days - paid_minor * scale, 0)
                     for yen_rate_days, paid_minor in holdings])


def _reduced(weights: list[int]) -> list[int]:
    common = gcd(*weights)
    return [w // common for w in weights] if common > 1 else weights


def _by_day(changes: Sequence[CapitalChange], on: date) -> list[tuple[date, int, int]]:
    """(date, net amount, number of changes) per day, in date order, up to ``on``."""
    days: dict[date, list[int]] = {}
    for change in changes:
        if change.on <= on:
            slot = days.setdefault(change.on, [0, 0])
            slot[0] += change.amount_minor
            slot[1] += 1
    return [(day, net, count) for day, (net, count) in sorted(days.items())]


def return_owed(about: About | str, changes: Sequence[CapitalChange],
                rate_annual: Rate | RateSchedule, on: date, paid_minor: int,
                mode: RoundingMode | str = RoundingMode.TRUNCATE) -> ReturnOwed:
    """The return owed at ``on``: accrued on ``changes`` at ``rate_annual`` (a rate, or a
    :class:`RateSchedule` when an amendment changed it) to ``on``, rounded once with ``mode``,
    less ``paid_minor`` already paid (never below zero).

    ``about`` names the unit class: ``About(Subject.INVESTOR_RETURN, instrument=class_id,
    on=on)``; a text instead is kept as the trace's English description (no identifiers)."""
    schedule = RateSchedule.of(rate_annual)
    single = schedule.single
    mode = RoundingMode(mode)
    if isinstance(about, str):
        about = About(Subject.INVESTOR_RETURN, on=on, name=about)
    trace = Trace(about, Step(Phrase.RULE_TARGET_RETURN, params={
        "rates": schedule.terms(), "basis": days(DAYS_IN_YEAR)}))
    trace.input(Phrase.RATE_ANNUAL, schedule.terms())
    trace.input(Phrase.VALUED_ON, day(on))
    for since, net, count in _by_day(changes, on):
        counted = days_earning(since, on)
        figures = {"on": day(since), "entries": number(count), "amount": minor(net),
                   "days": days(counted), "basis": days(DAYS_IN_YEAR)}
        if single is not None:
            trace.step(Phrase.CAPITAL_CHANGE, minor(Fraction(net) * single * counted
                                                    / DAYS_IN_YEAR),
                       rate=rate(single), **figures)
        else:
            trace.step(Phrase.CAPITAL_CHANGE, minor(Fraction(net) * schedule.exact(since, on)),
                       rate_days=number(schedule.rate_days(since, on)),
                       denominator=number(schedule.denominator), **figures)
    exact = accrued_exact(changes, schedule, on)
    trace.step(Phrase.ACCRUED, minor(exact), on=day(on))
    accrued = trace.rounded(exact, mode)
    trace.step(Phrase.ACCRUED_ROUNDED, minor(accrued), mode=ROUNDING_TERMS[mode])
    trace.step(Phrase.ALREADY_PAID, minor(paid_minor), on=day(on))
    owed = max(accrued - paid_minor, 0)
    trace.step(Phrase.OWED, minor(owed), accrued=minor(accrued), paid=minor(paid_minor))
    trace.result_minor = owed
    return ReturnOwed(on, exact, accrued, paid_minor, owed, trace)
