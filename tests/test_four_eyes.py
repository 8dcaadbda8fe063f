"""Four eyes where money is redirected or released (issue 14, item 1), each defect of the
issue's list reproduced and shown fixed:

- "One person can redirect municipal payments": an intermediary changed a party's bank account
  and the next Zengin file paid the new account, with no approval, no history, and neither the
  old nor the new value in the audit log.
- "No segregation of duties": an evaluator audited its own KPI results and submitted results
  for any contract.

FY2019 of the five-municipality contract: Ube pays TWR (the SPV) by a Zengin file.
"""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from api import db, demo
from api.main import create_app
from api.users import add_user, create_token
from contracts.store import load_contract
from contracts.validate import load_contract_file
from ledger.errors import SibError
from settlement.approvals import approve_notice
from settlement.change_requests import (
    SECOND_PERSON_ACTS,
    approve_change,
    reject_change,
    request_bank_account,
)
from settlement.kpi import ResultInput
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.transfers import bank_account, payer_transfer_file, record_transfer_file
from settlement.zengin import parse_transfer_file

C = demo.C
PAYS_ON = date(2020, 5, 20)
NEW_TWR = {"bank_code": "0150", "bank_name": "ｼﾞﾖｳﾖｳ", "branch_code": "201",
           "branch_name": "ﾂｸﾊﾞ", "account_number": "7777777", "holder_kana": "ｶ)ﾂｸﾊﾞｳｴﾙﾈｽ",
           "requester_code": ""}


def _account(party: str) -> dict[str, str]:
    bank, bank_name, branch, branch_name, number, holder, code = demo.BANK_ACCOUNTS[party]
    return {"bank_code": bank, "bank_name": bank_name, "branch_code": branch,
            "branch_name": branch_name, "account_number": number, "holder_kana": holder,
            "requester_code": code}


