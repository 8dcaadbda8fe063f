"""Portal passwords (issue 15, item 1): set by ``sib user password`` or by an administrator in
the portal, stored as a salted scrypt key (N = 2^15, r = 8, p = 3, 16-byte salt, 32-byte key),
compared in constant time; at least 12 characters and never containing the user name; a
sign-in by user name and password beside the one-time link and the token; failed sign-ins
counted against the address and, for a user who exists, in the audit log; a new password ends
the user's portal sessions (not its API tokens)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db import unit_of_work
from api.main import create_app
from api.portal.auth import link_token
from api.settings import get_settings
from api.tables import ApiToken, AuditRecord, IdempotentResponse, User
from api.users import (
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    add_user,
    create_token,
    hash_password,
    list_tokens,
    password_matches,
    set_password,
)
from ledger.errors import SibError

ROOT = Path(__file__).resolve().parent.parent
GOOD = "Kawara-machi 3-chome, 2019"  # 25 characters, no user name in it


@pytest.fixture
def portal(db_url):  # noqa: ANN001, ANN201
    with unit_of_work(db_url) as session:
        add_user(session, "fo-ube", "finance_officer", "ube")
        add_user(session, "root", "admin")
    return TestClient(create_app(db_url), base_url="https://portal.test"), db_url


def _pre(client: TestClient) -> str:
    client.get("/portal/signin")
    return str(client.cookies.get("sib_pre"))


def _sign_in(client: TestClient, username: str, secret: str) -> object:
    return client.post("/portal/signin", data={"csrf": _pre(client), "username": username,
                                               "code": secret}, follow_redirects=False)


def _csrf(client: TestClient, page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', client.get(page).text)
    assert found is not None
    return found.group(1)


def _codes(call: object) -> list[tuple[str, str]]:
    with pytest.raises(SibError) as refused:
        call()  # type: ignore[operator]
    return [(p.code, p.field) for p in refused.value.problems]


# --------------------------------------------------------------------------- the key

def test_a_password_is_kept_as_a_salted_scrypt_key_with_its_parameters():
    salt = bytes(range(16))
    stored = hash_password(GOOD, salt)
    scheme, n, r, p, salt_b64, key_b64 = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2 ** 15, 8, 3)
    assert base64.b64decode(salt_b64) == salt
    # The key is scrypt itself over the UTF-8 password with the stated parameters.
    assert base64.b64decode(key_b64) == hashlib.scrypt(
        GOOD.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 2 ** 20,
        dklen=32)
    assert GOOD not in stored
    assert hash_password(GOOD) != hash_password(GOOD)  # a fresh salt each time
    assert password_matches(GOOD, stored)
    assert not password_matches(GOOD + " ", stored)
    assert not password_matches(GOOD, None) and not password_matches(GOOD, "md5$x")


def test_too_short_or_containing_the_user_name_is_refused_and_nothing_is_written(db_url):
    with unit_of_work(db_url) as s:
        add_user(s, "Tanaka", "auditor")
    with unit_of_work(db_url) as s:
        # 11 characters: one short of 12.
        assert _codes(lambda: set_password(s, "Tanaka", "abcdefghijk")) == [
            ("PASSWORD_TOO_SHORT", "password")]
        # The user name, in any case, inside a long password.
        assert _codes(lambda: set_password(s, "Tanaka", "my-tanaka-password")) == [
            ("PASSWORD_CONTAINS_USERNAME", "password")]
        assert _codes(lambda: set_password(s, "Tanaka", GOOD, GOOD + "!")) == [
            ("PASSWORDS_DIFFER", "password")]
        assert _codes(lambda: set_password(s, "nobody", GOOD)) == [
            ("USER_NOT_FOUND", "username")]
    with unit_of_work(db_url) as s:
        user = s.scalars(select(User).where(col(User.username) == "Tanaka")).one()
        assert (user.password_hash, user.password_set_at) == (None, None)


# --------------------------------------------------------------------------- signing in

def test_sign_in_with_user_name_and_password_beside_link_and_token(portal):
    client, url = portal
    with unit_of_work(url) as s:
        set_password(s, "fo-ube", GOOD)
    answer = _sign_in(client, "fo-ube", GOOD)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/payer"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if "sib_session=" in h)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    with unit_of_work(url) as s:
        tokens = list(s.scalars(select(ApiToken)))
        signins = [(a.username, a.detail) for a in s.scalars(
            select(AuditRecord).where(col(AuditRecord.action) == "portal.signin"))]
    assert [t.purpose for t in tokens] == ["portal_session"]
    assert signins == [("fo-ube", "password")]

    # The token and the one-time link still sign in.
    other = TestClient(client.app, base_url="https://portal.test")
    with unit_of_work(url) as s:
        token, link = create_token(s, "fo-ube", 1), link_token(s, "fo-ube")
    assert _sign_in(other, "fo-ube", token).status_code == 303
    third = TestClient(client.app, base_url="https://portal.test")
    used = third.post("/portal/signin", data={"csrf": _pre(third), "code": link,
                                              "one_time": "1"}, follow_redirects=False)
    assert used.status_code == 303
    with unit_of_work(url) as s:
        purposes = sorted(t.purpose for t in s.scalars(select(ApiToken)))
    assert purposes == ["api", "portal_link", "portal_session", "portal_session",
                        "portal_session"]


def test_a_wrong_password_is_refused_counted_and_audited_for_a_real_user(portal, monkeypatch):
    client, url = portal
    with unit_of_work(url) as s:
        set_password(s, "fo-ube", GOOD)
    wrong = _sign_in(client, "fo-ube", GOOD[:-1])
    assert wrong.status_code == 403 and "SIGN_IN_REFUSED" in wrong.text
    nobody = _sign_in(client, "no-such-user", GOOD)
    assert nobody.status_code == 403 and "SIGN_IN_REFUSED" in nobody.text
    another = _sign_in(client, "root", GOOD)  # fo-ube's password is not root's (it has none)
    assert another.status_code == 403
    with unit_of_work(url) as s:
        refused = [(a.username, a.status) for a in s.scalars(
            select(AuditRecord).where(col(AuditRecord.action) == "portal.signin.refused")
            .order_by(col(AuditRecord.id)))]
        assert list(s.scalars(select(ApiToken))) == []  # no session opened
    assert refused == [("fo-ube", 403), ("root", 403)]  # nobody named nobody: not logged
    # The address's limit (10 failures a minute by default): 3 so far, 7 more, then refused
    # even with the right password.
    for _ in range(7):
        assert _sign_in(client, "fo-ube", "wrong password!").status_code == 403
    limited = _sign_in(client, "fo-ube", GOOD)
    assert limited.status_code == 429


def test_a_new_password_ends_the_users_portal_sessions_not_its_api_tokens(portal):
    client, url = portal
    with unit_of_work(url) as s:
        set_password(s, "fo-ube", GOOD)
        api_token = create_token(s, "fo-ube", 30)
    assert _sign_in(client, "fo-ube", GOOD).status_code == 303
    assert client.get("/portal/payer", follow_redirects=False).status_code != 303
    with unit_of_work(url) as s:
        assert set_password(s, "fo-ube", GOOD + " (new)") == 1  # one session ended
    page = client.get("/portal/payer", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/portal/signin")
    assert _sign_in(client, "fo-ube", GOOD).status_code == 403  # the old one is gone
    with unit_of_work(url) as s:
        states = {(t.prefix, t.state) for t in list_tokens(s, "fo-ube")}
    assert (api_token[:12], "active") in states
    assert client.get("/health").status_code == 200
    bearer = client.get("/contracts", headers={"Authorization": f"Bearer {api_token}"})
    assert bearer.status_code == 200


# --------------------------------------------------------------------------- the admin's page

def test_an_admin_sets_a_password_in_the_portal(portal):
    client, url = portal
    with unit_of_work(url) as s:
        set_password(s, "root", "root's own long passphrase".replace("root", "admin"))
    assert _sign_in(client, "root", "admin's own long passphrase").status_code == 303
    csrf = _csrf(client, "/portal/users")
    page = client.get("/portal/users")
    assert 'id="pw-new"' in page.text and "fo-ube" in page.text
    assert '<label for="pw-again">' in page.text

    refused = client.post("/portal/users/password", data={
        "username": "fo-ube", "password": GOOD, "repeated": GOOD, "form_key": "k1"})
    assert refused.status_code == 403 and "CSRF_REFUSED" in refused.text
    short = client.post("/portal/users/password", data={
        "csrf": csrf, "username": "fo-ube", "password": "short", "repeated": "short",
        "form_key": "k2"})
    assert short.status_code == 422 and "PASSWORD_TOO_SHORT" in short.text
    done = client.post("/portal/users/password", data={
        "csrf": csrf, "username": "fo-ube", "password": GOOD, "repeated": GOOD,
        "form_key": "k3"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/portal/users?done=fo-ube"
    with unit_of_work(url) as s:
        logged = [(a.username, a.action, a.status, a.detail) for a in s.scalars(
            select(AuditRecord).where(col(AuditRecord.action) == "user.password")
            .order_by(col(AuditRecord.id)))]
        kept = [r.body for r in s.scalars(select(IdempotentResponse))]
    assert logged[-1] == ("root", "user.password", 200,
                          "fo-ube: password set, 0 portal session(s) ended")
    assert not any(GOOD in body for body in kept)
    fo = TestClient(client.app, base_url="https://portal.test")
    assert _sign_in(fo, "fo-ube", GOOD).status_code == 303
    assert fo.get("/portal/users").status_code == 403  # an administrator's page


# --------------------------------------------------------------------------- the command line

def test_sib_user_password_asks_twice_or_reads_stdin(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}

    def sib(*args: str, given: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
                              input=given, capture_output=True, text=True, timeout=120)

    assert sib("db", "upgrade").returncode == 0
    assert sib("user", "add", "fo-ube", "--role", "finance_officer",
               "--scope", "ube").returncode == 0
    done = sib("user", "password", "fo-ube", "--password-stdin", given=GOOD + "\n")
    assert done.returncode == 0, done.stderr
    assert "password of fo-ube set; 0 portal session(s) ended" in done.stdout
    short = sib("user", "password", "fo-ube", "--password-stdin", given="fo-ube-12345\n")
    assert short.returncode == 1 and "PASSWORD_CONTAINS_USERNAME" in short.stderr
    with unit_of_work(url) as s:
        user = s.scalars(select(User).where(col(User.username) == "fo-ube")).one()
        assert password_matches(GOOD, user.password_hash)
        logged = [(a.action, a.target) for a in s.scalars(
            select(AuditRecord).where(col(AuditRecord.action) == "user password"))]
    assert logged == [("user password", "user password fo-ube --password-stdin")]

    # Typed twice at the prompt: two different ones are refused.
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        differ = CliRunner().invoke(cli_app, ["user", "password", "fo-ube"],
                                    input=f"{GOOD}\n{GOOD}x\n")
        assert differ.exit_code == 1 and "PASSWORDS_DIFFER" in differ.output
        same = CliRunner().invoke(cli_app, ["user", "password", "fo-ube"],
                                  input="another long one!\nanother long one!\n")
        assert same.exit_code == 0, same.output
    finally:
        get_settings.cache_clear()
    with unit_of_work(url) as s:
        user = s.scalars(select(User).where(col(User.username) == "fo-ube")).one()
        assert password_matches("another long one!", user.password_hash)


@pytest.mark.postgres
def test_passwords_and_ended_sessions_on_postgresql(own_pg_url):
    from api.users import PORTAL_SESSION, user_with_password
    with unit_of_work(own_pg_url) as s:
        add_user(s, "fo-tono", "finance_officer", "tono")
        session_token = create_token(s, "fo-tono", 1, purpose=PORTAL_SESSION)
        api_token = create_token(s, "fo-tono", 1)
    with unit_of_work(own_pg_url) as s:
        assert set_password(s, "fo-tono", GOOD) == 1
    with unit_of_work(own_pg_url) as s:
        found = user_with_password(s, "fo-tono", GOOD)
        assert found is not None and found.password_set_at is not None
        assert user_with_password(s, "fo-tono", GOOD.upper()) is None
        states = {t.prefix: t.state for t in list_tokens(s, "fo-tono")}
    assert (states[session_token[:12]], states[api_token[:12]]) == ("revoked", "active")
