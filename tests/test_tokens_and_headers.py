"""Tokens, security headers and failed authentication (issue 14, item 7), the defects
reproduced and fixed: "Tokens never expire and cannot be revoked"; "no security headers, no
rate limit on failed authentication".
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.main import create_app
from api.security import FailedAuthLimiter
from api.settings import get_settings
from api.users import add_user, create_token, list_tokens, revoke_token
from ledger.errors import SibError
from ledger.service import utc_now

runner = CliRunner()


@pytest.fixture
def client(db_url):
    with db.unit_of_work(db_url) as s:
        add_user(s, "aud", "auditor")
        token = create_token(s, "aud")
    with TestClient(create_app(db_url)) as c:
        c.token = token
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_expires_after_its_lifetime(db_url, client):
    with db.unit_of_work(db_url) as s:
        old = create_token(s, "aud", 90, now=utc_now() - timedelta(days=91))
        [_, row] = list_tokens(s, "aud")
        assert row.expires_at - row.created_at == timedelta(days=90)
        assert row.state == "expired"
        with pytest.raises(SibError) as too_long:
            create_token(s, "aud", 100_000)
    assert too_long.value.code == "TOKEN_LIFETIME_INVALID"
    expired = client.get("/contracts", headers=bearer(old))
    assert expired.status_code == 401 and expired.json()["code"] == "TOKEN_EXPIRED"
    assert client.get("/contracts", headers=bearer(client.token)).status_code == 200


def test_a_new_tokens_lifetime_comes_from_the_settings(db_url, monkeypatch):
    monkeypatch.setenv("SIB_TOKEN_LIFETIME_DAYS", "7")
    get_settings.cache_clear()
    try:
        with db.unit_of_work(db_url) as s:
            add_user(s, "ana", "intermediary")
            create_token(s, "ana")
            [row] = list_tokens(s, "ana")
    finally:
        get_settings.cache_clear()
    assert row.expires_at - row.created_at == timedelta(days=7)


def test_a_revoked_token_is_refused_and_its_last_use_is_recorded(db_url, client):
    assert client.get("/contracts", headers=bearer(client.token)).status_code == 200
    with db.unit_of_work(db_url) as s:
        [row] = list_tokens(s, "aud")
        assert row.last_used_at is not None and row.state == "active"
        revoked = revoke_token(s, row.prefix)
        assert revoked.state == "revoked"
        assert revoke_token(s, str(row.id)).revoked_at == revoked.revoked_at  # once
    refused = client.get("/contracts", headers=bearer(client.token))
    assert refused.status_code == 401 and refused.json()["code"] == "TOKEN_REVOKED"


def test_sib_token_list_and_revoke(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    argv = sys.argv
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        assert runner.invoke(app, ["user", "add", "ana", "--role", "intermediary"]).exit_code == 0
        token = runner.invoke(app, ["token", "create", "ana", "--days", "30"]).stdout.strip()
        listed = json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout)
        assert [(t["username"], t["prefix"], t["state"], t["last_used_at"]) for t in listed] == [
            ("ana", token[:12], "active", None)]
        assert token not in json.dumps(listed)  # never the token itself
        sys.argv = ["sib", "token", "revoke", token[:12]]
        revoked = runner.invoke(app, ["token", "revoke", token[:12]])
        assert revoked.exit_code == 0 and "revoked" in revoked.stdout
        listed = json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout)
        assert listed[0]["state"] == "revoked"
        unknown = runner.invoke(app, ["token", "revoke", "sib_nothing"])
        assert unknown.exit_code == 1 and "TOKEN_NOT_FOUND" in unknown.output
    finally:
        sys.argv = argv
        get_settings.cache_clear()
        db._engines.pop(url).dispose() if url in db._engines else None


SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
            "content-security-policy": "frame-ancestors 'none'",
            "referrer-policy": "no-referrer"}


def test_every_response_carries_the_security_headers(client):
    responses = [client.get("/health"), client.get("/contracts", headers=bearer(client.token)),
                 client.get("/contracts"), client.get("/no-such-page"),
                 client.post("/ledger/books", headers=bearer(client.token), json={}),
                 client.get("/docs")]
    for response in responses:
        assert {k: response.headers.get(k) for k in SECURITY} == SECURITY, response.url
    for response in responses[:-1]:  # the API is never cached; the docs page may be
        assert response.headers["cache-control"] == "no-store", response.url


def test_failed_authentication_is_limited_per_address(db_url):
    now = [0.0]
    app_ = create_app(db_url)
    app_.state.auth_limiter = FailedAuthLimiter(3, 60, clock=lambda: now[0])
    with db.unit_of_work(db_url) as s:
        add_user(s, "aud", "auditor")
        token = create_token(s, "aud")
    with TestClient(app_) as client:
        for guess in range(3):
            wrong = client.get("/contracts", headers=bearer(f"sib_guess{guess}"))
            assert wrong.status_code == 401 and wrong.json()["code"] == "UNAUTHENTICATED"
        # Over the limit: refused for the minute, even with a valid token.
        limited = client.get("/contracts", headers=bearer(token))
        assert limited.status_code == 429 and limited.json()["code"] == "AUTH_RATE_LIMITED"
        assert limited.headers["retry-after"] == "61"
        now[0] = 61.0
        assert client.get("/contracts", headers=bearer(token)).status_code == 200
        # A request without a token is no guess and is not counted.
        for _ in range(5):
            assert client.get("/contracts").status_code == 401
        assert client.get("/contracts", headers=bearer(token)).status_code == 200


def test_a_refused_body_and_an_internal_error_carry_them_too(db_url):
    app_ = create_app(db_url)

    @app_.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")
    with TestClient(app_, raise_server_exceptions=False) as client:
        too_large = client.post("/ledger/books", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                                headers={"Content-Type": "application/json"})
        failed = client.get("/boom")
    assert too_large.status_code == 413 and failed.status_code == 500
    for response in (too_large, failed):
        assert {k: response.headers.get(k) for k in SECURITY} == SECURITY
        assert response.headers["cache-control"] == "no-store"


@pytest.mark.postgres
def test_on_postgresql_a_tokens_use_is_recorded_and_its_expiry_enforced(pg_url):
    import uuid
    name = f"aud-{uuid.uuid4().hex[:8]}"
    with db.unit_of_work(pg_url) as s:
        add_user(s, name, "auditor")
        token = create_token(s, name)
        expired = create_token(s, name, 1, now=utc_now() - timedelta(days=2))
    with TestClient(create_app(pg_url)) as client:
        assert client.get("/contracts", headers=bearer(token)).status_code == 200
        refused = client.get("/contracts", headers=bearer(expired))
    assert refused.status_code == 401 and refused.json()["code"] == "TOKEN_EXPIRED"
    with db.unit_of_work(pg_url) as s:
        used = {t.prefix: t.last_used_at for t in list_tokens(s, name)}
    assert used[token[:12]] is not None and used[expired[:12]] is None
