"""The ledger on PostgreSQL, as production runs it: the database itself refuses to rewrite
history and to commit an unbalanced entry; eight concurrent writers against one account with a
balance limit neither overdraw it nor lose a withdrawal; one request retried by several clients
at once is posted once; and the migrations go up, down to nothing and up again — on
PostgreSQL and, the last, on SQLite too.

The PostgreSQL tests (marked ``postgres``) share one database per test session, so each opens
its own book under a fresh code; the migration test makes and drops a database of its own.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import date

import pytest
from moneyed import Money
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from api.db import downgrade, make_engine, unit_of_work, upgrade
from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.reports import trial_balance
from ledger.service import AccountSpec, create_book, get_book, open_account, post_entry
from ledger.verify import verify

postgres = pytest.mark.postgres
OPENED = date(2019, 4, 1)
RETRYABLE = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def yen(amount: int) -> Money:
    return Money(amount, "JPY")


def open_book(url: str, cash: int = 0) -> str:
    """A new book (unique code) with limited cash, a loan and fees; ``cash`` lent into it."""
    code = f"pg-{uuid.uuid4().hex[:10]}"
    engine = make_engine(url)
    with Session(engine) as s:
        create_book(s, code, "JPY")
        open_account(s, code, AccountSpec("cash", "asset", opened_on=OPENED,
                                          credits_must_not_exceed_debits=True))
        open_account(s, code, AccountSpec("loan", "liability", opened_on=OPENED))
        open_account(s, code, AccountSpec("fees", "expense", opened_on=OPENED))
        if cash:
            post_entry(s, EntryDraft(code, "drawdown", "loan_drawdown", date(2019, 7, 1),
                                     [debit("cash", yen(cash)), credit("loan", yen(cash))]))
        s.commit()
    engine.dispose()
    return code


def book_rows(conn, code: str) -> tuple:
    """The book's entries and postings as stored (what a refused statement must not touch)."""
    book_id = conn.execute(text("SELECT id FROM ledger_book WHERE code = :c"),
                           {"c": code}).scalar_one()
    return (conn.execute(text("SELECT id, kind, description FROM ledger_entry "
                              "WHERE book_id = :b ORDER BY id"), {"b": book_id}).all(),
            conn.execute(text("SELECT p.id, p.side, p.amount_minor FROM ledger_posting p "
                              "JOIN ledger_entry e ON e.id = p.entry_id WHERE e.book_id = :b "
                              "ORDER BY p.id"), {"b": book_id}).all())


# --------------------------------------------------------------------------- the database guards

@postgres
@pytest.mark.parametrize("statement", [
    "UPDATE ledger_posting SET amount_minor = 1 WHERE entry_id IN ({entries})",
    "DELETE FROM ledger_posting WHERE entry_id IN ({entries})",
    "UPDATE ledger_entry SET description = 'rewritten' WHERE id IN ({entries})",
    "DELETE FROM ledger_entry WHERE id IN ({entries})",
], ids=["update posting", "delete posting", "update entry", "delete entry"])
def test_triggers_refuse_to_change_or_delete_entries_and_postings(pg_url, statement):
    code = open_book(pg_url, cash=1_000)
    entries = f"SELECT id FROM ledger_entry WHERE book_id = " \
              f"(SELECT id FROM ledger_book WHERE code = '{code}')"
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            before = book_rows(conn, code)
        with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
            conn.execute(text(statement.format(entries=entries)))
        assert "LEDGER_IMMUTABLE" in str(caught.value)
        with engine.connect() as conn:
            assert book_rows(conn, code) == before
            assert before[1][0][2] == 1_000  # the drawdown is still there, unchanged
    finally:
        engine.dispose()


