"""Bad KPI input refused with the field (or file row and column) named, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from contracts.store import load_contract
from contracts.validate import load_contract_file
from ledger.errors import SibError
from settlement.imports import read_results_file
from settlement.kpi import ResultInput
from settlement.results import audit_result, correct_result, import_results_file, submit_results
from settlement.runs import settle
from settlement.tables import KpiResult

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"


@pytest.fixture
def loaded(session):
    contract, _ = load_contract_file(FIVE)
    load_contract(session, contract)
    session.commit()
    return session


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(KpiResult))


@pytest.mark.parametrize("result, code, field", [
    (ResultInput(C, 2019, "inactive-share", "100.5"), "VALUE_OUT_OF_RANGE", "value"),
    (ResultInput(C, 2019, "inactive-share", "-1"), "VALUE_OUT_OF_RANGE", "value"),
    (ResultInput(C, 2019, "participants", "-3"), "VALUE_NEGATIVE", "value"),
    (ResultInput(C, 2019, "participants", "7,000.0.0"), "VALUE_INVALID", "value"),
    (ResultInput(C, 2019, "happiness", "3"), "KPI_UNKNOWN", "kpi"),
    (ResultInput(C, 2030, "participants", "3"), "FISCAL_YEAR_OUTSIDE_TERM", "fiscal_year"),
    (ResultInput(C, 2019, "participants", "3", payer="ube"), "PAYER_NOT_ALLOWED", "payer"),
    (ResultInput(C, 2019, "continuation-rate", "70"), "PAYER_REQUIRED", "payer"),
    (ResultInput(C, 2019, "continuation-rate", "70", payer="tokyo"), "PAYER_NOT_FOUND", "payer"),
    (ResultInput(C, 2020, "participants", "9000", evaluation="interim"),
     "EVALUATION_NOT_IN_CONTRACT", "evaluation"),
])
def test_values_that_cannot_be_right_are_refused(loaded, result, code, field):
    with pytest.raises(SibError) as err:
        submit_results(loaded, [result], "kuno-lab")
    loaded.rollback()
    problem = next(p for p in err.value.problems if p.code == code)
    assert problem.field == field
    assert count(loaded) == 0


def test_a_duplicate_is_refused_but_the_same_result_again_is_harmless(loaded):
    first = submit_results(loaded, [ResultInput(C, 2019, "participants", "7000")], "kuno-lab")
    loaded.commit()
    again = submit_results(loaded, [ResultInput(C, 2019, "participants", "7000.0")], "kuno-lab")
    assert again[0].id == first[0].id
    with pytest.raises(SibError) as err:
        submit_results(loaded, [ResultInput(C, 2019, "participants", "7100")], "kuno-lab")
    assert err.value.code == "KPI_RESULT_DUPLICATE"
    with pytest.raises(SibError) as err:
        submit_results(loaded, [ResultInput(C, 2019, "inactive-share", "50"),
                                ResultInput(C, 2019, "inactive-share", "51")], "kuno-lab")
    assert err.value.code == "KPI_RESULT_DUPLICATE"
    loaded.rollback()
    assert count(loaded) == 1


def test_states_and_a_settled_result_never_changes(loaded):
    rows = submit_results(loaded, [ResultInput(C, 2019, "participants", "3700",
                                               evaluation="interim")], "kuno-lab", draft=True)
    assert rows[0].state == "draft"
    with pytest.raises(SibError) as err:
        audit_result(loaded, rows[0].id, "auditor")
    assert err.value.code == "KPI_RESULT_STATE"
    from settlement.results import submit_draft
    submit_draft(loaded, rows[0].id)
    audited = audit_result(loaded, rows[0].id, "auditor")
    assert (audited.state, audited.audited_by) == ("audited", "auditor")
    settle(loaded, C, 2019, "interim")
    loaded.commit()
    assert loaded.get(KpiResult, rows[0].id).state == "settled"
    with pytest.raises(SibError) as err:
        correct_result(loaded, rows[0].id, "3800", "", "kuno-lab")
    assert err.value.code == "REASON_REQUIRED"
    new = correct_result(loaded, rows[0].id, "3800", "late enrolments", "kuno-lab")
    assert (new.version, new.state, new.supersedes_id) == (2, "submitted", rows[0].id)
    assert loaded.get(KpiResult, rows[0].id).value == "3700"  # the settled version is kept


def _write(path: Path, rows: list[dict]) -> Path:
    frame = pd.DataFrame(rows)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_excel(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_file_with_bad_rows_names_each_row_and_imports_nothing(loaded, tmp_path, suffix):
    path = _write(tmp_path / f"results{suffix}", [
        {"contract": C, "fiscal_year": "2019", "kpi": "participants", "payer": "", "value": "7000"},
        {"contract": C, "fiscal_year": "2019", "kpi": "inactive-share", "payer": "",
         "value": "140"},
        {"contract": C, "fiscal_year": "2019", "kpi": "continuation-rate", "payer": "",
         "value": "70"},
        {"contract": C, "fiscal_year": "20x9", "kpi": "guideline-share", "payer": "",
         "value": "40"}])
    with pytest.raises(SibError) as err:
        import_results_file(loaded, path, "kuno-lab")
    loaded.rollback()
    found = {(p.source, p.field, p.code) for p in err.value.problems}
    assert found == {(f"{path.name}:row 3", "value", "VALUE_OUT_OF_RANGE"),
                     (f"{path.name}:row 4", "payer", "PAYER_REQUIRED"),
                     (f"{path.name}:row 5", "fiscal_year", "FISCAL_YEAR_INVALID")}
    assert count(loaded) == 0
    good = _write(tmp_path / f"good{suffix}", [
        {"contract": C, "fiscal_year": "2019", "kpi": "participants", "payer": "", "value": "7000"},
        {"contract": C, "fiscal_year": "2019", "kpi": "continuation-rate", "payer": "ube",
         "value": "68"}])
    inputs, sources = read_results_file(good)
    assert len(submit_results(loaded, inputs, "kuno-lab", sources=sources)) == 2


def test_a_file_without_a_required_column_is_refused(tmp_path):
    path = _write(tmp_path / "r.csv", [{"contract": C, "kpi": "participants", "value": "1"}])
    with pytest.raises(SibError) as err:
        read_results_file(path)
    assert (err.value.code, err.value.problems[0].field) == ("COLUMN_MISSING", "fiscal_year")
