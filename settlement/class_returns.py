"""A unit class's return by its own rule (issue 13): simple, tiered on an audited KPI with a
minimum coupon, compounding, an IRR target on the dated cash flows, a fixed amount, each with
an optional cap — and what is owed at a date. Pure.

Every rule gives the same two figures: the return *accrued* to a date (cumulative since the
first subscription, rounded once with the contract's mode) and what is *owed* = accrued − the
returns already paid (never below zero). So a return paid in part carries its arrears, paying
it again gives zero, and a rule whose rate becomes known only later (a tier table on a KPI
audited after the year) catches up at the next distribution.

Rates that depend on time are simple within the rule's own convention:

- ``simple`` / ``tiered``: ``amount × rate × days / 365`` per capital change, with the rate of
  each period (:class:`~settlement.unit_returns.RateSchedule`); a tiered class's periods are
  its fiscal years, each at the rate its KPI result reaches (at least the minimum coupon in
  the first years).
- ``irr`` and ``compounding``: the return is what makes the class's dated cash flows worth
  nothing at the rate: accrued = Σ contributions × g(t, on) − Σ paid × g(t, on) − capital
  outstanding + returns paid, where ``paid`` is every payment to the class (returns and
  capital) and g is the growth factor from ``t`` to ``on``. For ``irr`` g = (1 + r)^(days/365);
  this power is irrational, so it is computed in decimal arithmetic to 50 significant digits
  (far below a millionth of a yen on any amount the ledger accepts) and the result rounded
  once. For ``compounding`` g = (1 + r)^n × (1 + r × d / 365) for n whole years of 365 days and
  d days left: exact.
- ``fixed_amount``: the amount, owed at the final distribution.

A cap bounds the accrued return: a simple rate, an IRR (the ``irr`` accrual at that rate) or a
multiple of the capital paid in (``(m − 1) ×`` contributions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction

from contracts.chart import provider_payee
from contracts.instruments import CurvePoint, RateTier, ReturnTerms, UnitClass
from contracts.liability import tranche_maxima_in_year
from contracts.model import Contract
from ledger.money import exponent
from ledger.rounding import RemainderPolicy, RoundingMode, allocate, round_minor
from settlement.trace import (
    ROUNDING_TERMS,
    About,
    Figure,
    Party,
    Phrase,
    Step,
    Subject,
    Trace,
    Unit,
    day,
    days,
    minor,
    number,
    rate,
)
from settlement.unit_returns import (
    DAYS_IN_YEAR,
    CapitalChange,
    RateSchedule,
    ReturnOwed,
    accrued_exact,
    return_owed,
)
from settlement.waterfall import Claim

_DIGITS = 50


@dataclass(frozen=True)
class Flow:
    """A dated cash flow of the class: positive paid in, negative paid out to it (a return
    or capital) — from the class's side, the investors' money."""

    on: date
    amount_minor: int


Measure = Decimal | Fraction  # a year's KPI result, or its outcome payments received (exact)

# What each basis of a tiered or curve return reads, as its trace shows the year's value.
_MEASURE_UNIT = {"kpi": Unit.NUMBER, "outcome_payments": Unit.MONEY,
                 "outcome_payments_percent": Unit.PERCENT}
_MEASURE_PHRASE = {"outcome_payments": Phrase.OUTCOME_PAYMENTS_RECEIVED,
                   "outcome_payments_percent": Phrase.OUTCOME_PAYMENTS_SHARE}


def tier_rate(tiers: Sequence[RateTier], value: Measure) -> Fraction:
    """The rate of the tier ``value`` falls in (``from`` included, ``to`` excluded); 0 when
    it is in none. Compared exactly (a share of the outcome payments may be a repeating
    fraction)."""
    exact = Fraction(value)
    for tier in tiers:
        if exact >= Fraction(tier.from_value) and (
                tier.to_value is None or exact < Fraction(tier.to_value)):
            return Fraction(tier.rate)
    return Fraction(0)


def curve_rate(points: Sequence[CurvePoint], value: Measure) -> Fraction:
    """The rate at ``value`` on the piecewise-linear curve through ``points`` (in value order):
    the first point's rate below the first, the last's above the last, exact in between."""
    ordered = sorted(points, key=lambda p: p.value)
    value = Fraction(value)
    if not ordered:
        return Fraction(0)
    if value <= ordered[0].value:
        return Fraction(ordered[0].rate)
    for low, high in zip(ordered, ordered[1:]):
        if value <= high.value:
            share = (Fraction(value) - Fraction(low.value)) / (Fraction(high.value)
                                                                - Fraction(low.value))
            return Fraction(low.rate) + share * (Fraction(high.rate) - Fraction(low.rate))
    return Fraction(ordered[-1].rate)


def tiered_schedule(terms: ReturnTerms, years: Sequence[tuple[int, date]],
                    results: Mapping[int, Measure], first_sale_year: int
                    ) -> tuple[RateSchedule, list[Step]]:
    """The rate of each fiscal year (``years``: (fiscal year, its first day), in order) from
    the year's measure (its KPI result, or the outcome payments received for it, as the
    rule's ``basis`` says), at least ``minimum_rate`` in the first ``minimum_years`` fiscal
    years from the first sale; a year without a measure earns the minimum (or 0)."""
    periods: list[tuple[date, Fraction]] = []
    steps: list[Step] = []
    minimum = Fraction(terms.minimum_rate) if terms.minimum_rate is not None else Fraction(0)
    for year, starts in years:
        floor = minimum if terms.minimum_years is not None \
            and year < first_sale_year + terms.minimum_years else Fraction(0)
        value = results.get(year)
        from_tier = None if value is None else (
            curve_rate(terms.points, value) if terms.rule == "curve"
            else tier_rate(terms.tiers, value))
        chosen = max(from_tier or Fraction(0), floor)
        params: dict[str, Figure | Phrase | None] = {
            "year": number(year), "floor": rate(floor),
            "tier": None if from_tier is None else rate(from_tier),
            "kpi": None if value is None else Figure(value, _MEASURE_UNIT[terms.basis]),
            "measure": _MEASURE_PHRASE.get(terms.basis)}
        steps.append(Step(Phrase.YEAR_RATE, rate(chosen), params))
        periods.append((date.min if not periods else starts, chosen))
    return RateSchedule(tuple(periods) or ((date.min, Fraction(0)),)), steps


def _growth(rule: str, rate_annual: Fraction, since: date, on: date) -> Fraction:
    """g(since, on): (1 + r)^(days/365) for ``irr`` (to 50 digits), (1 + r)^n (1 + r d/365)
    for ``compounding`` (exact)."""
    elapsed = max((on - since).days, 0)
    if rule == "compounding":
        years, rest = divmod(elapsed, DAYS_IN_YEAR)
        return (1 + rate_annual) ** years * (1 + rate_annual * rest / DAYS_IN_YEAR)
    with localcontext() as ctx:
        ctx.prec = _DIGITS
        base = Decimal(rate_annual.numerator) / Decimal(rate_annual.denominator) + 1
        power = (base.ln() * elapsed / DAYS_IN_YEAR).exp()
    return Fraction(power)


def flows_accrued(rule: str, rate_annual: Fraction, flows: Sequence[Flow],
                  returns_paid_minor: int, on: date) -> tuple[Fraction, list[Step]]:
    """The accrued return of ``irr`` / ``compounding``: Σ flow × g(t, on) − capital
    outstanding + returns paid (see the module's docstring), with one step per flow (its
    growth factor shown to 12 decimal places; the value uses it in full)."""
    steps = []
    valued = Fraction(0)
    for flow in flows:
        if flow.on > on:
            continue
        growth = _growth(rule, rate_annual, flow.on, on)
        value = flow.amount_minor * growth
        valued += value
        steps.append(Step(Phrase.FLOW_VALUE, minor(value), {
            "on": day(flow.on), "amount": minor(flow.amount_minor),
            "days": days(max((on - flow.on).days, 0)),
            "growth": number(growth if growth.denominator == 1 or (10**12) % growth.denominator == 0
                             else Fraction(round(growth * 10**12), 10**12))}))
    return valued, steps


@dataclass(frozen=True)
class ClassInputs:
    """What a class's return depends on, read from the ledger and the audited results.

    Attributes:
        changes: the capital timeline (subscriptions +, capital returned or written down −).
        flows: every payment in (+) and out to the class (−: returns and capital), dated.
        returns_paid_minor: the returns already distributed by the date.
        schedule: the simple rate schedule (``simple``; the target return's amendments).
        tier_steps: for ``tiered``, how each fiscal year's rate was chosen.
        final: whether this is the final distribution (``fixed_amount`` is owed then).
    """

    changes: tuple[CapitalChange, ...]
    flows: tuple[Flow, ...]
    returns_paid_minor: int
    schedule: RateSchedule | None = None
    tier_steps: tuple[Step, ...] = ()
    final: bool = False


def class_return_owed(about: About, terms: ReturnTerms, inputs: ClassInputs, on: date,
                      mode: RoundingMode | str) -> ReturnOwed:
    """The return owed to a class at ``on`` by its rule, with its trace."""
    mode = RoundingMode(mode)
    trace = Trace(about, _rule_step(terms, inputs))
    trace.input(Phrase.VALUED_ON, day(on))
    capital_in = sum(c.amount_minor for c in inputs.changes if c.amount_minor > 0 and c.on <= on)
    outstanding = sum(c.amount_minor for c in inputs.changes if c.on <= on)
    exact = _accrued(terms, inputs, on, outstanding, trace)
    exact = _capped(terms, inputs, on, outstanding, capital_in, exact, trace)
    exact = max(exact, Fraction(0))
    trace.step(Phrase.ACCRUED, minor(exact), on=day(on))
    accrued = trace.rounded(exact, mode)
    trace.step(Phrase.ACCRUED_ROUNDED, minor(accrued), mode=ROUNDING_TERMS[mode])
    paid = inputs.returns_paid_minor
    trace.step(Phrase.ALREADY_PAID, minor(paid), on=day(on))
    owed = max(accrued - paid, 0)
    trace.step(Phrase.OWED, minor(owed), accrued=minor(accrued), paid=minor(paid))
    trace.result_minor = owed
    return ReturnOwed(on, exact, accrued, paid, owed, trace)


def _rule_step(terms: ReturnTerms, inputs: ClassInputs) -> Step:
    if terms.rule == "fixed_amount":
        return Step(Phrase.RULE_FIXED_RETURN, params={"amount": minor(terms.amount_minor or 0)})
    if terms.rule in ("irr", "compounding"):
        return Step(Phrase.RULE_IRR_RETURN if terms.rule == "irr"
                    else Phrase.RULE_COMPOUNDING_RETURN,
                    params={"rate": rate(Fraction(terms.rate or 0)),
                            "basis": days(DAYS_IN_YEAR)})
    if terms.rule in ("tiered", "curve"):
        return Step(Phrase.RULE_TIERED_RETURN if terms.rule == "tiered"
                    else Phrase.RULE_CURVE_RETURN, params={
            "kpi": Party(terms.kpi or ""), "measure": _MEASURE_PHRASE.get(terms.basis),
            "minimum": rate(Fraction(terms.minimum_rate or 0)),
            "years": number(terms.minimum_years or 0), "basis": days(DAYS_IN_YEAR)})
    schedule = inputs.schedule or RateSchedule.of(Fraction(terms.rate or 0))
    return Step(Phrase.RULE_TARGET_RETURN, params={"rates": schedule.terms(),
                                                   "basis": days(DAYS_IN_YEAR)})


def _accrued(terms: ReturnTerms, inputs: ClassInputs, on: date, outstanding: int,
             trace: Trace) -> Fraction:
    if terms.rule == "fixed_amount":
        amount = terms.amount_minor or 0
        trace.step(Phrase.FIXED_RETURN_DUE, minor(amount if inputs.final else 0),
                   amount=minor(amount), final=Phrase.YES if inputs.final else Phrase.NO)
        return Fraction(amount if inputs.final else 0)
    if terms.rule in ("irr", "compounding"):
        valued, steps = flows_accrued(terms.rule, Fraction(terms.rate or 0), inputs.flows,
                                      inputs.returns_paid_minor, on)
        trace.steps += steps
        exact = valued - outstanding + inputs.returns_paid_minor
        trace.step(Phrase.FLOWS_NET, minor(exact), valued=minor(valued),
                   outstanding=minor(outstanding), paid=minor(inputs.returns_paid_minor))
        return exact
    trace.steps += list(inputs.tier_steps)
    schedule = inputs.schedule or RateSchedule.of(Fraction(terms.rate or 0))
    return accrued_exact(inputs.changes, schedule, on)


def _capped(terms: ReturnTerms, inputs: ClassInputs, on: date, outstanding: int,
            capital_in: int, exact: Fraction, trace: Trace) -> Fraction:
    cap = terms.cap
    if cap is None:
        return exact
    if cap.rate is not None:
        limit = accrued_exact(inputs.changes, RateSchedule.of(Fraction(cap.rate)), on)
    elif cap.irr is not None:
        valued, _ = flows_accrued("irr", Fraction(cap.irr), inputs.flows,
                                  inputs.returns_paid_minor, on)
        limit = valued - outstanding + inputs.returns_paid_minor
    elif cap.multiple is not None:
        limit = (Fraction(cap.multiple) - 1) * capital_in
    else:
        return exact
    if exact <= limit:
        return exact
    trace.step(Phrase.RETURN_CAPPED, minor(limit), accrued=minor(exact))
    return limit


def owed_from_flows(changes: Sequence[CapitalChange], paid_out: Sequence[tuple[date, int]]
                    ) -> tuple[Flow, ...]:
    """The class's flows: each subscription in, each payment out (returns and capital)."""
    flows = [Flow(c.on, c.amount_minor) for c in changes if c.amount_minor > 0]
    flows += [Flow(on, -amount) for on, amount in paid_out if amount]
    return tuple(sorted(flows, key=lambda f: (f.on, -f.amount_minor)))


# --------------------------------------------------------------------------- claims, from facts

@dataclass(frozen=True)
class ClassFacts:
    """What a class's claims depend on at a date, wherever they are kept (the ledger for
    settlement, a scenario's books for the simulation).

    Attributes:
        changes: the capital timeline (subscriptions +, capital returned or written down −).
        returns_paid: the returns distributed to the class, dated (a reversal negative).
        rates: the simple target return as the contract's versions set it (no ``returns``).
        kpi_results: for a tiered or curve class, each fiscal year's measure by its basis
            (:func:`year_measures`): the audited final result of its KPI, or the outcome
            payments received for the year (major units, or a percentage of the year's
            maximum).
    """

    changes: tuple[CapitalChange, ...]
    returns_paid: tuple[tuple[date, int], ...]
    rates: RateSchedule | None = None
    kpi_results: Mapping[int, Measure] = field(default_factory=dict)


def year_measures(contract: Contract, terms: ReturnTerms,
                  received_by_year: Mapping[int, int]) -> dict[int, Measure]:
    """Each fiscal year's measure for a return on the outcome payments received
    (``received_by_year``: results year → minor units received for it so far; a year with
    nothing received has no measure yet): the amount in major units of the currency, or —
    ``outcome_payments_percent`` — 100 × received ÷ the most the year's tranches paid to the
    vehicle can pay (after the year's cap; a tranche a payer pays straight to a provider
    never reaches the vehicle, so it is not in the base), exact."""
    out: dict[int, Measure] = {}
    for year, received in received_by_year.items():
        if received <= 0:
            continue
        if terms.basis == "outcome_payments":
            out[year] = Fraction(received, 10 ** exponent(contract.currency))
        else:
            to_vehicle = {t.id for t in contract.tranches_in(year)
                          if provider_payee(contract, t) is None}
            most = sum(m for tranche_id, m in tranche_maxima_in_year(contract, year).items()
                       if tranche_id in to_vehicle)
            if most > 0:
                out[year] = Fraction(100 * received, most)
    return out


def return_owed_by_rule(contract: Contract, unit_class: UnitClass, facts: ClassFacts, on: date,
                        final: bool) -> ReturnOwed | None:
    """The return owed to the class at ``on`` by its rule (None: it earns none)."""
    about = About(Subject.INVESTOR_RETURN, instrument=unit_class.id, on=on)
    changes = tuple(c for c in facts.changes if c.on <= on)
    paid = sum(a for d, a in facts.returns_paid if d <= on)
    terms = unit_class.returns
    if terms is None:
        if facts.rates is None:
            return None
        return return_owed(about, changes, facts.rates, on, paid, contract.rounding.mode)
    schedule: RateSchedule | None = None
    tier_steps: tuple[Step, ...] = ()
    if terms.rule in ("tiered", "curve"):
        years = [(year, contract.fiscal_year_bounds(year)[0])
                 for year in range(unit_class.first_sale_fiscal_year,
                                   contract.last_fiscal_year + 1)]
        schedule, steps = tiered_schedule(terms, years, dict(facts.kpi_results),
                                          unit_class.first_sale_fiscal_year)
        tier_steps = tuple(steps)
    elif terms.rule == "simple":
        schedule = RateSchedule.of(max(Fraction(terms.rate or 0),
                                       Fraction(terms.minimum_rate or 0)))
    paid_out = [(d, a) for d, a in facts.returns_paid if d <= on]
    paid_out += [(c.on, -c.amount_minor) for c in changes if c.amount_minor < 0]
    inputs = ClassInputs(changes, owed_from_flows(changes, paid_out), paid, schedule,
                         tier_steps, final)
    return class_return_owed(about, terms, inputs, on, contract.rounding.mode)


def redemption_due(contract: Contract, unit_class: UnitClass, on: date, paid_in_minor: int,
                   returned_minor: int) -> int:
    """Capital owed back by ``on`` under the class's redemption schedule: the percentages
    of the capital paid in whose dates have come, rounded once with the contract's mode,
    less the capital already returned (or written down)."""
    percent = sum((Fraction(r.percent) for r in unit_class.redemptions if r.on <= on),
                  Fraction(0))
    if not percent:
        return 0
    due = round_minor(Fraction(paid_in_minor) * min(percent, Fraction(100)) / 100,
                      RoundingMode(contract.rounding.mode))
    return max(due - returned_minor, 0)


def class_claims(contract: Contract, unit_class: UnitClass, facts: ClassFacts, on: date,
                 final: bool) -> list[Claim]:
    """A class's claims on a distribution at ``on``: its return owed (after the capital
    claims of its seniority: ``seniority + 100``) and the capital owed back — on its
    redemption schedule, or all that is outstanding at the end. None once its capital is
    all back."""
    changes = [c for c in facts.changes if c.on <= on]
    paid_in = sum(c.amount_minor for c in changes if c.amount_minor > 0)
    returned = -sum(c.amount_minor for c in changes if c.amount_minor < 0)
    outstanding = paid_in - returned
    if outstanding <= 0:
        return []
    claims = []
    owed = return_owed_by_rule(contract, unit_class, facts, on, final)
    if owed is not None and owed.owed_minor > 0:
        claims.append(Claim("investor_returns", unit_class.id, unit_class.id, owed.owed_minor,
                            unit_class.seniority + 100, owed.trace))
    redeem = outstanding if final else redemption_due(contract, unit_class, on, paid_in,
                                                      returned)
    if redeem > 0:
        claims.append(Claim("principal", unit_class.id, unit_class.id, redeem,
                            unit_class.seniority))
    return claims


def residual_split(left_minor: int, paid_by_payer: Mapping[str, int]) -> list[tuple[str, int]]:
    """A surplus back to the payers in proportion to what each paid (largest remainder, so
    the parts add up to it exactly): (payer, part) for each part above zero."""
    payers = [p for p, amount in paid_by_payer.items() if amount > 0]
    if not payers or left_minor <= 0:
        return []
    parts = allocate(left_minor, [paid_by_payer[p] for p in payers],
                     RemainderPolicy.LARGEST_REMAINDER)
    return [(p, part) for p, part in zip(payers, parts) if part > 0]
