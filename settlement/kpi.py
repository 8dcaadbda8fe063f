"""Checks on an evaluator's KPI result against the contract: pure, every problem at once.

Values that cannot be right are refused before anything is written: a value outside the KPI's
range (its own ``minimum`` / ``maximum``, else its unit's: 0–100 for a percentage, none below 0
for a count), more decimal places than it takes, per-person counts that do not add up, a KPI or
fiscal year the contract does not have, a payer where the KPI is measured for the whole contract
(or none where it is measured per payer), an evaluation the contract does not provide for that
year.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from contracts.model import PAYER_NOT_FOUND, Contract, Kpi, not_a_payer
from ledger.errors import Problem, SibError
from ledger.inputs import parse_plain_decimal
from ledger.money import exponent


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


def value_problems(contract: Contract, kpi: Kpi, value: Decimal) -> list[tuple[str, str]]:
    """(code, message) for a value outside the KPI's range (its own, or its unit's) or with
    more decimal places than it allows."""
    out = []
    low, high = kpi.bounds()
    if (low is not None and value < low) or (high is not None and value > high):
        if kpi.minimum is None and kpi.maximum is None and kpi.unit == "percent":
            out.append(("VALUE_OUT_OF_RANGE",
                        f"{kpi.id} is a percentage: {value} is outside 0–100"))
        elif kpi.minimum is None and low == 0 and value < 0:
            out.append(("VALUE_NEGATIVE", f"{kpi.id} counts {kpi.unit}: {value} is below zero"))
        else:
            span = (f"{low if low is not None else '−∞'} to "
                    f"{high if high is not None else '+∞'}")
            out.append(("VALUE_OUT_OF_RANGE",
                        f"{kpi.id} allows results from {span}: {value} is outside"))
    places = kpi.places(exponent(contract.currency))
    if places is not None and value != value.quantize(Decimal(1).scaleb(-places),
                                                      rounding=ROUND_DOWN):
        out.append(("VALUE_TOO_PRECISE", f"{kpi.id} ({kpi.unit}) takes "
                    + ("whole numbers" if places == 0 else f"at most {places} decimal places")
                    + f": {value} has more"))
    return out


def _per_person_problems(contract: Contract, kpi: Kpi, result: ResultInput,
                         value: Decimal | None) -> list[tuple[str, str]]:
    """Per-person outcome counts are for the rate cards paying on this KPI that year: whole
    numbers from 0, as many as there are people, adding up to the result's value."""
    counts = result.outcomes_per_person
    if counts is None:
        return []
    rate_cards = [t for t in contract.tranches if t.kpi == kpi.id
                  and t.fiscal_year == result.fiscal_year and t.rule.type == "rate_card"]
    if not rate_cards:
        return [("OUTCOMES_PER_PERSON_NOT_USED", f"no rate card pays on {kpi.id} in "
                 f"FY{result.fiscal_year}: outcomes per person are only for rate cards")]
    if any(isinstance(n, bool) or not isinstance(n, int) for n in counts):
        return [("VALUE_INVALID", "outcomes per person are whole numbers, one per person")]
    if any(n < 0 for n in counts):
        return [("VALUE_NEGATIVE", "outcomes per person cannot be negative")]
    if len(counts) > MAX_PERSONS:
        return [("TOO_MANY_PERSONS", f"{len(counts):,} persons; at most {MAX_PERSONS:,} per "
                 "result")]
    if value is not None and sum(counts) != value:
        return [("OUTCOMES_PER_PERSON_MISMATCH", f"the outcomes per person add up to "
                 f"{sum(counts):,}, but the result's value is {value}: they must agree")]
    return []


MAX_PERSONS = 100_000


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
        for code, message in value_problems(contract, kpi, value):
            add(code, message, "value")
    problems += [Problem(code, message, prefix + "outcomes_per_person", source or None)
                 for code, message in _per_person_problems(contract, kpi, result, value)]
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
    return problems