@pytest.fixture
def loaded(db_url):
    """The contract loaded; Ube's and TWR's accounts asked for by twr, approved by admin."""
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems
    with db.unit_of_work(db_url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
        for party in ("ube", "twr"):
            request = request_bank_account(s, C, party, "twr", **_account(party))
            approve_change(s, request.id, "admin")
    return db_url


@pytest.fixture
def approved(loaded):
    """FY2019 settled and Ube's notice approved: Ube can pay by Zengin file."""
    contract_wide, per_payer = demo.RESULTS[2019]
    inputs = [ResultInput(C, 2019, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in per_payer.items()]
    with db.unit_of_work(loaded) as s:
        for row in submit_results(s, inputs, "kuno-lab"):
            audit_result(s, row.id or 0, "committee")
        settle(s, C, 2019, by="twr")
        approve_notice(s, C, 2019, "ube", "宇部市 会計課")
    return loaded


def _refusal(work) -> list[tuple[str, str | None]]:
    with pytest.raises(SibError) as refused:
        work()
    return [(p.code, p.field) for p in refused.value.problems]


# --------------------------------------------------------------------------- bank accounts

def test_a_bank_account_change_takes_effect_only_when_another_person_approves_it(loaded):
    with db.unit_of_work(loaded) as s:
        request = request_bank_account(s, C, "twr", "alice", "bank merger", **NEW_TWR)
        # Asked for, not in effect: the files still pay the account on record.
        assert bank_account(s, C, "twr").account_number == "1234567"
        assert _refusal(lambda: approve_change(s, request.id, "alice")) == [
            ("APPROVER_IS_REQUESTER", "approved_by")]
        # One change awaits a decision at a time.
        assert _refusal(lambda: request_bank_account(
            s, C, "twr", "carol", **(NEW_TWR | {"account_number": "1"}))) == [
            ("CHANGE_REQUEST_PENDING", "subject")]
        approved = approve_change(s, request.id, "bob")
        assert (approved.state, approved.decided_by) == ("approved", "bob")
        assert bank_account(s, C, "twr").account_number == "7777777"
        # The history: what it replaced and what it put in place.
        assert json.loads(approved.previous)["account_number"] == "1234567"
        assert json.loads(approved.proposed)["account_number"] == "7777777"
        assert _refusal(lambda: reject_change(s, request.id, "carol", "too late")) == [
            ("CHANGE_REQUEST_DECIDED", "request_id")]


def test_a_rejected_change_changes_nothing_and_bad_fields_are_named(loaded):
    with db.unit_of_work(loaded) as s:
        request = request_bank_account(s, C, "twr", "alice", **NEW_TWR)
        rejected = reject_change(s, request.id, "bob", "the payee did not confirm it")
        assert rejected.state == "rejected"
        assert bank_account(s, C, "twr").account_number == "1234567"
        assert _refusal(lambda: request_bank_account(
            s, C, "twr", "alice", **(NEW_TWR | {"account_number": "12345678",
                                                "bank_code": "17"}))) == [
            ("BANK_ACCOUNT_FIELD_INVALID", "bank_code"),
            ("BANK_ACCOUNT_FIELD_INVALID", "account_number")]
        assert _refusal(lambda: request_bank_account(s, C, "twr", "alice",
                                                     **_account("twr"))) == [
            ("BANK_ACCOUNT_UNCHANGED", "account_number")]


def test_the_next_zengin_file_says_that_the_payees_account_changed(approved):
    with db.unit_of_work(approved) as s:
        first = payer_transfer_file(s, C, "ube", PAYS_ON)
        assert first.notices == ()  # TWR's first registered account: nothing changed
        record_transfer_file(s, C, first.payees, PAYS_ON, "ube-finance")
        request = request_bank_account(s, C, "twr", "alice", **NEW_TWR)
        approve_change(s, request.id, "bob")
        second = payer_transfer_file(s, C, "ube", PAYS_ON)
        [notice] = second.notices
        assert (notice.code, notice.party, notice.last_file_on) == (
            "BANK_ACCOUNT_CHANGED", "twr", PAYS_ON)
        assert "****567" in notice.previous and "****777" in notice.current
        assert "7777777" not in notice.message() and "alice" in notice.message()
        [record] = parse_transfer_file(second.data).records
        assert record.account_number == "7777777"
        # Once a file paid the new account, the following one carries no notice.
        record_transfer_file(s, C, second.payees, PAYS_ON, "ube-finance")
        assert payer_transfer_file(s, C, "ube", PAYS_ON).notices == ()


def test_the_acts_needing_a_second_person_are_stated():
    assert {"bank-account change", "period reopen", "KPI audit",
            "settlement approval (a notice's 検査・承認)", "early termination"} == \
        set(SECOND_PERSON_ACTS)


def test_whoever_settled_the_year_does_not_approve_its_notice(loaded):
    contract_wide, per_payer = demo.RESULTS[2019]
    inputs = [ResultInput(C, 2019, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in per_payer.items()]
    with db.unit_of_work(loaded) as s:
        for row in submit_results(s, inputs, "kuno-lab"):
            audit_result(s, row.id or 0, "committee")
        settle(s, C, 2019, by="admin")
        assert _refusal(lambda: approve_notice(s, C, 2019, "ube", "admin")) == [
            ("APPROVER_IS_SETTLER", "approved_by")]
        assert approve_notice(s, C, 2019, "ube", "宇部市 会計課").approved_by == "宇部市 会計課"


# --------------------------------------------------------------------------- over HTTP

USERS = [("alice", "intermediary", None), ("bob", "admin", None), ("aud", "auditor", None),
         ("ube", "finance_officer", "ube"), ("eva", "evaluator", "tsukuba-kuno-lab"),
         ("kai", "evaluator", "tsukuba-kuno-lab"), ("other-lab", "evaluator", "elsewhere-lab")]


@pytest.fixture
def client(approved):
    with db.unit_of_work(approved) as s:
        tokens = {name: (add_user(s, name, role, scope), create_token(s, name))[1]
                  for name, role, scope in USERS}
    with TestClient(create_app(approved)) as c:
        c.tokens = tokens
        yield c


def h(client, who, key=None):
    headers = {"Authorization": f"Bearer {client.tokens[who]}"}
    return headers | ({"Idempotency-Key": key} if key else {})


def test_over_http_one_person_cannot_redirect_a_payment(client):
    zengin = f"/contracts/{C}/payers/ube/zengin?on={PAYS_ON}"
    before = client.get(zengin, headers=h(client, "ube"))
    assert before.status_code == 200 and "sib-notice" not in before.headers
    asked = client.put(f"/contracts/{C}/parties/twr/bank-account", json=NEW_TWR,
                       headers=h(client, "alice", "change-1"))
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert (request["state"], request["proposed"]["account_number"],
            request["previous"]["account_number"]) == ("requested", "****777", "****567")
    # Not in effect: the file still pays the account on record.
    still = client.get(zengin, headers=h(client, "ube"))
    assert parse_transfer_file(still.content).records[0].account_number == "1234567"
    own = client.post(f"/change-requests/{request['id']}/approval",
                      headers=h(client, "alice", "approve-1"))
    assert own.status_code == 403 and own.json()["code"] == "APPROVER_IS_REQUESTER"
    ok = client.post(f"/change-requests/{request['id']}/approval",
                     headers=h(client, "bob", "approve-2"))
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    after = client.get(zengin, headers=h(client, "ube"))
    assert parse_transfer_file(after.content).records[0].account_number == "7777777"
    [notice] = json.loads(after.headers["sib-notice"])
    assert (notice["code"], notice["party"], notice["current"]) == (
        "BANK_ACCOUNT_CHANGED", "twr", "0150-201 1 ****777 ｶ)ﾂｸﾊﾞｳｴﾙﾈｽ")
    # The history is in the audit log: who asked, who refused, who approved; old and new
    # values, the number masked — never in full.
    log = client.get("/audit", params={"limit": 500}, headers=h(client, "aud")).json()["items"]
    steps = [(r["username"], r["action"], r["status"]) for r in log
             if "change" in r["action"] or "bank" in r["action"]]
    assert sorted(steps) == sorted([
        ("alice", "bank_account.change.request", 202),
        ("alice", "change_request.approve", 403), ("bob", "change_request.approve", 200)])
    asked_record = next(r for r in log if r["action"] == "bank_account.change.request")
    assert "0170-001 1 ****567" in asked_record["detail"]
    assert "0150-201 1 ****777" in asked_record["detail"]
    assert not any("7777777" in json.dumps(r) or "1234567" in json.dumps(r) for r in log)
    listed = client.get("/change-requests", headers=h(client, "aud")).json()["items"]
    assert listed[0]["proposed"]["account_number"] == "****777"  # newest first
    assert all(r["proposed"]["account_number"].startswith("****") for r in listed)


def test_an_evaluator_never_audits_its_own_results(client):
    submitted = client.post(f"/contracts/{C}/kpi-results", json={
        "fiscal_year": 2020, "kpi": "participants", "value": "10400"},
        headers=h(client, "eva", "s1"))
    assert submitted.status_code == 201, submitted.text
    result_id = submitted.json()[0]["id"]
    own = client.post(f"/kpi-results/{result_id}/audit", headers=h(client, "eva", "a1"))
    assert own.status_code == 403 and own.json()["code"] == "KPI_AUDIT_BY_SUBMITTER"
    other = client.post(f"/kpi-results/{result_id}/audit", headers=h(client, "kai", "a2"))
    assert other.status_code == 200 and other.json()["audited_by"] == "kai"


def test_an_evaluator_acts_only_on_the_contracts_it_evaluates(client):
    refused = client.post(f"/contracts/{C}/kpi-results", json={
        "fiscal_year": 2020, "kpi": "participants", "value": "10400"},
        headers=h(client, "other-lab", "s1"))
    assert refused.status_code == 403
    assert (refused.json()["code"], refused.json()["field"]) == (
        "EVALUATOR_NOT_OF_CONTRACT", "contract")
    data = f"contract,fiscal_year,kpi,payer,value\n{C},2020,participants,,10400\n"
    upload = client.post("/kpi-results/upload", headers=h(client, "other-lab", "u1"),
                         files={"file": ("r.csv", io.BytesIO(data.encode()), "text/csv")})
    assert upload.status_code == 403 and upload.json()["code"] == "EVALUATOR_NOT_OF_CONTRACT"
    listed = client.get(f"/contracts/{C}/kpi-results", params={"fiscal_year": 2020},
                        headers=h(client, "aud")).json()
    assert listed["total"] == 0  # nothing of either was written
    with db.unit_of_work(client.app.state.database_url) as s, \
            pytest.raises(SibError) as unscoped:
        add_user(s, "anyone", "evaluator")
    assert unscoped.value.code == "SCOPE_REQUIRED"


# --------------------------------------------------------------------------- races

def _open_request(session, contract_id: str) -> int:
    from ledger.service import utc_now
    from settlement.tables import ChangeRequest
    row = ChangeRequest(act="bank_account.change", contract_id=contract_id, subject="twr",
                        proposed=json.dumps(NEW_TWR), requested_by="alice",
                        requested_at=utc_now())
    session.add(row)
    session.flush()
    return row.id or 0


def test_a_subject_has_one_request_awaiting_a_decision_even_when_two_are_sent_at_once(db_url):
    """The check before writing cannot see a request sent at the same moment; the database's
    partial unique index can."""
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError), db.unit_of_work(db_url) as s:
        _open_request(s, "race")
        _open_request(s, "race")


@pytest.mark.postgres
def test_two_decisions_sent_at_once_are_taken_one_after_the_other(pg_url):
    """Two people reject (or approve) the same request at the same moment: the second waits
    for the first and is told it was already decided — one decision, one change."""
    import threading
    import uuid

    from sqlmodel import Session

    from api.db import make_engine
    engine = make_engine(pg_url)
    with Session(engine) as s:
        request_id = _open_request(s, f"race-{uuid.uuid4().hex[:8]}")
        s.commit()
    first = Session(engine)
    reject_change(first, request_id, "bob", "first")  # holds the request's row lock
    outcome: list[str] = []

    def second() -> None:
        with Session(engine) as s:
            try:
                reject_change(s, request_id, "carol", "second")
                s.commit()
                outcome.append("decided")
            except SibError as error:
                outcome.append(error.code)
    waiting = threading.Thread(target=second)
    waiting.start()
    waiting.join(timeout=1)
    assert waiting.is_alive()  # waiting for the first decision's lock
    first.commit()
    first.close()
    waiting.join(timeout=10)
    engine.dispose()
    assert outcome == ["CHANGE_REQUEST_DECIDED"]


# --------------------------------------------------------------------------- early termination

def _two_year_contract_and_its_early_end():
    """The rules' two-year base contract (FY2020-2021), and the amendment ending it after
    FY2020."""
    from tests.test_contracts_rules import BASE, contract, with_targets
    return contract(), contract(last_fiscal_year=2020, tranches=BASE["tranches"][:1],
                                kpis=with_targets({2020: "70"}))


def test_an_early_termination_takes_effect_only_when_a_second_person_approves_it(db_url):
    from contracts.store import amend_contract, get_contract
    from settlement.change_requests import request_amendment
    base, ended = _two_year_contract_and_its_early_end()
    with db.unit_of_work(db_url) as s:
        load_contract(s, base)
        assert _refusal(lambda: amend_contract(s, base.id, ended, "funding withdrawn",
                                               2021)) == [
            ("EARLY_TERMINATION_NEEDS_APPROVAL", "last_fiscal_year")]
        request = request_amendment(s, base.id, ended, "funding withdrawn", 2021, "alice")
        assert get_contract(s, base.id).last_fiscal_year == 2021  # asked for, not done
        assert _refusal(lambda: approve_change(s, request.id, "alice")) == [
            ("APPROVER_IS_REQUESTER", "approved_by")]
        approve_change(s, request.id, "bob")
        terms = get_contract(s, base.id)
    assert (terms.version, list(terms.fiscal_years)) == (2, [2020])


def test_over_http_an_amendment_ending_the_term_sooner_is_a_request(db_url):
    base, ended = _two_year_contract_and_its_early_end()
    with db.unit_of_work(db_url) as s:
        load_contract(s, base)
        tokens = {name: (add_user(s, name, role), create_token(s, name))[1]
                  for name, role in (("alice", "intermediary"), ("bob", "admin"))}
    from contracts.model import to_document
    body = {"reason": "funding withdrawn", "effective_from": 2021,
            "document": json.loads(json.dumps(to_document(ended), default=str))}
    with TestClient(create_app(db_url)) as client:
        asked = client.post(f"/contracts/{base.id}/amendments", json=body, headers={
            "Authorization": f"Bearer {tokens['alice']}", "Idempotency-Key": "end-1"})
        assert asked.status_code == 202, asked.text
        assert (asked.json()["act"], asked.json()["proposed"]["last_fiscal_year"]) == (
            "contract.early_termination", 2020)
        approved = client.post(f"/change-requests/{asked.json()['id']}/approval", headers={
            "Authorization": f"Bearer {tokens['bob']}", "Idempotency-Key": "end-2"})
        assert approved.status_code == 200, approved.text
        shown = client.get(f"/contracts/{base.id}",
                           headers={"Authorization": f"Bearer {tokens['bob']}"}).json()
    assert shown["document"]["last_fiscal_year"] == 2020
