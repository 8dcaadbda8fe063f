"""Ledger benchmarks, each next to a bare-SQL baseline measured in the same run.

1. Posting throughput: two-posting entries through ``ledger.service.post_entry`` with every
   check (idempotency, accounts, period, limits, hash chain), 100 per commit, against raw SQL
   doing the same inserts (entry, two postings) and two balance updates per entry, 100 per
   commit. Goal: ratio ≥ 0.5.
2. Trial balance over a book of 1,000,000 postings (``SIB_BENCH_POSTINGS`` lowers it) against
   a bare ``SELECT account_id, side, SUM(amount_minor) … GROUP BY`` over the same rows; as of a
   date (period snapshots plus the postings after them) and from the maintained balances.
   Goals: ≤ 2× the baseline; one account's balance as of a date ≤ 10 ms.
Runs on SQLite, and on PostgreSQL when ``SIB_BENCH_POSTGRES_URL`` (or
``SIB_TEST_POSTGRES_URL``) is set (a database is created for the run and dropped after).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from moneyed import Money
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from api.db import make_engine, upgrade
from ledger.entries import EntryDraft, credit, debit
from ledger.reports import balance_as_of, trial_balance
from ledger.periods import close_period
from ledger.service import AccountSpec, create_book, get_book, open_account, post_entry

ENTRIES = int(5000 * float(os.environ.get("SIB_BENCH_SCALE", "1")))
POSTINGS = int(os.environ.get("SIB_BENCH_POSTINGS", "1000000"))
ACCOUNTS = 200


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh migrated database of ``kind`` (sqlite or postgresql), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    server = os.environ.get("SIB_BENCH_POSTGRES_URL") or os.environ["SIB_TEST_POSTGRES_URL"]
    name = f"sib_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _open_book(engine: Engine, code: str) -> None:
    with Session(engine) as s:
        create_book(s, code, "JPY")
        open_account(s, code, AccountSpec("cash", "asset", opened_on=date(2019, 4, 1)))
        open_account(s, code, AccountSpec("fees", "expense", opened_on=date(2019, 4, 1)))
        s.commit()


def posting_throughput(url: str) -> dict[str, float]:
    engine = make_engine(url)
    _open_book(engine, "svc")
    started = time.perf_counter()
    with Session(engine) as s:
        for i in range(ENTRIES):
            post_entry(s, EntryDraft("svc", f"e{i}", "fee", date(2019, 7, 1),
                                     [debit("fees", Money(100 + i % 7, "JPY")),
                                      credit("cash", Money(100 + i % 7, "JPY"))]))
            if i % 100 == 99:
                s.commit()
        s.commit()
    service = ENTRIES / (time.perf_counter() - started)
    _open_book(engine, "raw")
    with Session(engine) as s:
        book = get_book(s, "raw")
        ids = dict(s.execute(text("SELECT code, id FROM ledger_account WHERE book_id = :b"),
                             {"b": book.id}).all())
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        transaction = conn.begin()
        for i in range(ENTRIES):
            amount = 100 + i % 7
            entry_id = conn.execute(text(
                "INSERT INTO ledger_entry (book_id, sequence, idempotency_key, content_hash, "
                "kind, status, effective_on, recorded_at, description, links, prev_hash, hash) "
                "VALUES (:b, :n, :k, :h, 'fee', 'posted', :d, :t, '', '{}', :h, :h) "
                "RETURNING id"), {"b": book.id, "n": i + 1, "k": f"r{i}", "h": "0" * 64,
                                  "d": date(2019, 7, 1), "t": now}).scalar_one()
            conn.execute(text(
                "INSERT INTO ledger_posting (entry_id, account_id, side, amount_minor, "
                "currency, effective_on, status) VALUES (:e, :a, 'D', :m, 'JPY', :d, "
                "'posted'), (:e, :c, 'C', :m, 'JPY', :d, 'posted')"),
                {"e": entry_id, "a": ids["fees"], "c": ids["cash"], "m": amount,
                 "d": date(2019, 7, 1)})
            conn.execute(text("UPDATE ledger_balance SET debits_posted = debits_posted + :m "
                              "WHERE account_id = :a"), {"m": amount, "a": ids["fees"]})
            conn.execute(text("UPDATE ledger_balance SET credits_posted = credits_posted + :m "
                              "WHERE account_id = :a"), {"m": amount, "a": ids["cash"]})
            if i % 100 == 99:
                transaction.commit()
                transaction = conn.begin()
        transaction.commit()
    raw = ENTRIES / (time.perf_counter() - started)
    engine.dispose()
    return {"entries": ENTRIES, "service_entries_per_s": round(service, 1),
            "raw_sql_entries_per_s": round(raw, 1), "ratio": round(service / raw, 3),
            "goal_ratio": 0.5}


def _load_big_book(engine: Engine, postings: int) -> tuple[int, list[int]]:
    """A book of ``postings`` rows over four fiscal years, inserted in bulk (benchmark data:
    consistent balances, no hash chain)."""
    with Session(engine) as s:
        create_book(s, "big", "JPY")
        for n in range(ACCOUNTS):
            open_account(s, "big", AccountSpec(f"a{n:03d}", "asset" if n % 2 else "liability",
                                               opened_on=date(2019, 4, 1)))
        s.commit()
        book = get_book(s, "big")
        ids = [r[0] for r in s.execute(text("SELECT id FROM ledger_account WHERE book_id = :b "
                                            "ORDER BY code"), {"b": book.id})]
    now = datetime.now(timezone.utc)
    entries = postings // 2
    start = date(2019, 4, 1)
    totals: dict[tuple[int, str], int] = {}
    with engine.begin() as conn:
        first = conn.execute(text("SELECT coalesce(max(id), 0) FROM ledger_entry")).scalar()
        batch = 20000
        for offset in range(0, entries, batch):
            rows, prows = [], []
            for i in range(offset, min(entries, offset + batch)):
                on = start + timedelta(days=(i * 1460) // entries)
                rows.append({"id": first + i + 1, "b": book.id, "n": i + 1, "k": f"b{i}",
                             "d": on, "t": now})
                a, c = ids[i % ACCOUNTS], ids[(i * 7 + 3) % ACCOUNTS]
                amount = 1 + i % 9973
                prows += [{"e": first + i + 1, "a": a, "s": "D", "m": amount, "d": on},
                          {"e": first + i + 1, "a": c, "s": "C", "m": amount, "d": on}]
                totals[(a, "D")] = totals.get((a, "D"), 0) + amount
                totals[(c, "C")] = totals.get((c, "C"), 0) + amount
            conn.execute(text(
                "INSERT INTO ledger_entry (id, book_id, sequence, idempotency_key, content_hash, "
                "kind, status, effective_on, recorded_at, description, links, prev_hash, hash) "
                "VALUES (:id, :b, :n, :k, 'x', 'bulk', 'posted', :d, :t, '', '{}', '0', '0')"),
                rows)
            conn.execute(text(
                "INSERT INTO ledger_posting (entry_id, account_id, side, amount_minor, currency, "
                "effective_on, status) VALUES (:e, :a, :s, :m, 'JPY', :d, 'posted')"), prows)
        for account_id in ids:
            conn.execute(text("UPDATE ledger_balance SET debits_posted = :d, credits_posted = :c "
                              "WHERE account_id = :a"),
                         {"d": totals.get((account_id, "D"), 0),
                          "c": totals.get((account_id, "C"), 0), "a": account_id})
        conn.execute(text("UPDATE ledger_book SET entry_count = :n WHERE id = :b"),
                     {"n": entries, "b": book.id})
    return book.id or 0, ids


def _median_seconds(action, repeat: int = 5) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def trial_balance_speed(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    started = time.perf_counter()
    book_id, _ = _load_big_book(engine, POSTINGS)
    load_s = time.perf_counter() - started
    with Session(engine) as s:
        for year in (2019, 2020, 2021):
            close_period(s, "big", year)
        s.commit()
        as_of = date(2022, 9, 30)
        baseline = _median_seconds(lambda: s.execute(text(
            "SELECT p.account_id, p.side, SUM(p.amount_minor) FROM ledger_posting p "
            "JOIN ledger_account a ON a.id = p.account_id WHERE a.book_id = :b "
            "GROUP BY p.account_id, p.side"), {"b": book_id}).all())
        as_of_s = _median_seconds(lambda: trial_balance(s, "big", as_of))
        maintained_s = _median_seconds(lambda: trial_balance(s, "big"))
        one_s = _median_seconds(lambda: balance_as_of(s, "big", "a001", as_of), repeat=21)
    engine.dispose()
    return {"postings": POSTINGS, "load_s": round(load_s, 1),
            "group_by_baseline_ms": round(baseline * 1000, 1),
            "trial_balance_as_of_ms": round(as_of_s * 1000, 1),
            "trial_balance_maintained_ms": round(maintained_s * 1000, 1),
            "as_of_ratio_to_baseline": round(as_of_s / baseline, 3), "goal_ratio_max": 2.0,
            "balance_as_of_one_account_ms": round(one_s * 1000, 2), "goal_ms_max": 10.0}


def run() -> dict[str, Any]:
    kinds = ["sqlite"]
    if os.environ.get("SIB_BENCH_POSTGRES_URL") or os.environ.get("SIB_TEST_POSTGRES_URL"):
        kinds.append("postgresql")
    out: dict[str, Any] = {}
    for kind in kinds:
        with database(kind) as url:
            posting = posting_throughput(url)
        with database(kind) as url:
            balance = trial_balance_speed(url)
        out[kind] = {"posting": posting, "trial_balance": balance}
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
