"""The HTTP service on PostgreSQL: a retried write returns the first result, and writes sent in
parallel keep every ledger invariant (no limit broken, nothing lost, verify passes)."""

from __future__ import annotations

import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import db
from api.main import create_app
from api.users import add_user, create_token
from ledger.reports import trial_balance
from ledger.verify import verify

pytestmark = pytest.mark.postgres


def _money(amount: int) -> dict[str, str]:
    return {"amount": str(amount), "currency": "JPY"}


def test_parallel_api_writes_keep_the_ledger_whole(pg_url):
    name = f"api-{uuid.uuid4().hex[:6]}"
    with db.unit_of_work(pg_url) as s:
        add_user(s, name, "intermediary")
        token = create_token(s, name)
    app = create_app(pg_url)
    auth = {"Authorization": f"Bearer {token}"}
    book = f"pg-api-{uuid.uuid4().hex[:6]}"
    with TestClient(app) as client:
        def write(path: str, body: dict, key: str | None = None):  # noqa: ANN202
            return client.post(path, json=body,
                               headers=auth | {"Idempotency-Key": key or uuid.uuid4().hex})
        assert write("/ledger/books", {"code": book, "currency": "JPY"}).status_code == 201
        write(f"/ledger/books/{book}/accounts", {"code": "cash", "type": "asset",
                                                  "credits_must_not_exceed_debits": True})
        write(f"/ledger/books/{book}/accounts", {"code": "loan", "type": "liability"})
        write(f"/ledger/books/{book}/accounts", {"code": "fees", "type": "expense"})
        opening = {"kind": "draw", "effective_on": "2020-04-01",
                   "postings": [{"account": "cash", "side": "D", "amount": _money(3_000)},
                                {"account": "loan", "side": "C", "amount": _money(3_000)}]}
        first = write(f"/ledger/books/{book}/entries", opening, "open-1")
        again = write(f"/ledger/books/{book}/entries", opening, "open-1")
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        fee = {"kind": "fee", "effective_on": "2020-04-02",
               "postings": [{"account": "fees", "side": "D", "amount": _money(70)},
                            {"account": "cash", "side": "C", "amount": _money(70)}]}
        statuses: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(8):
                response = write(f"/ledger/books/{book}/entries", fee)
                with lock:
                    statuses.append(response.status_code)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    engine = db.get_engine(pg_url)
    with Session(engine) as s:
        rows = {r.code: r for r in trial_balance(s, book).rows}
        accepted = statuses.count(201)
        assert accepted == 3_000 // 70  # every fee that fits, and no more
        assert set(statuses) == {201, 422}  # the others refused: BALANCE_LIMIT_EXCEEDED
        assert rows["cash"].balance_minor == 3_000 - 70 * accepted >= 0
        assert rows["fees"].balance_minor == 70 * accepted
        assert verify(s, book).ok
