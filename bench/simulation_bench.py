"""Benchmark: outcome simulation of the five-municipality contract (issue 16).

Two cases, each timed as ``simulate`` + ``summarise`` of 10,000 runs of the example
assumptions (``contracts/examples/simulations/``; 5 payers, 4 paying KPIs, 5 years, 5 loans,
one unit class) — the draws, every year's payouts per payer, the SPV's books (debt service
with arrears and 遅延損害金, waterfall, returns, final payoff and write-downs) and the
statistics:

- ``from_fy2021``: from FY2021 with the audited FY2019–FY2020 results of ``make demo`` as
  history (the demo's own simulation);
- ``every_year_drawn``: all five years drawn (from FY2019, no history; the empirical years
  replaced by normals). Each scenario's own FY2019 receipts decide which instalments of
  2020–2021 it can pay on their dates: about 45 % of the scenarios fall into arrears across
  loans and leave the reference the vectorised books follow; the lockstep books
  (:mod:`settlement.simulation_lockstep`) settle them all together.

Baseline of each, measured in the same run: the scalar path (the settlement engine and the
books once per scenario) on a few hundred scenarios of the same case, extrapolated per run.
Goal: 10,000 runs in under 5 s, in both cases. ``SIB_BENCH_SIM_RUNS`` /
``SIB_BENCH_SIM_BASELINE`` override the run counts.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from contracts.validate import load_contract_file
from settlement.simulation import simulate, summarise
from settlement.simulation_assumptions import load_assumptions_file
from settlement.simulation_payouts import Variable

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "contracts" / "examples" / "sib-2019-five-municipalities.yaml"
ASSUMPTIONS = ROOT / "contracts" / "examples" / "simulations" / \
    "sib-2019-five-municipalities.yaml"
GOAL_SECONDS = 5.0


def history() -> dict[Variable, str]:
    """The demo's audited FY2019–FY2020 results."""
    from api.demo import INTERIM, RESULTS
    known: dict[Variable, str] = {}
    for year in (2019, 2020):
        contract_wide, per_payer = RESULTS[year]
        for kpi, value in contract_wide.items():
            known[(year, "final", kpi, "")] = value
        for payer, value in per_payer.items():
            known[(year, "final", "continuation-rate", payer)] = value
    known[(2019, "interim", "participants", "")] = INTERIM[2019]
    return known


def run() -> dict[str, Any]:
    runs = int(os.environ.get("SIB_BENCH_SIM_RUNS", "10000"))
    baseline_runs = int(os.environ.get("SIB_BENCH_SIM_BASELINE", "300"))
    contract, problems = load_contract_file(CONTRACT)
    assert contract is not None, problems
    assumptions, problems = load_assumptions_file(ASSUMPTIONS, contract)
    assert assumptions is not None, problems
    cases = {"from_fy2021": (assumptions, history(), 2021),
             "every_year_drawn": (every_year_assumptions(assumptions), None, 2019)}
    out: dict[str, Any] = {"runs": runs, "baseline_runs": baseline_runs}
    goals = []
    for name, (chosen, known, start) in cases.items():
        figures = _case(contract, chosen, known, start, runs, baseline_runs)
        out[name] = figures
        goals.append({"database": "—", "figure": f"{runs:,} runs, {name} (s)",
                      "value": figures["vectorised_seconds"], "goal": f"< {GOAL_SECONDS:g}",
                      "met": figures["vectorised_seconds"] < GOAL_SECONDS})
    out["goals"] = goals
    return out


def every_year_assumptions(assumptions: Any) -> Any:
    """The example's assumptions with every year drawn: an empirical year (which resamples
    audited history) replaced by a normal around the FY2019–FY2020 rates."""
    from dataclasses import replace

    from settlement.simulation_assumptions import Distribution
    distributions = {v: (Distribution("normal", {"mean": Decimal(71), "sd": Decimal(4)})
                         if d.kind == "empirical" else d)
                     for v, d in assumptions.distributions.items()}
    return replace(assumptions, distributions=distributions)


def _case(contract: Any, assumptions: Any, known: dict[Variable, str] | None, start: int,
          runs: int, baseline_runs: int) -> dict[str, Any]:
    """One case: the vectorised path on ``runs`` scenarios, the scalar path on
    ``baseline_runs`` of the same case, timed in this run."""
    started = time.perf_counter()
    sim, problems = simulate(contract, assumptions, runs, 2026, known, start)
    assert sim is not None, problems
    summarise(sim)
    vectorised = time.perf_counter() - started
    started = time.perf_counter()
    base, problems = simulate(contract, assumptions, baseline_runs, 2026, known, start,
                              scalar=True)
    assert base is not None, problems
    summarise(base)
    scalar = time.perf_counter() - started
    per_run_scalar = scalar / baseline_runs
    per_run_vectorised = vectorised / runs
    return {
        "from_fiscal_year": start,
        "vectorised_seconds": round(vectorised, 3),
        "vectorised_ms_per_run": round(per_run_vectorised * 1000, 4),
        "runs_following_the_reference": runs - len(sim.money.lockstep_run_ids)
        - sim.money.scalar_runs,
        "runs_settled_by_the_lockstep_books": len(sim.money.lockstep_run_ids),
        "runs_settled_by_the_engine_in_the_vectorised_path": sim.money.scalar_runs,
        "runs_with_a_fixed_fee_unpaid": int(sum(
            (v > 0 for by_year in sim.money.fee_unpaid.values() for v in by_year.values()),
            np.zeros(runs, dtype=bool)).sum()),
        "baseline_seconds": round(scalar, 3),
        "baseline_ms_per_run": round(per_run_scalar * 1000, 3),
        "baseline_extrapolated_seconds": round(per_run_scalar * runs, 1),
        "speed_up": round(per_run_scalar / per_run_vectorised, 1),
    }


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
