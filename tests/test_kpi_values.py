"""KPI values as the measure needs them (issue 13, item 4): ranges of the KPI's own (a
percentage above 100, a negative difference), the decimals each unit takes, per-person outcome
counts through submit, the file import and the API, and a rate card with no KPI target."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import db
from api.main import create_app
from api.users import add_user, create_token
from contracts.store import load_contract
from contracts.validate import validate_document
from investors.pdf_parts import DocumentFormat, _target_cell
from investors.statement_data import KpiResult, Text
from ledger.errors import SibError
from settlement.kpi import ResultInput, check_result
from settlement.results import audit_result, import_results_file, submit_results
from settlement.runs import settle
from settlement.tables import SettlementLine

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts/examples"
FIVE: dict[str, Any] = yaml.safe_load(
    (EXAMPLES / "sib-2019-five-municipalities.yaml").read_text(encoding="utf-8"))
GBP: dict[str, Any] = yaml.safe_load(
    (EXAMPLES / "gbp-rate-card-employment.yaml").read_text(encoding="utf-8"))
G = "gbp-rate-card-employment"
C = "sib-2019-five-municipalities"


def contract(document: dict[str, Any], **kpi_changes: dict[str, Any]):
    document = copy.deepcopy(document)
    for kpi in document["kpis"]:
        kpi.update(kpi_changes.get(kpi["id"], {}))
    terms, problems = validate_document(document, "test")
    assert problems == [], problems
    return terms


def codes(terms, *results: ResultInput) -> list[tuple[str, str | None]]:
    return [(p.code, p.field) for r in results for p in check_result(terms, r)]


def test_a_percentage_above_100_where_the_kpi_allows_it():
    # inactive-share is a percentage: 0–100 by its unit; with maximum 200 (e.g. "160 % of the
    # baseline"), 160 is a result and 200.01 is not
    plain = contract(FIVE)
    assert codes(plain, ResultInput(C, 2019, "inactive-share", "160")) == [
        ("VALUE_OUT_OF_RANGE", "value")]
    wide = contract(FIVE, **{"inactive-share": {"maximum": "200"}})
    assert codes(wide, ResultInput(C, 2019, "inactive-share", "160")) == []
    assert codes(wide, ResultInput(C, 2019, "inactive-share", "200.01")) == [
        ("VALUE_OUT_OF_RANGE", "value")]


def test_a_negative_difference_where_the_kpi_allows_it():
    # guideline-share as a difference against a comparison group, in points: -30 … 30
    diff = contract(FIVE, **{"guideline-share": {"minimum": "-30", "maximum": "30",
                                                 "targets": {2019: "5", 2020: "5", 2021: "5",
                                                             2022: "5", 2023: "5"}}})
    assert codes(diff, ResultInput(C, 2019, "guideline-share", "-12.5")) == []
    refused = check_result(diff, ResultInput(C, 2019, "guideline-share", "-30.5"))
    assert [(p.code, p.field) for p in refused] == [("VALUE_OUT_OF_RANGE", "value")]
    assert "-30 to 30" in refused[0].message
    # a count stays at 0 upwards
    assert codes(diff, ResultInput(C, 2019, "participants", "-1")) == [
        ("VALUE_NEGATIVE", "value")]


def test_the_decimals_each_unit_takes():
    five = contract(FIVE)
    # participants are people: whole numbers (7000.0 is the whole number 7,000)
    assert codes(five, ResultInput(C, 2019, "participants", "7000.5")) == [
        ("VALUE_TOO_PRECISE", "value")]
    assert codes(five, ResultInput(C, 2019, "participants", "7000.0")) == []
    # a percentage takes any decimals unless the KPI says: 52.25 fine; with decimals: 1, not
    assert codes(five, ResultInput(C, 2019, "inactive-share", "52.25")) == []
    one_place = contract(FIVE, **{"inactive-share": {"decimals": 1}})
    assert codes(one_place, ResultInput(C, 2019, "inactive-share", "52.25")) == [
        ("VALUE_TOO_PRECISE", "value")]


def test_the_contract_refuses_an_empty_range_and_a_target_outside_it():
    document = copy.deepcopy(FIVE)
    document["kpis"][0].update({"minimum": "100", "maximum": "10"})
    document["kpis"][1].update({"maximum": "40"})   # its FY2019 target is 50
    _, problems = validate_document(document, "test")
    found = {(p.code, p.field) for p in problems}
    assert ("KPI_RANGE_EMPTY", "kpis[0].minimum") in found
    assert ("KPI_TARGET_OUT_OF_RANGE", "kpis[1].targets[2019]") in found


# --------------------------------------------------------------------------- per person

def job_starts(*per_person: int, value: str | None = None) -> ResultInput:
    return ResultInput(G, 2024, "job-starts", value if value is not None
                       else str(sum(per_person)), outcomes_per_person=per_person)


def test_per_person_counts_are_checked():
    gbp = contract(GBP)
    assert codes(gbp, job_starts(1, 0, 2)) == []
    assert codes(gbp, job_starts(1, 1, value="3")) == [
        ("OUTCOMES_PER_PERSON_MISMATCH", "outcomes_per_person")]
    five = contract(FIVE)
    assert codes(five, ResultInput(C, 2019, "participants", "2",
                                   outcomes_per_person=(1, 1))) == [
        ("OUTCOMES_PER_PERSON_NOT_USED", "outcomes_per_person")]


def settled_job_starts(session) -> dict[str, int]:
    run = settle(session, G, 2024).run
    session.commit()
    return {ln.payer_id: ln.earned_minor for ln in session.scalars(
        select(SettlementLine).where(SettlementLine.run_id == run.id,
                                     SettlementLine.tranche_id == "fy2024-job-starts"))}


def submit_other_gbp_kpis(session) -> list:
    return submit_results(session, [ResultInput(G, 2024, "sustained-13-weeks", "0"),
                                    ResultInput(G, 2024, "sustained-26-weeks", "0")], "eva")


@pytest.mark.parametrize("how", ["submit", "csv"])
def test_per_person_counts_reach_the_rate_card(session, tmp_path, how):
    """Three people with 1, 0 and 2 job starts at £1,250.50 each, at most £1,250.50 a person:
    1,250.50 + 0 + 1,250.50 (the second start capped) = £2,501.00 = 250,100 pence — not
    3 × 1,250.50 = 3,751.50 as the count alone would pay. The payers share 35/65 of the
    committed maxima: 250,100 × 35 % = 87,535 and 162,565 pence."""
    load_contract(session, contract(GBP))
    session.commit()
    if how == "submit":
        rows = submit_results(session, [job_starts(1, 0, 2)], "eva")
    else:
        path = tmp_path / "results.csv"
        path.write_text("contract,fiscal_year,kpi,payer,value,outcomes_per_person\n"
                        f"{G},2024,job-starts,,3,1;0;2\n", encoding="utf-8")
        rows = import_results_file(session, path, "eva")
    rows += submit_other_gbp_kpis(session)
    for row in rows:
        audit_result(session, row.id, "auditor")
    session.commit()
    assert settled_job_starts(session) == {"northfield-council": 87_535,
                                           "outcomes-fund": 162_565}


def test_a_bad_per_person_cell_is_refused_with_its_row(session, tmp_path):
    load_contract(session, contract(GBP))
    session.commit()
    path = tmp_path / "results.csv"
    path.write_text("contract,fiscal_year,kpi,payer,value,outcomes_per_person\n"
                    f"{G},2024,job-starts,,3,1;x;2\n", encoding="utf-8")
    with pytest.raises(SibError) as refused:
        import_results_file(session, path, "eva")
    assert [(p.code, p.field, p.source) for p in refused.value.problems] == [
        ("VALUE_INVALID", "outcomes_per_person", "results.csv:row 2")]


def test_per_person_counts_through_the_api(db_url):
    with db.unit_of_work(db_url) as session:
        load_contract(session, contract(GBP))
        add_user(session, "eva", "evaluator", "independent-evaluator")
        token = create_token(session, "eva")
    with TestClient(create_app(db_url)) as client:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "pp-1"}
        ok = client.post(f"/contracts/{G}/kpi-results", headers=headers, json={
            "fiscal_year": 2024, "kpi": "job-starts", "value": "3",
            "outcomes_per_person": [1, 0, 2]})
        assert ok.status_code == 201, ok.text
        bad = client.post(f"/contracts/{G}/kpi-results",
                          headers={**headers, "Idempotency-Key": "pp-2"}, json={
                              "fiscal_year": 2025, "kpi": "job-starts", "value": "4",
                              "outcomes_per_person": [1, 2]})
        assert bad.status_code == 422
        assert bad.json()["code"] == "OUTCOMES_PER_PERSON_MISMATCH"
        assert bad.json()["field"] == "outcomes_per_person"


# --------------------------------------------------------------------------- no target

def test_a_rate_card_needs_no_kpi_target(session):
    """A pure rate card: no target invented. 40 job starts × £1,250.50 = £50,020.00 =
    5,002,000 pence (under the 150,060.00 maximum); split 35/65: 1,750,700 and 3,251,300."""
    document = copy.deepcopy(GBP)
    for kpi in document["kpis"]:
        kpi.pop("targets")
    terms = contract(document)
    load_contract(session, terms)
    session.commit()
    rows = submit_results(session, [ResultInput(G, 2024, "job-starts", "40")], "eva")
    rows += submit_other_gbp_kpis(session)
    for row in rows:
        audit_result(session, row.id, "auditor")
    session.commit()
    assert settled_job_starts(session) == {"northfield-council": 1_750_700,
                                           "outcomes-fund": 3_251_300}


def test_the_document_shows_the_price_not_an_achievement_rate():
    row = KpiResult(kpi_id="job-starts", name=Text("就労開始", "Job starts"), unit="count",
                    value=D(40), price_minor=125_050)
    assert row.achievement_percent is None
    assert _target_cell(row, DocumentFormat("en", "GBP")) == "£1,250.50 each"
    assert _target_cell(row, DocumentFormat("ja", "GBP")).startswith("単価 ")
