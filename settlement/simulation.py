"""Outcome simulation (issue 16): what a contract may cost each payer, whether its loans are
covered, what its investors may earn. Pure.

:func:`simulate` draws the scenarios (:mod:`settlement.simulation_draws`), settles every year
of each with the contract's own rules (:mod:`settlement.simulation_payouts`, vectorised where
the contract's terms allow, else the engine per scenario), runs the SPV's books (debt service,
waterfall, returns: :mod:`settlement.simulation_engine`), and :func:`summarise` reduces the
scenarios to the figures people ask for, as data (money in integer minor units, probabilities
and rates as exact decimal text). Nothing is written to the ledger; reading the database
(audited results, subscriptions) is :mod:`settlement.simulation_service`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.model import Contract
from ledger.calendar import next_business_day
from ledger.errors import Problem
from ledger.money import format_plain, from_minor
from settlement.budget import budget_year
from settlement.servicing import nominal_schedule
from settlement.simulation_assumptions import Assumptions, missing_distributions
from settlement.simulation_books import Subscription, YearPlan, unsupported_terms
from settlement.simulation_draws import draw
from settlement.simulation_engine import MoneyResults, books_scalar, books_vectorised
from settlement.simulation_payouts import (
    KpiDraws,
    Payouts,
    Variable,
    settle_scalar,
    settle_vectorised,
    variables,
    vectorised_support,
)
from settlement.unit_returns import RateSchedule

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
PERCENTILES = (5, 50, 95)
FAN = (5, 25, 50, 75, 95)


@dataclass
class Simulation:
    """Every scenario of one simulation.

    Attributes:
        paths: which path settled the payouts and the books (``vectorised`` / ``scalar``)
            and why a scalar one was used.
    """

    contract: Contract
    runs: int
    seed: int
    from_fiscal_year: int
    plans: list[YearPlan]
    draws: dict[Variable, KpiDraws]
    payouts: Payouts
    money: MoneyResults
    known: dict[Variable, str] = field(default_factory=dict)
    paths: dict[str, Any] = field(default_factory=dict)


def _after(month_day: Any, year_end: date) -> date:
    """The first day with this month and day after ``year_end``: a year's results are paid
    after it ends (20 May after a 31 March year end; after a 30 June one, the next May)."""
    day: date = month_day.on(year_end.year)
    return day if day > year_end else month_day.on(year_end.year + 1)


def year_plans(contract: Contract, assumptions: Assumptions) -> list[YearPlan]:
    """The dates of each year's cycle from the assumptions' calendar: receipts and
    distributions on the next business day after the first of their month-day that follows
    the fiscal year's end; the final distribution on its date, or the loans' last due date if later
    than the last year's distribution date."""
    calendar = assumptions.calendar
    start = contract.fiscal_year_start_month
    last_due = max((row.due_on for ln in contract.loans for row in nominal_schedule(ln).rows),
                   default=None)
    plans = []
    for year in contract.fiscal_years:
        first, end = contract.fiscal_year_bounds(year)
        fees_on = calendar.fixed_fees_on.on(first.year if calendar.fixed_fees_on.month >= start
                                            else first.year + 1)
        receipts = {p: next_business_day(_after(calendar.receipts_by_payer.get(
            p, calendar.receipts_on), end)) for p in contract.payer_ids}
        distribution_on = next_business_day(_after(calendar.distributions_on, end))
        final = year == contract.last_fiscal_year
        if final:
            chosen = calendar.final_distribution_on
            if chosen is None:
                chosen = max(distribution_on, last_due) if last_due else distribution_on
            distribution_on = chosen
        plans.append(YearPlan(year, fees_on, receipts, distribution_on, final))
    return plans


def subscriptions_of(contract: Contract, assumptions: Assumptions) -> list[Subscription]:
    """The assumptions' unit subscriptions in money (units × the class's unit price)."""
    prices = {u.id: u.unit_price_minor for u in contract.unit_classes}
    return [Subscription(s.class_id, s.on, s.units * prices[s.class_id])
            for s in assumptions.subscriptions]


