"""Ledger benchmarks, each next to a bare-SQL baseline measured in the same run.

1. **Posting throughput.** Two-posting entries through ``ledger.service.post_entry`` with every
   check (draft validation, idempotency lookup, book lock, accounts, period, limits, hash chain),
   committed 100 per commit, against a raw-SQL baseline doing the same writes with plain Core
   statements on the same engine — an entry row with hash-sized strings, two posting rows, two
   ``UPDATE ledger_balance`` — 100 per commit. Both run in alternating rounds of 500 entries
   (each side first in every other round, after a warm-up), so that the machine's noise and
   the growing tables fall on both alike. Goal: service ÷ raw ≥ 0.5.
2. **Trial balance of a 1,000,000-posting book** (500,000 two-posting entries over 200
   accounts, FY2019–FY2022, bulk-inserted with raw ``executemany`` — consistent balances, no
   valid hash chain; the immutability and balance triggers stay on), FY2019–FY2021 closed
   through ``ledger.periods.close_period``. Timed, interleaved, median of 5:
   ``trial_balance(as_of=2022-09-30)`` (FY2021 snapshot plus the postings after it),
   ``trial_balance()`` (maintained balances) and the
   bare ``SELECT account_id, side, SUM(amount_minor) FROM ledger_posting GROUP BY account_id,
   side`` over the same rows. Goals: ≤ 2× the baseline; one account's ``balance_as_of`` (median
   of 21 calls) ≤ 10 ms. Every answer is checked against totals kept while loading.

Runs on SQLite (a temporary file), and on PostgreSQL when ``SIB_BENCH_POSTGRES_URL`` (or
``SIB_TEST_POSTGRES_URL``) is set: a fresh database per measurement, dropped afterwards. Every
schema comes from the migrations (``api.db.upgrade``). Knobs: ``SIB_BENCH_SCALE`` multiplies the
5,000 entries of (1); ``SIB_BENCH_POSTINGS`` sets the book size of (2).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from moneyed import Money
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session

from api.db import make_engine, upgrade
from ledger.entries import EntryDraft, credit, debit
from ledger.reports import balance_as_of, trial_balance
from ledger.service import AccountSpec, create_book, open_account, post_entry

try:  # periods moved out of the posting service into their own module
    from ledger.periods import close_period
except ImportError:  # pragma: no cover - an older tree
    from ledger.service import close_period  # type: ignore[attr-defined,no-redef]

ROUND = 500  # entries per alternating round of the posting benchmark (a multiple of 100)
BATCH = 100  # entries per commit
WARM_UP = 100
ENTRIES = max(ROUND, round(5000 * float(os.environ.get("SIB_BENCH_SCALE", "1")) / ROUND) * ROUND)
POSTINGS = max(2000, int(os.environ.get("SIB_BENCH_POSTINGS", "1000000")))
ACCOUNTS = 200
START = date(2019, 4, 1)
DAYS = 1461  # FY2019 … FY2022
CLOSED_YEARS = (2019, 2020, 2021)
AS_OF = date(2022, 9, 30)
REPEAT = 5
ONE_ACCOUNT_CALLS = 21
POSTING_GOAL = 0.5
TRIAL_BALANCE_GOAL = 2.0
BALANCE_AS_OF_GOAL_MS = 10.0
HASH = "0" * 64
GROUP_BY = ("SELECT account_id, side, SUM(amount_minor) FROM ledger_posting "
            "GROUP BY account_id, side")


def postgres_server() -> str | None:
    """The PostgreSQL server URL to benchmark on, if any (psycopg driver)."""
    url = os.environ.get("SIB_BENCH_POSTGRES_URL") or os.environ.get("SIB_TEST_POSTGRES_URL")
    if not url:
        return None
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            url = "postgresql+psycopg://" + url[len(bare):]
    return url


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh database of ``kind`` (sqlite or postgresql) migrated to head; removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sib-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    server = postgres_server()
    assert server, "no PostgreSQL URL"
    name = f"sib_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _median_s(action: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextmanager
def _counting(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on ``engine`` inside the block (first word each)."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        sent.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --------------------------------------------------------------------------- 1. posting

_RAW_ENTRY = text(
    "INSERT INTO ledger_entry (book_id, sequence, idempotency_key, content_hash, kind, status, "
    "effective_on, recorded_at, description, links, prev_hash, hash) "
    "VALUES (:b, :n, :k, :h, 'fee', 'posted', :d, :t, '', '{}', :h, :h) RETURNING id")
_RAW_POSTINGS = text(
    "INSERT INTO ledger_posting (entry_id, account_id, side, amount_minor, currency, "
    "effective_on, status) VALUES (:e, :a, 'D', :m, 'JPY', :d, 'posted'), "
    "(:e, :c, 'C', :m, 'JPY', :d, 'posted')")
_RAW_DEBIT = text("UPDATE ledger_balance SET debits_posted = debits_posted + :m "
                  "WHERE account_id = :a")
_RAW_CREDIT = text("UPDATE ledger_balance SET credits_posted = credits_posted + :m "
                   "WHERE account_id = :a")
POSTING_DAY = date(2019, 7, 1)


def _amount(i: int) -> int:
    return 100 + i % 7


def _open_pair(engine: Engine, book: str) -> dict[str, int]:
    """A JPY book with an expense and a cash account: their ids by code."""
    with Session(engine) as s:
        create_book(s, book, "JPY")
        ids = {code: open_account(s, book, AccountSpec(code, kind, opened_on=START)).id or 0
               for code, kind in (("fees", "expense"), ("cash", "asset"))}
        s.commit()
    return ids


def _service_round(session: Session, first: int, count: int) -> float:
    started = time.perf_counter()
    for i in range(first, first + count):
        money = Money(_amount(i), "JPY")
        post_entry(session, EntryDraft("svc", f"s{i}", "fee", POSTING_DAY,
                                       [debit("fees", money), credit("cash", money)]))
        if i % BATCH == BATCH - 1:
            session.commit()
    session.commit()
    return time.perf_counter() - started


@dataclass
class _Raw:
    conn: Connection
    book_id: int
    ids: dict[str, int]
    sequence: int = 0

    def round(self, first: int, count: int) -> float:
        conn, ids = self.conn, self.ids
        started = time.perf_counter()
        for i in range(first, first + count):
            self.sequence += 1
            m = _amount(i)
            entry_id = conn.execute(_RAW_ENTRY, {
                "b": self.book_id, "n": self.sequence, "k": f"r{i}", "h": HASH,
                "d": POSTING_DAY, "t": datetime.now(UTC)}).scalar_one()
            conn.execute(_RAW_POSTINGS, {"e": entry_id, "a": ids["fees"], "c": ids["cash"],
                                         "m": m, "d": POSTING_DAY})
            conn.execute(_RAW_DEBIT, {"m": m, "a": ids["fees"]})
            conn.execute(_RAW_CREDIT, {"m": m, "a": ids["cash"]})
            if i % BATCH == BATCH - 1:
                conn.commit()
        conn.commit()
        return time.perf_counter() - started


@dataclass
class _Rounds:
    service_s: list[float] = field(default_factory=list)
    raw_s: list[float] = field(default_factory=list)


def posting_throughput(url: str) -> dict[str, Any]:
    """Entries per second through ``post_entry`` and through raw SQL, in alternating rounds."""
    engine = make_engine(url)
    try:
        _open_pair(engine, "svc")
        raw_ids = _open_pair(engine, "raw")
        with Session(engine) as s:
            raw_book = s.execute(text("SELECT id FROM ledger_book WHERE code = 'raw'")).scalar_one()
        rounds = _Rounds()
        with Session(engine) as session, engine.connect() as conn:
            raw = _Raw(conn, int(raw_book), raw_ids)
            with _counting(engine) as sent:  # warm-up: statement caches, pool, pages
                _service_round(session, -WARM_UP, WARM_UP)
                service_sent = len(sent)
                raw.round(-WARM_UP, WARM_UP)
                raw_sent = len(sent) - service_sent
            _analyze(engine)
            for n, first in enumerate(range(0, ENTRIES, ROUND)):
                if n % 2 == 0:
                    rounds.service_s.append(_service_round(session, first, ROUND))
                    rounds.raw_s.append(raw.round(first, ROUND))
                else:
                    rounds.raw_s.append(raw.round(first, ROUND))
                    rounds.service_s.append(_service_round(session, first, ROUND))
        checked = _check_posting_balances(engine, ENTRIES + WARM_UP)
    finally:
        engine.dispose()
    service = ENTRIES / sum(rounds.service_s)
    raw_rate = ENTRIES / sum(rounds.raw_s)
    ratio = service / raw_rate
    return {
        "entries_each": ENTRIES, "rounds": len(rounds.service_s),
        "service_entries_per_s": round(service, 1),
        "raw_sql_entries_per_s": round(raw_rate, 1),
        "ratio": round(ratio, 3), "goal_ratio_min": POSTING_GOAL,
        "met": ratio >= POSTING_GOAL,
        "service_ms_per_entry": round(1000 / service, 3),
        "raw_sql_ms_per_entry": round(1000 / raw_rate, 3),
        "round_ratios": [round(r / s, 2) for s, r in zip(rounds.service_s, rounds.raw_s)],
        "service_entries_per_s_by_round": [round(ROUND / s) for s in rounds.service_s],
        "statements_per_entry": {"service": round(service_sent / WARM_UP, 2),
                                 "raw_sql": round(raw_sent / WARM_UP, 2)},
        "balances_checked": checked,
    }


def _analyze(engine: Engine) -> None:
    """PostgreSQL: table statistics, as autovacuum gathers them once a table has 50 new rows.

    Without them the planner sees near-empty tables, and a plan it caches then (psycopg
    prepares a statement on its 5th execution; the server keeps a generic plan) can stay wrong
    as the tables grow — while autovacuum is off, as on some test servers, for good.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("ledger_book", "ledger_account", "ledger_balance", "ledger_entry",
                      "ledger_posting"):
            conn.execute(text(f"ANALYZE {table}"))


