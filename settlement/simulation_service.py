"""The simulation's edge to the database: the audited results, the unit subscriptions and the
return rates the ledger records, read once; then :func:`settlement.simulation.simulate`, which
writes nothing. Services never commit (this one never writes)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from contracts.model import Contract
from contracts.store import get_contract
from ledger.errors import SibError
from settlement.payments import capital_changes, return_rates
from settlement.results import current_audited
from settlement.simulation import Simulation, simulate
from settlement.simulation_assumptions import validate_assumptions
from settlement.simulation_books import Subscription
from settlement.simulation_payouts import EVALUATIONS, Variable
from settlement.unit_returns import RateSchedule


def audited_results(session: Session, contract: Contract) -> dict[Variable, str]:
    """Every audited (or settled) result in force, as the settlement would use it."""
    out: dict[Variable, str] = {}
    for year in contract.fiscal_years:
        for evaluation in EVALUATIONS:
            for (kpi, payer), row in current_audited(session, contract.id, year,
                                                     evaluation).items():
                out[(year, evaluation, kpi, payer)] = row.value
    return out


def recorded_subscriptions(session: Session, contract: Contract) -> list[Subscription] | None:
    """The capital paid into each unit class as the ledger records it (None when nothing is
    recorded yet: the assumptions' subscriptions are used then)."""
    out = []
    for unit in contract.unit_classes:
        for change in capital_changes(session, contract.id, unit.id, contract_end(contract)):
            if change.amount_minor > 0:
                out.append(Subscription(unit.id, change.on, change.amount_minor))
    return out or None


def contract_end(contract: Contract) -> Any:
    from datetime import date
    return date(contract.last_fiscal_year + 10, 12, 31)


def run_simulation(session: Session, contract_id: str, document: Any, source: str, runs: int,
                   seed: int, from_fiscal_year: int | None = None) -> Simulation:
    """Validate the assumptions ``document`` (parsed YAML) against the contract and simulate,
    with the audited results of the years before the first simulated one. Refused with every
    problem (each with its field path) when anything is wrong."""
    contract = get_contract(session, contract_id)
    assumptions, problems = validate_assumptions(document, contract, source)
    if assumptions is None:
        raise SibError(problems)
    rates: dict[str, RateSchedule | None] = {
        u.id: return_rates(session, contract, u.id) for u in contract.unit_classes}
    sim, problems = simulate(contract, assumptions, runs, seed,
                             audited_results(session, contract), from_fiscal_year,
                             recorded_subscriptions(session, contract), rates)
    if sim is None:
        raise SibError(problems)
    return sim
