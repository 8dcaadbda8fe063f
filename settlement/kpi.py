"""Checks on an evaluator's KPI result against the contract: pure, every problem at once.

Values that cannot be right are refused before anything is written: a percentage outside
0–100, a negative count, a KPI or fiscal year the contract does not have, a payer where the KPI
is measured for the whole contract (or none where it is measured per payer), an evaluation the
contract does not provide for that year.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts.model import PAYER_NOT_FOUND, Contract, not_a_payer
from ledger.errors import Problem, SibError
from ledger.inputs import parse_plain_decimal

NON_NEGATIVE_UNITS = ("count", "people", "steps", "money", "yen", "ratio", "score")


@dataclass(frozen=True)
class ResultInput:
    """A KPI result as submitted (from the CLI, a file row or the API).

    Attributes:
        payer: payer id, or ``""`` for a KPI measured for the whole contract.
        value: exact decimal text.
        outcomes_per_person: per-person outcome counts, for rate cards.
    """

    contract: str
    fiscal_year: int
    kpi: str
    value: str
    payer: str = ""
    evaluation: str = "final"
    outcomes_per_person: tuple[int, ...] | None = None


def parse_value(raw: Any) -> Decimal | None:
    """Exact decimal from text or int; None when it is not a plain finite number."""
    try:
        return read_value(raw)
    except SibError:
        return None


def read_value(raw: Any) -> Decimal:
    """Exact decimal from text or int, written plainly (``7,000``, ``68.5``); refused with its
    reason otherwise — an exponent (``3e3``, ``1E+100000``, which would make the settlement's
    arithmetic fail), full-width digits (``１２３４``), NaN or Infinity, too many digits."""
    if isinstance(raw, (bool, float)) or raw is None:
        raise SibError("a KPI value is exact decimal text such as \"68.5\"", "VALUE_INVALID",
                       "value")
    return parse_plain_decimal(str(raw), "value")


def check_result(contract: Contract, result: ResultInput, source: str = "",
                 prefix: str = "") -> list[Problem]:
    """Every problem of one result against the contract's KPIs, payers and tranches."""
    problems: list[Problem] = []

    def add(code: str, message: str, field: str) -> None:
        problems.append(Problem(code, message, prefix + field, source or None))

    kpi = next((k for k in contract.kpis if k.id == result.kpi), None)
    if kpi is None:
        add("KPI_UNKNOWN", f"contract {contract.id} has no KPI {result.kpi!r}", "kpi")
    if not contract.first_fiscal_year <= result.fiscal_year <= contract.last_fiscal_year:
        add("FISCAL_YEAR_OUTSIDE_TERM", f"FY{result.fiscal_year} is outside the contract term "
            f"FY{contract.first_fiscal_year}–FY{contract.last_fiscal_year}", "fiscal_year")
    if result.evaluation not in ("interim", "final"):
        add("EVALUATION_UNKNOWN", "evaluation must be interim or final", "evaluation")
    value: Decimal | None = None
    try:
        value = read_value(result.value)
    except SibError as error:
        add(error.code, error.problems[0].message, "value")
    if kpi is None:
        return problems
    if value is not None:
        if kpi.unit == "percent" and not Decimal(0) <= value <= Decimal(100):
            add("VALUE_OUT_OF_RANGE", f"{kpi.id} is a percentage: {value} is outside 0–100",
                "value")
        elif kpi.unit in NON_NEGATIVE_UNITS and value < 0:
            add("VALUE_NEGATIVE", f"{kpi.id} counts {kpi.unit}: {value} is below zero", "value")
    if kpi.measured == "per_payer" and not result.payer:
        add("PAYER_REQUIRED", f"{kpi.id} is measured per payer: name the payer", "payer")
    if kpi.measured == "per_contract" and result.payer:
        add("PAYER_NOT_ALLOWED", f"{kpi.id} is measured for the whole contract, not per payer",
            "payer")
    if result.payer and result.payer not in contract.payer_ids:
        add(PAYER_NOT_FOUND, not_a_payer(contract.id, result.payer), "payer")
    tranches = [t for t in contract.tranches if kpi.id in t.kpi_ids
                and t.fiscal_year == result.fiscal_year]
    has_target = result.fiscal_year in kpi.targets or any(
        result.fiscal_year in by_year for by_year in kpi.targets_by_payer.values())
    if not tranches and not has_target:
        add("PERIOD_UNKNOWN", f"{kpi.id} has no target or tranche in FY{result.fiscal_year}",
            "fiscal_year")
    elif tranches and result.evaluation not in {t.evaluation for t in tranches}:
        add("EVALUATION_NOT_IN_CONTRACT", f"{kpi.id} has no {result.evaluation} evaluation in "
            f"FY{result.fiscal_year}", "evaluation")
    if result.outcomes_per_person is not None and any(n < 0 for n in result.outcomes_per_person):
        add("VALUE_NEGATIVE", "outcomes per person cannot be negative", "outcomes_per_person")
    return problems
