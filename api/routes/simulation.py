"""Outcome simulation over HTTP (issue 16): ``POST /contracts/{id}/simulations`` draws the
scenarios and answers the summary (money as ``{"amount", "currency"}``). Nothing is written.

The summary shows every payer's, lender's and class's figures, so it is for the roles that read
the whole contract (admin, intermediary, auditor, evaluator)."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import FULL_READ_ROLES, CurrentUser, SessionDep, require
from ledger.errors import SibError
from settlement.simulation import as_json, summarise
from settlement.simulation_service import run_simulation

router = APIRouter(tags=["simulation"])
MAX_API_RUNS = 10_000


class SimulationCreate(BaseModel):
    """A simulation request: the assumptions (the simulation file's content, as a JSON object
    or as YAML text), the runs and the seed."""

    model_config = ConfigDict(extra="forbid")
    assumptions: dict[str, Any] | str
    runs: int = Field(1000, ge=1, le=MAX_API_RUNS)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    from_fiscal_year: int | None = Field(None, ge=1900, le=2200)


@router.post("/contracts/{contract_id}/simulations", status_code=200)
def create_simulation(contract_id: str, body: SimulationCreate, session: SessionDep,
                      user: CurrentUser) -> dict[str, Any]:
    """Simulate the contract's outcomes from the assumptions; the same seed, the same
    answer."""
    require(user, *FULL_READ_ROLES)
    document: Any = body.assumptions
    if isinstance(document, str):
        try:
            document = yaml.safe_load(document)
        except yaml.YAMLError as error:
            raise SibError(f"the assumptions are not valid YAML: {error}", "YAML_INVALID",
                           "assumptions") from None
    sim = run_simulation(session, contract_id, document, "request", body.runs, body.seed,
                         body.from_fiscal_year)
    return as_json(summarise(sim), sim.contract.currency)
