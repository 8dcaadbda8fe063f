"""What each payer owes per year in every scenario: the settlement engine, vectorised. Pure.

Two paths with one answer:

- :func:`settle_scalar` calls :func:`settlement.engine.settle_year` once per scenario, year
  and evaluation, with the totals of the earlier runs exactly as
  :func:`settlement.runs.settle` gathers them. It is the reference, and the path for any
  contract the vectorised one does not support.
- :func:`settle_vectorised` computes the same figures for every scenario at once in exact
  integer arithmetic (numpy ``int64``): each tranche's rule on the scaled KPI values, the
  contract's rounding, the split between payers (remainder policy, and largest remainder
  where the policy would lift a part above its maximum), the tax once per invoice, the grant
  in its unit. :func:`vectorised_support` says, from the contract alone, whether every term
  involved is one it implements (rule shapes, caps, conditions, payees, grant caps, sizes that
  fit in 64 bits); if not, the caller uses the scalar path — a new rule shape can never be
  given a wrong answer silently. Acceptance tests hold the two paths equal.

A KPI value arrives as an integer numerator over a power of ten (``decimals`` of the
assumptions), the exact decimal an evaluator would report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from contracts.chart import provider_payee
from contracts.liability import max_outcome_by_tranche_payer
from contracts.model import Contract, Tranche
from contracts.rules import (
    BinaryThresholdRule,
    FixedRule,
    LinearRule,
    ProRataRule,
    SteppedRule,
)
from ledger.rounding import RemainderPolicy, RoundingMode
from settlement.engine import YearBefore, YearSettlement, settle_year
from settlement.payouts import KpiInput
from settlement.payouts import kpi_input as settlement_kpi_input

Ints = npt.NDArray[np.int64]
EVALUATIONS = ("interim", "final")
_LIMIT = 2**62  # products must stay below this in int64


@dataclass(frozen=True)
class KpiDraws:
    """Values of one KPI variable in every scenario: ``numerators / scale``."""

    numerators: Ints
    scale: int

    def value(self, run: int) -> Decimal:
        return Decimal(int(self.numerators[run])) / Decimal(self.scale)


Variable = tuple[int, str, str, str]
"""(fiscal year, evaluation, KPI id, payer id or "") — one audited result."""


@dataclass
class Payouts:
    """Per payer and results year, over scenarios (arrays of length ``runs``).

    Attributes:
        due: the payer's whole cost for the year's results (both evaluations).
        spv_due: what it pays the SPV (the receipt).
        grant: what the grant covers of it.
        earned_by_kpi: KPI id → fiscal year → earned over every payer and tranche.
    """

    runs: int
    due: dict[str, dict[int, Ints]] = field(default_factory=dict)
    spv_due: dict[str, dict[int, Ints]] = field(default_factory=dict)
    grant: dict[str, dict[int, Ints]] = field(default_factory=dict)
    earned_by_kpi: dict[str, dict[int, Ints]] = field(default_factory=dict)


def _zeros(runs: int) -> Ints:
    return np.zeros(runs, dtype=np.int64)


def _empty(contract: Contract, runs: int) -> Payouts:
    out = Payouts(runs)
    for payer in contract.payer_ids:
        for table in (out.due, out.spv_due, out.grant):
            table[payer] = {y: _zeros(runs) for y in contract.fiscal_years}
    for kpi in contract.kpis:
        out.earned_by_kpi[kpi.id] = {y: _zeros(runs) for y in contract.fiscal_years}
    return out


def kpi_input(contract: Contract, kpi_id: str, payer: str, fiscal_year: int,
              value: Decimal) -> KpiInput:
    """:func:`settlement.payouts.kpi_input`: the same input settlement builds."""
    return settlement_kpi_input(contract, kpi_id, payer, fiscal_year, value)


# --------------------------------------------------------------------------- scalar path

def settle_scalar(contract: Contract, draws: Mapping[Variable, KpiDraws], runs: int,
                  only: list[int] | None = None) -> Payouts:
    """The reference: :func:`settle_year` per scenario (``only``: those scenarios; the
    others stay zero)."""
    out = _empty(contract, runs)
    for run in (only if only is not None else range(runs)):
        for year, _evaluation, result in settle_one(contract, draws, run):
            for payer, totals in result.payers.items():
                out.due[payer][year][run] += totals.due_minor
                out.spv_due[payer][year][run] += totals.spv_due_minor
                out.grant[payer][year][run] += totals.grant_minor
            for line in result.lines:
                if line.kpi_id:
                    out.earned_by_kpi[line.kpi_id][year][run] += line.earned_minor
    return out


def settle_one(contract: Contract, draws: Mapping[Variable, KpiDraws], run: int
               ) -> list[tuple[int, str, YearSettlement]]:
    """Every evaluation of one scenario, in the order the close settles them, each with the
    totals of the runs before it (as :func:`settlement.runs._totals_before` reads them)."""
    earned: dict[str, int] = {}
    due: dict[str, int] = {}
    grant: dict[str, int] = {}
    out: list[tuple[int, str, YearSettlement]] = []
    for year in contract.fiscal_years:
        in_year: dict[str, int] = {}
        before = YearBefore()
        for evaluation in EVALUATIONS:
            if not any(t.evaluation == evaluation for t in contract.tranches_in(year)):
                continue
            inputs = {(kpi, payer): kpi_input(contract, kpi, payer, year, d.value(run))
                      for (y, ev, kpi, payer), d in draws.items()
                      if y == year and ev == evaluation}
            result = settle_year(contract, year, evaluation, inputs, dict(earned), dict(due),
                                 dict(grant), dict(in_year), before)
            out.append((year, evaluation, result))
            before = YearBefore()
            for payer, totals in result.payers.items():
                earned[payer] = earned.get(payer, 0) + totals.earned_minor + sum(
                    i.earned_minor for i in totals.providers.values())
                due[payer] = due.get(payer, 0) + totals.due_minor
                grant[payer] = grant.get(payer, 0) + totals.grant_minor
                in_year[payer] = in_year.get(payer, 0) + totals.due_minor
                before.add(payer, totals.earned_minor, totals.tax_minor)
    return out


# --------------------------------------------------------------------------- support

_SHAPES = (BinaryThresholdRule, LinearRule, ProRataRule, SteppedRule, FixedRule)


def vectorised_support(contract: Contract, draws: Mapping[Variable, KpiDraws]) -> list[str]:
    """Why the vectorised path cannot settle this contract (empty: it can)."""
    reasons = []
    if contract.caps is not None and contract.caps.contract_total_minor is not None:
        reasons.append("a contract-total cap")
    for tranche in contract.tranches:
        if not isinstance(tranche.rule, _SHAPES):
            reasons.append(f"tranche {tranche.id}: rule {tranche.rule.type}")
        if tranche.conditions is not None:
            reasons.append(f"tranche {tranche.id}: conditions")
        if provider_payee(contract, tranche) is not None:
            reasons.append(f"tranche {tranche.id}: paid to a provider")
    for grant in contract.grants:
        if grant.cap_minor is not None or grant.cap_per_year_minor is not None:
            reasons.append(f"grant {grant.id}: a cap")
    biggest = max((t.max_amount_minor for t in contract.tranches), default=0)
    scale = max((d.scale for d in draws.values()), default=1)
    top = max((int(abs(d.numerators).max()) for d in draws.values() if len(d.numerators)),
              default=0)
    if biggest * max(top, scale) * 10**6 > _LIMIT:
        reasons.append("amounts too large for 64-bit arithmetic")
    return reasons


# --------------------------------------------------------------------------- vectorised

def _round(numerator: Ints, denominator: Ints | int, mode: RoundingMode) -> Ints:
    """``round_minor(numerator / denominator)`` for non-negative numerators."""
    whole, rest = np.divmod(numerator, denominator)
    if mode is RoundingMode.TRUNCATE:
        return np.asarray(whole, dtype=np.int64)
    twice = 2 * rest
    if mode is RoundingMode.HALF_UP:
        return np.asarray(whole + (twice >= denominator), dtype=np.int64)
    return np.asarray(whole + ((twice > denominator)
                               | ((twice == denominator) & (whole % 2 == 1))), dtype=np.int64)


def _frac(value: Decimal | Fraction | int) -> tuple[int, int]:
    f = Fraction(value)
    return f.numerator, f.denominator


def _payout(tranche: Tranche, maximum: int, draw: KpiDraws | None, direction: str,
            target: Decimal | None, mode: RoundingMode, runs: int) -> Ints:
    """One tranche's earned amount over scenarios (the rules of :mod:`settlement.payouts`)."""
    rule = tranche.rule
    if isinstance(rule, FixedRule) or draw is None:
        return np.full(runs, maximum, dtype=np.int64)
    v, s = draw.numerators, draw.scale
    higher = direction == "higher"
    if isinstance(rule, BinaryThresholdRule):
        tn, td = _frac(rule.threshold)
        met = v * td >= tn * s if higher else v * td <= tn * s
        return np.where(met, maximum, 0).astype(np.int64)
    if isinstance(rule, LinearRule):
        fn, fd = _frac(rule.floor)
        cn, cd = _frac(rule.cap)
        num = (v * fd - fn * s) * cd
        den = s * (cn * fd - fn * cd)
        if den < 0:
            num, den = -num, -den
        num = np.clip(num, 0, den)
        return _round(num * maximum, den, mode)
    if isinstance(rule, ProRataRule):
        chosen = rule.target if rule.target is not None else target
        assert chosen is not None and chosen > 0  # the scalar path names the refusal
        tn, td = _frac(chosen)
        num_r: Ints
        den_r: Ints
        if higher:
            num_r, den_r = v * td, np.full(runs, s * tn, dtype=np.int64)
        else:
            positive = v > 0
            num_r = np.where(positive, tn * s, 1).astype(np.int64)
            den_r = np.where(positive, td * v, 1).astype(np.int64)
        num_r = np.minimum(num_r, den_r)
        return _round(num_r * maximum, den_r, mode)
    assert isinstance(rule, SteppedRule)
    out = _zeros(runs)
    open_ = np.ones(runs, dtype=bool)
    for tier in rule.tiers:
        an, ad = _frac(tier.from_value)
        inside = v * ad >= an * s
        if tier.to_value is not None:
            bn, bd = _frac(tier.to_value)
            inside &= v * bd < bn * s
        hit = inside & open_
        if tier.amount_minor is not None:
            amount = np.full(runs, min(max(tier.amount_minor, 0), maximum), dtype=np.int64)
        else:
            pn, pd = _frac(tier.percent or Decimal(0))
            exact_num = np.full(runs, pn * maximum, dtype=np.int64)
            amount = np.minimum(_round(np.maximum(exact_num, 0), pd * 100, mode), maximum)
        out = np.where(hit, amount, out)
        open_ &= ~hit
    return out


