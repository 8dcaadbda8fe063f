"""Tie-out over every example contract: each is told year by year through the services (loans
drawn, fixed fees paid, results audited — a year met, a year partly met, a year missed — the
year settled and closed, the payers' payments received in May, the waterfall, holders paid),
and every document of every year must agree with the ledger (issue 10, acceptance 3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from api import db
from contracts.model import Contract
from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import pay_holders
from investors.tieout import tie_out_year
from ledger.calendar import next_business_day
from ledger.errors import SibError
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
# Each year's result as a share of its target: met, partly met, missed, then met again.
SHARES = (Decimal("1.1"), Decimal("0.9"), Decimal("0.5"), Decimal("1"), Decimal("1.2"))


def _value(contract: Contract, kpi_id: str, payer: str, year: int, share: Decimal) -> str:
    kpi = contract.kpi(kpi_id)
    target = kpi.targets_by_payer.get(payer, {}).get(year) if payer else None
    target = target if target is not None else kpi.targets.get(year)
    if target is None:
        target = next((t.rule.target for t in contract.tranches if t.kpi == kpi_id
                       and getattr(t.rule, "target", None) is not None), Decimal(100))
    if kpi.direction == "lower_is_better":
        share = 2 - share
    return str((Decimal(target) * share).quantize(Decimal("0.1")))


def _per_person(value: str, share: Decimal) -> tuple[int, ...]:
    """Outcomes per person adding up to ``value``: two each in a year above target (so that a
    cap per person binds), else one each."""
    outcomes, each = int(Decimal(value)), 2 if share > 1 else 1
    return (each,) * (outcomes // each) + ((outcomes % each,) if outcomes % each else ())


def _results(contract: Contract, year: int, share: Decimal) -> list[ResultInput]:
    """One audited result per KPI that pays in ``year`` (per payer where so measured)."""
    wanted = {(t.kpi, t.evaluation) for t in contract.tranches
              if t.fiscal_year == year and t.kpi is not None}
    out = []
    for kpi_id, evaluation in sorted(wanted):
        kpi = contract.kpi(kpi_id)
        payers = contract.payer_ids if kpi.measured == "per_payer" else ("",)
        for payer in payers:
            rate_card = any(t.kpi == kpi_id and t.rule.type == "rate_card"
                            for t in contract.tranches)
            value = _value(contract, kpi_id, payer, year, share)
            out.append(ResultInput(contract.id, year, kpi_id, value, payer, evaluation,
                                   _per_person(value, share) if rate_card else None))
    return out


def _tell(url: str, contract: Contract) -> None:
    with db.unit_of_work(url) as s:
        load_contract(s, contract, "example")
        draw_loans(s, contract.id, date(contract.last_fiscal_year + 2, 3, 31))
    for n, year in enumerate(contract.fiscal_years):
        start, end = contract.fiscal_year_bounds(year)  # by the contract's own naming
        with db.unit_of_work(url) as s:
            pay_fixed_fees(s, contract.id, year, date(start.year, start.month + 5, 30)
                           if start.month <= 7 else start)
            inputs = _results(contract, year, SHARES[n % len(SHARES)])
            if inputs:
                for row in submit_results(s, inputs, "evaluator"):
                    audit_result(s, row.id or 0, "auditor")
        with db.unit_of_work(url) as s:
            pack = close_year(s, contract.id, year, "intermediary")
        # Paid 50 days after the year's end (20 May for an April–March year), distributed 59
        # days after it (29 May).
        paid_on = next_business_day(end + timedelta(days=50))
        with db.unit_of_work(url) as s:
            for p in pack.payers:
                if p["outstanding"]:
                    record_payment(s, contract.id, p["payer"], p["outstanding"], paid_on,
                                   f"FY{year}")
        waterfall_on = next_business_day(end + timedelta(days=59))
        try:
            with db.unit_of_work(url) as s:
                distribute(s, contract.id, waterfall_on, final=year == contract.last_fiscal_year,
                           reference=f"FY{year}")
                pay_holders(s, contract.id, waterfall_on)
        except SibError as refused:  # nothing received this year: nothing to distribute
            assert refused.code == "NOTHING_TO_DISTRIBUTE", refused


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_document_of_every_example_ties_out(db_url, name):
    contract, problems = load_contract_file(EXAMPLES / name)
    assert contract is not None and not problems, problems
    _tell(db_url, contract)
    with db.unit_of_work(db_url) as s:
        for year in contract.fiscal_years:
            found = tie_out_year(s, contract.id, year)
            assert found == [], "\n".join(str(m) for m in found)