def achievement_history(contract: Contract, known: Mapping[Variable, str]
                        ) -> dict[str, list[Decimal]]:
    """Per KPI, each audited value ÷ its target (the value itself without a target)."""
    out: dict[str, list[Decimal]] = {}
    for (year, _, kpi_id, payer), text in sorted(known.items()):
        kpi = contract.kpi(kpi_id)
        target = kpi.targets_by_payer.get(payer, {}).get(year) if payer else None
        target = target if target is not None else kpi.targets.get(year)
        value = Decimal(text)
        out.setdefault(kpi_id, []).append(value / target if target else value)
    return out


def simulate(contract: Contract, assumptions: Assumptions, runs: int, seed: int,
             known: Mapping[Variable, str] | None = None, from_fiscal_year: int | None = None,
             subscriptions: Sequence[Subscription] | None = None,
             rates: Mapping[str, RateSchedule | None] | None = None,
             scalar: bool = False) -> tuple[Simulation | None, list[Problem]]:
    """Draw ``runs`` scenarios from ``seed`` and settle each. ``known``: audited results
    (variable → decimal text), used as they are for the years before ``from_fiscal_year``
    (the assumptions' own, else the contract's first year). ``scalar`` forces the scalar
    paths (for the benchmark's baseline and the tests)."""
    if runs < 1:
        return None, [Problem("RUNS_INVALID", "at least one run is needed", "runs")]
    unsupported = unsupported_terms(contract)
    if unsupported:
        return None, unsupported
    start = from_fiscal_year or assumptions.from_fiscal_year or contract.first_fiscal_year
    known = dict(known or {})
    fixed = {v: t for v, t in known.items() if v[0] < start}
    problems = missing_distributions(assumptions, contract, fixed, start)
    if problems:
        return None, problems
    needed = variables(contract)
    simulated = [v for v in needed if v not in fixed]
    draws, problems = draw(contract, assumptions, simulated,
                           {v: t for v, t in fixed.items() if v in needed}, runs, seed,
                           achievement_history(contract, fixed))
    if problems:
        return None, problems
    reasons = vectorised_support(contract, draws)
    paths: dict[str, Any] = {}
    if scalar or reasons:
        payouts = settle_scalar(contract, draws, runs)
        paths["payouts"] = {"path": "scalar", "reasons": reasons}
    else:
        payouts = settle_vectorised(contract, draws, runs)
        paths["payouts"] = {"path": "vectorised", "reasons": []}
    plans = year_plans(contract, assumptions)
    subs = list(subscriptions) if subscriptions is not None else \
        subscriptions_of(contract, assumptions)
    values = _kpi_values(draws)
    if scalar:
        money = books_scalar(contract, plans, payouts, subs, rates, kpi_values=values)
        money.scalar_runs = runs
        paths["books"] = {"path": "scalar", "scalar_runs": runs, "reasons": ["asked"],
                          "lockstep_runs": 0}
    else:
        money = books_vectorised(contract, plans, payouts, subs, rates, values)
        paths["books"] = {"path": "vectorised", "scalar_runs": money.scalar_runs,
                          "reasons": money.scalar_reasons,
                          "lockstep_runs": len(money.lockstep_run_ids)}
    return Simulation(contract, runs, seed, start, plans, draws, payouts, money, fixed,
                      paths), []


def _kpi_values(draws: Mapping[Variable, KpiDraws]
                ) -> Callable[[int], dict[str, dict[int, Decimal]]]:
    """A scenario's final contract-wide KPI values by KPI and year (what a tiered class's
    return reads from the audited results)."""
    def of(run: int) -> dict[str, dict[int, Decimal]]:
        out: dict[str, dict[int, Decimal]] = {}
        for (year, evaluation, kpi, payer), d in draws.items():
            if evaluation == "final" and not payer:
                out.setdefault(kpi, {})[year] = d.value(run)
        return out
    return of


# --------------------------------------------------------------------------- statistics

def percentile(values: Ints, q: int) -> int:
    """The ``q``-th percentile as one of the scenarios' own amounts (inverted CDF: the
    smallest value with at least q % of the scenarios at or below it)."""
    return int(np.percentile(values, q, method="inverted_cdf"))


def mean_minor(values: Ints) -> int:
    """The mean, truncated to the minor unit (exact: an integer sum over the run count)."""
    return int(values.sum()) // len(values)


