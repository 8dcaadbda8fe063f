"""What-if: the settlement a year would have with projected KPI values (issue 15, item 3).

Projected values replace or add to the audited results for the computation only: nothing is
stored, and every figure is marked a projection where it is shown. The computation is the
settlement's own (:func:`settlement.engine.settle_year` over the same inputs and totals
:func:`settlement.runs.preview` uses), so a projection equal to the audited values gives the
preview's figures exactly. Around it: each payer's budget headroom in the budget year that pays
the results (:func:`settlement.budget.budget_year`), and the debt service the payments would
fund — the loans' instalments due in that budget year, up to the payments' total.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from sqlmodel import Session

from contracts.liability import authorisation_table
from contracts.store import contract_for_year
from ledger.errors import Problem, SibError
from settlement import runs
from settlement.budget import budget_year
from settlement.debt_service import books_date, schedule_against_actual
from settlement.engine import YearSettlement, settle_year
from settlement.payouts import kpi_input
from settlement.results import current_audited

ASSUMPTION_INVALID = "ASSUMPTION_INVALID"


@dataclass(frozen=True)
class Assumption:
    """A projected KPI value (``payer`` empty: measured for the contract as a whole)."""

    kpi: str
    value: Decimal
    payer: str = ""


@dataclass(frozen=True)
class PayerProjection:
    """One payer's projected figures.

    Attributes:
        budget_fiscal_year: the budget year that pays these results.
        authorised_minor: the council's limit for that year (None: only a total is set).
        headroom_minor: authorised − projected due (None without a yearly limit).
    """

    payer: str
    earned_minor: int
    tax_minor: int
    due_minor: int
    grant_minor: int
    budget_fiscal_year: int
    authorised_minor: int | None
    headroom_minor: int | None


@dataclass(frozen=True)
class Projection:
    """The settlement of a year with projected values; ``result`` carries the traces."""

    contract_id: str
    fiscal_year: int
    assumptions: tuple[Assumption, ...]
    result: YearSettlement
    payers: tuple[PayerProjection, ...]
    debt_service_due_minor: int
    debt_service_funded_minor: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def due_minor(self) -> int:
        return sum(p.due_minor for p in self.payers)


def parse_assumption(text: str) -> Assumption:
    """``kpi=value`` or ``kpi=value,payer`` (the CLI's ``--assume``)."""
    kpi, sep, rest = text.partition("=")
    value, _, payer = rest.partition(",")
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        number = None
    if not sep or not kpi.strip() or number is None or not number.is_finite():
        raise SibError(f"{text!r} is not kpi=value[,payer] with a decimal value (e.g. "
                       "continuation-rate=72,ube)", ASSUMPTION_INVALID, "assume")
    return Assumption(kpi.strip(), number, payer.strip())


def project(session: Session, contract_id: str, fiscal_year: int,
            assumptions: list[Assumption], evaluation: str = "final") -> Projection:
    """The year's settlement with ``assumptions`` over the audited results; writes nothing."""
    contract = contract_for_year(session, contract_id, fiscal_year)
    inputs = runs.kpi_inputs(contract, current_audited(session, contract_id, fiscal_year,
                                                       evaluation))
    for a in assumptions:
        kpi = contract.kpi(a.kpi)
        if a.payer and a.payer not in contract.payer_ids:
            raise SibError(f"{a.payer!r} is not a payer of {contract_id}", ASSUMPTION_INVALID,
                           "assume")
        inputs[(a.kpi, a.payer)] = replace(kpi_input(contract, a.kpi, a.payer, fiscal_year,
                                                     a.value), unit=kpi.unit)
    earned, due, grant, in_year, year_before = runs._totals_before(
        session, contract_id, fiscal_year, evaluation)
    result = settle_year(contract, fiscal_year, evaluation, inputs, earned, due, grant, in_year,
                         year_before)
    paying_year = budget_year(contract, fiscal_year)
    limits = {r.payer: r.authorised_minor for r in authorisation_table(contract)
              if r.fiscal_year == paying_year}
    payers = tuple(PayerProjection(
        p, t.earned_minor, t.tax_minor, t.due_minor, t.grant_minor, paying_year,
        limits.get(p), None if limits.get(p) is None else (limits[p] or 0) - t.due_minor)
        for p, t in result.payers.items())
    start, end = contract.fiscal_year_bounds(paying_year)
    on = books_date(session, contract.id)
    debt_service = sum(line.scheduled_principal + line.scheduled_interest
                       for loan in contract.loans
                       for line in schedule_against_actual(session, contract, loan, on)
                       if start <= line.due_on <= end)
    total_due = sum(p.due_minor for p in payers)
    return Projection(contract_id, fiscal_year, tuple(assumptions), result, payers,
                      debt_service, min(total_due, debt_service), list(result.problems))
