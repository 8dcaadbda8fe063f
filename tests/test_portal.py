"""The portal without a browser (issue 15): sign-in by one-time link and session cookie,
CSRF, /docs with nothing from outside, and the what-if (the same figures as the preview when
nothing is assumed; a projection writes nothing), also from the command line."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.db import unit_of_work
from api.main import create_app
from api.portal import whatif
from api.portal.auth import link_token
from api.users import add_user, create_token, list_tokens
from ledger.errors import SibError
from settlement import runs

C = "sib-2019-five-municipalities"


@pytest.fixture
def portal(db_url):  # noqa: ANN001, ANN201
    with unit_of_work(db_url) as session:
        add_user(session, "fo-ube", "finance_officer", "ube")
    return TestClient(create_app(db_url), base_url="https://portal.test"), db_url


def _pre(client: TestClient) -> str:
    client.get("/portal/signin")
    return str(client.cookies.get("sib_pre"))


def test_a_one_time_link_signs_in_once_into_a_secure_httponly_lax_session(portal):
    client, url = portal
    with unit_of_work(url) as session:
        link = link_token(session, "fo-ube")
    page = client.get(f"/portal/signin/link/{link}")
    assert page.status_code == 200 and "一度だけ" in page.text  # the link page uses nothing up
    answer = client.post("/portal/signin", data={"csrf": _pre(client), "code": link,
                                                  "one_time": "1"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/payer"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if "sib_session=" in h)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    again = TestClient(client.app, base_url="https://portal.test")
    refused = again.post("/portal/signin", data={"csrf": _pre(again), "code": link,
                                                  "one_time": "1"})
    assert refused.status_code == 403 and "SIGN_IN_REFUSED" in refused.text
    with unit_of_work(url) as session:
        states = [t.state for t in list_tokens(session, "fo-ube")]
    assert sorted(states) == ["active", "revoked"]  # the link used up, the session open


def test_sign_out_needs_the_csrf_token_and_revokes_the_session(portal):
    client, url = portal
    with unit_of_work(url) as session:
        token = create_token(session, "fo-ube", 1)
    client.post("/portal/signin", data={"csrf": _pre(client), "code": token,
                                        "username": "fo-ube"})
    refused = client.post("/portal/signout", data={})
    assert refused.status_code == 403 and "CSRF_REFUSED" in refused.text
    page = client.get("/portal/signin")  # any page carries the session's token in its forms
    session_page = client.get("/portal/lang/ja", follow_redirects=False)
    assert session_page.status_code == 303 and page.status_code == 200
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"',
                     client.get("/portal/payer").text)
    assert csrf is not None
    done = client.post("/portal/signout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert done.status_code == 303
    with unit_of_work(url) as session:
        states = sorted(t.state for t in list_tokens(session, "fo-ube"))
    assert states == ["active", "revoked"]  # the API token kept, the session ended


def test_a_page_without_a_session_sends_to_the_sign_in_and_the_api_still_takes_bearers(portal):
    client, url = portal
    answer = client.get("/portal/payer", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/portal/signin")
    with unit_of_work(url) as session:
        token = create_token(session, "fo-ube", 1)
    assert client.get("/contracts", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200
    assert client.get("/", follow_redirects=False).headers["location"] == "/portal/"


def test_the_docs_load_nothing_from_outside(portal):
    client, _ = portal
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        page = client.get(path)
        assert page.status_code == 200
        assert not re.findall(r"(?:src|href)=[\"']https?://", page.text), path
    script = client.get("/portal/docs-assets/redoc.standalone.js")
    assert script.status_code == 200 and b"cdn.redoc.ly" not in script.content
    assert client.get("/portal/static/docs/swagger-ui-bundle.js").status_code == 200


def test_a_what_if_of_the_audited_values_is_the_preview_and_writes_nothing(demo_story):
    url, _ = demo_story
    with unit_of_work(url) as session:
        preview = runs.preview(session, C, 2023)
        same = whatif.project(session, C, 2023, [])
        lower = whatif.project(session, C, 2023,
                               [whatif.parse_assumption("continuation-rate=50,ube")])
        assert not session.new and not session.dirty
        session.rollback()
    assert {p.payer: p.due_minor for p in same.payers} == \
        {p: t.due_minor for p, t in preview.payers.items()}
    assert lower.payers[0].payer == "ube"
    dues = {p.payer: p.due_minor for p in lower.payers}
    assert dues["ube"] < preview.payers["ube"].due_minor
    assert dues["tono"] == preview.payers["tono"].due_minor
    assert lower.debt_service_funded_minor == min(lower.due_minor, lower.debt_service_due_minor)


@pytest.mark.parametrize("text", ["continuation-rate", "=5", "kpi=abc", "kpi=NaN"])
def test_an_assumption_that_is_not_kpi_equals_a_number_is_refused(text):
    with pytest.raises(SibError) as refused:
        whatif.parse_assumption(text)
    assert refused.value.code == whatif.ASSUMPTION_INVALID


def test_sib_settle_preview_assume_prints_a_projection(demo_story, monkeypatch):
    from api.cli import app
    from api.settings import get_settings
    monkeypatch.setenv("DATABASE_URL", demo_story[0])
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["settle", "-c", C, "-y", "2023", "--preview",
                                          "--assume", "continuation-rate=50,ube", "--json"])
        refused = CliRunner().invoke(app, ["settle", "-c", C, "-y", "2023", "--assume",
                                           "continuation-rate=50,ube"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["projection"] is True and data["assumptions"] == ["continuation-rate=50,ube"]
    assert set(data["budget"]["ube"]) == {"authorised", "due", "headroom"}
    assert refused.exit_code == 1


def test_dates_on_japanese_pages_are_wareki():
    from api.portal import text
    assert text.day(date(2019, 5, 1), "ja") == "令和元年5月1日"
    assert text.yen(1234567, "ja") == "1,234,567円"