def probability(mask: npt.NDArray[np.bool_]) -> str:
    """A share of scenarios as exact decimal text (4 places, half even)."""
    share = Decimal(int(mask.sum())) / Decimal(len(mask))
    return str(share.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def _stats(values: Ints) -> dict[str, int]:
    out = {f"p{q}": percentile(values, q) for q in PERCENTILES}
    out["mean"] = mean_minor(values)
    return out


def irr(dates: Sequence[date], flows: Ints) -> Floats:
    """XIRR (ACT/365 from the first date, as :func:`investors.returns.xirr`) of each row of
    ``flows`` (runs × dates), by bisection on the discounted sum, which falls as the rate
    rises for flows that pay in first and get paid later. NaN where nothing was paid in; −1
    where nothing came back."""
    if not dates:
        return np.full(flows.shape[0], np.nan)
    years = np.array([(d - dates[0]).days / 365 for d in dates])
    f = flows.astype(np.float64)
    low = np.full(f.shape[0], -0.9999)
    high = np.full(f.shape[0], 10.0)

    def npv(rate: Floats) -> Floats:
        return np.asarray((f * np.power(1 + rate[:, None], -years[None, :])).sum(axis=1))

    for _ in range(200):
        mid = (low + high) / 2
        positive = npv(mid) > 0
        low = np.where(positive, mid, low)
        high = np.where(positive, high, mid)
    out = (low + high) / 2
    paid_in = (flows < 0).any(axis=1)
    back = (flows > 0).any(axis=1)
    out = np.where(back, out, -1.0)
    return np.where(paid_in, out, np.nan)


def rate_text(value: float) -> str | None:
    return None if np.isnan(value) else str(Decimal(repr(float(value))).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_EVEN))


def summarise(sim: Simulation) -> dict[str, Any]:
    """The figures of issue 16 as data (money in minor units as int)."""
    contract, money, payouts = sim.contract, sim.money, sim.payouts
    years = list(contract.fiscal_years)
    out: dict[str, Any] = {
        "contract": contract.id, "currency": contract.currency, "runs": sim.runs,
        "seed": sim.seed, "from_fiscal_year": sim.from_fiscal_year,
        "known_results": len(sim.known), "paths": sim.paths,
        "plans": [{"fiscal_year": p.fiscal_year, "fixed_fees_on": p.fees_on.isoformat(),
                   "receipts_on": {k: v.isoformat() for k, v in p.receipts_on.items()},
                   "distribution_on": p.distribution_on.isoformat(), "final": p.final}
                  for p in sim.plans]}
    total_by_year = {y: sum((payouts.due[p][y] for p in contract.payer_ids),
                            np.zeros(sim.runs, np.int64)) for y in years}
    out["payments_by_year"] = [
        {"fiscal_year": y, "budget_fiscal_year": budget_year(contract, y),
         **{f"p{q}": percentile(total_by_year[y], q) for q in FAN},
         "mean": mean_minor(total_by_year[y])} for y in years]
    out["payers"] = [_payer(sim, payer.party) for payer in contract.payers]
    out["loans"] = [_loan(sim, loan.id, loan.lender) for loan in contract.loans]
    out["fixed_fees_unpaid"] = fixed_fees_unpaid(contract, sim.plans, money.fee_unpaid,
                                                 sim.runs)
    lenders: dict[str, Ints] = {}
    for loan in contract.loans:
        loss = money.loan_written_down[loan.id] + money.loan_interest_unpaid[loan.id]
        lenders[loan.lender] = lenders.get(loan.lender, np.zeros(sim.runs, np.int64)) + loss
    out["lenders"] = [{"lender": k, "expected_loss": mean_minor(v),
                       "probability_of_loss": probability(v > 0)} for k, v in lenders.items()]
    out["classes"] = [_unit_class(sim, u.id) for u in contract.unit_classes]
    out["public_cost"] = _public_cost(sim, total_by_year)
    return out