def _hand_made_entry(conn, code: str, *postings: tuple[str, str, int]) -> int:
    """Insert an entry and its postings by raw SQL, bypassing the ledger's checks."""
    book_id = conn.execute(text("SELECT id FROM ledger_book WHERE code = :c"),
                           {"c": code}).scalar_one()
    entry_id = conn.execute(text(
        "INSERT INTO ledger_entry (book_id, sequence, idempotency_key, content_hash, kind, "
        "status, effective_on, recorded_at, description, links, prev_hash, hash) "
        "VALUES (:b, 1, 'hand-made', 'x', 'manual', 'posted', '2019-07-01', now(), '', '{}', "
        "'0', '0') RETURNING id"), {"b": book_id}).scalar_one()
    for account, side, amount in postings:
        conn.execute(text(
            "INSERT INTO ledger_posting (entry_id, account_id, side, amount_minor, currency, "
            "effective_on, status) SELECT :e, id, :side, :amount, 'JPY', '2019-07-01', 'posted' "
            "FROM ledger_account WHERE book_id = :b AND code = :a"),
            {"e": entry_id, "a": account, "b": book_id, "side": side, "amount": amount})
    return entry_id


@postgres
def test_an_unbalanced_entry_fails_at_commit(pg_url):
    """A ¥100 debit with no credit is accepted row by row — the check is deferred — and
    refused at COMMIT, which then writes nothing."""
    code = open_book(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            _hand_made_entry(conn, code, ("fees", "D", 100))  # accepted: checked at commit
            with pytest.raises(IntegrityError) as caught:
                transaction.commit()
            assert "ENTRY_UNBALANCED" in str(caught.value)
            assert "net 100" in str(caught.value)
        with engine.connect() as conn:
            assert book_rows(conn, code) == ([], [])
    finally:
        engine.dispose()


@postgres
def test_the_commit_check_looks_at_the_whole_entry(pg_url):
    """Checked now instead of at commit: a balanced entry inserted posting by posting passes,
    a ¥100 debit against a ¥90 credit does not."""
    code = open_book(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            _hand_made_entry(conn, code, ("fees", "D", 100), ("cash", "C", 100))
            conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # runs the deferred checks
            transaction.rollback()
            with pytest.raises(IntegrityError) as caught, conn.begin():
                _hand_made_entry(conn, code, ("fees", "D", 100), ("cash", "C", 90))
                conn.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
            assert "ENTRY_UNBALANCED" in str(caught.value)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- concurrency

def _run_together(count: int, work) -> list[BaseException]:
    """Run ``work(n)`` in ``count`` threads released at the same moment; their exceptions."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _with_retry(attempt):
    """Run one unit of work, again if PostgreSQL asks for a retry (serialization, deadlock)."""
    for _ in range(50):
        try:
            return attempt()
        except (OperationalError, DBAPIError) as exc:
            if getattr(exc.orig, "sqlstate", None) not in RETRYABLE:
                raise
    raise AssertionError("still conflicting after 50 attempts")


@postgres
def test_eight_writers_never_overdraw_a_limited_account_and_lose_nothing(pg_url):
    """¥5,000 in cash; eight threads each try forty ¥30 fee payments at once. Exactly
    5,000 // 30 = 166 fit: they are all recorded, the other 154 are refused, ¥20 is left."""
    code = open_book(pg_url, cash=5_000)
    threads, per_thread, amount = 8, 40, 30
    outcomes: list[tuple[str, str]] = []  # (key, "posted" or the refusal code)
    lock = threading.Lock()

    def pay_fees(n: int) -> None:
        for i in range(per_thread):
            key = f"fee-{n}-{i}"

            def attempt() -> str:
                try:
                    with unit_of_work(pg_url) as s:  # each payment its own transaction
                        post_entry(s, EntryDraft(code, key, "service_fee", date(2019, 8, 1),
                                                 [debit("fees", yen(amount)),
                                                  credit("cash", yen(amount))]))
                    return "posted"
                except SibError as refusal:
                    return refusal.code
            result = _with_retry(attempt)
            with lock:
                outcomes.append((key, result))

    assert _run_together(threads, pay_fees) == []

    counts = Counter(result for _, result in outcomes)
    assert counts == {"posted": 166, "BALANCE_LIMIT_EXCEEDED": 320 - 166}
    posted_keys = {key for key, result in outcomes if result == "posted"}
    engine = make_engine(pg_url)
    try:
        with Session(engine) as s:
            rows = {r.code: r for r in trial_balance(s, code).rows}
            assert rows["cash"].balance_minor == 5_000 - counts["posted"] * amount == 20
            assert rows["cash"].credits_posted <= rows["cash"].debits_posted
            assert rows["fees"].balance_minor == counts["posted"] * amount == 4_980
            recorded = set(s.scalars(text(
                "SELECT idempotency_key FROM ledger_entry e JOIN ledger_book b "
                "ON b.id = e.book_id WHERE b.code = :c AND e.kind = 'service_fee'"),
                {"c": code}))
            assert recorded == posted_keys  # every success is in the ledger, nothing else
            assert get_book(s, code).entry_count == 1 + 166
            report = verify(s, code)
            assert report.ok, report.problems
    finally:
        engine.dispose()


@postgres
def test_one_request_sent_by_eight_clients_at_once_is_posted_once(pg_url):
    """Retries that arrive together all get the one entry: none collides on the key."""
    code = open_book(pg_url, cash=1_000)
    ids: list[int] = []
    lock = threading.Lock()

    for round_ in range(3):
        def send(n: int, key: str = f"fee-2019-08-{round_}") -> None:
            with unit_of_work(pg_url) as s:
                entry = post_entry(s, EntryDraft(code, key, "service_fee", date(2019, 8, 1),
                                                 [debit("fees", yen(100)),
                                                  credit("cash", yen(100))]))
            with lock:
                ids.append(entry.id)

        assert _run_together(8, send) == []
    assert len(ids) == 24 and len(set(ids)) == 3
    engine = make_engine(pg_url)
    try:
        with Session(engine) as s:
            assert get_book(s, code).entry_count == 1 + 3
            rows = {r.code: r.balance_minor for r in trial_balance(s, code).rows}
            assert rows["cash"] == 1_000 - 3 * 100
            assert verify(s, code).ok
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- migrations

def _up_down_up(url: str) -> None:
    """Migrate to head, down to nothing, to head again; then the ledger works and is guarded."""
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(url)
    code = open_book(url, cash=1_000)
    engine = make_engine(url)
    try:
        assert {"ledger_book", "ledger_account", "ledger_entry", "ledger_posting",
                "ledger_balance", "ledger_period", "ledger_period_snapshot",
                "ledger_period_event"} <= set(inspect(engine).get_table_names())
        with Session(engine) as s:
            assert {r.code: r.balance_minor for r in trial_balance(s, code).rows}["cash"] == 1_000
            assert verify(s).ok
            with pytest.raises((IntegrityError, OperationalError)) as caught:
                s.execute(text("UPDATE ledger_posting SET amount_minor = 1"))
            assert "LEDGER_IMMUTABLE" in str(caught.value)
    finally:
        engine.dispose()


@postgres
def test_postgresql_migrations_go_up_down_and_up_again(pg_server_url):
    """In a database of its own: the session's shared one stays at head for the other tests."""
    name = f"sib_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        _up_down_up(url)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                triggers = set(conn.scalars(text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                    "AND tgname LIKE 'ledger%'")))
                functions = set(conn.scalars(text(
                    "SELECT proname FROM pg_proc WHERE proname LIKE 'ledger%'")))
        finally:
            engine.dispose()
        assert triggers == {"ledger_entry_immutable", "ledger_posting_immutable",
                            "ledger_posting_balanced"}
        assert functions == {"ledger_refuse_change", "ledger_check_entry_balanced"}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_sqlite_migrations_go_up_down_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'sib.db'}"
    _up_down_up(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            triggers = set(conn.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger%'")))
    finally:
        engine.dispose()
    assert triggers == {"ledger_entry_no_update", "ledger_entry_no_delete",
                        "ledger_posting_no_update", "ledger_posting_no_delete"}