def _check_posting_balances(engine: Engine, entries: int) -> bool:
    """Both books hold what was posted: every entry, and balances equal to the amounts."""
    expected = sum(_amount(i) for i in range(-WARM_UP, entries - WARM_UP))
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT b.code, a.code, l.debits_posted, l.credits_posted, "
            "(SELECT count(*) FROM ledger_entry e WHERE e.book_id = b.id) "
            "FROM ledger_balance l JOIN ledger_account a ON a.id = l.account_id "
            "JOIN ledger_book b ON b.id = a.book_id")).all()
    wanted = {(book, "fees"): (expected, 0) for book in ("svc", "raw")}
    wanted.update({(book, "cash"): (0, expected) for book in ("svc", "raw")})
    return len(rows) == 4 and all(
        (d, c) == wanted[(book, code)] and n == entries for book, code, d, c, n in rows)


# --------------------------------------------------------------------------- 2. trial balance

@dataclass
class _BigBook:
    book_id: int
    account_ids: list[int]
    entries: int
    totals: dict[int, list[int]]  # account id → [debits, credits], everything
    as_of_totals: dict[int, list[int]]  # the same, postings dated on or before AS_OF


def _insert_many(conn: Connection, table: str, columns: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> None:
    """Raw ``executemany`` of INSERTs: one row per statement on SQLite (its C loop is the
    fastest path), 500 rows per statement on PostgreSQL (fewer round trips)."""
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(head + "(" + ", ".join("?" * len(columns)) + ")", rows)
        return
    per = 500
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    full = [tuple(v for row in rows[i:i + per] for v in row)
            for i in range(0, len(rows) - len(rows) % per, per)]
    if full:
        conn.exec_driver_sql(head + ", ".join([one] * per), full)
    rest = rows[len(rows) - len(rows) % per:]
    if rest:
        conn.exec_driver_sql(head + ", ".join([one] * len(rest)),
                             tuple(v for row in rest for v in row))


_ENTRY_COLUMNS = ("id", "book_id", "sequence", "idempotency_key", "content_hash", "kind",
                  "status", "effective_on", "recorded_at", "description", "links", "prev_hash",
                  "hash")
_POSTING_COLUMNS = ("entry_id", "account_id", "side", "amount_minor", "currency", "effective_on",
                    "status")


def _load_big_book(engine: Engine, postings: int) -> _BigBook:
    """``postings`` / 2 two-posting entries over ``ACCOUNTS`` accounts and four fiscal years,
    inserted in bulk and committed every 50,000 entries; then the maintained balances."""
    with Session(engine) as s:
        create_book(s, "big", "JPY")
        ids = [open_account(s, "big", AccountSpec(f"a{n:03d}", "asset" if n % 2 else "liability",
                                                  opened_on=START)).id or 0
               for n in range(ACCOUNTS)]
        book_id = int(s.execute(text("SELECT id FROM ledger_book WHERE code = 'big'")).scalar_one())
        s.commit()
    entries = postings // 2
    totals = {a: [0, 0] for a in ids}
    as_of_totals = {a: [0, 0] for a in ids}
    now = datetime.now(UTC)
    with engine.connect() as conn:
        first = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM ledger_entry"))
                    .scalar_one())
        conn.commit()
        chunk = 50_000
        for offset in range(0, entries, chunk):
            erows, prows = [], []
            for i in range(offset, min(entries, offset + chunk)):
                on = START + timedelta(days=(i * DAYS) // entries)
                entry_id = first + i + 1
                erows.append((entry_id, book_id, i + 1, f"b{i}", HASH, "bulk", "posted", on, now,
                              "", "{}", HASH, HASH))
                a, c = ids[i % ACCOUNTS], ids[(i * 7 + 3) % ACCOUNTS]  # never equal
                m = 1 + i % 9973
                prows.append((entry_id, a, "D", m, "JPY", on, "posted"))
                prows.append((entry_id, c, "C", m, "JPY", on, "posted"))
                totals[a][0] += m
                totals[c][1] += m
                if on <= AS_OF:
                    as_of_totals[a][0] += m
                    as_of_totals[c][1] += m
            _insert_many(conn, "ledger_entry", _ENTRY_COLUMNS, erows)
            _insert_many(conn, "ledger_posting", _POSTING_COLUMNS, prows)
            conn.commit()
        for account_id, (d, c) in totals.items():
            conn.execute(text("UPDATE ledger_balance SET debits_posted = :d, credits_posted = :c "
                              "WHERE account_id = :a"), {"d": d, "c": c, "a": account_id})
        conn.execute(text("UPDATE ledger_book SET entry_count = :n WHERE id = :b"),
                     {"n": entries, "b": book_id})
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('ledger_entry', 'id'), "
                              "(SELECT max(id) FROM ledger_entry))"))
        conn.commit()
    return _BigBook(book_id, ids, entries, totals, as_of_totals)


