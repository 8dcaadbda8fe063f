"""KPI results: what the evaluator sends, what is refused (field, or file row and column,
named), and the life of a result from draft to settled and corrected."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from contracts.store import load_contract
from contracts.validate import load_contract_file
from ledger.errors import SibError
from settlement.kpi import ResultInput
from settlement.results import (
    audit_result,
    correct_result,
    import_results_file,
    results_for,
    submit_draft,
    submit_results,
)
from settlement.runs import settle
from settlement.tables import KpiResult

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
PAYERS = ("ube", "tono", "yawata", "ibusuki", "misato")


@pytest.fixture
def loaded(session):
    contract, problems = load_contract_file(FIVE)
    assert problems == []
    load_contract(session, contract)
    session.commit()
    return session


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(KpiResult))


def refused(call) -> list[tuple[str | None, str | None, str]]:
    """(source, field, code) of every problem of a refusal, in the order reported."""
    with pytest.raises(SibError) as error:
        call()
    return [(p.source, p.field, p.code) for p in error.value.problems]


# --------------------------------------------------------------------------- one by one

BAD = [  # label, result, (field, code) of each problem
    ("percent above 100", ResultInput(C, 2019, "inactive-share", "100.01"),
     [("value", "VALUE_OUT_OF_RANGE")]),
    ("percent below 0", ResultInput(C, 2019, "guideline-share", "-0.5"),
     [("value", "VALUE_OUT_OF_RANGE")]),
    ("negative count", ResultInput(C, 2020, "participants", "-1"),
     [("value", "VALUE_NEGATIVE")]),
    ("not a number", ResultInput(C, 2021, "participants", "7,2OO"),
     [("value", "VALUE_INVALID")]),
    ("unknown KPI", ResultInput(C, 2019, "daily-steps", "7500"), [("kpi", "KPI_UNKNOWN")]),
    ("year before the term", ResultInput(C, 2018, "participants", "5500"),
     [("fiscal_year", "FISCAL_YEAR_OUTSIDE_TERM"), ("fiscal_year", "PERIOD_UNKNOWN")]),
    ("payer for a contract-wide KPI", ResultInput(C, 2019, "participants", "7000", "ube"),
     [("payer", "PAYER_NOT_ALLOWED")]),
    ("no payer for a per-payer KPI", ResultInput(C, 2019, "continuation-rate", "71"),
     [("payer", "PAYER_REQUIRED")]),
    ("unknown payer", ResultInput(C, 2019, "continuation-rate", "71", "kawanishi"),
     [("payer", "PAYER_NOT_FOUND")]),
    ("no interim evaluation", ResultInput(C, 2019, "inactive-share", "52", evaluation="interim"),
     [("evaluation", "EVALUATION_NOT_IN_CONTRACT")]),
    ("unknown contract", ResultInput("sib-2099-nowhere", 2019, "participants", "7000"),
     [("contract", "CONTRACT_NOT_FOUND")]),
]


def test_every_bad_result_of_a_batch_is_refused_with_its_field_and_nothing_is_written(loaded):
    session = loaded
    good = ResultInput(C, 2019, "participants", "7000")
    batch = [good] + [result for _, result, _ in BAD] + [good]
    labels = ["good"] + [label for label, _, _ in BAD] + ["good again"]
    problems = refused(lambda: submit_results(session, batch, "kuno-lab", sources=labels))
    expected = [(label, field, code) for label, _, found in BAD for field, code in found]
    expected.append(("good again", "kpi", "KPI_RESULT_DUPLICATE"))  # the same key twice
    assert problems == expected
    session.rollback()
    assert count(session) == 0


def test_a_different_value_for_a_result_on_file_is_a_duplicate_the_same_value_is_a_no_op(
        loaded):
    session = loaded
    [first] = submit_results(session, [ResultInput(C, 2019, "participants", "7000")], "kuno")
    session.commit()
    [again] = submit_results(session, [ResultInput(C, 2019, "participants", "7000.0")], "kuno")
    assert again.id == first.id and count(session) == 1
    problems = refused(lambda: submit_results(
        session, [ResultInput(C, 2019, "participants", "7100")], "kuno", source="cli"))
    assert problems == [("cli", "value", "KPI_RESULT_DUPLICATE")]
    assert count(session) == 1


# --------------------------------------------------------------------------- files

# Rows as an evaluator's spreadsheet has them: row 1 is the header, so the first data row is
# row 2. Each bad row names the row and the column; the good ones are not imported either.
ROWS = [
    # contract, fiscal_year, kpi, payer, value, evaluation
    (C, 2019, "participants", "", 7000, "final"),                      # row 2: good
    (C, 2019, "inactive-share", "", 104, "final"),                     # row 3: over 100 %
    (C, 2019, "participants", "", -5, "interim"),                      # row 4: negative
    (C, "FY2019", "guideline-share", "", 41, "final"),                 # row 5: year unreadable
    (C, 2019, "steps-per-day", "", 7800, "final"),                     # row 6: no such KPI
    (C, 2019, "continuation-rate", "", 71, "final"),                   # row 7: payer missing
    (C, 2019, "continuation-rate", "ube", 72.5, "final"),              # row 8: good
    (C, 2019, "participants", "", 7000, "final"),                      # row 9: row 2 again
    ("sib-2099-nowhere", 2019, "participants", "", 7000, "final"),     # row 10: no contract
    (C, 2019, "guideline-share", "tono", "n/a", "final"),              # row 11: two problems
]
EXPECTED = [(3, "value", "VALUE_OUT_OF_RANGE"), (4, "value", "VALUE_NEGATIVE"),
            (5, "fiscal_year", "FISCAL_YEAR_INVALID"), (6, "kpi", "KPI_UNKNOWN"),
            (7, "payer", "PAYER_REQUIRED"), (9, "kpi", "KPI_RESULT_DUPLICATE"),
            (10, "contract", "CONTRACT_NOT_FOUND"), (11, "value", "VALUE_INVALID"),
            (11, "payer", "PAYER_NOT_ALLOWED")]
COLUMNS = ["contract", "fiscal_year", "kpi", "payer", "value", "evaluation"]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_file_with_bad_rows_reports_every_one_by_row_and_column_and_imports_nothing(
        loaded, tmp_path, suffix):
    session = loaded
    frame = pd.DataFrame(ROWS, columns=COLUMNS)
    path = tmp_path / f"kpi-fy2019.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_excel(path, index=False)
    problems = refused(lambda: import_results_file(session, path, "kuno-lab"))
    assert sorted(problems) == sorted((f"{path.name}:row {row}", field, code)
                                      for row, field, code in EXPECTED)
    session.rollback()
    assert count(session) == 0


def fy2019_rows() -> list[tuple]:
    rows = [(C, 2019, "participants", "", 3800, "interim"),
            (C, 2019, "participants", "", 7000, "final"),
            (C, 2019, "inactive-share", "", 52.5, "final"),
            (C, 2019, "guideline-share", "", 37, "")]  # evaluation left empty: final
    return rows + [(C, 2019, "continuation-rate", p, v, "final")
                   for p, v in zip(PAYERS, (72, 66.5, 70, 58, 63.3))]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_good_file_imports_every_row_as_submitted(loaded, tmp_path, suffix):
    session = loaded
    frame = pd.DataFrame(fy2019_rows(), columns=COLUMNS)
    path = tmp_path / f"kpi-fy2019.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_excel(path, index=False)
    rows = import_results_file(session, path, "kuno-lab")
    session.commit()
    assert [(r.kpi_id, r.payer_id, r.evaluation, r.value, r.state, r.source) for r in rows] == [
        (kpi, payer, evaluation or "final", str(value), "submitted", path.name)
        for _, _, kpi, payer, value, evaluation in fy2019_rows()]
    assert count(session) == 9
    # Importing the same file again is a no-op; nothing is duplicated.
    assert [r.id for r in import_results_file(session, path, "kuno-lab")] == [r.id for r in rows]
    assert count(session) == 9


# --------------------------------------------------------------------------- states

def test_draft_submitted_audited_settled_and_a_settled_result_is_only_ever_corrected(loaded):
    session = loaded
    inputs = [ResultInput(C, 2019, "participants", "7000"),
              ResultInput(C, 2019, "inactive-share", "52.5"),
              ResultInput(C, 2019, "guideline-share", "37")]
    inputs += [ResultInput(C, 2019, "continuation-rate", "70", p) for p in PAYERS]
    rows = submit_results(session, inputs, "kuno-lab", draft=True)
    participants = rows[0]
    assert {r.state for r in rows} == {"draft"}
    # A draft cannot be audited, and it holds settlement back.
    assert refused(lambda: audit_result(session, participants.id, "committee")) == [
        (None, "state", "KPI_RESULT_STATE")]
    assert refused(lambda: settle(session, C, 2019))[0][2] == "KPI_RESULT_NOT_AUDITED"
    for row in rows:
        assert submit_draft(session, row.id).state == "submitted"
    assert refused(lambda: submit_draft(session, participants.id)) == [
        (None, "state", "KPI_RESULT_STATE")]
    for row in rows:
        audit_result(session, row.id, "committee")
    assert (participants.state, participants.audited_by) == ("audited", "committee")
    assert participants.audited_at is not None
    assert audit_result(session, participants.id, "committee").id == participants.id  # no-op
    run = settle(session, C, 2019).run
    session.commit()
    assert {(r.state, r.settled_run_id) for r in rows} == {("settled", run.id)}
    # Settled is final: not audited again, not overwritten by a new submission.
    assert refused(lambda: audit_result(session, participants.id, "someone else")) == [
        (None, "state", "KPI_RESULT_STATE")]
    assert refused(lambda: submit_results(
        session, [ResultInput(C, 2019, "participants", "7100")], "kuno-lab"))[0][2] == \
        "KPI_RESULT_DUPLICATE"
    assert refused(lambda: correct_result(session, participants.id, "7100", " ", "kuno-lab")) \
        == [(None, "reason", "REASON_REQUIRED")]
    assert refused(lambda: correct_result(session, participants.id, "-7100", "recount",
                                          "kuno-lab")) == [(None, "value", "VALUE_NEGATIVE")]
    # A correction is version 2, with its reason, to be audited again; version 1 is unchanged.
    v2 = correct_result(session, participants.id, "7100", "recount of enrolments", "kuno-lab")
    session.commit()
    assert (v2.version, v2.value, v2.state, v2.reason, v2.supersedes_id) == (
        2, "7100", "submitted", "recount of enrolments", participants.id)
    assert refused(lambda: correct_result(session, participants.id, "7200", "again",
                                          "kuno-lab")) == [
        (None, "result_id", "KPI_RESULT_SUPERSEDED")]
    history = [(r.version, r.value, r.state) for r in results_for(session, C, 2019)
               if r.kpi_id == "participants"]
    assert history == [(1, "7000", "settled"), (2, "7100", "submitted")]
    assert count(session) == len(rows) + 1
