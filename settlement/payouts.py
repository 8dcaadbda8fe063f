"""Payment rules executed: audited KPI value → earned amount of one tranche, with its trace.

One pure function per rule shape of ``contracts.rules``. Each computes the earned share of the
tranche maximum exactly (``Fraction``), applies the contract's rounding once at the end
(``ledger.rounding``), never pays more than the maximum, and records every step in a
:class:`~settlement.trace.Trace` as data (figures with their units, no sentences). "Meeting" a
threshold follows the KPI's direction: where lower is better, a value meets a threshold at or
below it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from contracts.model import Contract
from contracts.rules import (
    BinaryThresholdRule,
    FixedRule,
    LinearRule,
    PaymentRule,
    ProRataRule,
    RateCardRule,
    SavingsShareRule,
    SteppedRule,
)
from ledger.errors import SibError
from ledger.money import exponent
from ledger.rounding import RoundingMode
from settlement.trace import (
    DIRECTION_TERMS,
    About,
    Figure,
    Party,
    Phrase,
    Step,
    Subject,
    Trace,
    Unit,
    minor,
    rate,
    share,
)


@dataclass(frozen=True)
class KpiInput:
    """What the audited result says, as the rules need it.

    Attributes:
        value: the audited KPI value (percent as ``83.5`` for 83.5 %, counts, yen…).
        direction: ``higher`` or ``lower`` (is better).
        target: the KPI's target for the period, if the contract gives one.
        outcomes_per_person: for rate cards, the outcomes achieved by each person.
        unit: the KPI's unit (``contracts.model.Kpi.unit``), for the trace; empty when the
            caller does not know it.
        minor_per_unit: minor units in one unit of the value, for a KPI measured in money:
            it is measured in the currency's major units (``12500.50`` pounds), the rules pay
            in minor units (100 pence a pound; 1 for yen and every other KPI).
    """

    value: Decimal
    direction: str = "higher"
    target: Decimal | None = None
    outcomes_per_person: tuple[int, ...] | None = None
    unit: str = ""
    minor_per_unit: int = 1


def kpi_input(contract: Contract, kpi_id: str, payer: str, fiscal_year: int, value: Decimal,
              per_person: tuple[int, ...] | None = None) -> KpiInput:
    """One result as the rules take it: with the KPI's direction, its target for the year
    (the payer's own where it has one) and, for a KPI measured in money, the currency's minor
    units per major unit. Settlement, the what-if and the simulation all build it here."""
    kpi = contract.kpi(kpi_id)
    target = kpi.targets_by_payer.get(payer, {}).get(fiscal_year) if payer else None
    if target is None:
        target = kpi.targets.get(fiscal_year)
    scale = 10**exponent(contract.currency) if kpi.unit == "money" else 1
    return KpiInput(value, kpi.direction, target, per_person, minor_per_unit=scale)


@dataclass(frozen=True)
class Payout:
    """An earned amount and how it was computed."""

    amount_minor: int
    trace: Trace


def _meets(value: Decimal, threshold: Decimal, direction: str) -> bool:
    return value >= threshold if direction == "higher" else value <= threshold


def _kpi(kpi: KpiInput | None, value: Decimal | Fraction | int) -> Figure:
    """A figure in the KPI's unit (``Unit.KPI`` when the caller did not name it)."""
    return Figure(value, Unit(kpi.unit) if kpi is not None and kpi.unit else Unit.KPI)


def _direction(kpi: KpiInput) -> Phrase:
    return DIRECTION_TERMS[kpi.direction]


def _finish(trace: Trace, exact_minor: Fraction, maximum_minor: int,
            rounding: RoundingMode) -> Payout:
    capped = min(max(exact_minor, Fraction(0)), Fraction(maximum_minor))
    if capped != exact_minor:
        trace.step(Phrase.CAPPED, minor(capped), maximum=minor(maximum_minor))
    amount = trace.rounded(capped, rounding)
    trace.result_minor = amount
    return Payout(amount, trace)


def binary_threshold(rule: BinaryThresholdRule, maximum_minor: int, kpi: KpiInput,
                     rounding: RoundingMode, about: About | None = None) -> Payout:
    """The whole maximum if the KPI meets the threshold, else nothing."""
    trace = _start(about, Step(Phrase.RULE_BINARY_THRESHOLD, params={
        "threshold": _kpi(kpi, rule.threshold), "direction": _direction(kpi)}),
        maximum_minor, kpi)
    met = _meets(kpi.value, rule.threshold, kpi.direction)
    trace.step(Phrase.THRESHOLD_MET, Phrase.YES if met else Phrase.NO,
               kpi=_kpi(kpi, kpi.value), threshold=_kpi(kpi, rule.threshold),
               direction=_direction(kpi))
    return _finish(trace, Fraction(maximum_minor if met else 0), maximum_minor, rounding)


def linear(rule: LinearRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
           about: About | None = None) -> Payout:
    """Nothing at the floor, everything at the cap, a straight line between, nothing beyond
    the floor on the wrong side."""
    trace = _start(about, Step(Phrase.RULE_LINEAR, params={
        "floor": _kpi(kpi, rule.floor), "cap": _kpi(kpi, rule.cap)}), maximum_minor, kpi)
    span = Fraction(rule.cap) - Fraction(rule.floor)
    earned_share = (Fraction(kpi.value) - Fraction(rule.floor)) / span
    earned_share = min(max(earned_share, Fraction(0)), Fraction(1))
    trace.step(Phrase.SHARE_EARNED, share(earned_share), kpi=_kpi(kpi, kpi.value),
               floor=_kpi(kpi, rule.floor), cap=_kpi(kpi, rule.cap))
    exact = earned_share * maximum_minor
    trace.step(Phrase.AMOUNT_OF_SHARE, minor(exact), share=share(earned_share),
               maximum=minor(maximum_minor))
    return _finish(trace, exact, maximum_minor, rounding)


def pro_rata(rule: ProRataRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
             about: About | None = None) -> Payout:
    """Maximum × achieved ÷ target (inverted where lower is better), at most the maximum."""
    target = rule.target if rule.target is not None else kpi.target
    if target is None or target <= 0:
        where = f"{_subject(about)}: " if about is not None else ""
        raise SibError(f"{where}a pro-rata rule needs a positive target", "TARGET_MISSING",
                       "rule.target")
    trace = _start(about, Step(Phrase.RULE_PRO_RATA, params={
        "target": _kpi(kpi, target), "direction": _direction(kpi)}), maximum_minor, kpi)
    if kpi.direction == "higher":
        achieved = Fraction(kpi.value) / Fraction(target)
    else:
        achieved = Fraction(target) / Fraction(kpi.value) if kpi.value > 0 else Fraction(1)
    trace.step(Phrase.ACHIEVEMENT, share(achieved), kpi=_kpi(kpi, kpi.value),
               target=_kpi(kpi, target), direction=_direction(kpi))
    exact = min(achieved, Fraction(1)) * maximum_minor
    trace.step(Phrase.AMOUNT_OF_ACHIEVEMENT, minor(exact), maximum=minor(maximum_minor))
    return _finish(trace, exact, maximum_minor, rounding)


def stepped(rule: SteppedRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
            about: About | None = None) -> Payout:
    """The tier with ``from ≤ value < to`` gives an amount or a percentage of the maximum."""
    tiers = tuple(
        Step(Phrase.TIER_AMOUNT, params={
            "from": _kpi(kpi, t.from_value),
            "to": None if t.to_value is None else _kpi(kpi, t.to_value),
            "amount": minor(t.amount_minor)}) if t.amount_minor is not None
        else Step(Phrase.TIER_PERCENT, params={
            "from": _kpi(kpi, t.from_value),
            "to": None if t.to_value is None else _kpi(kpi, t.to_value),
            "percent": Figure(t.percent or Decimal(0), Unit.PERCENT)})
        for t in rule.tiers)
    trace = _start(about, Step(Phrase.RULE_STEPPED, params={"tiers": tiers}), maximum_minor, kpi)
    for tier in rule.tiers:
        if kpi.value >= tier.from_value and (tier.to_value is None or kpi.value < tier.to_value):
            if tier.amount_minor is not None:
                exact = Fraction(tier.amount_minor)
                trace.step(Phrase.TIER_BY_AMOUNT, minor(exact),
                           **{"from": _kpi(kpi, tier.from_value), "kpi": _kpi(kpi, kpi.value)})
            else:
                exact = Fraction(tier.percent or 0) / 100 * maximum_minor
                trace.step(Phrase.TIER_BY_PERCENT, minor(exact),
                           percent=Figure(tier.percent or Decimal(0), Unit.PERCENT),
                           maximum=minor(maximum_minor))
            return _finish(trace, exact, maximum_minor, rounding)
    trace.step(Phrase.NO_TIER, minor(0), kpi=_kpi(kpi, kpi.value))
    return _finish(trace, Fraction(0), maximum_minor, rounding)


def rate_card(rule: RateCardRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
              about: About | None = None) -> Payout:
    """Price per outcome; per person at most ``cap_per_person``; in total at most
    ``cap_total`` and the maximum."""
    price = rule.price_per_outcome_minor
    trace = _start(about, Step(Phrase.RULE_RATE_CARD, params={"price": minor(price)}),
                   maximum_minor, kpi)
    total: int | Fraction
    if kpi.outcomes_per_person is not None:
        per_person = [count * price for count in kpi.outcomes_per_person]
        if rule.cap_per_person_minor is not None:
            per_person = [min(p, rule.cap_per_person_minor) for p in per_person]
        total = sum(per_person)
        trace.step(Phrase.EARNED_PER_PERSON, minor(total), price=minor(price),
                   cap=None if rule.cap_per_person_minor is None
                   else minor(rule.cap_per_person_minor),
                   persons=Figure(len(per_person), Unit.PEOPLE))
    else:
        total = Fraction(kpi.value) * price
        trace.step(Phrase.EARNED_OUTCOMES, minor(total), outcomes=_kpi(kpi, kpi.value),
                   price=minor(price))
    if rule.cap_total_minor is not None and total > rule.cap_total_minor:
        total = rule.cap_total_minor
        trace.step(Phrase.TOTAL_CAP, minor(total), cap=minor(rule.cap_total_minor))
    return _finish(trace, Fraction(total), maximum_minor, rounding)


def savings_share(rule: SavingsShareRule, maximum_minor: int, kpi: KpiInput,
                  rounding: RoundingMode, about: About | None = None) -> Payout:
    """A share of the audited savings up to the hurdle, then the lower share above it.

    The KPI value is the audited cost avoided, measured in the contract currency's major
    units; it is compared with the hurdle and shared in minor units (``minor_per_unit``).
    """
    trace = _start(about, Step(Phrase.RULE_SAVINGS_SHARE, params={
        "before": rate(rule.share_before_hurdle), "hurdle": minor(rule.hurdle_amount_minor),
        "after": rate(rule.share_after_hurdle)}), maximum_minor, kpi)
    savings = max(Fraction(kpi.value) * kpi.minor_per_unit, Fraction(0))
    below = min(savings, Fraction(rule.hurdle_amount_minor))
    above = savings - below
    exact = below * Fraction(rule.share_before_hurdle) + above * Fraction(rule.share_after_hurdle)
    trace.step(Phrase.SHARE_BELOW_HURDLE, minor(below * Fraction(rule.share_before_hurdle)),
               savings=minor(below), share=rate(rule.share_before_hurdle))
    trace.step(Phrase.SHARE_ABOVE_HURDLE, minor(above * Fraction(rule.share_after_hurdle)),
               savings=minor(above), share=rate(rule.share_after_hurdle))
    return _finish(trace, exact, maximum_minor, rounding)


def fixed(rule: FixedRule, maximum_minor: int, kpi: KpiInput | None, rounding: RoundingMode,
          about: About | None = None) -> Payout:
    """The whole maximum, paid on delivery whatever the outcome."""
    trace = _start(about, Step(Phrase.RULE_FIXED), maximum_minor, kpi)
    return _finish(trace, Fraction(maximum_minor), maximum_minor, rounding)


@dataclass(frozen=True)
class Test:
    """One of a tranche's conditions with the audited result it is judged on.

    Attributes:
        kpi_id: the KPI tested.
        kpi: its audited result (with its direction and unit).
        threshold: the value to meet (the condition's, or the KPI's target for the year).
    """

    kpi_id: str
    kpi: KpiInput
    threshold: Decimal


def conditions_hold(mode: str, tests: Sequence[Test]) -> tuple[bool, list[Step]]:
    """Whether ``all_of`` (every test met) or ``any_of`` (at least one) holds, with one step
    per test and the verdict, for the trace."""
    steps = []
    met_each = []
    for test in tests:
        met = _meets(test.kpi.value, test.threshold, test.kpi.direction)
        met_each.append(met)
        steps.append(Step(Phrase.CONDITION_MET, Phrase.YES if met else Phrase.NO, {
            "name": Party(test.kpi_id), "kpi": _kpi(test.kpi, test.kpi.value),
            "threshold": _kpi(test.kpi, test.threshold), "direction": _direction(test.kpi)}))
    holds = all(met_each) if mode == "all_of" else any(met_each)
    steps.append(Step(Phrase.CONDITIONS_HOLD, Phrase.YES if holds else Phrase.NO,
                      {"mode": Phrase.ALL_OF if mode == "all_of" else Phrase.ANY_OF}))
    return holds, steps


def conditional(mode: str, tests: Sequence[Test], rule: PaymentRule, maximum_minor: int,
                kpi: KpiInput | None, rounding: RoundingMode,
                about: About | None = None) -> Payout:
    """A tranche with conditions over several KPIs: its own rule decides the amount when the
    conditions hold, and it pays 0 when they do not. The trace shows each condition first."""
    holds, steps = conditions_hold(mode, tests)
    if holds:
        payout = earned(rule, maximum_minor, kpi, rounding, about)
        trace = payout.trace
        if rule.type == "fixed":
            trace.rule = _fixed_on(mode)
        trace.steps[:0] = steps
        if trace.rounding is not None and trace.rounding.after_steps is not None:
            trace.rounding = replace(trace.rounding,
                                     after_steps=trace.rounding.after_steps + len(steps))
        return payout
    shown = earned(rule, maximum_minor, kpi, rounding, about).trace  # the rule as written
    trace = Trace(shown.about, _fixed_on(mode) if rule.type == "fixed" else shown.rule,
                  shown.inputs, steps)
    return _finish(trace, Fraction(0), maximum_minor, rounding)


def _fixed_on(mode: str) -> Step:
    """A fixed payment behind conditions: "the whole maximum when they hold"."""
    return Step(Phrase.RULE_FIXED_ON_CONDITIONS,
                params={"mode": Phrase.ALL_OF if mode == "all_of" else Phrase.ANY_OF})


_RULES: dict[str, Callable[..., Payout]] = {
    "binary_threshold": binary_threshold, "linear": linear, "pro_rata": pro_rata,
    "stepped": stepped, "rate_card": rate_card, "savings_share": savings_share, "fixed": fixed}


def earned(rule: PaymentRule, maximum_minor: int, kpi: KpiInput | None, rounding: RoundingMode,
           about: About | None = None) -> Payout:
    """Dispatch on the rule's ``type``; every rule but ``fixed`` needs an audited KPI value.
    ``about`` says which tranche (and payer) the trace explains."""
    kind = rule.type
    if kind != "fixed" and kpi is None:
        where = f"{_subject(about)}: " if about is not None else ""
        raise SibError(f"{where}no audited KPI result", "KPI_RESULT_MISSING", "kpi")
    return _RULES[kind](rule, maximum_minor, kpi, rounding, about)


def _subject(about: About) -> str:
    return Trace(about, Step(Phrase.RULE_FIXED)).subject


def _start(about: About | None, rule: Step, maximum_minor: int, kpi: KpiInput | None) -> Trace:
    trace = Trace(about or About(Subject.TRANCHE), rule)
    trace.input(Phrase.MAXIMUM, minor(maximum_minor))
    if kpi is not None:
        trace.input(Phrase.AUDITED_VALUE, _kpi(kpi, kpi.value))
        trace.input(Phrase.DIRECTION, _direction(kpi))
        if kpi.target is not None:
            trace.input(Phrase.TARGET, _kpi(kpi, kpi.target))
        if kpi.outcomes_per_person is not None:
            trace.input(Phrase.PERSONS, Figure(len(kpi.outcomes_per_person), Unit.PEOPLE))
    return trace