def _vacuum_analyze(engine: Engine) -> None:
    """PostgreSQL: what autovacuum does after a large insert (statistics, visibility map)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("ledger_entry", "ledger_posting", "ledger_balance", "ledger_account",
                      "ledger_period_snapshot", "ledger_period", "ledger_book"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))


def trial_balance_speed(url: str) -> dict[str, Any]:
    """Trial balance (as of a date, and maintained) and one balance as of a date, on a big
    book, next to a bare GROUP BY over the same postings."""
    engine = make_engine(url)
    read = make_engine(url, read_only=True)
    try:
        started = time.perf_counter()
        book = _load_big_book(engine, POSTINGS)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        with Session(engine) as s:
            for year in CLOSED_YEARS:
                close_period(s, "big", year)
                s.commit()
        close_s = time.perf_counter() - started
        vacuum_s = None
        if engine.dialect.name == "postgresql":
            started = time.perf_counter()
            _vacuum_analyze(engine)
            vacuum_s = round(time.perf_counter() - started, 1)

        def baseline() -> Any:
            with read.connect() as conn:
                return conn.execute(text(GROUP_BY)).all()

        def as_of() -> Any:
            with Session(read) as s:
                return trial_balance(s, "big", AS_OF)

        def maintained() -> Any:
            with Session(read) as s:
                return trial_balance(s, "big")

        def one() -> int:
            with Session(read) as s:
                return balance_as_of(s, "big", "a001", AS_OF)

        checks = _check_answers(book, baseline(), as_of(), maintained(), one())
        timed: dict[str, list[float]] = {"baseline": [], "as_of": [], "maintained": []}
        actions = {"baseline": baseline, "as_of": as_of, "maintained": maintained}
        for n in range(REPEAT):  # interleaved, the order turning, so noise falls on all three
            names = list(actions)
            for name in names[n % 3:] + names[:n % 3]:
                timed[name].append(_median_s(actions[name], 1))
        one_s = _median_s(one, ONE_ACCOUNT_CALLS)
    finally:
        read.dispose()
        engine.dispose()
    base = statistics.median(timed["baseline"])
    as_of_s = statistics.median(timed["as_of"])
    maintained_s = statistics.median(timed["maintained"])
    return {
        "postings": book.entries * 2, "entries": book.entries, "accounts": ACCOUNTS,
        "fiscal_years": "FY2019–FY2022", "closed": ", ".join(f"FY{y}" for y in CLOSED_YEARS),
        "as_of": AS_OF.isoformat(),
        "load_s": round(load_s, 1), "close_periods_s": round(close_s, 1),
        "vacuum_analyze_s": vacuum_s,
        "group_by_baseline_ms": round(base * 1000, 1),
        "trial_balance_as_of_ms": round(as_of_s * 1000, 1),
        "as_of_ratio_to_baseline": round(as_of_s / base, 3),
        "as_of_met": as_of_s / base <= TRIAL_BALANCE_GOAL,
        "trial_balance_maintained_ms": round(maintained_s * 1000, 2),
        "maintained_ratio_to_baseline": round(maintained_s / base, 4),
        "maintained_met": maintained_s / base <= TRIAL_BALANCE_GOAL,
        "goal_ratio_max": TRIAL_BALANCE_GOAL,
        "balance_as_of_one_account_ms": round(one_s * 1000, 2),
        "balance_as_of_met": one_s * 1000 <= BALANCE_AS_OF_GOAL_MS,
        "goal_ms_max": BALANCE_AS_OF_GOAL_MS,
        "answers_checked": checks,
    }


def _check_answers(book: _BigBook, grouped: Any, as_of: Any, maintained: Any,
                   one: int) -> bool:
    """Every timed call answers what the loaded rows say (a fast wrong answer is no answer)."""
    from_sql = {a: [0, 0] for a in book.account_ids}
    for account_id, side, total in grouped:
        from_sql[account_id][0 if side == "D" else 1] = int(total)
    d, c = book.as_of_totals[book.account_ids[1]]  # a001: an asset (normal debit)
    return (from_sql == book.totals
            and {r.account_id: [r.debits_posted, r.credits_posted] for r in maintained.rows}
            == book.totals
            and {r.account_id: [r.debits_posted, r.credits_posted] for r in as_of.rows}
            == book.as_of_totals
            and as_of.balanced and maintained.balanced and one == d - c)


# --------------------------------------------------------------------------- run

def _goals(kind: str, posting: dict[str, Any], balance: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"database": kind, "figure": "posting: service ÷ raw SQL entries/s",
         "value": posting["ratio"], "goal": f"≥ {POSTING_GOAL}", "met": posting["met"]},
        {"database": kind, "figure": "trial balance as of a date ÷ GROUP BY",
         "value": balance["as_of_ratio_to_baseline"], "goal": f"≤ {TRIAL_BALANCE_GOAL}",
         "met": balance["as_of_met"]},
        {"database": kind, "figure": "trial balance (maintained) ÷ GROUP BY",
         "value": balance["maintained_ratio_to_baseline"], "goal": f"≤ {TRIAL_BALANCE_GOAL}",
         "met": balance["maintained_met"]},
        {"database": kind, "figure": "balance_as_of, one account (ms)",
         "value": balance["balance_as_of_one_account_ms"], "goal": f"≤ {BALANCE_AS_OF_GOAL_MS}",
         "met": balance["balance_as_of_met"]},
    ]


def run() -> dict[str, Any]:
    kinds = ["sqlite"] + (["postgresql"] if postgres_server() else [])
    out: dict[str, Any] = {}
    goals: list[dict[str, Any]] = []
    for kind in kinds:
        with database(kind) as url:
            posting = posting_throughput(url)
        with database(kind) as url:
            balance = trial_balance_speed(url)
        out[kind] = {"posting": posting, "trial_balance": balance}
        goals += _goals(kind, posting, balance)
    out["goals"] = goals
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2, ensure_ascii=False))