def _payer(sim: Simulation, payer: str) -> dict[str, Any]:
    contract, payouts = sim.contract, sim.payouts
    auth = contract.payer(payer).authorisation
    rows = []
    cumulative = np.zeros(sim.runs, np.int64)
    for year in contract.fiscal_years:
        due = payouts.due[payer][year]
        cumulative = cumulative + due
        limit = auth.limits_by_year_minor.get(year)
        rows.append({
            "fiscal_year": year, "budget_fiscal_year": budget_year(contract, year),
            "due": _stats(due), "grant": _stats(payouts.grant[payer][year]),
            "net_of_grant": _stats(due - payouts.grant[payer][year]),
            "year_limit": limit,
            "probability_above_year_limit": probability(due > limit)
            if limit is not None else None,
            "cumulative_due": _stats(cumulative),
            "probability_above_authorisation": probability(cumulative > auth.max_amount_minor),
        })
    refunds = sim.money.payer_refunds.get(payer)
    return {"payer": payer, "authorisation": auth.max_amount_minor, "years": rows,
            "total_due": _stats(cumulative),
            "residual_refund": _stats(refunds) if refunds is not None else None}


def _loan(sim: Simulation, loan_id: str, lender: str) -> dict[str, Any]:
    money = sim.money
    short = money.loan_short[loan_id]
    dues = sorted(short)
    any_short = np.zeros(sim.runs, dtype=bool)
    first = np.full(sim.runs, -1, dtype=np.int64)
    for k, due in enumerate(dues):
        fresh = short[due] & ~any_short
        first = np.where(fresh, k, first)
        any_short |= short[due]
    expected_on = None
    if any_short.any():
        ordinals = np.array([d.toordinal() for d in dues])[first[any_short]]
        expected_on = date.fromordinal(int(ordinals.sum()) // len(ordinals)).isoformat()
    loss = money.loan_written_down[loan_id] + money.loan_interest_unpaid[loan_id]
    return {
        "loan": loan_id, "lender": lender,
        "probability_of_shortfall": probability(any_short),
        "expected_first_shortfall_on": expected_on,
        "shortfall_by_due_date": [{"due_on": d.isoformat(), "probability": probability(short[d])}
                                  for d in dues],
        "paid_by_fiscal_year": [{"fiscal_year": y, **_stats(v)}
                                for y, v in sorted(money.loan_paid[loan_id].items())
                                if v.any()],
        "overdue_before_payoff": _stats(money.loan_overdue[loan_id]),
        "written_down": _stats(money.loan_written_down[loan_id]),
        "recovered_by_guarantee": _stats(money.loan_recovered[loan_id]),
        "expected_loss": mean_minor(loss), "probability_of_loss": probability(loss > 0)}


def fixed_fees_unpaid(contract: Contract, plans: Sequence[YearPlan],
                      fee_unpaid: Mapping[str, Mapping[int, Ints]], runs: int
                      ) -> dict[str, Any]:
    """The providers' fixed fees the vehicle cannot pay when due (the services refuse a fee
    its own cash does not cover, and the services offer no later step that pays it): the
    probability that some fee is left unpaid, the expected date of the first, and the amount
    left unpaid over the term — a funding gap the intermediary must arrange outside the
    vehicle — as an expectation and percentiles; then per fee, in date order, the
    probability it is unpaid, the probability that some fee is unpaid by its date, and the
    expected amount unpaid."""
    due_on = {p.fiscal_year: p.fees_on for p in plans}
    order = {p.party: k for k, p in enumerate(contract.providers)}
    amount = {p.party: p.fixed_by_year_minor for p in contract.providers}
    fees = sorted(((due_on[year], order[party], party, year, unpaid)
                   for party, by_year in fee_unpaid.items()
                   for year, unpaid in by_year.items()), key=lambda f: f[:2])
    total = np.zeros(runs, dtype=np.int64)
    by_then = np.zeros(runs, dtype=bool)
    first = np.zeros(runs, dtype=np.int64)
    rows = []
    for on, _, party, year, unpaid in fees:
        short = unpaid > 0
        first = np.where(short & ~by_then, on.toordinal(), first)
        by_then |= short
        total = total + unpaid
        rows.append({"provider": party, "fiscal_year": year, "due_on": on.isoformat(),
                     "fee": amount[party][year],
                     "probability_unpaid": probability(short),
                     "probability_unpaid_by_then": probability(by_then),
                     "expected_unpaid": mean_minor(unpaid)})
    expected_first = None
    if by_then.any():
        expected_first = date.fromordinal(int(first[by_then].sum()) // int(by_then.sum()))
    return {"probability_unpaid": probability(by_then),
            "expected_first_unpaid_on": expected_first.isoformat() if expected_first else None,
            "expected_unpaid": mean_minor(total), "unpaid": _stats(total),
            "by_due_date": rows}


def _unit_class(sim: Simulation, class_id: str) -> dict[str, Any]:
    money = sim.money
    rates = irr(money.class_dates[class_id], money.class_flows[class_id])
    paid_in = money.class_paid_in[class_id]
    back = money.class_returns[class_id] + money.class_capital_back[class_id] + \
        money.class_recovered[class_id]
    valid = ~np.isnan(rates)
    finite = rates[valid]
    histogram: list[dict[str, Any]] = []
    if finite.size:
        edges = np.linspace(-0.10, 0.05, 31)
        counts, _ = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
        histogram = [{"from": rate_text(float(edges[i])), "to": rate_text(float(edges[i + 1])),
                      "count": int(c)} for i, c in enumerate(counts)]
    multiples = np.where(paid_in > 0, back / np.maximum(paid_in, 1), np.nan)
    return {
        "class": class_id,
        "paid_in": _stats(paid_in),
        "returns": _stats(money.class_returns[class_id]),
        "capital_back": _stats(money.class_capital_back[class_id]),
        "written_down": _stats(money.class_written_down[class_id]),
        "probability_of_capital_loss": probability(
            (money.class_capital_back[class_id] + money.class_recovered[class_id] < paid_in)
            & (paid_in > 0)),
        "irr": {f"p{q}": rate_text(float(np.percentile(finite, q, method="inverted_cdf")))
                if finite.size else None for q in PERCENTILES},
        "multiple": {f"p{q}": rate_text(float(np.percentile(multiples[valid], q,
                                                            method="inverted_cdf")))
                     if finite.size else None for q in PERCENTILES},
        "irr_histogram": histogram,
    }


def _public_cost(sim: Simulation, total_by_year: Mapping[int, Ints]) -> dict[str, Any]:
    """What the public side pays (every payer's cost, of which the grant is the national
    part) and, per KPI, the expected payment per unit of the outcome it pays for."""
    contract, payouts = sim.contract, sim.payouts
    total = sum(total_by_year.values(), np.zeros(sim.runs, np.int64))
    grant = sum((payouts.grant[p][y] for p in contract.payer_ids for y in contract.fiscal_years),
                np.zeros(sim.runs, np.int64))
    per_kpi = []
    for kpi in contract.kpis:
        earned = sum(payouts.earned_by_kpi[kpi.id].values(), np.zeros(sim.runs, np.int64))
        if not earned.any():
            continue
        outcome = Decimal(0)
        for (_year, evaluation, kpi_id, _), d in sim.draws.items():
            if kpi_id == kpi.id and evaluation == "final":
                outcome += Decimal(int(d.numerators.sum())) / d.scale
        outcome /= sim.runs
        per_kpi.append({
            "kpi": kpi.id, "unit": kpi.unit, "expected_paid": mean_minor(earned),
            "expected_outcome": str(outcome.quantize(Decimal("0.1"))),
            "expected_paid_per_unit": int(Decimal(mean_minor(earned)) / outcome)
            if outcome > 0 else None})
    return {"total": _stats(total), "grant": _stats(grant),
            "municipalities_net": _stats(total - grant), "per_kpi": per_kpi}


MONEY_KEYS = frozenset({"p5", "p25", "p50", "p75", "p95", "mean", "expected_loss",
                        "expected_paid", "expected_paid_per_unit", "authorisation",
                        "year_limit", "fee", "expected_unpaid"})
"""The summary's keys whose integers are money (minor units); every other integer is a
count or a year."""


def as_json(summary: Mapping[str, Any], currency: str) -> dict[str, Any]:
    """The summary with every amount as ``{"amount": "…", "currency": "…"}`` (the API's
    form, :mod:`ledger.money_json`): the same figures, the wire's spelling."""
    def convert(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: convert(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(key, v) for v in value]
        if key in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
            return {"amount": format_plain(from_minor(value, currency)), "currency": currency}
        return value
    return {k: convert(k, v) for k, v in summary.items()}
