"""Closing and reopening a fiscal year (issue 14, item 6), the defect reproduced and fixed:
"``sib close`` succeeds with nothing audited and locks the year, and no command or endpoint
reopens a period".

At the command line: the close is refused while nothing is audited or a result awaits audit; a
forced close needs a reason, which the period's log and the audit log keep; a reopening is asked
for by one user and approved by another. Over HTTP: the same refusal, and the reopening's two
steps.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.main import create_app
from api.settings import get_settings
from api.tables import AuditRecord
from api.users import add_user, create_token
from ledger.schema import Book, PeriodEvent

runner = CliRunner()
FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    assert sib("db", "upgrade").exit_code == 0
    assert sib("contract", "load", str(FIVE)).exit_code == 0
    assert sib("user", "add", "alice", "--role", "intermediary").exit_code == 0
    assert sib("user", "add", "bob", "--role", "admin").exit_code == 0
    assert sib("user", "add", "kuno-lab", "--role", "evaluator", "--scope",
               "tsukuba-kuno-lab").exit_code == 0
    sign_in("alice", "bob", "kuno-lab")
    yield url
    get_settings.cache_clear()
    db._engines.pop(url).dispose() if url in db._engines else None


TOKENS: dict[str, str] = {}


def sign_in(*names: str) -> None:
    """Each user's own API token (sib token create), which a four-eyes act is signed with."""
    for name in names:
        result = sib("token", "create", name)
        assert result.exit_code == 0, result.output
        TOKENS[name] = result.stdout.strip()


def signed(name: str) -> list[str]:
    return ["--by", name, "--token", TOKENS[name]]


def sib(*args: str):
    """Run a command as `sib` would (the audit log reads the command from sys.argv)."""
    argv = sys.argv
    sys.argv = ["sib", *args]
    try:
        return runner.invoke(app, list(args))
    finally:
        sys.argv = argv


