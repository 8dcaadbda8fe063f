"""Return rules per unit class and the residual step (issue 13, items 1–2), as worked
examples derived by hand: a senior and a junior class whose rates come from a tier table on
an audited KPI (the senior with a minimum coupon for its first three years), paid by
seniority; "capital plus 12 % IRR" checked with pyxirr; yearly compounding; a fixed return
under a multiple cap; a 25 % redemption in year 4; and a surplus returned to the payers."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.instruments import RateTier, Redemption, ReturnCap, ReturnTerms, UnitClass
from contracts.store import load_contract
from contracts.validate import validate_document
from investors.store import HolderSpec, add_holder, subscribe
from ledger import read
from ledger.verify import verify
from settlement.class_returns import (
    ClassInputs,
    Flow,
    class_return_owed,
    redemption_due,
    tiered_schedule,
)
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, free_cash, record_payment
from settlement.results import audit_result, submit_results
from settlement.trace import About, Phrase, Subject
from settlement.unit_returns import CapitalChange

BASE: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "contracts_invalid/_base_valid.yaml").read_text(encoding="utf-8"))
ABOUT = About(Subject.INVESTOR_RETURN, instrument="x")

SENIOR_TIERS = (RateTier.model_validate({"from": "0", "to": "50", "rate": "0.01"}),
                RateTier.model_validate({"from": "50", "to": "70", "rate": "0.03"}),
                RateTier.model_validate({"from": "70", "rate": "0.05"}))
JUNIOR_TIERS = (RateTier.model_validate({"from": "50", "to": "70", "rate": "0.06"}),
                RateTier.model_validate({"from": "70", "rate": "0.10"}))
SENIOR = ReturnTerms(rule="tiered", kpi="continuation", tiers=SENIOR_TIERS,
                     minimum_rate=D("0.02"), minimum_years=3)
JUNIOR = ReturnTerms(rule="tiered", kpi="continuation", tiers=JUNIOR_TIERS)
YEARS = [(y, date(y, 4, 1)) for y in range(2020, 2025)]
KPI = {2020: D(45), 2021: D(65), 2022: D(75), 2023: D(40), 2024: D(80)}


def owed(terms: ReturnTerms, capital: list[tuple[date, int]], on: date, paid: int = 0,
         paid_out: list[tuple[date, int]] = (), results: dict[int, D] | None = None,
         final: bool = False):
    changes = tuple(CapitalChange(d, a) for d, a in capital)
    schedule, steps = (tiered_schedule(terms, YEARS, results or {}, 2020)
                       if terms.rule in ("tiered", "curve") else (None, []))
    flows = tuple(sorted([Flow(d, a) for d, a in capital if a > 0]
                         + [Flow(d, -a) for d, a in paid_out], key=lambda f: f.on))
    return class_return_owed(ABOUT, terms, ClassInputs(changes, flows, paid, schedule,
                                                       tuple(steps), final), on, "truncate")


# --------------------------------------------------------------------------- tiers

def test_tier_tables_with_a_minimum_coupon():
    """KPI 45, 65, 75, 40 in FY2020–FY2023. Senior: tiers 1 % / 3 % / 5 %, at least 2 % in
    its first three fiscal years → 2 %, 3 %, 5 %, then 1 % (the minimum has ended). Junior:
    0 / 6 % / 10 % → 0, 6 %, 10 %, 0. To 1 April 2024 (FY2023 has 366 days, 29 Feb 2024):
    senior 1,000,000 × (0.02 + 0.03 + 0.05 + 0.01 × 366/365) = 110,027.39… → 110,027;
    junior 500,000 × (0.06 + 0.10) = 80,000."""
    results = {y: KPI[y] for y in (2020, 2021, 2022, 2023)}
    senior = owed(SENIOR, [(date(2020, 4, 1), 1_000_000)], date(2024, 4, 1), results=results)
    junior = owed(JUNIOR, [(date(2020, 4, 1), 500_000)], date(2024, 4, 1), results=results)
    assert senior.accrued_minor == 110_027
    assert senior.accrued_exact == 1_000_000 * (Fraction(10, 100) + Fraction(366, 36_500))
    assert junior.accrued_minor == 80_000
    rates = [s.value.value for s in senior.trace.steps if s.phrase is Phrase.YEAR_RATE]
    assert rates[:4] == [Fraction(2, 100), Fraction(3, 100), Fraction(5, 100),
                         Fraction(1, 100)]


def test_a_year_not_yet_audited_earns_the_minimum_then_catches_up():
    """Before FY2020's result: the senior class earns its 2 % minimum (20,000 by 1 April
    2021), the junior nothing. Once the result (65: 3 %) is in, the senior is owed 30,000 in
    all, 10,000 more than the 20,000 paid."""
    before = owed(SENIOR, [(date(2020, 4, 1), 1_000_000)], date(2021, 4, 1))
    assert before.owed_minor == 20_000
    assert owed(JUNIOR, [(date(2020, 4, 1), 500_000)], date(2021, 4, 1)).owed_minor == 0
    after = owed(SENIOR, [(date(2020, 4, 1), 1_000_000)], date(2021, 4, 1), paid=20_000,
                 results={2020: D(65)})
    assert (after.accrued_minor, after.owed_minor) == (30_000, 10_000)


# --------------------------------------------------------------------------- IRR, compounding

def test_capital_plus_12_percent_irr():
    """1,000,000 paid in on 1 April 2020; 50,000 of returns paid on 1 April 2021 and 2022;
    the rest on 1 April 2023 (each year exactly 365 days). At 12 %:
    1,000,000 × 1.12³ − 50,000 × 1.12² − 50,000 × 1.12 = 1,404,928 − 62,720 − 56,000
    = 1,286,208 due on 1 April 2023: capital 1,000,000 and a return of 286,208."""
    terms = ReturnTerms(rule="irr", rate=D("0.12"))
    capital = [(date(2020, 4, 1), 1_000_000)]
    paid_out = [(date(2021, 4, 1), 50_000), (date(2022, 4, 1), 50_000)]
    result = owed(terms, capital, date(2023, 4, 1), paid=100_000, paid_out=paid_out)
    assert result.owed_minor == 286_208
    assert result.accrued_minor == 386_208
    pyxirr = pytest.importorskip("pyxirr")
    flows = [-1_000_000, 50_000, 50_000, 1_000_000 + result.owed_minor]
    irr = pyxirr.xirr([date(2020, 4, 1), date(2021, 4, 1), date(2022, 4, 1),
                       date(2023, 4, 1)], flows)
    assert round(irr, 4) == 0.12   # float-ok: pyxirr's own figure, to 0.01 %


def test_an_irr_over_a_broken_period_agrees_with_pyxirr():
    """With the last payment on 15 August 2023 (1,231 days: not whole years) the return is
    irrational; computed to 50 digits and rounded once (truncated), pyxirr on the flows gives
    12 % to within what one yen of truncation moves it."""
    terms = ReturnTerms(rule="irr", rate=D("0.12"))
    capital = [(date(2020, 4, 1), 1_000_000)]
    result = owed(terms, capital, date(2023, 8, 15))
    pyxirr = pytest.importorskip("pyxirr")
    irr = pyxirr.xirr([date(2020, 4, 1), date(2023, 8, 15)],
                      [-1_000_000, 1_000_000 + result.owed_minor])
    assert abs(irr - 0.12) < 1e-6   # float-ok: comparing with pyxirr
    assert (date(2023, 8, 15) - date(2020, 4, 1)).days == 1231
    assert result.owed_minor == int(1_000_000 * 1.12 ** (1231 / 365) - 1_000_000)  # float-ok


def test_yearly_compounding_with_a_stub():
    """1,000,000 at 12 % compounded yearly, valued on 1 July 2023: three whole years and 91
    days: 1,000,000 × 1.12³ × (1 + 0.12 × 91/365) = 1,404,928 × 1.0299178… =
    1,446,960.21… → a return of 446,960 (truncated)."""
    terms = ReturnTerms(rule="compounding", rate=D("0.12"))
    result = owed(terms, [(date(2020, 4, 1), 1_000_000)], date(2023, 7, 1))
    exact = Fraction(1_404_928) * (1 + Fraction(12, 100) * Fraction(91, 365)) - 1_000_000
    assert result.accrued_exact == exact
    assert result.owed_minor == 446_960


def test_a_fixed_return_is_owed_at_the_end_and_capped_by_a_multiple():
    """A fixed return of 600,000 on 1,000,000 of capital, capped at 1.5 × the capital: at
    most 500,000 of return. Nothing is owed before the final distribution."""
    terms = ReturnTerms.model_validate({"rule": "fixed_amount", "amount": 600_000,
                                        "cap": {"multiple": "1.5"}})
    assert terms.cap == ReturnCap(multiple=D("1.5"))
    capital = [(date(2020, 4, 1), 1_000_000)]
    assert owed(terms, capital, date(2022, 4, 1)).owed_minor == 0
    final = owed(terms, capital, date(2024, 4, 1), final=True)
    assert final.owed_minor == 500_000
    assert any(s.phrase is Phrase.RETURN_CAPPED for s in final.trace.steps)


# --------------------------------------------------------------------------- redemption

def test_a_25_percent_redemption_in_year_4():
    """A class of 2,000,000 from FY2020 redeems 25 % on 1 April 2023 (the first day of its
    fourth year): 500,000 owed back then, none before, and none again once paid. At 2 %
    simple, the capital returned stops earning: to 1 April 2024 the return is
    2,000,000 × 0.02 × 3 + 1,500,000 × 0.02 × 366/365 = 120,000 + 30,082.19… → 150,082."""
    contract = type("C", (), {"rounding": type("R", (), {"mode": "truncate"})})()
    unit_class = UnitClass.model_validate({
        "type": "unit_class", "id": "u", "issuer": "spv", "unit_price": "50,000",
        "units_offered": 40, "principal": "at_risk", "tax_category": "tokumei_kumiai",
        "first_sale_fiscal_year": 2020,
        "redemptions": [{"on": "2023-04-01", "percent": "25"}]})
    assert unit_class.redemptions == (Redemption(on=date(2023, 4, 1), percent=D(25)),)
    assert redemption_due(contract, unit_class, date(2023, 3, 31), 2_000_000, 0) == 0
    assert redemption_due(contract, unit_class, date(2023, 4, 1), 2_000_000, 0) == 500_000
    assert redemption_due(contract, unit_class, date(2023, 5, 1), 2_000_000, 500_000) == 0
    terms = ReturnTerms(rule="simple", rate=D("0.02"), minimum_rate=D("0.02"),
                        minimum_years=1)
    result = owed(terms, [(date(2020, 4, 1), 2_000_000), (date(2023, 4, 1), -500_000)],
                  date(2024, 4, 1))
    assert result.accrued_minor == 150_082


# --------------------------------------------------------------------------- through the books

def _document(residual: dict[str, str] | None = None) -> dict[str, Any]:
    """The validation base over FY2020–FY2024 with a fixed tranche a year paid 80/20 by the
    two payers (100,000; FY2022 80,000), a senior and a junior class of units on the tier
    tables above, and the surplus returned to the payers."""
    doc = copy.deepcopy(BASE)
    doc.update(id="tiered-returns", last_fiscal_year=2024)
    doc.pop("consumption_tax", None)
    for payer in doc["payers"]:
        payer["authorisation"]["to_fiscal_year"] = 2024
    doc["kpis"][0]["targets"] = {y: "70" for y in range(2020, 2025)}
    doc["tranches"] = [{"id": f"fy{y}-fixed", "fiscal_year": y, "rule": {"type": "fixed"},
                        "max_amount": "80,000" if y == 2022 else "100,000"}
                       for y in range(2020, 2025)]

    def tiers(table: tuple[RateTier, ...]) -> list[dict[str, str]]:
        return [{"from": str(t.from_value), "rate": str(t.rate),
                 **({"to": str(t.to_value)} if t.to_value is not None else {})} for t in table]
    doc["instruments"] = [
        {"type": "unit_class", "id": "senior", "issuer": "spv", "unit_price": "50,000",
         "units_offered": 20, "seniority": 1, "principal": "at_risk",
         "tax_category": "none", "first_sale_fiscal_year": 2020,
         "returns": {"rule": "tiered", "kpi": "continuation", "tiers": tiers(SENIOR_TIERS),
                     "minimum_rate": "0.02", "minimum_years": 3}},
        {"type": "unit_class", "id": "junior", "issuer": "spv", "unit_price": "50,000",
         "units_offered": 10, "seniority": 2, "principal": "at_risk",
         "tax_category": "none", "first_sale_fiscal_year": 2020,
         "returns": {"rule": "tiered", "kpi": "continuation", "tiers": tiers(JUNIOR_TIERS)}}]
    doc["residual"] = residual or {"to": "payers"}
    return doc


def _five_years(session, residual: dict[str, str] | None = None) -> dict[int, dict[str, int]]:
    """The five years of the story below, through the services; the returns each paid."""
    contract, problems = validate_document(_document(residual), "test")
    assert problems == []
    load_contract(session, contract)
    add_holder(session, HolderSpec("h-senior", "company", "シニア出資者", tax_category="corporate"))
    add_holder(session, HolderSpec("h-junior", "company", "ジュニア出資者",
                                   tax_category="corporate"))
    subscribe(session, "tiered-returns", "senior", "h-senior", 20, date(2020, 4, 1))
    subscribe(session, "tiered-returns", "junior", "h-junior", 10, date(2020, 4, 1))
    session.commit()
    paid_returns: dict[int, dict[str, int]] = {}
    for year in range(2020, 2025):
        for row in submit_results(session, [ResultInput("tiered-returns", year, "continuation",
                                                        str(KPI[year]))], "evaluator"):
            audit_result(session, row.id or 0, "auditor")
        pack = close_year(session, "tiered-returns", year, "spv")
        on = date(year + 1, 4, 1)
        for p in pack.payers:
            record_payment(session, "tiered-returns", p["payer"], p["outstanding"], on,
                           f"FY{year}")
        result = distribute(session, "tiered-returns", on, final=year == 2024,
                            reference="" if year == 2024 else f"FY{year}")
        paid_returns[year] = {a.claim.instrument: a.paid_minor
                              for a in result.waterfall.allocations
                              if a.claim.step == "investor_returns"}
        session.commit()
    return paid_returns


# The junior class's returns over the story below: 30,000 (2022) + 30,000 (2023, 20,000 short)
# + 20,000 (2024, the arrears) + 50,000 (final) = 130,000.
@pytest.mark.parametrize(("residual", "junior", "free"), [
    ({"to": "unit_class", "party": "junior"}, 130_000 + 189_973, 0),
    ({"to": "vehicle"}, 130_000, 189_973),
])
def test_the_surplus_to_a_class_or_left_with_the_vehicle(session, residual, junior, free):
    """The same five years: the 189,973 left at the end goes to the junior class as a
    distribution (its holders are paid it with the rest), or stays with the vehicle."""
    _five_years(session, residual)
    assert read.totals(session, "tiered-returns", "distributions:junior").debits_minor == junior
    contract = validate_document(_document(residual), "test")[0]
    assert free_cash(session, contract) == free
    assert not read.entries(session, "tiered-returns", kinds=["residual_refund"])
    assert verify(session).ok


def test_tiers_seniority_and_the_residual_through_the_books(session):
    """Year by year (distributions on each 1 April, each spending that year's 100,000 —
    80,000 for FY2022):
    - 2021: senior 20,000 (2 % minimum; 45 is in the 1 % tier); junior 0.
    - 2022: senior 50,000 − 20,000 = 30,000; junior 6 % = 30,000.
    - 2023: senior 100,000 − 50,000 = 50,000; junior 80,000 − 30,000 = 50,000, but only
      80,000 − 50,000 = 30,000 is left: 20,000 in arrears (seniority).
    - 2024: senior 110,027 − 100,000 = 10,027; junior 80,000 − 60,000 = 20,000 (its arrears;
      40 earns 0 in FY2023).
    - final, 1 April 2025: capital 1,000,000 + 500,000 first, then FY2024's 5 % and 10 %:
      50,000 + 50,000. Cash: 1,500,000 subscribed + 480,000 received − 190,027 paid before
      = 1,789,973; less 1,600,000 leaves 189,973, returned 80:20 by what each paid
      (384,000 and 96,000): 151,978.4 and 37,994.6 → 151,978 and 37,995 (largest remainder).
    """
    paid_returns = _five_years(session)
    contract = validate_document(_document(), "test")[0]
    assert paid_returns[2020] == {"senior": 20_000}
    assert paid_returns[2021] == {"senior": 30_000, "junior": 30_000}
    assert paid_returns[2022] == {"senior": 50_000, "junior": 30_000}
    assert paid_returns[2023] == {"senior": 10_027, "junior": 20_000}
    assert paid_returns[2024] == {"senior": 50_000, "junior": 50_000}
    refunds = {e.links["payer"]: e for e in read.entries(session, "tiered-returns",
                                                         kinds=["residual_refund"])}
    # Cash left: only what the holders are owed and not yet paid to each of them (their
    # payables): 190,027 of returns paid before plus 1,600,000 at the end. Nothing else.
    cash = read.totals(session, "tiered-returns", "cash").net_debit_minor
    assert cash == 190_027 + 1_600_000
    assert free_cash(session, contract) == 0
    assert {p: read.totals(session, "tiered-returns", f"outcome-income:{p}",
                           kinds=["residual_refund"]).debits_minor
            for p in refunds} == {"city-a": 151_978, "town-b": 37_995}
    assert verify(session).ok


def test_every_rule_s_trace_reads_in_both_languages():
    from investors.trace_text import english_lines, japanese_lines
    capital = [(date(2020, 4, 1), 1_000_000)]
    traces = [owed(SENIOR, capital, date(2024, 4, 1), results={2020: D(45)}).trace,
              owed(ReturnTerms(rule="irr", rate=D("0.12")), capital, date(2023, 4, 1)).trace,
              owed(ReturnTerms(rule="compounding", rate=D("0.05"),
                               cap=ReturnCap(rate=D("0.01"))), capital,
                   date(2023, 4, 1)).trace,
              owed(ReturnTerms.model_validate({"rule": "fixed_amount", "amount": 10}),
                   capital, date(2023, 4, 1), final=True).trace]
    for trace in traces:
        english, japanese = english_lines(trace, "JPY"), japanese_lines(trace)
        assert len(english) == len(japanese) > 3
    assert "at least 0.02 in the first 3 years" in english_lines(traces[0], "JPY")[0]
    assert any("FY2020" in line and "result 45 → tier 0.01" in line
               for line in english_lines(traces[0], "JPY"))
    assert any(line.startswith("2020年度の分配率") for line in japanese_lines(traces[0]))
    assert any(line.startswith("capped") for line in english_lines(traces[2], "JPY"))


def test_a_curve_between_a_floor_and_a_cap():
    """Points (50 → 1 %), (70 → 5 %): 45 reads 1 % (the first point's rate below it), 60 reads
    1 % + (60 − 50)/(70 − 50) × 4 % = 3 %, 65.5 reads 1 % + 0.775 × 4 % = 4.1 %, 80 reads 5 %.
    On 1,000,000 from 1 April 2020 to 1 April 2024 (FY2023: 366 days):
    1,000,000 × (0.01 + 0.03 + 0.041 + 0.05 × 366/365) = 81,000 + 50,136.98… = 131,136."""
    terms = ReturnTerms.model_validate({"rule": "curve", "kpi": "continuation", "points": [
        {"value": "70", "rate": "0.05"}, {"value": "50", "rate": "0.01"}]})
    results = {2020: D(45), 2021: D(60), 2022: D("65.5"), 2023: D(80)}
    result = owed(terms, [(date(2020, 4, 1), 1_000_000)], date(2024, 4, 1), results=results)
    rates = [s.value.value for s in result.trace.steps if s.phrase is Phrase.YEAR_RATE]
    assert rates[:4] == [Fraction(1, 100), Fraction(3, 100), Fraction(41, 1000),
                         Fraction(5, 100)]
    assert result.accrued_minor == 131_136


# --------------------------------------------------------------------------- on the payments

def _payments_document() -> dict[str, Any]:
    """FY2020–FY2022, one tranche a year on continuation, linear between 60 and 70 up to
    100,000 (paid 80/20 by the two payers); one class of 1,000,000 whose yearly rate is read
    off the outcome payments received for the year as a share of the year's 100,000:
    [0, 50) 1 %, [50, 90) 3 %, 90 and above 5 %, at least 2 % in its first year."""
    doc = copy.deepcopy(BASE)
    doc.update(id="payment-tiers", last_fiscal_year=2022)
    doc["consumption_tax"] = {"exempt_reason": "test contract: no tax, to keep the figures plain"}
    for payer in doc["payers"]:
        payer["authorisation"]["to_fiscal_year"] = 2022
    doc["kpis"][0]["targets"] = {y: "70" for y in range(2020, 2023)}
    doc["tranches"] = [{"id": f"fy{y}-continuation", "kpi": "continuation", "fiscal_year": y,
                        "max_amount": "100,000",
                        "rule": {"type": "linear", "floor": "60", "cap": "70"}}
                       for y in range(2020, 2023)]
    doc["instruments"] = [
        {"type": "unit_class", "id": "units", "issuer": "spv", "unit_price": "50,000",
         "units_offered": 20, "principal": "at_risk", "tax_category": "none",
         "first_sale_fiscal_year": 2020,
         "returns": {"rule": "tiered", "basis": "outcome_payments_percent",
                     "tiers": [{"from": "0", "to": "50", "rate": "0.01"},
                               {"from": "50", "to": "90", "rate": "0.03"},
                               {"from": "90", "rate": "0.05"}],
                     "minimum_rate": "0.02", "minimum_years": 1}}]
    doc["residual"] = {"to": "payers"}
    return doc


def test_a_tier_table_on_the_outcome_payments_received(session):
    """Continuation 65, 70, 62 → the linear tranche pays (65 − 60)/10 = 50 % = 50,000,
    100,000, then (62 − 60)/10 = 20 % = 20,000; each is paid on the next 1 April and
    distributed that day.
    - 1 April 2021: FY2020 received 50,000 of 100,000 = 50 % → 3 % (above the 2 % minimum);
      FY2021 nothing received yet (no minimum after the first year) → 0. Accrued
      1,000,000 × 3 % × 365/365 = 30,000, owed 30,000 (of the 50,000 received).
    - 1 April 2022: FY2021 100 % → 5 %: 30,000 + 50,000 = 80,000 accrued, 50,000 owed.
    - 1 April 2023, final: FY2022 20 % → 1 %: 90,000 accrued, 10,000 owed; the capital
      1,000,000 back. Cash 1,000,000 + 170,000 received − 80,000 paid = 1,090,000; less
      1,010,000 leaves 80,000, returned to the payers by what each paid (80/20 of
      170,000 = 136,000 and 34,000): 64,000 and 16,000."""
    contract, problems = validate_document(_payments_document(), "test")
    assert problems == []
    load_contract(session, contract)
    add_holder(session, HolderSpec("holder", "company", "出資者", tax_category="corporate"))
    subscribe(session, "payment-tiers", "units", "holder", 20, date(2020, 4, 1))
    session.commit()
    kpi = {2020: "65", 2021: "70", 2022: "62"}
    paid: dict[int, int] = {}
    for year in (2020, 2021, 2022):
        for row in submit_results(session, [ResultInput("payment-tiers", year, "continuation",
                                                        kpi[year])], "evaluator"):
            audit_result(session, row.id or 0, "auditor")
        pack = close_year(session, "payment-tiers", year, "spv")
        on = date(year + 1, 4, 1)
        for p in pack.payers:
            record_payment(session, "payment-tiers", p["payer"], p["outstanding"], on,
                           f"FY{year}")
        result = distribute(session, "payment-tiers", on, final=year == 2022,
                            reference="" if year == 2022 else f"FY{year}")
        paid[year] = sum(a.paid_minor for a in result.waterfall.allocations
                         if a.claim.step == "investor_returns")
        session.commit()
    assert paid == {2020: 30_000, 2021: 50_000, 2022: 10_000}
    assert read.totals(session, "payment-tiers", "distributions:units").debits_minor == 90_000
    refunds = {p: read.totals(session, "payment-tiers", f"outcome-income:{p}",
                              kinds=["residual_refund"]).debits_minor
               for p in ("city-a", "town-b")}
    assert refunds == {"city-a": 64_000, "town-b": 16_000}
    assert verify(session).ok


def test_the_measure_of_a_year_from_the_payments_received():
    """JPY: 50,000 received → 50,000 (major units) or 50 % of a 100,000 year; two parts of one
    year add up; nothing received is no measure (the year earns the minimum). USD: 12,345,678
    cents → $123,456.78. A share that repeats stays exact: 1/3 of a 300,000 year is 100/3 %,
    which the tier [33.33…, …) would miss if it were rounded."""
    from settlement.class_returns import tier_rate, year_measures
    contract = validate_document(_payments_document(), "test")[0]
    share = ReturnTerms(rule="tiered", basis="outcome_payments_percent", tiers=SENIOR_TIERS)
    amount = ReturnTerms(rule="tiered", basis="outcome_payments", tiers=SENIOR_TIERS)
    assert year_measures(contract, share, {2020: 50_000, 2021: 0}) == {2020: Fraction(50)}
    assert year_measures(contract, amount, {2020: 30_000 + 20_000}) == {2020: Fraction(50_000)}
    usd = contract.model_copy(update={"currency": "USD"})
    assert year_measures(usd, amount, {2020: 12_345_678}) == {2020: Fraction(12_345_678, 100)}
    tiers = (RateTier.model_validate({"from": "33.333333333333333333333333334",
                                      "rate": "0.05"}),)
    assert tier_rate(tiers, Fraction(100, 3)) == 0  # below: exactly 100/3, not 33.33…34
    assert tier_rate(tiers, Fraction(100, 3) + Fraction(1, 10**27)) == Fraction(5, 100)


@pytest.mark.parametrize(("returns", "code", "where"), [
    ({"rule": "tiered", "basis": "outcome_payments", "kpi": "continuation",
      "tiers": [{"from": "0", "rate": "0.01"}]}, "RETURN_BASIS_TWICE", "returns.kpi"),
    ({"rule": "simple", "basis": "outcome_payments", "rate": "0.01"}, "RETURN_BASIS_UNUSED",
     "returns.basis"),
    ({"rule": "tiered", "basis": "received", "tiers": [{"from": "0", "rate": "0.01"}]},
     None, "returns.basis"),
])
def test_a_return_basis_is_checked(returns, code, where):
    doc = _payments_document()
    doc["instruments"][0]["returns"] = returns
    _, problems = validate_document(doc, "test")
    assert any(p.field.endswith(where) and (code is None or p.code == code)
               for p in problems), problems


def test_a_trace_says_what_the_rate_was_read_off():
    from investors.trace_text import english_lines, japanese_lines
    terms = ReturnTerms(rule="tiered", basis="outcome_payments_percent", tiers=SENIOR_TIERS)
    result = owed(terms, [(date(2020, 4, 1), 1_000_000)], date(2022, 4, 1),
                  results={2020: D(60)})
    english, japanese = english_lines(result.trace, "JPY"), japanese_lines(result.trace)
    assert "the outcome payments received for the year, as a percentage" in english[0]
    assert any("FY2020" in line and "received 60" in line for line in english)
    assert any("nothing received yet" in line for line in english)  # FY2021
    assert "成果連動支払の受領額" in japanese[0]
    assert any(line.startswith("2021年度の分配率") and "受領額なし" in line for line in japanese)


def test_the_share_received_leaves_out_what_is_paid_straight_to_a_provider():
    """FY2020 has the vehicle's 100,000 tranche and a 100,000 tranche the payers pay straight
    to the provider (payee routing): the vehicle can receive at most 100,000, so 50,000
    received is 50 %, not 25 % of both."""
    from settlement.class_returns import year_measures
    doc = _payments_document()
    doc["parties"].append({"id": "provider", "name_en": "Provider", "kind": "npo",
                           "roles": ["service_provider"]})
    doc["tranches"].append({"id": "fy2020-to-provider", "kpi": "continuation",
                            "fiscal_year": 2020, "max_amount": "100,000", "payee": "provider",
                            "rule": {"type": "linear", "floor": "60", "cap": "70"}})
    contract, problems = validate_document(doc, "test")
    assert contract is not None, problems
    share = ReturnTerms(rule="tiered", basis="outcome_payments_percent", tiers=SENIOR_TIERS)
    assert year_measures(contract, share, {2020: 50_000}) == {2020: Fraction(50)}
