"""The portal's outcome simulation (issues 15 and 16) without a browser: the form (labels,
CSRF), the job it starts (run by the service's own thread on SQLite), the figures shown as
the PDF shows them, and the API's scoping — a finance office sees its own payer's figures
only, in the page and in its PDF and workbook, a bank or an investor not the page at all.

The story: a copy of the demo's books (five years audited and settled), the contract's example
simulation file from FY2021 on, so FY2019–FY2020 are its audited history."""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing

import pytest
from fastapi.testclient import TestClient

from api import jobs
from api.db import unit_of_work
from api.job_simulation import SIMULATION, job_summary, simulation_job
from api.main import create_app
from api.users import add_user, create_token
from investors.formatting import format_amount, format_rate

C = "sib-2019-five-municipalities"
# Yawata's finance office: not the lead payer, so it sees its own payer only (Ube, the lead,
# reads every payer's where the contract grants it: tests/test_lead_payer_view.py).
USERS = [("twr", "intermediary", None), ("fo-yawata", "finance_officer", "yawata"),
         ("bank", "lender", "yamaguchi-bank"), ("inv", "investor", "citizen-001"),
         ("aud", "auditor", None)]


@pytest.fixture
def portal(demo_story, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
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
        yield url, tokens
    finally:
        get_settings.cache_clear()


def _client(url: str, tokens: dict[str, str], username: str) -> TestClient:
    client = TestClient(create_app(url), base_url="https://portal.test")
    client.get("/portal/signin")
    answer = client.post("/portal/signin", data={"csrf": client.cookies.get("sib_pre"),
                                                 "code": tokens[username],
                                                 "username": username},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)


def _wait(url: str, job_id: int) -> jobs.JobView:
    deadline = time.monotonic() + 120
    while True:
        with unit_of_work(url) as session:
            view = jobs.get_job(session, job_id)
        if view.finished:
            return view
        assert time.monotonic() < deadline, "the simulation did not finish"
        time.sleep(0.1)


def _form(csrf: str | None, **fields: str) -> dict[str, str]:
    data = {"contract": C, "form_key": "k1", "runs": "300", "seed": "3", "from_year": "",
            "batch_size": "100", "source": "example", **fields}
    if csrf is not None:
        data["csrf"] = csrf
    return data


def test_the_form_has_a_label_for_every_input_and_refuses_without_its_token(portal):
    url, tokens = portal
    client = _client(url, tokens, "twr")
    page = client.get(f"/portal/simulation?contract={C}")
    assert page.status_code == 200
    assert 'id="nav-simulation"' in page.text  # linked from the navigation
    ids = re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', page.text)
    assert {"source-example", "source-upload", "sim-file", "sim-runs", "sim-seed", "sim-from",
            "sim-batch"} <= set(ids)
    for input_id in ids:
        assert f'<label for="{input_id}"' in page.text, input_id
    refused = client.post("/portal/simulation", data=_form(None))
    assert refused.status_code == 403 and "CSRF_REFUSED" in refused.text
    forged = client.post("/portal/simulation", data=_form("0" * 64))
    assert forged.status_code == 403
    with unit_of_work(url) as session:
        assert jobs.list_jobs(session, SIMULATION)[1] == 0  # nothing started


def test_a_simulation_started_on_the_page_shows_the_pdfs_figures(portal):
    """300 runs in three batches of 100, started from the form and run by the service's
    own thread: the page shows each payer's fan chart and table, the loans' shortfalls, the
    IRR histogram and P(capital loss), in 円 with commas and 和暦 — the summary's figures."""
    url, tokens = portal
    client = _client(url, tokens, "twr")
    csrf = _csrf(client.get(f"/portal/simulation?contract={C}").text)
    started = client.post("/portal/simulation", data=_form(csrf), follow_redirects=False)
    assert started.status_code == 303, started.text
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    again = client.post("/portal/simulation", data=_form(csrf), follow_redirects=False)
    assert again.headers["location"] == started.headers["location"]  # the same form: one job
    view = _wait(url, job_id)
    assert view.state == "done", view.error
    assert (view.tasks_total, view.units_done) == (3, 300)

    page = client.get(started.headers["location"])
    assert page.status_code == 200
    html = page.text
    assert 'data-state="done"' in html and 'http-equiv="refresh"' not in html
    with unit_of_work(url) as session:
        summary, _ = job_summary(session, simulation_job(session, job_id))
    assert summary["runs"] == 300 and summary["from_fiscal_year"] == 2021
    ube = next(p for p in summary["payers"] if p["payer"] == "ube")
    fy2021 = ube["years"][2]
    assert format_amount(fy2021["due"]["p50"], "JPY", "ja") in html  # e.g. 12,345,678円
    assert format_amount(ube["authorisation"], "JPY", "ja") == "122,000,000円"
    assert "122,000,000円" in html
    assert format_rate(__import__("decimal").Decimal(
        fy2021["probability_above_year_limit"]), "ja", 1) in html
    assert "令和3年度" in html  # FY2021 in 和暦
    for payer in ("ube", "tono", "yawata", "ibusuki", "misato"):
        assert f'id="payer-{payer}"' in html
    # A fan per payer, the total's, one per loan ever short (the others are 0.0 % in the
    # table), and the class's IRR histogram.
    short = [ln for ln in summary["loans"] if ln["probability_of_shortfall"] != "0.0000"]
    assert short and html.count("<svg") == 5 + 1 + len(short) + 1
    assert f'id="shortfall-{short[0]["loan"]}"' in html
    assert 'id="irr-citizen-units"' in html and 'id="capital-loss-citizen-units"' in html
    assert "report.pdf?lang=en" in html and "report.xlsx" in html

    pdf = client.get(f"/portal/simulation/jobs/{job_id}/report.pdf?lang=ja")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    from contracts.store import get_contract
    from investors.pdf_simulation import render
    with unit_of_work(url) as session:
        assert pdf.content == render(summary, get_contract(session, C), "ja")
    xlsx = client.get(f"/portal/simulation/jobs/{job_id}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

    client.cookies.set("sib_lang", "en")
    english = client.get(started.headers["location"]).text
    assert "Outcome simulation" in english and "JPY 122,000,000" in english


def test_a_finance_office_sees_its_own_payer_only_and_others_not_at_all(portal):
    url, tokens = portal
    client = _client(url, tokens, "fo-yawata")
    csrf = _csrf(client.get(f"/portal/simulation?contract={C}").text)
    started = client.post("/portal/simulation", data=_form(csrf, runs="50", batch_size="50"),
                          follow_redirects=False)
    assert started.status_code == 303, started.text
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    assert _wait(url, job_id).state == "done"
    html = client.get(started.headers["location"]).text
    assert 'id="payer-yawata"' in html
    assert 'id="payer-tono"' not in html and "遠野市" not in html
    assert 'id="loans"' not in html and 'id="classes"' not in html
    # Its files are cut as the page is: the PDF and workbook of its payer only, the same
    # bytes as the renderers give for that scope (tests/test_simulation_jobs_api.py reads
    # what is in them).
    from contracts.store import get_contract
    from investors.pdf_simulation import render
    from settlement.simulation_scope import Scope
    with unit_of_work(url) as session:
        summary, _ = job_summary(session, simulation_job(session, job_id))
        contract = get_contract(session, C)
    pdf = client.get(f"/portal/simulation/jobs/{job_id}/report.pdf")
    assert pdf.status_code == 200
    assert pdf.content == render(summary, contract, "ja", Scope(frozenset({"yawata"}), False))
    assert pdf.content != render(summary, contract, "ja")
    xlsx = client.get(f"/portal/simulation/jobs/{job_id}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

    # A bank and an investor are refused the page, the job and its files.
    for username in ("bank", "inv"):
        other = _client(url, tokens, username)
        for path in (f"/portal/simulation?contract={C}", f"/portal/simulation/jobs/{job_id}",
                     f"/portal/simulation/jobs/{job_id}/report.pdf"):
            answer = other.get(path)
            assert answer.status_code in (403, 404), (username, path)
        assert 'id="nav-simulation"' not in other.get("/portal/").text
    # The auditor reads the whole simulation but does not start one.
    auditor = _client(url, tokens, "aud")
    assert 'id="payer-tono"' in auditor.get(started.headers["location"]).text
    page = auditor.get(f"/portal/simulation?contract={C}").text
    assert 'id="simulation-form"' not in page
    refused = auditor.post("/portal/simulation", data=_form(_csrf(page), form_key="k2"))
    assert refused.status_code == 403 and "ROLE_FORBIDDEN" in refused.text


def test_a_bad_upload_is_refused_naming_the_field(portal, tmp_path):
    url, tokens = portal
    client = _client(url, tokens, "twr")
    csrf = _csrf(client.get(f"/portal/simulation?contract={C}").text)
    bad = b"contract: sib-2019-five-municipalities\nkpis:\n  no-such-kpi: {final: {}}\n"
    answer = client.post("/portal/simulation", data=_form(csrf, source="upload"),
                         files={"file": ("mine.yaml", bad, "application/yaml")})
    assert answer.status_code == 422, answer.text
    assert "KPI_NOT_FOUND" in answer.text and "no-such-kpi" in answer.text
    with unit_of_work(url) as session:
        assert jobs.list_jobs(session, SIMULATION)[1] == 0