def ok(*args: str):
    result = sib(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(*args: str) -> str:
    result = sib(*args)
    assert result.exit_code == 1, result.output
    return result.output


def closed_through(url: str) -> str | None:
    with db.unit_of_work(url) as s:
        book = s.scalars(select(Book).where(Book.code == C)).one()
        return book.closed_through_on.isoformat() if book.closed_through_on else None


def test_close_refuses_an_unaudited_year_unless_forced_with_a_reason(cli_db):
    # Nothing submitted, nothing audited: the year cannot be settled, so it does not close.
    output = refused("close", "-c", C, "-y", "2019", "--by", "twr")
    assert "PERIOD_NOT_SETTLED" in output and "participants" in output
    assert closed_through(cli_db) is None
    ok("kpi", "submit", "-c", C, "-y", "2019", "--kpi", "participants", "--value", "7000",
       *signed("kuno-lab"))
    output = refused("close", "-c", C, "-y", "2019", "--by", "twr")
    assert "PERIOD_RESULTS_UNAUDITED" in output and "sib kpi audit" in output
    assert "REASON_REQUIRED" in refused("close", "-c", C, "-y", "2019", "--force")
    assert closed_through(cli_db) is None
    reason = "the evaluation committee could not meet; board decision of 2020-05-01"
    ok("close", "-c", C, "-y", "2019", "--by", "twr", "--force", "--reason", reason)
    assert closed_through(cli_db) == "2020-03-31"
    with db.unit_of_work(cli_db) as s:
        events = [e.reason for e in s.scalars(select(PeriodEvent))]
        [record] = s.scalars(select(AuditRecord).where(AuditRecord.action == "close"))
    assert events == [f"year-end close FY2019 (forced: {reason})"] * 2  # SPV and payers' books
    assert record.detail == f"forced: {reason}"


def test_a_closed_year_is_reopened_by_two_people(cli_db):
    ok("close", "-c", C, "-y", "2019", "--by", "twr", "--force", "--reason", "test")
    # A name typed at the keyboard proves nothing: the act is signed with the user's token.
    assert "TOKEN_REQUIRED" in refused("period", "reopen", "-c", C, "-y", "2019",
                                       "--reason", "late invoice", "--by", "mallory")
    assert "TOKEN_INVALID" in refused("period", "reopen", "-c", C, "-y", "2019",
                                      "--reason", "late invoice", "--token", "guessed")
    assert "TOKEN_NOT_BY" in refused("period", "reopen", "-c", C, "-y", "2019",
                                     "--reason", "late invoice", "--by", "bob",
                                     "--token", TOKENS["alice"])
    assert "PERIOD_NOT_LATEST" in refused("period", "reopen", "-c", C, "-y", "2020",
                                          "--reason", "late invoice", *signed("alice"))
    request = ok("period", "reopen", "-c", C, "-y", "2019", "--reason",
                 "a provider's invoice arrived late", *signed("alice"))
    assert (request["act"], request["subject"], request["state"]) == (
        "period.reopen", "FY2019", "requested")
    assert closed_through(cli_db) == "2020-03-31"  # asked for, not done
    assert "APPROVER_IS_REQUESTER" in refused("change", "approve", str(request["id"]),
                                              *signed("alice"))
    assert ok("change", "approve", str(request["id"]), *signed("bob"))["state"] == "approved"
    assert closed_through(cli_db) is None
    with db.unit_of_work(cli_db) as s:
        reopened = [e for e in s.scalars(select(PeriodEvent)) if e.action == "reopen"]
        actions = [r.action for r in s.scalars(select(AuditRecord))]
        signed_rows = {r.action: r for r in s.scalars(select(AuditRecord))
                       if r.action in ("period reopen", "change approve")}
    # Who acted, as proved by the token; the token itself is never written to the log.
    assert signed_rows["period reopen"].username.endswith(" as alice")
    assert signed_rows["change approve"].username.endswith(" as bob")
    for row in signed_rows.values():
        assert "--token ***" in row.target
        assert TOKENS["alice"] not in row.target and TOKENS["bob"] not in row.target
    assert [(e.actor, e.reason) for e in reopened] == [
        ("bob", "a provider's invoice arrived late (requested by alice, approved by bob)")] * 2
    assert actions.count("period reopen") == 1 and actions.count("change approve") == 1
    listed = ok("change", "list", "-c", C)
    assert [r["state"] for r in listed] == ["approved"]


def test_over_http_a_year_closes_only_when_audited_and_reopens_by_two_people(db_url):
    with db.unit_of_work(db_url) as s:
        tokens = {name: (add_user(s, name, role), create_token(s, name))[1]
                  for name, role in (("alice", "intermediary"), ("bob", "admin"))}
    from contracts.store import load_contract
    from contracts.validate import load_contract_file
    contract, _ = load_contract_file(FIVE)
    with db.unit_of_work(db_url) as s:
        load_contract(s, contract, FIVE.name)

    def h(who: str, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}", "Idempotency-Key": key}
    with TestClient(create_app(db_url)) as client:
        close = f"/contracts/{C}/years/2019/close"
        refused_close = client.post(close, headers=h("alice", "c1"))
        assert refused_close.status_code == 422
        assert refused_close.json()["code"] == "PERIOD_NOT_SETTLED"
        no_reason = client.post(close, json={"force": True}, headers=h("alice", "c2"))
        assert no_reason.json()["code"] == "REASON_REQUIRED"
        forced = client.post(close, json={"force": True, "reason": "board decision"},
                             headers=h("alice", "c3"))
        assert forced.status_code == 201, forced.text
        asked = client.post(f"/contracts/{C}/years/2019/reopen", json={"reason": "late"},
                            headers=h("alice", "r1"))
        assert asked.status_code == 202 and asked.json()["state"] == "requested"
        own = client.post(f"/change-requests/{asked.json()['id']}/approval",
                          headers=h("alice", "r2"))
        assert own.status_code == 403 and own.json()["code"] == "APPROVER_IS_REQUESTER"
        done = client.post(f"/change-requests/{asked.json()['id']}/approval",
                           headers=h("bob", "r3"))
        assert done.status_code == 200 and done.json()["state"] == "approved"
        log = client.get("/audit", params={"limit": 100}, headers=h("bob", "x")).json()["items"]
    assert closed_through(db_url) is None
    forced_record = next(r for r in log if r["action"] == "settlement.close.forced")
    assert forced_record["detail"] == "forced: board decision"


def test_a_payer_without_its_result_holds_the_close_back(db_url):
    """Continuation rate is measured per municipality: four of five audited is not enough."""
    from api import demo
    from contracts.store import contract_for_year, load_contract
    from contracts.validate import load_contract_file
    from settlement.closing_rules import closing_problems
    from settlement.kpi import ResultInput
    from settlement.results import audit_result, submit_results
    contract, _ = load_contract_file(FIVE)
    contract_wide, per_payer = demo.RESULTS[2019]
    inputs = [ResultInput(C, 2019, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in per_payer.items()
               if p != "misato"]
    with db.unit_of_work(db_url) as s:
        load_contract(s, contract, FIVE.name)
        for row in submit_results(s, inputs, "kuno-lab"):
            audit_result(s, row.id or 0, "committee")
        problems = closing_problems(s, contract_for_year(s, C, 2019), 2019)
    assert [(p.code, p.field) for p in problems] == [("PERIOD_NOT_SETTLED", "fiscal_year")]
    assert "continuation-rate for misato" in problems[0].message


def test_sib_contract_amend_files_an_early_termination_as_a_request(tmp_path, monkeypatch):
    import yaml

    from contracts.model import to_document
    from tests.test_contracts_rules import BASE, contract, with_targets
    base = contract()
    ended = contract(last_fiscal_year=2020, tranches=BASE["tranches"][:1],
                     kpis=with_targets({2020: "70"}))
    for name, terms in (("base.yaml", base), ("ended.yaml", ended)):
        (tmp_path / name).write_text(yaml.safe_dump(json.loads(json.dumps(
            to_document(terms), default=str)), allow_unicode=True), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert sib("db", "upgrade").exit_code == 0
        assert sib("contract", "load", str(tmp_path / "base.yaml")).exit_code == 0
        assert sib("user", "add", "alice", "--role", "intermediary").exit_code == 0
        assert sib("user", "add", "bob", "--role", "admin").exit_code == 0
        sign_in("alice", "bob")
        amend = ("contract", "amend", base.id, str(tmp_path / "ended.yaml"), "--reason",
                 "funding withdrawn", "--effective-from", "2021")
        assert "REQUESTER_REQUIRED" in refused(*amend)
        request = ok(*amend, *signed("alice"))
        assert request["act"] == "contract.early_termination"
        assert "APPROVER_IS_REQUESTER" in refused("change", "approve", str(request["id"]),
                                                  *signed("alice"))
        assert ok("change", "approve", str(request["id"]), *signed("bob"))["state"] == \
            "approved"
        shown = ok("contract", "show", base.id)
    finally:
        get_settings.cache_clear()
        db._engines.pop(url).dispose() if url in db._engines else None
    years = {a["fiscal_year"] for a in shown["authorisation"]} - {None}  # None: the total
    assert (shown["version"], years) == (2, {2020})
