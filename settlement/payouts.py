"""Payment rules executed: audited KPI value → earned amount of one tranche, with its trace.

One pure function per rule shape of ``contracts.rules``. Each computes the earned share of the
tranche maximum exactly (``Fraction``), applies the contract's rounding once at the end
(``ledger.rounding``), never pays more than the maximum, and records every step in a
:class:`~settlement.trace.Trace`. "Meeting" a threshold follows the KPI's direction: where lower
is better, a value meets a threshold at or below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from contracts.rules import (
    BinaryThresholdRule,
    FixedRule,
    LinearRule,
    ProRataRule,
    RateCardRule,
    SavingsShareRule,
    SteppedRule,
)
from ledger.errors import SibError
from ledger.rounding import RoundingMode, round_minor
from settlement.trace import Trace, show


@dataclass(frozen=True)
class KpiInput:
    """What the audited result says, as the rules need it.

    Attributes:
        value: the audited KPI value (percent as ``83.5`` for 83.5 %, counts, yen…).
        direction: ``higher`` or ``lower`` (is better).
        target: the KPI's target for the period, if the contract gives one.
        outcomes_per_person: for rate cards, the outcomes achieved by each person.
    """

    value: Decimal
    direction: str = "higher"
    target: Decimal | None = None
    outcomes_per_person: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Payout:
    """An earned amount and how it was computed."""

    amount_minor: int
    trace: Trace


def _meets(value: Decimal, threshold: Decimal, direction: str) -> bool:
    return value >= threshold if direction == "higher" else value <= threshold


def _finish(trace: Trace, exact_minor: Fraction, maximum_minor: int,
            rounding: RoundingMode) -> Payout:
    capped = min(max(exact_minor, Fraction(0)), Fraction(maximum_minor))
    if capped != exact_minor:
        trace.step("capped", f"between 0 and the maximum {maximum_minor:,}", capped)
    amount = round_minor(capped, rounding)
    dropped = capped - amount
    trace.rounding = f"{rounding.value}: {show(capped)} → {amount:,}" + \
        (f" (fraction {show(dropped)} dropped)" if dropped else " (exact)")
    trace.result_minor = amount
    return Payout(amount, trace)


def binary_threshold(rule: BinaryThresholdRule, maximum_minor: int, kpi: KpiInput,
                     rounding: RoundingMode, subject: str = "") -> Payout:
    """The whole maximum if the KPI meets the threshold, else nothing."""
    trace = _start(subject, f"binary threshold at {show(rule.threshold)}", maximum_minor, kpi)
    met = _meets(kpi.value, rule.threshold, kpi.direction)
    sign = "≥" if kpi.direction == "higher" else "≤"
    trace.step("threshold met", f"{show(kpi.value)} {sign} {show(rule.threshold)}",
               "yes" if met else "no")
    return _finish(trace, Fraction(maximum_minor if met else 0), maximum_minor, rounding)


def linear(rule: LinearRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
           subject: str = "") -> Payout:
    """Nothing at the floor, everything at the cap, a straight line between, nothing beyond
    the floor on the wrong side."""
    trace = _start(subject, f"linear from {show(rule.floor)} (0) to {show(rule.cap)} (full)",
                   maximum_minor, kpi)
    span = Fraction(rule.cap) - Fraction(rule.floor)
    share = (Fraction(kpi.value) - Fraction(rule.floor)) / span
    share = min(max(share, Fraction(0)), Fraction(1))
    trace.step("share earned", f"({show(kpi.value)} − {show(rule.floor)}) ÷ "
               f"({show(rule.cap)} − {show(rule.floor)}), within 0..1", share)
    exact = share * maximum_minor
    trace.step("amount", f"{show(share)} × {maximum_minor:,}", exact)
    return _finish(trace, exact, maximum_minor, rounding)


def pro_rata(rule: ProRataRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
             subject: str = "") -> Payout:
    """Maximum × achieved ÷ target (inverted where lower is better), at most the maximum."""
    target = rule.target if rule.target is not None else kpi.target
    if target is None or target <= 0:
        raise SibError(f"{subject}: a pro-rata rule needs a positive target", "TARGET_MISSING",
                       "rule.target")
    trace = _start(subject, f"pro rata to target {show(target)}", maximum_minor, kpi)
    if kpi.direction == "higher":
        share = Fraction(kpi.value) / Fraction(target)
        trace.step("achievement", f"{show(kpi.value)} ÷ {show(target)}", share)
    else:
        share = Fraction(target) / Fraction(kpi.value) if kpi.value > 0 else Fraction(1)
        trace.step("achievement", f"{show(target)} ÷ {show(kpi.value)} (lower is better)", share)
    share = min(share, Fraction(1))
    exact = share * maximum_minor
    trace.step("amount", f"min(achievement, 1) × {maximum_minor:,}", exact)
    return _finish(trace, exact, maximum_minor, rounding)


def stepped(rule: SteppedRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
            subject: str = "") -> Payout:
    """The tier with ``from ≤ value < to`` gives an amount or a percentage of the maximum."""
    trace = _start(subject, "stepped tiers " + "; ".join(
        f"[{show(t.from_value)}, {show(t.to_value) if t.to_value is not None else '∞'}) → "
        f"{f'{t.amount_minor:,}' if t.amount_minor is not None else f'{show(t.percent)} %'}"
        for t in rule.tiers), maximum_minor, kpi)
    for tier in rule.tiers:
        if kpi.value >= tier.from_value and (tier.to_value is None or kpi.value < tier.to_value):
            if tier.amount_minor is not None:
                exact = Fraction(tier.amount_minor)
                trace.step("tier", f"{show(tier.from_value)} ≤ {show(kpi.value)}", exact)
            else:
                exact = Fraction(tier.percent or 0) / 100 * maximum_minor
                trace.step("tier", f"{show(tier.percent)} % × {maximum_minor:,}", exact)
            return _finish(trace, exact, maximum_minor, rounding)
    trace.step("tier", f"{show(kpi.value)} is in no tier", 0)
    return _finish(trace, Fraction(0), maximum_minor, rounding)


def rate_card(rule: RateCardRule, maximum_minor: int, kpi: KpiInput, rounding: RoundingMode,
              subject: str = "") -> Payout:
    """Price per outcome; per person at most ``cap_per_person``; in total at most
    ``cap_total`` and the maximum."""
    trace = _start(subject, f"rate card {rule.price_per_outcome_minor:,} per outcome",
                   maximum_minor, kpi)
    price = rule.price_per_outcome_minor
    if kpi.outcomes_per_person is not None:
        per_person = [count * price for count in kpi.outcomes_per_person]
        if rule.cap_per_person_minor is not None:
            per_person = [min(p, rule.cap_per_person_minor) for p in per_person]
        total = sum(per_person)
        trace.step("earned per person", f"Σ min(outcomes × {price:,}, cap per person "
                   f"{rule.cap_per_person_minor or '—'}) over {len(per_person)} persons", total)
    else:
        total = Fraction(kpi.value) * price
        trace.step("earned", f"{show(kpi.value)} outcomes × {price:,}", total)
    if rule.cap_total_minor is not None and total > rule.cap_total_minor:
        total = rule.cap_total_minor
        trace.step("total cap", f"at most {rule.cap_total_minor:,}", total)
    return _finish(trace, Fraction(total), maximum_minor, rounding)


def savings_share(rule: SavingsShareRule, maximum_minor: int, kpi: KpiInput,
                  rounding: RoundingMode, subject: str = "") -> Payout:
    """A share of the audited savings up to the hurdle, then the lower share above it.

    The KPI value is the audited cost avoided, in the contract currency's minor units.
    """
    trace = _start(subject, f"savings share {show(rule.share_before_hurdle)} up to "
                   f"{rule.hurdle_amount_minor:,}, then {show(rule.share_after_hurdle)}",
                   maximum_minor, kpi)
    savings = max(Fraction(kpi.value), Fraction(0))
    below = min(savings, Fraction(rule.hurdle_amount_minor))
    above = savings - below
    exact = below * Fraction(rule.share_before_hurdle) + above * Fraction(rule.share_after_hurdle)
    trace.step("share below hurdle", f"{show(below)} × {show(rule.share_before_hurdle)}",
               below * Fraction(rule.share_before_hurdle))
    trace.step("share above hurdle", f"{show(above)} × {show(rule.share_after_hurdle)}",
               above * Fraction(rule.share_after_hurdle))
    return _finish(trace, exact, maximum_minor, rounding)


def fixed(rule: FixedRule, maximum_minor: int, kpi: KpiInput | None, rounding: RoundingMode,
          subject: str = "") -> Payout:
    """The whole maximum, paid on delivery whatever the outcome."""
    trace = _start(subject, "fixed: paid on delivery", maximum_minor, kpi)
    return _finish(trace, Fraction(maximum_minor), maximum_minor, rounding)


_RULES = {"binary_threshold": binary_threshold, "linear": linear, "pro_rata": pro_rata,
          "stepped": stepped, "rate_card": rate_card, "savings_share": savings_share,
          "fixed": fixed}


def earned(rule: object, maximum_minor: int, kpi: KpiInput | None, rounding: RoundingMode,
           subject: str = "") -> Payout:
    """Dispatch on the rule's ``type``; every rule but ``fixed`` needs an audited KPI value."""
    kind = rule.type
    if kind != "fixed" and kpi is None:
        raise SibError(f"{subject}: no audited KPI result", "KPI_RESULT_MISSING", "kpi")
    return _RULES[kind](rule, maximum_minor, kpi, rounding, subject)  # type: ignore[operator]


def _start(subject: str, rule_text: str, maximum_minor: int, kpi: KpiInput | None) -> Trace:
    trace = Trace(subject=subject, rule=rule_text)
    trace.inputs["maximum"] = f"{maximum_minor:,}"
    if kpi is not None:
        trace.inputs["audited value"] = show(kpi.value)
        trace.inputs["direction"] = f"{kpi.direction} is better"
        if kpi.target is not None:
            trace.inputs["target"] = show(kpi.target)
        if kpi.outcomes_per_person is not None:
            trace.inputs["persons"] = str(len(kpi.outcomes_per_person))
    return trace
