"""Concurrent settlement (issue 14, defect "concurrent sib settle on PostgreSQL crashes the
losers with a raw UniqueViolation"): two settlements of the same year at the same moment end
with one run, the other finding it done — on PostgreSQL, where they truly run at once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from api import db
from contracts.store import load_contract
from contracts.validate import validate_document
from settlement.kpi import ResultInput
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.tables import SettlementRun
from tests.test_guarantees import C, document


@pytest.mark.postgres
def test_two_settlements_at_once_make_one_run(own_pg_url):
    url = own_pg_url
    terms, problems = validate_document(document(), "g.yaml")
    assert problems == []
    with db.unit_of_work(url) as s:
        load_contract(s, terms)
        for row in submit_results(s, [ResultInput(C, 2021, "participants", "400")],
                                  "evaluator"):
            audit_result(s, row.id or 0, "evaluation committee")
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def settle_once() -> None:
        try:
            start.wait()
            with db.unit_of_work(url) as s:
                outcomes.append(settle(s, C, 2021).created)
        except Exception as error:  # what the issue found: a raw UniqueViolation
            outcomes.append(error)
    threads = [threading.Thread(target=settle_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One created the run; the other waited for it, then found it done.
    assert sorted(outcomes, key=str) == [False, True], outcomes
    with db.unit_of_work(url) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRun)) == 1
