"""One-time sign-in links and what each kind of token authenticates (issue 15, the reviewer's
finding). A link is consumed by the sign-in it opens whatever the form says (the stored
token's purpose decides, not a ``one_time`` field), in the same transaction as the session;
used again it is refused like an unknown code and counted against the address. A link — and a
portal session — signs no command line act (``TOKEN_INVALID``) and is no bearer token of the
API (401); the portal's cookie holds a portal session and nothing else. A new password revokes
the user's unused links with its sessions, not its API tokens."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session, col
from typer.testing import CliRunner

from api import db
from api.cli import app as cli_app
from api.db import get_engine, unit_of_work
from api.main import create_app
from api.portal.auth import link_token
from api.settings import get_settings
from api.tables import ApiToken, AuditRecord
from api.users import (
    PORTAL_LINK,
    PORTAL_SESSION,
    add_user,
    consume_link,
    create_token,
    list_tokens,
    set_password,
    token_caller,
    user_for_token,
)
from settlement.tables import KpiResult

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
GOOD = "Kawara-machi 3-chome, 2019"  # 25 characters, no user name in it


@pytest.fixture
def portal(db_url):  # noqa: ANN001, ANN201
    with unit_of_work(db_url) as session:
        add_user(session, "fo-ube", "finance_officer", "ube")
    return create_app(db_url), db_url


def _client(app) -> TestClient:  # noqa: ANN001
    return TestClient(app, base_url="https://portal.test")


def _post_code(client: TestClient, code: str, **extra: str):  # noqa: ANN202
    """The sign-in form posted with ``code`` (and nothing saying it is a one-time link unless
    ``extra`` does), after fetching the page for its pre-session CSRF cookie."""
    client.get("/portal/signin")
    return client.post("/portal/signin", data={"csrf": str(client.cookies.get("sib_pre")),
                                               "code": code, **extra},
                       follow_redirects=False)


def _signed_in(client: TestClient) -> bool:
    """Whether the client's cookie opens a portal page (else it is sent to sign in; the
    page itself is a 404 here, the database having no contract)."""
    page = client.get("/portal/payer", follow_redirects=False)
    return not (page.status_code == 303
                and page.headers["location"].startswith("/portal/signin"))


def _states(url: str, username: str) -> dict[str, str]:
    with unit_of_work(url) as s:
        purposes = {t.id: t.purpose for t in s.scalars(select(ApiToken))}
        return {f"{purposes[t.id]}#{t.id}": t.state for t in list_tokens(s, username)}


def test_a_link_posted_as_a_code_without_one_time_signs_in_once_then_is_refused(portal):
    """The reviewer's attack: the link's token typed into the code field (no ``one_time``)."""
    app, url = portal
    with unit_of_work(url) as s:
        link = link_token(s, "fo-ube")
    first = _client(app)
    answer = _post_code(first, link)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/payer"
    assert _signed_in(first)
    # Link id 1 revoked by its use, session id 2 open.
    assert _states(url, "fo-ube") == {"portal_link#1": "revoked", "portal_session#2": "active"}
    with unit_of_work(url) as s:
        how = [a.detail for a in s.scalars(select(AuditRecord).where(
            col(AuditRecord.action) == "portal.signin"))]
    assert how == ["one-time link"]

    # Used again, with or without the field, it is refused like a code nobody issued.
    for extra in ({}, {"one_time": "1"}, {"one_time": ""}):
        again = _post_code(_client(app), link, **extra)
        assert again.status_code == 403 and "SIGN_IN_REFUSED" in again.text
    assert _states(url, "fo-ube") == {"portal_link#1": "revoked", "portal_session#2": "active"}


def test_each_reuse_of_a_link_counts_against_the_addresss_limit(portal):
    app, url = portal
    with unit_of_work(url) as s:
        link = link_token(s, "fo-ube")
        api_token = create_token(s, "fo-ube", 1)
    assert _post_code(_client(app), link).status_code == 303
    # The default limit is 10 failures a minute per address (all test clients are
    # "testclient"): ten reuses of the spent link are 10 failures, so the eleventh request —
    # even with a good API token — is refused with 429 before its code is looked at.
    for _ in range(get_settings().auth_failures_per_minute):
        assert _post_code(_client(app), link).status_code == 403
    assert _post_code(_client(app), api_token).status_code == 429


def test_the_link_is_spent_only_if_the_session_is_opened(portal, monkeypatch):
    """Consuming the link and opening the session are one transaction: a failure after the
    link's revocation (here the audit record) leaves the link usable and no session."""
    app, url = portal
    with unit_of_work(url) as s:
        link = link_token(s, "fo-ube")

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("the audit log is unavailable")
    monkeypatch.setattr("api.portal.auth.audit", broken)
    failing = TestClient(app, base_url="https://portal.test", raise_server_exceptions=False)
    assert _post_code(failing, link).status_code == 500
    assert _states(url, "fo-ube") == {"portal_link#1": "active"}
    monkeypatch.undo()
    assert _post_code(_client(app), link).status_code == 303
    assert _states(url, "fo-ube") == {"portal_link#1": "revoked", "portal_session#2": "active"}