def _split(total: Ints, maxima: list[int], policy: RemainderPolicy) -> list[Ints]:
    """:func:`settlement.engine.split_within` over scenarios."""
    weight_sum = sum(maxima)
    split = [np.divmod(total * m, weight_sum) for m in maxima]
    parts = [q.copy() for q, _ in split]
    leftover = total - sum(parts)
    if policy is RemainderPolicy.FIRST_PART:
        first = next(i for i, m in enumerate(maxima) if m > 0)
        trial = [p.copy() for p in parts]
        trial[first] += leftover
        over = np.zeros(len(total), dtype=bool)
        for p, m in zip(trial, maxima):
            over |= p > m
        if not over.any():
            return trial
        largest = _largest_remainder(parts, [r for _, r in split], leftover)
        return [np.where(over, lr, t) for lr, t in zip(largest, trial)]
    return _largest_remainder(parts, [r for _, r in split], leftover)


def _largest_remainder(parts: list[Ints], remainders: list[Ints], leftover: Ints) -> list[Ints]:
    """One unit each to the parts with the largest remainders, ties to the earlier part."""
    if not parts:
        return parts
    rem = np.stack(remainders, axis=1)
    order = np.argsort(-rem, axis=1, kind="stable")
    rank = np.empty_like(order)
    rows = np.arange(order.shape[0])[:, None]
    rank[rows, order] = np.arange(order.shape[1])[None, :]
    return [p + (rank[:, i] < leftover) for i, p in enumerate(parts)]


