"""Money received is distributed once (issue 10): whatever the date or reference of a second
distribution, the receipts the first one applied are not there to spend again; ``--final`` is
refused before the contract's last year is settled. Through the services and over HTTP, on
SQLite and on PostgreSQL, a refusal writes nothing.

The story: the five-municipality contract's FY2019 — loans drawn, fixed fees paid, results
audited, the year closed, every payer's payment received on 2020-05-20 and distributed on
2020-05-29 (the issue's reproduction, one year earlier than it was reported: FY2020 on
2021-05-31 then again on 2021-06-30).
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import db, demo
from api.main import create_app
from api.users import add_user, create_token
from contracts.store import load_contract
from contracts.validate import load_contract_file
from ledger import read
from ledger.errors import SibError
from ledger.verify import verify
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import (
    distribute,
    draw_loans,
    pay_fixed_fees,
    receipts,
    record_payment,
)
from settlement.results import audit_result, submit_results
from settlement.tables import ReceiptApplication

C = demo.C
RECEIVED_ON, DISTRIBUTED_ON = date(2020, 5, 20), date(2020, 5, 29)


def _tell_fy2019(url: str) -> dict[str, int]:
    """FY2019 up to its first distribution; returns what each payer paid."""
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems
    with db.unit_of_work(url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
        draw_loans(s, C, date(2020, 3, 31))
        pay_fixed_fees(s, C, 2019, date(2019, 9, 30))
    contract_wide, per_payer = demo.RESULTS[2019]
    inputs = [ResultInput(C, 2019, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in per_payer.items()]
    with db.unit_of_work(url) as s:
        for row in submit_results(s, inputs, "evaluator"):
            audit_result(s, row.id or 0, "auditor")
    paid: dict[str, int] = {}
    with db.unit_of_work(url) as s:
        pack = close_year(s, C, 2019, "twr")
        for p in pack.payers:
            if p["outstanding"]:
                record_payment(s, C, p["payer"], p["outstanding"], RECEIVED_ON, "FY2019")
                paid[p["payer"]] = p["outstanding"]
    with db.unit_of_work(url) as s:
        first = distribute(s, C, DISTRIBUTED_ON, reference="FY2019")
        # The first distribution applied every yen received, receipt by receipt.
        assert {r.payer: amount for r, amount in first.applied} == paid
        assert first.applied_minor == sum(paid.values())
    return paid


def _state(url: str) -> tuple[int, int, int]:
    """(entries in the SPV book, receipt applications, the cash balance): what a refused
    distribution must leave as it found."""
    with db.unit_of_work(url) as s:
        entries = len(read.entries(s, C))
        applications = s.scalar(select(func.count()).select_from(ReceiptApplication))
        cash = read.totals(s, C, "cash").net_debit_minor
    return entries, applications or 0, cash


def _refused_by_the_services(url: str, on: date, final: bool = False,
                             reference: str = "") -> str:
    with pytest.raises(SibError) as refused, db.unit_of_work(url) as s:
        distribute(s, C, on, final=final, reference=reference)
    return refused.value.code


def _check_distributed_once(url: str) -> None:
    paid = _tell_fy2019(url)
    before = _state(url)
    # The same receipts a month later, under the same reference, under none, and on the day
    # after: nothing is left of them.
    assert _refused_by_the_services(url, date(2020, 6, 30), reference="FY2019") == \
        "NOTHING_TO_DISTRIBUTE"
    assert _refused_by_the_services(url, date(2020, 6, 30)) == "NOTHING_TO_DISTRIBUTE"
    assert _refused_by_the_services(url, date(2020, 5, 29), reference="FY2019") == \
        "ALREADY_DISTRIBUTED"
    # Distributions run in date order: one dated before the latest would owe, and pay, what
    # the latest already paid (a return accrued to an earlier day, say).
    assert _refused_by_the_services(url, date(2020, 5, 25)) == "DISTRIBUTION_BEFORE_LATEST"
    # The final distribution would pay out everything: FY2023 is not even settled.
    assert _refused_by_the_services(url, date(2020, 6, 30), final=True,
                                    reference="FY2019") == "FINAL_BEFORE_TERM_END"
    assert _state(url) == before

    with db.unit_of_work(url) as s:
        add_user(s, "twr", "intermediary")
        token = create_token(s, "twr")
    with TestClient(create_app(url)) as client:
        def send(body: dict[str, object], key: str) -> dict[str, object]:
            r = client.post(f"/contracts/{C}/distributions", json=body,
                            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
            assert r.status_code == 409, r.text
            return r.json()
        later = send({"on": "2020-06-30", "reference": "FY2019"}, "again-later")
        assert later["code"] == "NOTHING_TO_DISTRIBUTE" and later["field"] == "reference"
        assert "FY2019" in later["detail"], later
        final = send({"on": "2020-06-30", "reference": "FY2019", "final": True}, "final")
        assert final["code"] == "FINAL_BEFORE_TERM_END" and final["field"] == "final"
    assert _state(url) == before

    # Each receipt applied exactly once, in full: nothing of it is left to spend.
    with db.unit_of_work(url) as s:
        found = receipts(s, C)
        assert {r.payer: r.amount_minor for r in found} == paid
        assert all(r.applied_minor == r.amount_minor for r in found)
        assert verify(s, C).ok


def test_money_received_is_distributed_once_on_sqlite(db_url):
    _check_distributed_once(db_url)


@pytest.mark.postgres
def test_money_received_is_distributed_once_on_postgresql(own_pg_url):
    _check_distributed_once(own_pg_url)
