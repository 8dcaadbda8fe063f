"""Invalid contract files: each gets every one of its problems at once, with the file, the field
path and a stable code, and loads nothing.

Each file in ``tests/contracts_invalid/`` starts from ``_base_valid.yaml`` (which has no
problem) and lists its deliberate defects in its header comment; the table below is the exact
set of (code, field path) the validator must report for it — no fewer, and no more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.validate import load_contract_file

FOLDER = Path(__file__).with_name("contracts_invalid")

EXPECTED: dict[str, set[tuple[str, str | None]]] = {
    "tax_terms.yaml": {
        ("TAX_TERMS_MISSING", "consumption_tax"),
    },
    "tax_exemption.yaml": {
        ("TAX_EXEMPTION_WITH_RATE", "consumption_tax.exempt_reason"),
    },
    "tax_incomplete.yaml": {
        ("TAX_TERMS_INCOMPLETE", "consumption_tax.rate"),
        ("TAX_TERMS_INCOMPLETE", "consumption_tax.applies_to"),
    },
    "floor_above_cap.yaml": {
        ("LINEAR_FLOOR_ABOVE_CAP", "tranches[0].rule.floor"),
        ("LINEAR_FLOOR_NOT_ABOVE_CAP", "tranches[2].rule.floor"),
    },
    "shares_not_100.yaml": {
        ("SHARES_NOT_100", "payer_shares.percent"),
    },
    "shares_schedule.yaml": {
        ("UNKNOWN_PAYER", "payer_shares.percent_by_year[2020].town-c"),
        ("SHARES_PAYER_MISSING", "payer_shares.percent_by_year[2020]"),
        ("SHARES_NOT_100", "payer_shares.percent_by_year[2020]"),
        ("SHARES_YEAR_MISSING", "payer_shares.percent_by_year"),
    },
    "shares_missing.yaml": {
        ("SHARES_MISSING", "payer_shares"),
    },
    "kpi_target_missing.yaml": {
        ("KPI_TARGET_MISSING", "tranches[1].kpi"),
        ("KPI_REQUIRED", "tranches[2].kpi"),
    },
    "year_outside_term.yaml": {
        ("YEAR_OUTSIDE_TERM", "kpis[0].targets[2022]"),
        ("YEAR_OUTSIDE_TERM", "tranches[1].fiscal_year"),
        ("YEAR_OUTSIDE_TERM", "instruments[0].last_fiscal_year"),
        ("YEAR_OUTSIDE_TERM", "instruments[1].first_sale_fiscal_year"),
    },
    "authorisation_exceeded.yaml": {
        ("AUTHORISATION_YEAR_EXCEEDED", "payers[0].authorisation.limits_by_year[2020]"),
        ("AUTHORISATION_TOTAL_EXCEEDED", "payers[1].authorisation.max_amount"),
    },
    "authorisation_period.yaml": {
        ("AUTHORISATION_PERIOD_NOT_COVERING", "payers[0].authorisation.from_fiscal_year"),
        ("YEAR_OUTSIDE_AUTHORISATION", "payers[0].authorisation.limits_by_year[2020]"),
        ("AUTHORISATION_PERIOD_REVERSED", "payers[1].authorisation.to_fiscal_year"),
    },
    "unknown_party.yaml": {
        ("UNKNOWN_PARTY", "instruments[0].lender"),
        ("UNKNOWN_PARTY", "instruments[1].guarantor"),
        ("UNKNOWN_INSTRUMENT", "instruments[1].covers"),
        ("PARTY_ROLE_MISSING", "instruments[2].grantor"),
        ("UNKNOWN_PARTY", "providers[0].party"),
        ("UNKNOWN_PARTY", "tranches[0].payee"),
        ("UNKNOWN_KPI", "tranches[1].kpi"),
    },
    "duplicate_ids.yaml": {
        ("DUPLICATE_ID", "payers[1].party"),
        ("DUPLICATE_ID", "kpis[1].id"),
        ("DUPLICATE_ID", "tranches[1].id"),
    },
    "tiers_overlap.yaml": {
        ("TIERS_OVERLAP", "tranches[0].rule.tiers[1].from"),
        ("TIERS_OVERLAP", "tranches[0].rule.tiers[3].from"),
        ("TIER_AMOUNT_OR_PERCENT", "tranches[0].rule.tiers[2]"),
        ("TIER_ABOVE_MAXIMUM", "tranches[0].rule.tiers[3].amount"),
    },
    "grant_rate.yaml": {
        ("GRANT_RATE_OUT_OF_RANGE", "instruments[0].rate"),
        ("NOT_A_NUMBER", "instruments[1].rate"),
        ("SHARES_NOT_100", "payer_shares.percent"),
    },
    "loan_draws.yaml": {
        ("LOAN_DRAWS_EXCEED_COMMITMENT", "instruments[0].draws"),
        ("LOAN_REPAYMENT_BEFORE_DRAW", "instruments[0].repayment.first_repayment_on"),
        ("LOAN_BULLET_INSTALMENTS", "instruments[0].repayment.instalments"),
    },
    "field_errors.yaml": {
        ("FIELD_UNKNOWN", "parties[0].rolse"),
        ("FIELD_MISSING", "parties[0].roles"),
        ("INVOICE_NUMBER_INVALID", "parties[1].invoice_registration_number"),
        ("INVOICE_NUMBER_CHECK_DIGIT", "parties[2].invoice_registration_number"),
        ("NOT_A_DATE", "instruments[0].draws[0].drawn_on"),
        ("FIELD_MISSING", "kpis[0].direction"),
        ("AMOUNT_NOT_STRING", "tranches[0].max_amount"),
        ("VALUE_NOT_ALLOWED", "tranches[1].evaluation"),
        ("TYPE_UNKNOWN", "tranches[1].rule"),
        ("AMOUNT_PRECISION", "tranches[2].max_amount"),
        ("RATE_OUT_OF_RANGE", "consumption_tax.rate"),
    },
    "weights.yaml": {
        ("WEIGHTS_NOT_SUMMING_TO_ONE", "tranches[0].weight"),
        ("WEIGHT_MISSING", "tranches[3].weight"),
    },
    "rate_card_gbp.yaml": {
        ("RATE_CARD_CAP_ABOVE_MAXIMUM", "tranches[0].rule.cap_total"),
        ("RATE_CARD_PERSON_CAP_BELOW_PRICE", "tranches[0].rule.cap_per_person"),
        ("AMOUNT_PRECISION", "tranches[1].rule.price_per_outcome"),
    },
    "funding_terms.yaml": {
        ("PAYER_TERMS_MISSING", "parties[1].roles"),
        ("PROVIDER_FEE_MISSING", "providers[0]"),
        ("GUARANTEE_COVER_MISSING", "instruments[1]"),
        ("GUARANTEE_COVERS_WRONG_INSTRUMENT", "instruments[1].covers"),
    },
    "history.yaml": {
        ("AMENDMENT_VERSION_MISMATCH", "version"),
        ("WATERFALL_STEP_REPEATED", "waterfall[3]"),
        ("YEAR_OUTSIDE_TERM", "amendments[0].effective_from"),
    },
    "duplicate_key.yaml": {
        ("DUPLICATE_KEY", None),
    },
}


def test_the_base_every_invalid_file_starts_from_is_valid() -> None:
    contract, problems = load_contract_file(FOLDER / "_base_valid.yaml")
    assert problems == []
    assert contract is not None and contract.id == "validation-base"


def test_every_invalid_file_has_its_expected_problems_listed() -> None:
    files = {p.name for p in FOLDER.glob("*.yaml")} - {"_base_valid.yaml"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_file_reports_all_its_problems_together(name: str) -> None:
    path = FOLDER / name
    contract, problems = load_contract_file(path)
    assert contract is None
    assert {(p.code, p.field) for p in problems} == EXPECTED[name]
    assert len(problems) == len(EXPECTED[name]), "a problem was reported twice"
    assert all(p.source == str(path) for p in problems)
    assert all(p.message and "{" not in p.message for p in problems)


def test_messages_give_the_figures_a_finance_officer_needs() -> None:
    _, problems = load_contract_file(FOLDER / "authorisation_exceeded.yaml")
    messages = {p.code: p.message for p in problems}
    assert messages["AUTHORISATION_YEAR_EXCEEDED"] == (
        "City A (city-a) could owe up to 4,400,000 JPY in FY2020, above its authorised limit "
        "for that year 4,300,000 JPY by 100,000 JPY")
    assert messages["AUTHORISATION_TOTAL_EXCEEDED"] == (
        "Town B (town-b) could owe up to 2,500,000 JPY over the contract, above its authorised "
        "2,400,000 JPY by 100,000 JPY")


def test_a_float_amount_is_refused_but_a_float_rate_is_read_from_its_exact_text() -> None:
    _, problems = load_contract_file(FOLDER / "field_errors.yaml")
    fields = {p.field for p in problems}
    assert "tranches[0].max_amount" in fields              # max_amount: 5000000.0
    assert not any(f and f.startswith("instruments[0].rate_annual") for f in fields)


def test_a_missing_or_unreadable_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    contract, problems = load_contract_file(tmp_path / "nowhere.yaml")
    assert contract is None and [p.code for p in problems] == ["FILE_NOT_FOUND"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    contract, problems = load_contract_file(broken)
    assert contract is None and [p.code for p in problems] == ["YAML_INVALID"]
    assert "line 2" in problems[0].message
    listed = tmp_path / "list.yaml"
    listed.write_text("- just\n- a list\n", encoding="utf-8")
    assert [p.code for p in load_contract_file(listed)[1]] == ["DOCUMENT_NOT_MAPPING"]
