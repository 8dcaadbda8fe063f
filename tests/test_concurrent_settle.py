"""Concurrent settlement (issue 14, defect "concurrent sib settle on PostgreSQL crashes the
losers with a raw UniqueViolation"): two settlements of the same year at the same moment end
with one run, the other finding it done — on PostgreSQL, where they truly run at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from api import db
from contracts.store import load_contract
from contracts.validate import validate_document
from settlement.kpi import ResultInput
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.tables import SettlementRun
from tests.conftest import PG_URL, REQUIRE_PG
from tests.test_guarantees import C, document


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SIB_REQUIRE_POSTGRES=1 but SIB_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need SIB_TEST_POSTGRES_URL")
    name = f"sib_race_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    db.upgrade(url)
    try:
        yield url
    finally:
        for key in [k for k in db._engines if name in k]:
            db._engines.pop(key).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
