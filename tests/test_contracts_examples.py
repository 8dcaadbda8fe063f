"""The example contracts shipped in ``contracts/examples/``: they validate, their maxima
split between payers add up exactly, and example 1's authorisation table is the one a finance
officer would check by hand.

Worked example (example 1, FY2019, Tono): outcome payments are split by population,
165k : 28k : 73k : 42k : 11k (319k in all), each tranche separately, truncating each part to
the yen and giving the leftover yen to the lead payer, Ube (``first_part``). Tono's part of the
3,000,000 interim tranche is 3,000,000 × 28/319 = 263,322.88 → 263,322; of the 9,000,000
participants tranche 789,968.65 → 789,968; of each 6,000,000 tranche 526,645.77 → 526,645.
Tono's FY2019 maximum is 263,322 + 789,968 + 3 × 526,645 = 2,633,225 yen.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from contracts.model import Contract, RateCardRule, to_document
from contracts.terms import (
    authorisation_table,
    max_outcome_by_payer_year,
    max_outcome_by_tranche_payer,
    tranche_maxima_in_year,
)
from contracts.validate import load_contract_file, validate_document

EXAMPLES = Path(__file__).resolve().parents[1] / "contracts" / "examples"
FILES = ["sib-2019-five-municipalities.yaml", "sib-2018-three-municipalities.yaml",
         "kashima-2023.yaml", "gbp-rate-card-employment.yaml",
         "usd-pay-for-success-housing.yaml"]


def load(name: str) -> Contract:
    contract, problems = load_contract_file(EXAMPLES / name)
    assert problems == [], [str(p) for p in problems]
    assert contract is not None
    return contract


@pytest.mark.parametrize("name", FILES)
def test_example_validates_without_a_single_problem(name: str) -> None:
    assert load(name).id == name.removesuffix(".yaml")


@pytest.mark.parametrize("name", FILES)
def test_example_header_marks_its_figures_as_illustrative(name: str) -> None:
    header = (EXAMPLES / name).read_text(encoding="utf-8").split("\nid:")[0]
    assert "ILLUSTRATIVE" in header


@pytest.mark.parametrize("name", FILES)
def test_payer_maxima_add_up_exactly_to_the_years_tranche_maxima(name: str) -> None:
    contract = load(name)
    by_payer_year = max_outcome_by_payer_year(contract)
    for year in contract.fiscal_years:
        maxima = sum(t.max_amount_minor for t in contract.tranches_in(year))
        cap = contract.caps.per_fiscal_year_minor.get(year)
        expected = maxima if cap is None else min(maxima, cap)
        assert sum(by_payer_year[(p, year)] for p in contract.payer_ids) == expected


@pytest.mark.parametrize("name", FILES)
def test_pending_parts_per_tranche_add_up_to_each_payers_yearly_maximum(name: str) -> None:
    contract = load(name)
    year_of = {t.id: t.fiscal_year for t in contract.tranches}
    totals: dict[tuple[str, int], int] = defaultdict(int)
    for (tranche_id, payer), part in max_outcome_by_tranche_payer(contract).items():
        totals[(payer, year_of[tranche_id])] += part
    by_payer_year = max_outcome_by_payer_year(contract)
    assert {k: v for k, v in by_payer_year.items() if v} == {k: v for k, v in totals.items() if v}


@pytest.mark.parametrize("name", FILES)
def test_example_survives_a_round_trip_through_its_document_form(name: str) -> None:
    contract = load(name)
    again, problems = validate_document(to_document(contract), "round-trip")
    assert problems == [] and again == contract


def test_five_municipalities_parties_and_funding() -> None:
    contract = load("sib-2019-five-municipalities.yaml")
    assert contract.payer_ids == ("ube", "tono", "yawata", "ibusuki", "misato")
    assert [p.id for p in contract.parties_with_role("lender")] == [
        "yamaguchi-bank", "tohoku-bank", "kyoto-bank", "kagoshima-bank", "saitama-resona-bank"]
    assert len(contract.loans) == 5
    assert sum(loan.commitment_minor for loan in contract.loans) == 60_000_000
    (grant,) = contract.grants
    assert str(grant.rate) == "1/2" and grant.subsidises == contract.payer_ids
    (units,) = contract.unit_classes
    assert (units.tax_category, units.first_sale_fiscal_year) == ("tokumei_kumiai", 2021)
    assert contract.kpi("participants").targets[2019] == 7200
    assert contract.kpi("participants").targets[2023] == 20000
    assert {t.rule.type for t in contract.tranches} == {
        "binary_threshold", "linear", "pro_rata", "stepped"}


def test_five_municipalities_tono_fy2019_worked_example() -> None:
    contract = load("sib-2019-five-municipalities.yaml")
    parts = max_outcome_by_tranche_payer(contract)
    assert parts[("fy2019-participants-interim", "tono")] == 263_322
    assert parts[("fy2019-participants", "tono")] == 789_968
    assert parts[("fy2019-continuation", "tono")] == 526_645
    # Ube takes the leftover yen: 1,551,724 truncated + 2 left over from the five parts.
    assert parts[("fy2019-participants-interim", "ube")] == 1_551_726
    assert max_outcome_by_payer_year(contract)[("tono", 2019)] == 2_633_225


# Example 1: per payer and fiscal year, maximum liability, authorised limit, headroom (yen).
# Ube's council set per-year limits; the others a total for FY2019–FY2023 only (None).
FIVE_MUNICIPALITIES_TABLE = [
    ("ube", 2019, 15_517_254, 15_600_000, 82_746),
    ("ube", 2020, 20_689_659, 20_700_000, 10_341),
    ("ube", 2021, 25_862_078, 25_900_000, 37_922),
    ("ube", 2022, 28_448_284, 28_500_000, 51_716),
    ("ube", 2023, 31_034_488, 31_100_000, 65_512),
    ("ube", None, 121_551_763, 122_000_000, 448_237),
    ("tono", 2019, 2_633_225, None, None),
    ("tono", 2020, 3_510_970, None, None),
    ("tono", 2021, 4_388_711, None, None),
    ("tono", 2022, 4_827_585, None, None),
    ("tono", 2023, 5_266_456, None, None),
    ("tono", None, 20_626_947, 21_000_000, 373_053),
    ("yawata", 2019, 6_865_201, None, None),
    ("yawata", 2020, 9_153_605, None, None),
    ("yawata", 2021, 11_442_005, None, None),
    ("yawata", 2022, 12_586_205, None, None),
    ("yawata", 2023, 13_730_406, None, None),
    ("yawata", None, 53_777_422, 54_000_000, 222_578),
    ("ibusuki", 2019, 3_949_840, None, None),
    ("ibusuki", 2020, 5_266_456, None, None),
    ("ibusuki", 2021, 6_583_070, None, None),
    ("ibusuki", 2022, 7_241_376, None, None),
    ("ibusuki", 2023, 7_899_685, None, None),
    ("ibusuki", None, 30_940_427, 31_000_000, 59_573),
    ("misato", 2019, 1_034_480, None, None),
    ("misato", 2020, 1_379_310, None, None),
    ("misato", 2021, 1_724_136, None, None),
    ("misato", 2022, 1_896_550, None, None),
    ("misato", 2023, 2_068_965, None, None),
    ("misato", None, 8_103_441, 8_200_000, 96_559),
]


def test_five_municipalities_authorisation_table() -> None:
    rows = authorisation_table(load("sib-2019-five-municipalities.yaml"))
    assert [(r.payer, r.fiscal_year, r.max_liability_minor, r.authorised_minor,
             r.headroom_minor) for r in rows] == FIVE_MUNICIPALITIES_TABLE
    # Year totals: 30, 40, 50, 55 and 60 million yen; 235 million over the contract.
    totals = [r.max_liability_minor for r in rows if r.fiscal_year is None]
    assert sum(totals) == 235_000_000
    for year, expected in zip(range(2019, 2024), [30, 40, 50, 55, 60]):
        assert sum(r.max_liability_minor for r in rows if r.fiscal_year == year) == \
            expected * 1_000_000


def test_three_municipalities_fy2022_cap_scales_the_tranches_down() -> None:
    contract = load("sib-2018-three-municipalities.yaml")
    # 7,000,000 + 5,000,000 + 20,000,000 = 32,000,000 against a 30,000,000 cap: × 30/32.
    assert tranche_maxima_in_year(contract, 2022) == {
        "fy2022-participants": 6_562_500, "fy2022-continuation": 4_687_500,
        "fy2022-cost-avoided": 18_750_000}
    by_payer_year = max_outcome_by_payer_year(contract)
    # FY2022 shares 57 / 30 / 13 % of the capped 30,000,000.
    assert [by_payer_year[(p, 2022)] for p in contract.payer_ids] == [
        17_100_000, 9_000_000, 3_900_000]
    assert contract.tranche("fy2022-cost-avoided").rule.type == "savings_share"


def test_kashima_is_fixed_fees_only_and_uses_its_whole_budget() -> None:
    contract = load("kashima-2023.yaml")
    assert contract.tranches == () and [c.id for c in contract.cohorts] == ["vitality", "mystar"]
    (total,) = [r for r in authorisation_table(contract) if r.fiscal_year is None]
    assert (total.liability.fixed_fees_minor, total.authorised_minor, total.headroom_minor) == \
        (4_730_000, 4_730_000, 0)
    assert contract.payer("kashima").authorisation.account == "国民健康保険特別会計"
    assert [c.amount_minor for c in contract.contributions] == [1_000_000]


def test_gbp_rate_card_counts_in_pence_with_caps_per_year_and_per_contract() -> None:
    contract = load("gbp-rate-card-employment.yaml")
    assert contract.currency == "GBP"
    rule = contract.tranche("fy2024-job-starts").rule
    assert isinstance(rule, RateCardRule) and rule.price_per_outcome_minor == 125_050
    # FY2026: 640,075.00 of rate cards against a 600,000.00 cap, split by largest remainder.
    assert tranche_maxima_in_year(contract, 2026) == {
        "fy2026-job-starts": 11_722_064, "fy2026-sustained-13": 22_497_364,
        "fy2026-sustained-26": 25_780_572}
    rows = [(r.payer, r.fiscal_year, r.max_liability_minor, r.authorised_minor, r.headroom_minor)
            for r in authorisation_table(contract)]
    assert rows == [
        ("northfield-council", 2024, 12_339_863, 12_500_000, 160_137),
        ("northfield-council", 2025, 20_740_913, 21_000_000, 259_087),
        ("northfield-council", 2026, 20_999_999, 21_000_000, 1),
        # 35 % of the 1,400,000.00 contract cap, below the 540,807.75 of the three years.
        ("northfield-council", None, 49_000_000, 50_000_000, 1_000_000),
        ("outcomes-fund", 2024, 22_916_887, None, None),
        ("outcomes-fund", 2025, 38_518_837, None, None),
        ("outcomes-fund", 2026, 39_000_001, None, None),
        ("outcomes-fund", None, 91_000_000, 91_000_000, 0),
    ]
    assert to_document(contract)["tranches"][0]["max_amount"] == "150060.00"


def test_usd_pay_for_success_counts_in_cents_over_a_july_to_june_year() -> None:
    # $4,250.75 a person housed is 425,075 cents; the $270,000.00 draw 27,000,000 cents; the
    # state's authorisation of $1,500,000.00 covers both years' maxima, 2 × (425,075.00 +
    # 300,000.00) = $1,450,150.00, with $49,850.00 to spare. Its years are named as the state
    # names them, by the year they end in: FY2026 is 1 July 2025 – 30 June 2026.
    contract = load("usd-pay-for-success-housing.yaml")
    assert (contract.currency, contract.fiscal_year_start_month) == ("USD", 7)
    assert (contract.fiscal_year_named_by, list(contract.fiscal_years)) == ("end", [2026, 2027])
    rule = contract.tranche("fy2026-housed").rule
    assert isinstance(rule, RateCardRule) and rule.price_per_outcome_minor == 425_075
    assert [d.amount_minor for d in contract.loans[0].draws] == [27_000_000]
    (total,) = [r for r in authorisation_table(contract) if r.fiscal_year is None]
    assert (total.max_liability_minor, total.authorised_minor, total.headroom_minor) == (
        145_015_000, 150_000_000, 4_985_000)