def test_a_link_or_a_session_is_no_bearer_token_and_no_cookie_but_its_session(portal):
    app, url = portal
    with unit_of_work(url) as s:
        link, api_token = link_token(s, "fo-ube"), create_token(s, "fo-ube", 1)
        unused_link = link_token(s, "fo-ube")
    client = _client(app)
    assert _post_code(client, link).status_code == 303
    session_token = str(client.cookies.get("sib_session"))
    assert session_token.startswith("sib_")

    def bearer(token: str):  # noqa: ANN202
        return _client(app).get("/contracts", headers={"Authorization": f"Bearer {token}"})
    assert bearer(api_token).status_code == 200
    for token in (unused_link, session_token, link):
        refused = bearer(token)
        assert refused.status_code == 401 and "UNAUTHENTICATED" in refused.text
    # The unused link was not spent by being offered as a bearer token.
    assert _states(url, "fo-ube")["portal_link#3"] == "active"

    # The cookie opens the portal only with a session in it: not a link, not an API token.
    for token in (unused_link, api_token):
        other = _client(app)
        other.cookies.set("sib_session", token)
        assert not _signed_in(other)
    assert _signed_in(client)
    # Nor is a session a sign-in code (it would open sessions from a stolen cookie).
    assert _post_code(_client(app), session_token).status_code == 403
    assert _states(url, "fo-ube")["portal_link#3"] == "active"


def test_only_an_api_token_names_its_user(portal):
    """user_for_token, what signs a command line act, reads API tokens only."""
    _, url = portal
    with unit_of_work(url) as s:
        api_token = create_token(s, "fo-ube", 1)
        link = link_token(s, "fo-ube")
        session_token = create_token(s, "fo-ube", 1, purpose=PORTAL_SESSION)
    with unit_of_work(url) as s:
        found = user_for_token(s, api_token)
        assert found is not None and found.username == "fo-ube"
        assert user_for_token(s, link) is None
        assert user_for_token(s, session_token) is None
        assert token_caller(s, link) == (None, "unknown")
        caller, state = token_caller(s, link, purposes=(PORTAL_LINK,))
        assert caller is not None and (caller.token_purpose, state) == (PORTAL_LINK, "active")


