"""The simulation as a job over HTTP (issues 15 and 16): ``POST /contracts/{id}/simulation-jobs``
starts it (checked first, nothing queued on a refusal; Idempotency-Key; audited), ``GET
…/simulation-jobs/{job}`` follows it and answers its summary, ``…/report.pdf`` and
``…/report.xlsx`` give its report and workbook — each cut to the reader as the portal cuts it:
the whole contract for the intermediary, the auditor, the evaluator and the admin; for a finance
officer the payers ``payers_visible_to`` gives it (its own; the lead payer, Ube, every payer by
the example contract's grant) and no loan, lender, fee, class or public figure.

The story: a copy of the demo's books (five years audited and settled); the contract's example
simulation file from FY2021 on (FY2019–FY2020 are its audited history). The service's own
thread runs the jobs (SQLite, in-process)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import closing
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader

from api import jobs
from api.db import unit_of_work
from api.job_simulation import SIMULATION, job_summary, merged_simulation, simulation_job
from api.main import create_app
from api.users import add_user, create_token
from investors.pdf_simulation import render
from investors.simulation_xlsx import write
from settlement.simulation import as_json
from settlement.simulation_scope import Scope

C = "sib-2019-five-municipalities"
EXAMPLE = Path(__file__).resolve().parents[1] / "contracts/examples/simulations" / f"{C}.yaml"
PAYERS = ("ube", "tono", "yawata", "ibusuki", "misato")
NAMES = {"ube": ("宇部市", "Ube City"), "tono": ("遠野市", "Tono City"),
         "yawata": ("八幡市", "Yawata City"), "ibusuki": ("指宿市", "Ibusuki City"),
         "misato": ("美里町", "Misato Town")}
LOANS = ("loan-yamaguchi", "loan-tohoku", "loan-kyoto", "loan-kagoshima", "loan-saitama")
LENDERS = ("山口銀行", "東北銀行", "京都銀行", "鹿児島銀行", "埼玉りそな銀行", "Yamaguchi Bank",
           "Tohoku Bank", "Bank of Kyoto", "Kagoshima Bank", "Saitama Resona Bank")
USERS = [("twr", "intermediary", None), ("fo-yawata", "finance_officer", "yawata"),
         ("fo-ube", "finance_officer", "ube"), ("fo-other", "finance_officer", "nowhere-town"),
         ("bank", "lender", "yamaguchi-bank"), ("aud", "auditor", None)]
CONTRACT_WIDE = {"payments_by_year", "loans", "lenders", "fixed_fees_unpaid", "classes",
                 "public_cost"}


@pytest.fixture
def api(demo_story, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    from api.settings import get_settings
    path = tmp_path / "demo.db"
    with closing(sqlite3.connect(demo_story[0].split("///", 1)[1])) as source, \
            closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    url = f"sqlite:///{path}"
    with unit_of_work(url) as session:
        tokens = {}
        for name, role, scope in USERS:
            add_user(session, name, role, scope)
            tokens[name] = create_token(session, name, 1)
    monkeypatch.setenv("SIB_OUT_DIR", str(tmp_path / "out"))
    get_settings.cache_clear()
    try:
        with TestClient(create_app(url)) as client:
            yield url, client, tokens
    finally:
        get_settings.cache_clear()


def _headers(tokens: dict[str, str], who: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _body(**fields: Any) -> dict[str, Any]:
    return {"example": C, "runs": 300, "seed": 3, "batch_size": 100, **fields}


def _wait(url: str, job_id: int) -> jobs.JobView:
    deadline = time.monotonic() + 120
    while True:
        with unit_of_work(url) as session:
            view = jobs.get_job(session, job_id)
        if view.finished:
            return view
        assert time.monotonic() < deadline, "the simulation did not finish"
        time.sleep(0.1)


def _start(url: str, client: TestClient, tokens: dict[str, str], who: str, key: str,
           **fields: Any) -> int:
    answer = client.post(f"/contracts/{C}/simulation-jobs", json=_body(**fields),
                         headers=_headers(tokens, who, key))
    assert answer.status_code == 202, answer.text
    job_id = int(answer.json()["id"])
    assert _wait(url, job_id).state == "done"
    return job_id


def _problems(answer: Any) -> set[tuple[str, str | None]]:
    return {(p["code"], p.get("field")) for p in answer.json()["errors"]}


# --------------------------------------------------------------------------- start, follow, read

def test_a_simulation_job_started_over_http_answers_the_direct_runs_summary(api):
    """200 runs in one batch: the job's summary is the synchronous endpoint's answer for the
    same runs, seed and first year (one batch is the direct run, to the byte). The start is
    a write: 202 with the job, replayed for the same key, refused for the same key with
    another body, audited."""
    url, client, tokens = api
    body = _body(runs=200, batch_size=200, seed=11)
    path = f"/contracts/{C}/simulation-jobs"
    started = client.post(path, json=body, headers=_headers(tokens, "twr", "sim-1"))
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["kind"], job["units_total"], job["tasks_total"]) == (SIMULATION, 200, 1)
    assert job["state"] in ("queued", "running", "done") and job["summary"] is None
    assert "assumptions" not in job["params"] and "out" not in job["params"]
    assert job["params"]["source"] == f"examples/simulations/{C}.yaml"
    assert job["scope"] == {"payers": list(PAYERS), "whole": True}
    replay = client.post(path, json=body, headers=_headers(tokens, "twr", "sim-1"))
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["id"] == job["id"]
    other = client.post(path, json=body | {"seed": 12}, headers=_headers(tokens, "twr", "sim-1"))
    assert other.status_code == 409 and _problems(other) == {("IDEMPOTENCY_CONFLICT",
                                                              "Idempotency-Key")}

    assert _wait(url, job["id"]).state == "done"
    read = client.get(f"{path}/{job['id']}", headers=_headers(tokens, "twr"))
    assert read.status_code == 200, read.text
    done = read.json()
    assert (done["state"], done["units_done"], done["percent"]) == ("done", 200, 100)
    example = EXAMPLE.read_text(encoding="utf-8")
    direct = client.post(f"/contracts/{C}/simulations", headers=_headers(tokens, "twr"),
                         json={"assumptions": example, "runs": 200, "seed": 11})
    assert direct.status_code == 200, direct.text
    assert done["summary"] == direct.json()
    ube = done["summary"]["payers"][0]
    assert ube["authorisation"] == {"amount": "122000000", "currency": "JPY"}

    audit = client.get("/audit", params={"limit": 500}, headers=_headers(tokens, "aud")).json()
    # The start, and the refused reuse of its key, are in the audit log.
    assert sorted(a["status"] for a in audit["items"] if a["idempotency_key"] == "sim-1") == [
        202, 409]
    assert ("job.simulation", 202) in {(a["action"], a["status"]) for a in audit["items"]}


def test_bad_input_is_refused_naming_the_field_and_nothing_is_queued(api):
    url, client, tokens = api
    path = f"/contracts/{C}/simulation-jobs"

    def refused(body: dict[str, Any], key: str = "bad") -> set[tuple[str, str | None]]:
        answer = client.post(path, json=body, headers=_headers(tokens, "twr", key))
        assert answer.status_code == 422, answer.text
        return _problems(answer)

    assert refused(_body(runs=0)) == {("JOB_PARAMS_INVALID", "runs")}
    assert refused(_body(runs=1_000_001)) == {("JOB_PARAMS_INVALID", "runs")}
    assert refused(_body(seed=-1)) == {("JOB_PARAMS_INVALID", "seed")}
    assert refused(_body(batch_size=0)) == {("JOB_PARAMS_INVALID", "batch_size")}
    assert refused(_body(from_fiscal_year=2030)) == {("JOB_PARAMS_INVALID",
                                                      "from_fiscal_year")}
    assert refused(_body(example="../../contracts/examples/sib-2019-five-municipalities")) == {
        ("EXAMPLE_NOT_FOUND", "example")}
    assert refused({"runs": 10}) == {("ASSUMPTIONS_MISSING", "assumptions")}
    assert refused(_body(assumptions="kpis: {}")) == {("ASSUMPTIONS_MISSING", "assumptions")}
    assert ("YAML_INVALID", None) in {(code, None) for code, _ in refused(
        {"assumptions": "kpis: [unclosed", "runs": 10})}
    bad_kpi = f"contract: {C}\nkpis:\n  no-such-kpi: {{final: {{}}}}\n"
    problems = refused({"assumptions": bad_kpi, "runs": 10})
    assert any(code == "KPI_NOT_FOUND" and "no-such-kpi" in (field or "")
               for code, field in problems), problems
    assert refused(_body(runs="many")) == {("INT_PARSING", "runs")}
    no_key = client.post(path, json=_body(), headers=_headers(tokens, "twr"))
    assert no_key.status_code == 422 and _problems(no_key) == {("IDEMPOTENCY_KEY_REQUIRED",
                                                                "Idempotency-Key")}
    with unit_of_work(url) as session:
        assert jobs.list_jobs(session, SIMULATION)[1] == 0


# --------------------------------------------------------------------------- who sees what

def test_a_finance_officer_reads_its_own_payers_figures_only(api):
    """Yawata's officer (not the lead payer) starts a simulation and reads it: its own payer
    only, the same figures as the intermediary's for Yawata, and nothing contract-wide. Ube's
    (the lead payer, granted every payer's view) reads every payer but nothing contract-wide.
    A finance officer of no payer of the contract gets 404; a bank 403."""
    url, client, tokens = api
    job_id = _start(url, client, tokens, "fo-yawata", "fo-1")
    path = f"/contracts/{C}/simulation-jobs/{job_id}"
    whole = client.get(path, headers=_headers(tokens, "twr")).json()
    mine = client.get(path, headers=_headers(tokens, "fo-yawata")).json()
    assert mine["scope"] == {"payers": ["yawata"], "whole": False}
    assert [p["payer"] for p in mine["summary"]["payers"]] == ["yawata"]
    assert mine["summary"]["payers"][0] == whole["summary"]["payers"][2]
    assert CONTRACT_WIDE.isdisjoint(mine["summary"]) and set(whole["summary"]) >= CONTRACT_WIDE
    assert all(set(plan["receipts_on"]) == {"yawata"} for plan in mine["summary"]["plans"])
    text = json.dumps(mine, ensure_ascii=False)
    for other in ("ube", "tono", "ibusuki", "misato", "loan-", "bank", "citizen-units"):
        assert other not in text, other
    # The summary is the job's, cut (money as the synchronous endpoint writes it).
    with unit_of_work(url) as session:
        summary, _ = job_summary(session, simulation_job(session, job_id))
    assert whole["summary"] == as_json(summary, "JPY")

    lead = client.get(path, headers=_headers(tokens, "fo-ube")).json()
    assert [p["payer"] for p in lead["summary"]["payers"]] == list(PAYERS)
    assert CONTRACT_WIDE.isdisjoint(lead["summary"])

    for who, status in (("fo-other", 404), ("bank", 403)):
        for suffix in ("", "/report.pdf", "/report.xlsx"):
            answer = client.get(path + suffix, headers=_headers(tokens, who))
            assert answer.status_code == status, (who, suffix, answer.text)
        start = client.post(f"/contracts/{C}/simulation-jobs", json=_body(),
                            headers=_headers(tokens, who, f"{who}-start"))
        assert start.status_code == status, start.text
    # The auditor reads everything but starts nothing.
    assert client.get(path, headers=_headers(tokens, "aud")).json()["scope"]["whole"] is True
    refused = client.post(f"/contracts/{C}/simulation-jobs", json=_body(),
                          headers=_headers(tokens, "aud", "aud-start"))
    assert refused.status_code == 403
    # A job is read under its own contract's path only.
    assert client.get(f"/contracts/no-such-contract/simulation-jobs/{job_id}",
                      headers=_headers(tokens, "twr")).status_code == 404
    not_a_simulation = client.get(f"/contracts/{C}/simulation-jobs/999999",
                                  headers=_headers(tokens, "twr"))
    assert not_a_simulation.status_code == 404


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def _xlsx_text(data: bytes) -> str:
    book = load_workbook(BytesIO(data), read_only=True)
    cells = [str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
             for v in row if v is not None]
    return "\n".join([*book.sheetnames, *cells])


def test_a_finance_officers_pdf_and_workbook_hold_its_payer_only(api):
    """300 runs in three batches. Yawata's officer gets a PDF (both languages) and a workbook
    with Yawata's figures and no other payer's name, no loan and no lender; the intermediary
    gets the report as it always was (the unscoped render, to the byte). The same job and
    scope give the same bytes again, through the API and the portal's route alike."""
    url, client, tokens = api
    job_id = _start(url, client, tokens, "twr", "files-1")
    path = f"/contracts/{C}/simulation-jobs/{job_id}"
    with unit_of_work(url) as session:
        view = simulation_job(session, job_id)
        summary, contract = job_summary(session, view)
        scenarios = merged_simulation(session, view)
    yawata = Scope(frozenset({"yawata"}), whole=False)

    for lang, own in (("ja", NAMES["yawata"][0]), ("en", NAMES["yawata"][1])):
        pdf = client.get(f"{path}/report.pdf", params={"lang": lang},
                         headers=_headers(tokens, "fo-yawata"))
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == render(summary, contract, lang, yawata)
        text = _pdf_text(pdf.content)
        assert own in text
        others = [NAMES[p][0 if lang == "ja" else 1] for p in PAYERS if p != "yawata"]
        for word in (*others, *LOANS, *LENDERS):
            assert word not in text, (lang, word)
        assert ("借入金の返済" if lang == "ja" else "Loans: debt service") not in text
        # The year's figures are Yawata's: its FY2021 median, in 円 or JPY.
        from investors.formatting import format_amount
        fy2021 = next(p for p in summary["payers"] if p["payer"] == "yawata")["years"][2]
        assert format_amount(fy2021["due"]["p50"], "JPY", lang) in text

        whole = client.get(f"{path}/report.pdf", params={"lang": lang},
                           headers=_headers(tokens, "twr"))
        assert whole.content == render(summary, contract, lang)  # unchanged
        assert all(NAMES[p][0 if lang == "ja" else 1] in _pdf_text(whole.content)
                   for p in PAYERS)

    xlsx = client.get(f"{path}/report.xlsx", headers=_headers(tokens, "fo-yawata"))
    assert xlsx.status_code == 200
    assert xlsx.content == write(summary, scenarios, "ja", yawata)
    cells = _xlsx_text(xlsx.content)
    assert "yawata" in cells and "yawata FY2021" in cells
    assert not re.search(r"\b(ube|tono|ibusuki|misato)\b", cells), cells[:500]
    assert "loan" not in cells.lower() and "citizen-units" not in cells
    whole = client.get(f"{path}/report.xlsx", headers=_headers(tokens, "twr"))
    assert whole.content == write(summary, scenarios, "ja")
    assert "loan-yamaguchi" in _xlsx_text(whole.content)

    again = client.get(f"{path}/report.xlsx", headers=_headers(tokens, "fo-yawata"))
    assert again.content == xlsx.content  # the same seed and scope: the same bytes
    # A job not done has no report yet (queued for a command, which the service's thread
    # leaves alone).
    from api.job_simulation import start_simulation
    with unit_of_work(url) as session:
        waiting = start_simulation(session, C, EXAMPLE.read_text(encoding="utf-8"),
                                   "example.yaml", 5, 99, "twr", queue=jobs.INLINE_QUEUE)
    early = client.get(f"/contracts/{C}/simulation-jobs/{waiting.id}/report.pdf",
                       headers=_headers(tokens, "twr"))
    assert early.status_code == 409 and _problems(early) == {("JOB_NOT_DONE", "job")}
    progress = client.get(f"/contracts/{C}/simulation-jobs/{waiting.id}",
                          headers=_headers(tokens, "fo-yawata")).json()
    assert (progress["state"], progress["units_done"], progress["summary"]) == ("queued", 0,
                                                                                None)
