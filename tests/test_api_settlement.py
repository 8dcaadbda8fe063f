"""Contracts, KPI results and settlement over HTTP, with each role's scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api import db
from api.main import create_app
from api.users import add_user, create_token

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
USERS = [("ana", "intermediary", None), ("eva", "evaluator", "tsukuba-kuno-lab"),
         ("kai", "evaluator", "tsukuba-kuno-lab"), ("aud", "auditor", None),
         ("ube", "finance_officer", "ube"), ("tono", "finance_officer", "tono"),
         ("yb", "lender", "yamaguchi-bank"), ("inv", "investor", "h-sato")]


@pytest.fixture
def client(db_url):
    with db.unit_of_work(db_url) as session:
        tokens = {name: (add_user(session, name, role, scope), create_token(session, name))[1]
                  for name, role, scope in USERS}
    with TestClient(create_app(db_url)) as c:
        c.tokens = tokens
        yield c


def h(client, who, key=None):
    headers = {"Authorization": f"Bearer {client.tokens[who]}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def document():
    """The example contract as a client would send it (JSON: dates as ISO strings)."""
    return json.loads(json.dumps(yaml.safe_load(FIVE.read_text(encoding="utf-8")), default=str))


def load(client):
    r = client.post("/contracts", json=document(), headers=h(client, "ana", "load-1"))
    assert r.status_code == 201, r.text
    return r.json()


def test_load_is_idempotent_and_show_has_the_authorisation_table(client):
    assert load(client)["commitments"] == 105
    again = client.post("/contracts", json=document(), headers=h(client, "ana", "load-1"))
    assert again.json()["commitments"] == 105
    shown = client.get(f"/contracts/{C}", headers=h(client, "aud")).json()
    ube_2019 = next(r for r in shown["authorisation"]
                    if r["payer"] == "ube" and r["fiscal_year"] == 2019)
    assert ube_2019["max_liability"] == {"amount": "15517254", "currency": "JPY"}


def test_invalid_contract_is_problem_json_with_field_paths(client):
    doc = document()
    doc["tranches"][3]["rule"]["floor"] = "90"
    r = client.post("/contracts", json=doc, headers=h(client, "ana", "bad"))
    assert r.status_code == 422
    assert "tranches[3].rule.floor" in [e["field"] for e in r.json()["errors"]]
    assert client.get("/contracts", headers=h(client, "aud")).json()["total"] == 0


def test_finance_officer_sees_only_its_own_share(client):
    # Tono's: not the lead payer (Ube, the lead, reads every payer's share where the contract
    # grants it, as the example does: tests/test_lead_payer_view.py).
    load(client)
    own = client.get(f"/contracts/{C}/payers/tono", headers=h(client, "tono"))
    assert own.status_code == 200 and own.json()[0]["payer"] == "tono"
    other = client.get(f"/contracts/{C}/payers/ube", headers=h(client, "tono"))
    missing = client.get(f"/contracts/{C}/payers/nowhere", headers=h(client, "tono"))
    assert other.status_code == missing.status_code == 404
    assert other.json()["code"] == missing.json()["code"] == "PAYER_NOT_FOUND"


def test_a_bank_reads_only_its_own_loan(client):
    load(client)
    own = client.get(f"/contracts/{C}/loans", headers=h(client, "yb")).json()
    assert [loan["loan"] for loan in own] == ["loan-yamaguchi"]
    other = client.get(f"/contracts/{C}/loans/loan-kyoto", headers=h(client, "yb"))
    missing = client.get(f"/contracts/{C}/loans/loan-nowhere", headers=h(client, "yb"))
    assert other.status_code == missing.status_code == 404
    assert other.json() == {**missing.json(), "detail": other.json()["detail"],
                            "errors": other.json()["errors"], "instance": other.json()["instance"]}


def test_evaluator_submits_and_audits_but_cannot_settle(client):
    load(client)
    results = [("participants", "7000", ""), ("inactive-share", "52.5", ""),
               ("guideline-share", "37", "")] + \
        [("continuation-rate", v, p) for p, v in (("ube", "68"), ("tono", "71"),
                                                  ("yawata", "59"), ("ibusuki", "65"),
                                                  ("misato", "70"))]
    for i, (kpi, value, payer) in enumerate(results):
        r = client.post(f"/contracts/{C}/kpi-results", json={
            "fiscal_year": 2019, "kpi": kpi, "value": value, "payer": payer},
            headers=h(client, "eva", f"k{i}"))
        assert r.status_code == 201, r.text
        a = client.post(f"/kpi-results/{r.json()[0]['id']}/audit", headers=h(client, "kai",
                                                                                f"a{i}"))
        assert a.json()["state"] == "audited" and a.json()["audited_by"] == "kai"
    refused = client.post(f"/contracts/{C}/years/2019/settlement", json={},
                          headers=h(client, "eva", "s1"))
    assert refused.status_code == 403
    preview = client.get(f"/contracts/{C}/years/2019/settlement/preview",
                         headers=h(client, "ana")).json()
    run = client.post(f"/contracts/{C}/years/2019/settlement", json={},
                      headers=h(client, "ana", "s1"))
    assert run.status_code == 201, run.text
    assert run.json()["payers"]["ube"] == preview["payers"]["ube"]
    assert run.json()["payers"]["ube"]["earned"] == {"amount": "12594840", "currency": "JPY"}
    again = client.post(f"/contracts/{C}/years/2019/settlement", json={},
                        headers=h(client, "ana", "s2"))
    assert again.json()["run"] == run.json()["run"] and again.json()["created"] is False
    approve_other = client.post(f"/contracts/{C}/years/2019/payers/tono/approval",
                                headers=h(client, "ube", "ap1"))
    assert approve_other.status_code == 404
    approve = client.post(f"/contracts/{C}/years/2019/payers/ube/approval",
                          headers=h(client, "ube", "ap2"))
    assert approve.status_code == 201
    assert approve.json()["due"] == {"amount": "12594840", "currency": "JPY"}


def test_a_percentage_above_100_is_refused_with_its_field(client):
    load(client)
    r = client.post(f"/contracts/{C}/kpi-results", json={
        "fiscal_year": 2019, "kpi": "inactive-share", "value": "120"},
        headers=h(client, "eva", "bad"))
    assert r.status_code == 422 and r.json()["code"] == "VALUE_OUT_OF_RANGE"
    assert r.json()["field"] == "value"


def test_refused_writes_are_in_the_audit_log_too(client):
    """A write refused before it ran (a role that may not, a body that is not valid, a key
    reused for another body) is recorded with who tried, the HTTP status and the reason; a
    request without a valid token names nobody and is not."""
    load(client)
    attempts = [
        ("eva", f"/contracts/{C}/years/2019/close", None, "x1", 403, "ROLE_FORBIDDEN"),
        ("ube", f"/contracts/{C}/years/2019/settlement", {}, "x2", 403, "ROLE_FORBIDDEN"),
        ("ana", f"/contracts/{C}/years/2019/settlement", {"preview": "sometimes"}, "x3", 422,
         None),
        ("ana", "/contracts", {"contract_id": "other"}, "load-1", 409, "IDEMPOTENCY_CONFLICT"),
    ]
    for who, path, body, key, status, code in attempts:
        r = client.post(path, json=body, headers=h(client, who, key))
        assert r.status_code == status, (path, r.text)
        if code:
            assert r.json()["code"] == code
    assert client.post(f"/contracts/{C}/years/2019/close",
                       headers={"Authorization": "Bearer nobody", "Idempotency-Key": "x5"}
                       ).status_code == 401
    log = client.get("/audit", headers=h(client, "aud"), params={"limit": 20}).json()
    refused = [r for r in log["items"] if r["status"] >= 400]
    assert [(r["username"], r["idempotency_key"], r["status"]) for r in reversed(refused)] == [
        ("eva", "x1", 403), ("ube", "x2", 403), ("ana", "x3", 422), ("ana", "load-1", 409)]
    first = refused[-1]
    assert first["role"] == "evaluator" and first["target"] == f"/contracts/{C}/years/2019/close"
    assert first["action"] == "POST /contracts/{contract_id}/years/{fiscal_year}/close"
    assert "ROLE_FORBIDDEN" in first["detail"]
    assert all(r["idempotency_key"] != "x5" for r in log["items"])
