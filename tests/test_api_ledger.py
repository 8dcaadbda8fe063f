"""The ledger over HTTP: problem+json errors, money as strings, idempotency, roles, audit."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient

from api import db
from api.main import create_app
from api.users import add_user, create_token


@pytest.fixture
def client(db_url):
    app = create_app(db_url)
    with db.unit_of_work(db_url) as session:
        tokens = {}
        for name, role, scope in [("ana", "intermediary", None), ("aud", "auditor", None),
                                  ("yb", "lender", "yamaguchi"), ("kb", "lender", "kyoto"),
                                  ("ev", "evaluator", "tsukuba-kuno-lab")]:
            add_user(session, name, role, scope)
            tokens[name] = create_token(session, name)
    with TestClient(app) as c:
        c.tokens = tokens
        yield c


def h(client, who, key=None):
    headers = {"Authorization": f"Bearer {client.tokens[who]}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def setup_book(client):
    assert client.post("/ledger/books", json={"code": "spv", "currency": "JPY"},
                       headers=h(client, "ana", "b1")).status_code == 201
    for code, typ, party in [("cash", "asset", None), ("loan:yamaguchi", "liability",
                                                        "lender:yamaguchi"),
                             ("loan:kyoto", "liability", "lender:kyoto")]:
        r = client.post("/ledger/books/spv/accounts",
                        json={"code": code, "type": typ, "party_ref": party},
                        headers=h(client, "ana", f"a-{code}"))
        assert r.status_code == 201, r.text


def entry(amount="30000000", lender="yamaguchi"):
    return {"kind": "loan_drawdown", "effective_on": "2019-07-01",
            "postings": [{"account": "cash", "side": "D",
                          "amount": {"amount": amount, "currency": "JPY"}},
                         {"account": f"loan:{lender}", "side": "C",
                          "amount": {"amount": amount, "currency": "JPY"}}]}


def test_posting_is_exactly_once_per_idempotency_key(client):
    setup_book(client)
    first = client.post("/ledger/books/spv/entries", json=entry(), headers=h(client, "ana", "e1"))
    assert first.status_code == 201, first.text
    again = client.post("/ledger/books/spv/entries", json=entry(), headers=h(client, "ana", "e1"))
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/ledger/books/spv/entries", json=entry("1"), headers=h(client, "ana",
                                                                                "e1"))
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "IDEMPOTENCY_CONFLICT"
    tb = client.get("/ledger/books/spv/trial-balance", headers=h(client, "aud")).json()
    assert tb["balanced"] and tb["total_debit"] == {"amount": "30000000", "currency": "JPY"}


def test_the_trial_balance_has_the_shape_of_its_schema(client):
    """The trial balance is written straight to JSON: it must still read as its model."""
    from api.schemas import TrialBalancePublic
    empty = client.post("/ledger/books", json={"code": "empty", "currency": "GBP"},
                        headers=h(client, "ana", "b-empty"))
    assert empty.status_code == 201, empty.text
    tb = client.get("/ledger/books/empty/trial-balance", headers=h(client, "aud"))
    assert tb.status_code == 200 and tb.json() == {
        "book": "empty", "as_of": None, "balanced": True, "rows": [],
        "total_debit": {"amount": "0.00", "currency": "GBP"},
        "total_credit": {"amount": "0.00", "currency": "GBP"}}
    setup_book(client)
    client.post("/ledger/books/spv/entries", json=entry(), headers=h(client, "ana", "e1"))
    for query in ("", "?as_of=2019-06-30", "?as_of=2019-01-01"):
        r = client.get(f"/ledger/books/spv/trial-balance{query}", headers=h(client, "aud"))
        assert r.status_code == 200, r.text
        model = TrialBalancePublic.model_validate_json(r.content)
        assert model.model_dump(mode="json") == r.json()
        assert model.balanced and len(model.rows) >= 2
    missing = client.get("/ledger/books/nope/trial-balance", headers=h(client, "aud"))
    assert missing.status_code == 404 and missing.json()["code"] == "BOOK_NOT_FOUND"


def test_a_write_without_idempotency_key_is_refused(client):
    r = client.post("/ledger/books", json={"code": "x", "currency": "JPY"},
                    headers=h(client, "ana"))
    assert r.status_code == 422 and r.json()["code"] == "IDEMPOTENCY_KEY_REQUIRED"


def test_money_as_a_json_number_is_refused_with_the_field(client):
    setup_book(client)
    body = entry()
    body["postings"][0]["amount"]["amount"] = 30000000
    r = client.post("/ledger/books/spv/entries", json=body, headers=h(client, "ana", "e2"))
    assert r.status_code == 422
    assert r.json()["code"] == "AMOUNT_NOT_STRING"
    assert r.json()["field"] == "postings.0.amount.amount"


def test_ledger_refusals_are_problem_json_with_every_problem(client):
    setup_book(client)
    body = entry()
    body["postings"][1]["amount"]["amount"] = "1"
    body["postings"][0]["account"] = "nope"
    r = client.post("/ledger/books/spv/entries", json=body, headers=h(client, "ana", "e3"))
    assert r.status_code == 422
    codes = {e["code"] for e in r.json()["errors"]}
    assert codes == {"ENTRY_UNBALANCED", "ACCOUNT_NOT_FOUND"}


def test_a_bank_sees_its_own_loan_and_not_another_banks(client):
    setup_book(client)
    client.post("/ledger/books/spv/entries", json=entry(), headers=h(client, "ana", "e1"))
    own = client.get("/ledger/books/spv/accounts/loan:yamaguchi/statement", headers=h(client, "yb"))
    assert own.status_code == 200 and own.json()["closing"]["amount"] == "30000000"
    other = client.get("/ledger/books/spv/accounts/loan:kyoto/statement", headers=h(client, "yb"))
    missing = client.get("/ledger/books/spv/accounts/loan:nowhere/statement",
                         headers=h(client, "yb"))
    assert other.status_code == missing.status_code == 404
    assert other.json()["code"] == missing.json()["code"] == "ACCOUNT_NOT_FOUND"
    accounts = client.get("/ledger/books/spv/accounts", headers=h(client, "yb")).json()
    assert [a["code"] for a in accounts["items"]] == ["loan:yamaguchi"]
    assert client.get("/ledger/books/spv/trial-balance", headers=h(client, "yb")).status_code == 403


def test_evaluator_and_auditor_cannot_post(client):
    setup_book(client)
    for who in ("ev", "aud", "yb"):
        r = client.post("/ledger/books/spv/entries", json=entry(), headers=h(client, who, "x"))
        assert r.status_code == 403 and r.json()["code"] == "ROLE_FORBIDDEN"


def test_every_write_is_in_the_audit_log(client):
    setup_book(client)
    client.post("/ledger/books/spv/entries", json=entry(), headers=h(client, "ana", "e9"))
    log = client.get("/audit", headers=h(client, "aud")).json()
    assert log["items"][0]["action"] == "ledger.entry.post"
    assert log["items"][0]["idempotency_key"] == "e9"
    assert log["items"][0]["username"] == "ana"
    assert log["total"] == 5  # the book, three accounts, the entry
    assert client.get("/audit", headers=h(client, "yb")).status_code == 403


def test_no_token_is_401(client):
    r = client.get("/ledger/books")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"


def test_two_phase_and_reversal_over_http(client):
    setup_book(client)
    pending = dict(entry("3000000"), pending=True)
    p = client.post("/ledger/books/spv/entries", json=pending, headers=h(client, "ana", "p1"))
    assert p.json()["state"] == "pending"
    r = client.post(f"/ledger/books/spv/entries/{p.json()['id']}/post",
                    json={"effective_on": "2020-03-31",
                          "amount": {"amount": "2250000", "currency": "JPY"}},
                    headers=h(client, "ana", "p2"))
    assert r.status_code == 201, r.text
    assert r.json()["resolves_entry_id"] == p.json()["id"]
    again = client.get(f"/ledger/books/spv/entries/{p.json()['id']}", headers=h(client, "aud"))
    assert again.json()["state"] == "posted"
    assert again.json()["resolved_by_entry_id"] == r.json()["id"]
    rev = client.post(f"/ledger/books/spv/entries/{r.json()['id']}/reverse",
                      json={"effective_on": "2020-03-31"}, headers=h(client, "ana", "p3"))
    assert rev.status_code == 201 and rev.json()["reverses_entry_id"] == r.json()["id"]


def test_a_written_entry_reads_back_as_it_was_answered(client):
    """Writes answer from the entry as written (no read-back): the same JSON as a later GET,
    for a posting, a reservation, its resolution, a void and a reversal; and once something
    points at an entry, the GET shows it."""
    setup_book(client)
    answers = [client.post("/ledger/books/spv/entries", json=entry(), headers=h(client, "ana",
                                                                              "w1"))]
    answers.append(client.post("/ledger/books/spv/entries", json=dict(entry("900"), pending=True),
                               headers=h(client, "ana", "w2")))
    answers.append(client.post("/ledger/books/spv/entries", json=dict(entry("700"), pending=True),
                               headers=h(client, "ana", "w3")))
    answers.append(client.post(f"/ledger/books/spv/entries/{answers[1].json()['id']}/post",
                               json={"effective_on": "2019-08-01",
                                     "amount": {"amount": "400", "currency": "JPY"}},
                               headers=h(client, "ana", "w4")))
    answers.append(client.post(f"/ledger/books/spv/entries/{answers[2].json()['id']}/void",
                               json={"effective_on": "2019-08-01"}, headers=h(client, "ana", "w5")))
    answers.append(client.post(f"/ledger/books/spv/entries/{answers[0].json()['id']}/reverse",
                               json={"effective_on": "2019-09-01", "description": "wrong bank"},
                               headers=h(client, "ana", "w6")))
    for answer in answers:
        assert answer.status_code == 201, answer.text
    pointed_at = {0: ("reversed_by_entry_id", answers[5]), 1: ("resolved_by_entry_id", answers[3]),
                  2: ("resolved_by_entry_id", answers[4])}
    for i, answer in enumerate(answers):
        written = answer.json()
        read = client.get(f"/ledger/books/spv/entries/{written['id']}", headers=h(client, "aud"))
        assert read.status_code == 200
        expected = dict(written)
        if i in pointed_at:
            field, by = pointed_at[i]
            expected[field] = by.json()["id"]
            expected["state"] = {0: "reversed", 1: "posted", 2: "voided"}[i]
        assert read.json() == expected
    assert [p["amount"]["amount"] for p in answers[3].json()["postings"]] == ["400", "400"]
    flipped = [(p["account"], {"D": "C", "C": "D"}[p["side"]], p["amount"])
               for p in answers[0].json()["postings"]]
    assert [(p["account"], p["side"], p["amount"]) for p in answers[5].json()["postings"]] \
        == flipped


def test_a_write_waits_for_another_process_without_holding_up_reads(client, db_url):
    """Posting runs on the event loop only when SQLite's write lock is free at once; while
    another process holds it, the write waits in the thread pool and reads are still served."""
    setup_book(client)
    blocker = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process writing
    answer: dict[str, object] = {}
    writer = threading.Thread(target=lambda: answer.update(r=client.post(
        "/ledger/books/spv/entries", json=entry(), headers=h(client, "ana", "while-locked"))))
    writer.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        tb = client.get("/ledger/books/spv/trial-balance", headers=h(client, "aud"))
        assert tb.status_code == 200 and tb.json()["total_debit"]["amount"] == "0"
        assert time.monotonic() - started < 2
        assert writer.is_alive()  # still waiting for the lock
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        writer.join(30)
    assert answer["r"].status_code == 201, answer["r"].text
    tb = client.get("/ledger/books/spv/trial-balance", headers=h(client, "aud")).json()
    assert tb["total_debit"] == {"amount": "30000000", "currency": "JPY"}
