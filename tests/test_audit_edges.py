"""Audit gaps (issue 14, the defect "on PostgreSQL a 65-character X-Request-Id turns a refused
write into a 500 that is never audited; writes that end in a 500 are never audited on either
database"), reproduced and fixed: every write the service answers is in the log."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api import db
from api.main import create_app
from api.tables import AuditRecord
from api.users import add_user, create_token

LONG_ID = "r" * 65


def _client(url: str) -> tuple[TestClient, str]:
    with db.unit_of_work(url) as s:
        add_user(s, "clerk", "intermediary")
        token = create_token(s, "clerk")
    return TestClient(create_app(url), raise_server_exceptions=False), token


def _log(url: str) -> list[AuditRecord]:
    with db.unit_of_work(url) as s:
        return list(s.scalars(select(AuditRecord).order_by(AuditRecord.id)))


def _refused_write_with_a_long_request_id(url: str) -> None:
    client, token = _client(url)
    with client:
        # A holder code with a slash is refused (CODE_INVALID): a refused write, audited, its
        # 65-character request id cut to the column's 64.
        response = client.post("/holders", json={"code": "../x", "kind": "individual",
                                                 "name_kanji": "市民"},
                               headers={"Authorization": f"Bearer {token}",
                                        "Idempotency-Key": "k-long-id",
                                        "X-Request-Id": LONG_ID})
    assert 400 <= response.status_code < 500, response.text
    [row] = [r for r in _log(url) if r.idempotency_key == "k-long-id"]
    assert (row.status, row.request_id) == (response.status_code, LONG_ID[:64])


def test_a_long_request_id_does_not_lose_the_audit_record(db_url):
    _refused_write_with_a_long_request_id(db_url)


@pytest.mark.postgres
def test_a_long_request_id_does_not_lose_the_audit_record_on_postgresql(pg_url):
    _refused_write_with_a_long_request_id(pg_url)


def test_a_write_that_fails_unexpectedly_is_audited_as_a_500(db_url, monkeypatch):
    import api.routes.investors as routes

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(routes, "add_holder", broken)
    client, token = _client(db_url)
    with client:
        response = client.post("/holders", json={"code": "h-1", "kind": "individual",
                                                 "name_kanji": "市民"},
                               headers={"Authorization": f"Bearer {token}",
                                        "Idempotency-Key": "k-500"})
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL_ERROR"
    [row] = [r for r in _log(db_url) if r.idempotency_key == "k-500"]
    assert row.status == 500 and "RuntimeError" in row.detail
    with db.unit_of_work(db_url) as s:   # and nothing of the write is there
        from investors.tables import Holder
        assert s.scalars(select(Holder).where(Holder.code == "h-1")).first() is None