@pytest.fixture
def cli_db(db_url, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(cli_app, ["contract", "load", str(FIVE)]).exit_code == 0
    assert runner.invoke(cli_app, ["user", "add", "kuno-lab", "--role", "evaluator",
                                   "--scope", "tsukuba-kuno-lab"]).exit_code == 0
    yield runner, db_url
    get_settings.cache_clear()
    db._engines.pop(db_url).dispose() if db_url in db._engines else None


def test_a_link_or_a_portal_session_cannot_sign_a_command_line_act(cli_db):
    runner, url = cli_db
    made = runner.invoke(cli_app, ["portal", "link", "kuno-lab", "--base-url",
                                   "https://portal.test"])
    assert made.exit_code == 0, made.output
    link = made.stdout.strip().rsplit("/", 1)[1]
    with unit_of_work(url) as s:
        session_token = create_token(s, "kuno-lab", 1, purpose=PORTAL_SESSION)
        api_token = create_token(s, "kuno-lab", 1)
    submit = ["kpi", "submit", "-c", C, "-y", "2019", "--kpi", "participants", "--value",
              "7000", "--by", "kuno-lab", "--token"]
    for token in (link, session_token):
        refused = runner.invoke(cli_app, [*submit, token])
        assert refused.exit_code == 1 and "TOKEN_INVALID" in refused.output, refused.output
    with unit_of_work(url) as s:
        assert list(s.scalars(select(KpiResult))) == []  # nothing written
    assert _states(url, "kuno-lab")["portal_link#1"] == "active"  # nor the link spent
    signed = runner.invoke(cli_app, [*submit, api_token, "--json"])
    assert signed.exit_code == 0, signed.output
    with unit_of_work(url) as s:
        assert len(list(s.scalars(select(KpiResult)))) == 1


def test_a_new_password_revokes_the_users_unused_links_not_its_api_tokens(portal):
    app, url = portal
    with unit_of_work(url) as s:
        add_user(s, "fo-tono", "finance_officer", "tono")
        link, api_token = link_token(s, "fo-ube"), create_token(s, "fo-ube", 30)
        tono_link = link_token(s, "fo-tono")
    with unit_of_work(url) as s:
        assert set_password(s, "fo-ube", GOOD) == 0  # no session was open; the link ends
    refused = _post_code(_client(app), link)
    assert refused.status_code == 403 and "SIGN_IN_REFUSED" in refused.text
    assert _states(url, "fo-ube") == {"portal_link#1": "revoked", "api#2": "active"}
    assert _post_code(_client(app), api_token).status_code == 303
    assert _post_code(_client(app), tono_link).status_code == 303  # another user's is intact


def test_consuming_a_link_twice_succeeds_once(portal):
    _, url = portal
    with unit_of_work(url) as s:
        link = link_token(s, "fo-ube")
    with unit_of_work(url) as s:
        caller, _ = token_caller(s, link, purposes=(PORTAL_LINK,))
        assert caller is not None
        assert consume_link(s, caller) is True
        assert consume_link(s, caller) is False
    with unit_of_work(url) as s:
        api_caller, _ = token_caller(s, create_token(s, "fo-ube", 1))
        assert api_caller is not None and consume_link(s, api_caller) is False  # not a link


@pytest.mark.postgres
def test_two_sign_ins_racing_with_one_link_spend_it_once_on_postgresql(own_pg_url):
    """Both read the link as active; the first revokes it and holds the row; the second's
    conditional UPDATE waits for it, re-reads the committed row and changes nothing."""
    with unit_of_work(own_pg_url) as s:
        add_user(s, "fo-tono", "finance_officer", "tono")
        link = link_token(s, "fo-tono")
    engine = get_engine(own_pg_url)
    first, second = Session(engine), Session(engine)
    try:
        a, state_a = token_caller(first, link, purposes=(PORTAL_LINK,))
        b, state_b = token_caller(second, link, purposes=(PORTAL_LINK,))
        assert a is not None and b is not None and state_a == state_b == "active"
        assert consume_link(first, a) is True
        outcome: list[bool] = []
        racer = threading.Thread(target=lambda: outcome.append(consume_link(second, b)))
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # waiting on the first one's row lock
        first.commit()
        racer.join(10)
        assert outcome == [False]
        second.commit()
    finally:
        first.close()
        second.close()
    with unit_of_work(own_pg_url) as s:
        assert [t.state for t in list_tokens(s, "fo-tono")] == ["revoked"]