def settle_vectorised(contract: Contract, draws: Mapping[Variable, KpiDraws],
                      runs: int) -> Payouts:
    """Every scenario's payouts at once (only for a contract :func:`vectorised_support`
    accepts)."""
    out = _empty(contract, runs)
    committed = max_outcome_by_tranche_payer(contract)
    mode = contract.rounding.mode
    policy = contract.rounding.remainder_policy
    tax = contract.consumption_tax
    included = tax is not None and tax.amounts_include_tax
    taxed = tax is not None and "outcome_payments" in tax.applies_to
    grant_before = {p: _zeros(runs) for p in contract.payer_ids}
    for year in contract.fiscal_years:
        invoice = {p: _zeros(runs) for p in contract.payer_ids}
        tax_booked = {p: _zeros(runs) for p in contract.payer_ids}
        for evaluation in EVALUATIONS:
            tranches = [t for t in contract.tranches_in(year) if t.evaluation == evaluation]
            if not tranches:
                continue
            earned = {p: _zeros(runs) for p in contract.payer_ids}
            for tranche in tranches:
                for payer, amount in _tranche(contract, tranche, committed, draws, mode,
                                              policy, runs).items():
                    earned[payer] += amount
                    if tranche.kpi:
                        out.earned_by_kpi[tranche.kpi][year] += amount
            dues: dict[str, Ints] = {}
            for payer in contract.payer_ids:
                total = invoice[payer] + earned[payer]
                if not taxed or tax is None:
                    tax_now = _zeros(runs)
                elif included:
                    rn, rd = _frac(tax.rate)
                    tax_now = np.maximum(_round(total * rn, rd + rn, RoundingMode.TRUNCATE)
                                         - tax_booked[payer], 0)
                else:
                    rn, rd = _frac(tax.rate)
                    tax_now = np.maximum(_round(total * rn, rd, mode) - tax_booked[payer], 0)
                invoice[payer] = total
                tax_booked[payer] += tax_now
                due = earned[payer] + (0 if included else tax_now)
                dues[payer] = due
                out.due[payer][year] += due
                out.spv_due[payer][year] += due
            for grant in contract.grants:
                if not grant.first_fiscal_year <= year <= grant.last_fiscal_year \
                        or "outcome_payments" not in grant.eligible:
                    continue
                gn, gd = _frac(grant.rate)
                unit = grant.rounding_unit_minor
                for payer in grant.subsidises:
                    if payer not in dues:
                        continue
                    if unit > 1:
                        part = (dues[payer] * gn // (gd * unit)) * unit
                    else:
                        gm = RoundingMode.TRUNCATE if unit > 1 else mode
                        part = _round(dues[payer] * gn, gd, gm)
                    out.grant[payer][year] += part
                    grant_before[payer] += part
    return out


def _tranche(contract: Contract, tranche: Tranche, committed: Mapping[tuple[str, str], int],
             draws: Mapping[Variable, KpiDraws], mode: RoundingMode, policy: RemainderPolicy,
             runs: int) -> dict[str, Ints]:
    """Each payer's earned part of one tranche (``settlement.engine._tranche_lines``)."""
    parts = {p: committed.get((tranche.id, p), 0) for p in contract.payer_ids}
    parts = {p: m for p, m in parts.items() if m > 0}
    if not parts:
        return {}
    kpi = contract.kpi(tranche.kpi) if tranche.kpi else None
    year, evaluation = tranche.fiscal_year, tranche.evaluation
    if kpi is not None and kpi.measured == "per_payer":
        out = {}
        for payer, maximum in parts.items():
            target = kpi.targets_by_payer.get(payer, {}).get(year)
            if target is None:
                target = kpi.targets.get(year)
            draw = draws[(year, evaluation, kpi.id, payer)]
            out[payer] = _payout(tranche, maximum, draw, kpi.direction, target, mode, runs)
        return out
    whole = draws[(year, evaluation, kpi.id, "")] if kpi is not None else None
    target = kpi.targets.get(year) if kpi is not None else None
    total = _payout(tranche, sum(parts.values()), whole,
                    kpi.direction if kpi is not None else "higher", target, mode, runs)
    shares = _split(total, list(parts.values()), policy)
    return dict(zip(parts, shares))


def variables(contract: Contract) -> list[Variable]:
    """Every audited result the contract's tranches need, in a stable order."""
    seen: dict[Variable, None] = {}
    for tranche in sorted(contract.tranches,
                          key=lambda t: (t.fiscal_year, t.evaluation != "interim")):
        if tranche.kpi is None:
            continue
        kpi = contract.kpi(tranche.kpi)
        payers = contract.payer_ids if kpi.measured == "per_payer" else ("",)
        for payer in payers:
            seen[(tranche.fiscal_year, tranche.evaluation, kpi.id, payer)] = None
    return list(seen)
