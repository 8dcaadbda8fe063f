"""The pure contract rules, each on a small contract built in the test: payer weights, splits
with the remainder policy, year caps, tax, the authorisation table, amendments, and the value
types that keep money and rates exact. No database."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.model import Contract
from contracts.source import parse_yaml
from contracts.terms import (
    apply_amendment,
    authorisation_table,
    max_outcome_by_payer_year,
    max_outcome_by_tranche_payer,
    payer_weights,
    tax_on,
    tranche_maxima_in_year,
    tranche_weights,
)
from contracts.validate import field_path, validate_document
from contracts.values import YamlDecimal, corporate_number_check_digit, format_amount
from ledger.errors import SibError

BASE: dict[str, Any] = {
    "id": "rules-base", "name_ja": "規則確認用", "name_en": "Rules base", "currency": "JPY",
    "first_fiscal_year": 2020, "last_fiscal_year": 2021,
    "parties": [
        {"id": "city-a", "name_en": "City A", "kind": "municipality", "roles": ["outcome_payer"]},
        {"id": "town-b", "name_en": "Town B", "kind": "municipality", "roles": ["outcome_payer"]},
        {"id": "town-c", "name_en": "Town C", "kind": "municipality", "roles": ["outcome_payer"]},
    ],
    "payers": [
        {"party": p, "authorisation": {"max_amount": "100,000,000", "from_fiscal_year": 2020,
                                       "to_fiscal_year": 2021}}
        for p in ("city-a", "town-b", "town-c")],
    "payer_shares": {"basis": "fixed", "percent": {"city-a": "50", "town-b": "30",
                                                   "town-c": "20"}},
    "kpis": [{"id": "continuation", "unit": "percent", "direction": "higher",
              "targets": {2020: "70", 2021: "75"}}],
    "tranches": [
        {"id": "fy2020-continuation", "kpi": "continuation", "fiscal_year": 2020,
         "max_amount": "200", "rule": {"type": "linear", "floor": "60", "cap": "70"}},
        {"id": "fy2021-continuation", "kpi": "continuation", "fiscal_year": 2021,
         "max_amount": "1,000,000", "rule": {"type": "binary_threshold", "threshold": "75"}},
    ],
    "consumption_tax": {"rate": "0.10", "applies_to": ["outcome_payments"],
                        "amounts_include_tax": True},
}


def document(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def contract(**changes: Any) -> Contract:
    result, problems = validate_document(document(**changes), "test")
    assert problems == [], [str(p) for p in problems]
    assert result is not None
    return result


# --- payer weights --------------------------------------------------------------------------

def test_fixed_shares_are_the_percentages_in_payer_order() -> None:
    assert payer_weights(contract(), 2020) == {
        "city-a": Decimal(50), "town-b": Decimal(30), "town-c": Decimal(20)}


def test_proportional_shares_use_the_years_quantities_when_given() -> None:
    shares = {"basis": "proportional", "quantity_name": "participants",
              "quantities": {"city-a": 500, "town-b": 300, "town-c": 200},
              "quantities_by_year": {2021: {"city-a": 400, "town-b": 400, "town-c": 200}}}
    c = contract(payer_shares=shares)
    assert payer_weights(c, 2020) == {"city-a": 500, "town-b": 300, "town-c": 200}
    assert payer_weights(c, 2021) == {"city-a": 400, "town-b": 400, "town-c": 200}
    # 1,000,000 split 400 : 400 : 200
    assert [max_outcome_by_tranche_payer(c)[("fy2021-continuation", p)]
            for p in c.payer_ids] == [400_000, 400_000, 200_000]


def test_scheduled_shares_change_by_year() -> None:
    shares = {"basis": "schedule", "percent_by_year": {
        2020: {"city-a": "50", "town-b": "30", "town-c": "20"},
        2021: {"city-a": "40", "town-b": "40", "town-c": "20"}}}
    c = contract(payer_shares=shares)
    assert payer_weights(c, 2021)["town-b"] == Decimal(40)
    with pytest.raises(SibError) as refused:
        payer_weights(c, 2022)
    assert refused.value.code == "SHARES_PAYER_MISSING"


def test_a_single_payer_needs_no_shares_and_pays_everything() -> None:
    c = contract(parties=BASE["parties"][:1], payers=BASE["payers"][:1], payer_shares=None)
    assert payer_weights(c, 2020) == {"city-a": Decimal(100)}
    assert max_outcome_by_payer_year(c) == {("city-a", 2020): 200, ("city-a", 2021): 1_000_000}


def test_a_tranche_naming_its_payers_is_split_between_them_only() -> None:
    tranches = copy.deepcopy(BASE["tranches"])
    tranches[1]["payers"] = ["town-b", "town-c"]
    c = contract(tranches=tranches)
    assert tranche_weights(c, c.tranches[1]) == {"town-b": Decimal(30), "town-c": Decimal(20)}
    parts = max_outcome_by_tranche_payer(c)
    assert (parts[("fy2021-continuation", "town-b")], parts[("fy2021-continuation", "town-c")]) \
        == (600_000, 400_000)
    assert ("fy2021-continuation", "city-a") not in parts


# --- splitting with the remainder policy ------------------------------------------------------

def test_first_part_gives_the_leftover_yen_to_the_lead_payer() -> None:
    # 200 yen split equally three ways: 66.67 each, truncated to 66; 2 yen left over.
    c = contract(payer_shares={"basis": "fixed", "percent": {
        "city-a": "33.33", "town-b": "33.33", "town-c": "33.34"}})
    parts = max_outcome_by_tranche_payer(c)
    assert [parts[("fy2020-continuation", p)] for p in c.payer_ids] == [68, 66, 66]


def test_largest_remainder_spreads_the_leftover() -> None:
    c = contract(rounding={"mode": "truncate", "remainder_policy": "largest_remainder"},
                 payer_shares={"basis": "proportional", "quantity_name": "people",
                               "quantities": {"city-a": 1, "town-b": 1, "town-c": 1}})
    parts = max_outcome_by_tranche_payer(c)
    assert [parts[("fy2020-continuation", p)] for p in c.payer_ids] == [67, 67, 66]


# --- year caps --------------------------------------------------------------------------------

def test_a_year_cap_below_the_tranche_maxima_scales_them_to_the_cap_exactly() -> None:
    tranches = copy.deepcopy(BASE["tranches"]) + [
        {"id": "fy2021-fixed", "fiscal_year": 2021, "max_amount": "500,000",
         "rule": {"type": "fixed"}}]
    c = contract(tranches=tranches, caps={"per_fiscal_year": {2021: "1,200,000"}})
    # 1,000,000 + 500,000 against 1,200,000: each × 1,200,000 / 1,500,000 = 0.8.
    assert tranche_maxima_in_year(c, 2021) == {"fy2021-continuation": 800_000,
                                               "fy2021-fixed": 400_000}
    assert tranche_maxima_in_year(c, 2020) == {"fy2020-continuation": 200}  # no cap that year
    by_year = max_outcome_by_payer_year(c)
    assert [by_year[(p, 2021)] for p in c.payer_ids] == [600_000, 360_000, 240_000]


def test_cap_scaling_never_lifts_a_tranche_above_its_own_maximum() -> None:
    # 1 + 1,000 + 1,000 against a cap of 1,000: first_part would give the 2 leftover yen to the
    # 1-yen tranche (0 + 2 > 1), so the split falls back to the largest remainders.
    tranches = [
        {"id": f"t{i}", "fiscal_year": 2020, "max_amount": amount, "rule": {"type": "fixed"}}
        for i, amount in enumerate(["1", "1,000", "1,000"])]
    c = contract(tranches=tranches, kpis=[], caps={"per_fiscal_year": {2020: "1,000"}})
    assert tranche_maxima_in_year(c, 2020) == {"t0": 0, "t1": 500, "t2": 500}


# --- consumption tax and the authorisation table --------------------------------------------

def test_tax_is_added_only_when_amounts_exclude_it_and_only_where_it_applies() -> None:
    excluded = {"rate": "0.10", "applies_to": ["outcome_payments"], "amounts_include_tax": False}
    c = contract(consumption_tax=excluded)
    assert tax_on(c, 1_234_567, "outcome_payments") == 123_456      # 123,456.7 truncated
    assert tax_on(c, 1_234_567, "service_fees") == 0
    half_up = contract(consumption_tax=excluded, rounding={"mode": "half_up"})
    assert tax_on(half_up, 1_234_567, "outcome_payments") == 123_457
    included = contract(consumption_tax={**excluded, "amounts_include_tax": True})
    assert tax_on(included, 1_234_567, "outcome_payments") == 0


def test_authorisation_table_adds_direct_fees_and_tax_to_the_outcome_maximum() -> None:
    parties = BASE["parties"] + [
        {"id": "coach", "name_en": "Coach", "kind": "company", "roles": ["service_provider"]}]
    payers = copy.deepcopy(BASE["payers"])
    payers[1]["authorisation"]["limits_by_year"] = {2021: "700,000"}
    c = contract(parties=parties, payers=payers,
                 providers=[{"party": "coach", "paid_by": "town-b",
                             "fixed_by_year": {2021: "100,000"}}],
                 consumption_tax={"rate": "0.10", "applies_to": ["outcome_payments",
                                                                 "service_fees"],
                                  "amounts_include_tax": False})
    row = next(r for r in authorisation_table(c) if (r.payer, r.fiscal_year) == ("town-b", 2021))
    # 30 % of 1,000,000 = 300,000 + its own fee 100,000 + 10 % tax on each invoice 40,000.
    assert (row.liability.outcome_minor, row.liability.fixed_fees_minor,
            row.liability.tax_minor) == (300_000, 100_000, 40_000)
    assert (row.max_liability_minor, row.authorised_minor, row.headroom_minor) == \
        (440_000, 700_000, 260_000)


# --- amendments -------------------------------------------------------------------------------

def with_targets(targets: dict[int, str]) -> list[dict[str, Any]]:
    kpis: list[dict[str, Any]] = copy.deepcopy(BASE["kpis"])
    kpis[0]["targets"] = targets
    return kpis


def test_an_amendment_of_a_future_target_keeps_the_past_and_records_the_history() -> None:
    current = contract()
    edited = contract(kpis=with_targets({2020: "70", 2021: "72"}))
    amended, problems = apply_amendment(current, edited, "FY2021 target renegotiated", 2021)
    assert problems == [] and amended is not None
    assert amended.version == 2 and amended.kpi("continuation").targets[2021] == 72
    assert [(a.version, a.effective_from, a.reason) for a in amended.amendments] == [
        (2, 2021, "FY2021 target renegotiated")]
    assert amended.tranches_in(2020) == current.tranches_in(2020)


def test_an_amendment_may_not_change_the_terms_of_an_earlier_year() -> None:
    tranches = copy.deepcopy(BASE["tranches"])
    tranches[0]["max_amount"] = "300"
    edited = contract(kpis=with_targets({2020: "68", 2021: "72"}), tranches=tranches)
    amended, problems = apply_amendment(contract(), edited, "renegotiated", 2021)
    assert amended is None
    assert {(p.code, p.field) for p in problems} == {
        ("AMENDMENT_CHANGES_SETTLED_PERIOD", "kpis.continuation.targets[2020]"),
        ("AMENDMENT_CHANGES_SETTLED_PERIOD", "tranches.fy2020-continuation")}


def test_an_amendment_may_not_change_what_shapes_every_period() -> None:
    amended, problems = apply_amendment(
        contract(), contract(rounding={"mode": "half_up"}), "rounding", 2021)
    assert amended is None
    assert [(p.code, p.field) for p in problems] == [
        ("AMENDMENT_CHANGES_SETTLED_PERIOD", "rounding")]


def test_early_termination_ends_the_term_before_the_effective_year() -> None:
    edited = contract(last_fiscal_year=2020, tranches=BASE["tranches"][:1],
                      kpis=with_targets({2020: "70"}))
    amended, problems = apply_amendment(contract(), edited, "early termination", 2021)
    assert problems == [] and amended is not None
    assert list(amended.fiscal_years) == [2020]


def test_amendment_refusals_are_named() -> None:
    other = contract(id="another-contract", version=3, amendments=[
        {"version": 2, "effective_from": 2021, "reason": "x"},
        {"version": 3, "effective_from": 2021, "reason": "y"}])
    amended, problems = apply_amendment(contract(), other, " ", 2023)
    assert amended is None
    assert {p.code for p in problems} == {
        "AMENDMENT_OTHER_CONTRACT", "AMENDMENT_VERSION_NOT_NEXT", "AMENDMENT_REASON_MISSING",
        "AMENDMENT_OUTSIDE_TERM"}


def test_a_next_version_may_carry_its_own_amendment_record() -> None:
    record = {"version": 2, "effective_from": 2021, "reason": "FY2021 target renegotiated",
              "amended_on": "2021-03-15"}
    edited = contract(version=2, amendments=[record], kpis=with_targets({2020: "70",
                                                                          2021: "72"}))
    amended, problems = apply_amendment(contract(), edited, "FY2021 target renegotiated", 2021)
    assert problems == [] and amended is not None
    assert amended.amendments[0].amended_on == date(2021, 3, 15)
    _, problems = apply_amendment(contract(), edited, "elsewhere", 2020)
    assert [p.code for p in problems] == ["AMENDMENT_HISTORY_REWRITTEN"]


# --- exact values -----------------------------------------------------------------------------

def test_amounts_are_minor_units_of_the_contract_currency() -> None:
    pounds = contract(currency="GBP", tranches=[
        {"id": "t", "kpi": "continuation", "fiscal_year": 2020, "max_amount": "1,250.50",
         "rule": {"type": "fixed"}}], payers=[
        {"party": p, "authorisation": {"max_amount": "1,000.00", "from_fiscal_year": 2020,
                                       "to_fiscal_year": 2021}}
        for p in ("city-a", "town-b", "town-c")])
    assert pounds.tranches[0].max_amount_minor == 125_050
    assert format_amount(125_050, "GBP") == "1,250.50 GBP"
    assert format_amount(15_517_254, "JPY") == "15,517,254 JPY"


def test_a_python_float_rate_is_refused_but_its_yaml_text_is_exact() -> None:
    data = document(consumption_tax={"rate": 0.1, "applies_to": ["outcome_payments"]})
    _, problems = validate_document(data, "api")
    assert [(p.code, p.field) for p in problems] == [("RATE_NOT_EXACT", "consumption_tax.rate")]
    parsed, _ = parse_yaml("rate: 0.10\nbig: 1_000.25\n", "x.yaml")
    assert parsed == {"rate": Decimal("0.10"), "big": Decimal("1000.25")}
    assert isinstance(parsed["rate"], YamlDecimal)


def test_grant_rates_are_exact_fractions() -> None:
    parties = BASE["parties"] + [{"id": "state", "kind": "national_government",
                                  "roles": ["grantor"]}]
    grant = {"type": "grant", "id": "g", "grantor": "state", "subsidises": ["city-a"],
             "rate": "1/3", "first_fiscal_year": 2020, "last_fiscal_year": 2021}
    c = contract(parties=parties, instruments=[grant])
    assert c.grants[0].rate == Fraction(1, 3)


def test_corporate_number_check_digit() -> None:
    # 国税庁's own corporate number is 7000012050002: check digit 7.
    assert corporate_number_check_digit("000012050002") == 7


# The check digit of a corporate number (法人番号の指定等に関する省令 第2条, as the NTA's
# 法人番号公表サイト explains it): the first of the 13 digits is 9 − (Σ Pₙ × Qₙ mod 9), Pₙ the
# n-th digit of the other twelve counted from the right, Qₙ 1 for odd n and 2 for even n.
# A company's qualified-invoice registration number is "T" + its corporate number.
@pytest.mark.parametrize(("twelve_digits", "check_digit"), [
    # 国税庁 (the National Tax Agency), 7000012050002. From the right: 2 0 0 0 5 0 2 1 0 0 0 0
    # → 2·1 + 0·2 + 0·1 + 0·2 + 5·1 + 0·2 + 2·1 + 1·2 + 0 + 0 + 0 + 0 = 11; 11 mod 9 = 2;
    # 9 − 2 = 7.
    ("000012050002", 7),
    # The worked example of the check-digit explanation, 7123456789012. From the right:
    # 2 1 0 9 8 7 6 5 4 3 2 1 → 2·1 + 1·2 + 0·1 + 9·2 + 8·1 + 7·2 + 6·1 + 5·2 + 4·1 + 3·2 +
    # 2·1 + 1·2 = 2 + 2 + 0 + 18 + 8 + 14 + 6 + 10 + 4 + 6 + 2 + 2 = 74; 74 mod 9 = 2; 9 − 2 = 7.
    ("123456789012", 7),
    # The examples' (illustrative) number for Tsukuba Wellness Research, T5050001029384. From
    # the right: 4 8 3 9 2 0 1 0 0 0 5 0 → 4·1 + 8·2 + 3·1 + 9·2 + 2·1 + 0·2 + 1·1 + 0 + 0 + 0
    # + 5·1 + 0 = 4 + 16 + 3 + 18 + 2 + 1 + 5 = 49; 49 mod 9 = 4; 9 − 4 = 5.
    ("050001029384", 5),
    # A sum divisible by 9 gives 9, never 0: 000000000009 → 9·1 = 9; 9 mod 9 = 0; 9 − 0 = 9.
    ("000000000009", 9),
])
def test_corporate_number_check_digits_worked_by_hand(twelve_digits: str,
                                                      check_digit: int) -> None:
    assert corporate_number_check_digit(twelve_digits) == check_digit


def _with_intermediary_number(number: str) -> dict[str, Any]:
    spv = {"id": "spv", "name_ja": "株式会社SPV", "name_en": "SPV", "kind": "company",
           "roles": ["intermediary"], "invoice_registration_number": number}
    return document(parties=BASE["parties"] + [spv])


def test_a_registration_number_with_a_wrong_check_digit_is_refused() -> None:
    """T4050001029384 has the digits of T5050001029384 with its check digit mistyped: the
    other twelve give 5 (worked above), not 4. One mistyped digit elsewhere is caught too:
    T5050001029385 → from the right 5 8 3 9 2 0 1 0 0 0 5 0 → 50; 50 mod 9 = 5; 9 − 5 = 4 ≠ 5."""
    for wrong, expected in (("T4050001029384", 5), ("T5050001029385", 4)):
        _, problems = validate_document(_with_intermediary_number(wrong), "test")
        found = [p for p in problems if p.code == "INVOICE_NUMBER_CHECK_DIGIT"]
        assert [p.field for p in found] == ["parties[3].invoice_registration_number"]
        assert f"should be {expected}" in found[0].message
    _, problems = validate_document(_with_intermediary_number("T5050001029384"), "test")
    assert not [p for p in problems if p.code.startswith("INVOICE_NUMBER")]


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        contract().tranches[0].max_amount_minor = 1


def test_field_paths_read_like_the_document() -> None:
    data = {"tranches": [{}, {}, {}, {"rule": {"type": "linear", "floor": "x"}}],
            "payers": [{"authorisation": {"limits_by_year": {2020: "x"}}}]}
    assert field_path(("tranches", 3, "rule", "linear", "floor"), data) == \
        "tranches[3].rule.floor"
    assert field_path(("payers", 0, "authorisation", "limits_by_year", 2020), data) == \
        "payers[0].authorisation.limits_by_year[2020]"


def test_yaml_merge_keys_may_override_without_being_duplicates() -> None:
    parsed, problems = parse_yaml("base: &b {rate: '0.1', x: 1}\nuse: {<<: *b, x: 2}\n", "y")
    assert problems == [] and parsed["use"] == {"rate": "0.1", "x": 2}
