"""The HTTP service on PostgreSQL: retries return the first result, and writes sent in parallel
keep every ledger invariant.

Each test opens its own book: ``cash`` may not go below zero (credits must not exceed debits),
and a loan draw of 3,000 yen puts 3,000 in it. Fees of 70 are then sent from eight threads at
once, more than the cash can pay: exactly the 42 that fit are posted, each recorded once, the
rest refused with BALANCE_LIMIT_EXCEEDED, and ``verify`` still passes. Retries of one write —
one after the other or all at the same moment — post one entry and answer with it every time.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from api import db
from api.main import create_app
from api.tables import AuditRecord
from api.users import add_user, create_token
from ledger.reports import trial_balance
from ledger.schema import Book, Entry
from ledger.verify import verify

pytestmark = pytest.mark.postgres

WORKERS = 8
CASH_MINOR = 3_000
FEE_MINOR = 70


def _money(amount_minor: int) -> dict[str, str]:
    return {"amount": str(amount_minor), "currency": "JPY"}


def _entry(kind: str, debit: str, credit: str, amount_minor: int, on: str) -> dict[str, Any]:
    return {"kind": kind, "effective_on": on,
            "postings": [{"account": debit, "side": "D", "amount": _money(amount_minor)},
                         {"account": credit, "side": "C", "amount": _money(amount_minor)}]}


DRAW = _entry("loan_drawdown", "cash", "loan", CASH_MINOR, "2020-04-01")
FEE = _entry("fee", "fees", "cash", FEE_MINOR, "2020-04-02")


@dataclass
class Service:
    """A client of the service on PostgreSQL, two intermediaries' tokens, and a fresh book."""

    client: TestClient
    url: str
    tokens: dict[str, str]
    book: str

    def post(self, path: str, body: Any, key: str | None = None,
             who: str = "first") -> httpx.Response:
        return self.client.post(path, json=body, headers={
            "Authorization": f"Bearer {self.tokens[who]}",
            "Idempotency-Key": key or uuid.uuid4().hex})

    def post_entry(self, body: Any, key: str | None = None, who: str = "first") -> httpx.Response:
        return self.post(f"/ledger/books/{self.book}/entries", body, key, who)

    def entries(self, key: str | None = None) -> int:
        with Session(db.get_engine(self.url)) as s:
            query = (select(func.count()).select_from(Entry).join(Book, Book.id == Entry.book_id)
                     .where(Book.code == self.book))
            if key is not None:
                query = query.where(Entry.idempotency_key == key)
            return int(s.scalar(query) or 0)


@pytest.fixture
def service(pg_url) -> Iterator[Service]:
    suffix = uuid.uuid4().hex[:8]
    tokens = {}
    with db.unit_of_work(pg_url) as s:
        for who in ("first", "second"):
            add_user(s, f"{who}-{suffix}", "intermediary")
            tokens[who] = create_token(s, f"{who}-{suffix}")
    # Server errors come back as 500 responses, to be counted, not raised in a worker thread.
    with TestClient(create_app(pg_url), raise_server_exceptions=False) as client:
        svc = Service(client, pg_url, tokens, f"pg-api-{suffix}")
        assert svc.post("/ledger/books", {"code": svc.book, "currency": "JPY"}).status_code == 201
        for account in ({"code": "cash", "type": "asset", "credits_must_not_exceed_debits": True},
                        {"code": "loan", "type": "liability"},
                        {"code": "fees", "type": "expense"}):
            assert svc.post(f"/ledger/books/{svc.book}/accounts", account).status_code == 201
        yield svc


def _all_at_once(send: Callable[[], httpx.Response], times: int = WORKERS) -> list[httpx.Response]:
    """``send`` from ``times`` threads released together."""
    start = threading.Barrier(times)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        response = send()
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_retried_write_returns_the_first_result(service):
    first = service.post_entry(DRAW, "draw-1")
    again = service.post_entry(DRAW, "draw-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = service.post_entry(DRAW | {"description": "another"}, "draw-1")
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert service.entries() == 1


def test_retries_sent_at_the_same_moment_post_once_and_all_answer_with_it(service):
    answers = _all_at_once(lambda: service.post_entry(DRAW, "draw-at-once"))
    assert [a.status_code for a in answers] == [201] * WORKERS, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert service.entries("draw-at-once") == 1
    with Session(db.get_engine(service.url)) as s:  # the write is in the audit log once
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.idempotency_key == "draw-at-once", AuditRecord.status == 201)) == 1


def test_one_key_with_different_bodies_at_the_same_moment_posts_one_of_them(service):
    bodies = iter([DRAW | {"description": f"draw {n}"} for n in range(WORKERS)])
    lock = threading.Lock()

    def send() -> httpx.Response:
        with lock:
            body = next(bodies)
        return service.post_entry(body, "draw-contested")

    answers = _all_at_once(send)
    assert sorted(a.status_code for a in answers) == [201] + [409] * (WORKERS - 1)
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"IDEMPOTENCY_CONFLICT"}
    assert service.entries("draw-contested") == 1


def test_two_users_racing_with_one_ledger_key_never_get_a_server_error(service):
    # The API's key is per user, the ledger's per book: when two users race with one key, the
    # ledger posts one entry; each request gets it (same content) or a 409 to send it again.
    users = iter(["first", "second"] * (WORKERS // 2))
    lock = threading.Lock()

    def send() -> httpx.Response:
        with lock:
            who = next(users)
        return service.post_entry(DRAW, "shared-key", who=who)

    answers = _all_at_once(send)
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert service.entries("shared-key") == 1


def test_parallel_writes_keep_every_ledger_invariant(service):
    assert service.post_entry(DRAW).status_code == 201
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(WORKERS):
            response = service.post_entry(FEE)
            with lock:
                answers.append(response)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    posted = [a.json() for a in answers if a.status_code == 201]
    refused = [a.json() for a in answers if a.status_code != 201]
    assert len(posted) == CASH_MINOR // FEE_MINOR  # every fee that fits, and no more
    assert {r["code"] for r in refused} == {"BALANCE_LIMIT_EXCEEDED"}
    assert len({e["id"] for e in posted}) == len(posted)  # each 201 is its own entry
    assert sorted(e["sequence"] for e in posted) == list(range(2, len(posted) + 2))
    assert service.entries() == 1 + len(posted)  # and each is recorded exactly once
    with Session(db.get_engine(service.url)) as s:
        rows = {r.code: r for r in trial_balance(s, service.book).rows}
        assert rows["cash"].balance_minor == CASH_MINOR - FEE_MINOR * len(posted) >= 0
        assert rows["fees"].balance_minor == FEE_MINOR * len(posted)
        report = verify(s, service.book)
        assert report.ok, report.problems
