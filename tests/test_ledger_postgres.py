"""The ledger on PostgreSQL: triggers, the deferred balance check, concurrency, migrations."""

from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest
from moneyed import Money
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from api.db import downgrade, make_engine, upgrade
from ledger.entries import EntryDraft, credit, debit
from ledger.errors import SibError
from ledger.reports import trial_balance
from ledger.service import AccountSpec, create_book, open_account, post_entry
from ledger.verify import verify

pytestmark = pytest.mark.postgres
Y = lambda n: Money(n, "JPY")  # noqa: E731


def _book(url: str, opening: int = 0) -> str:
    code = f"pg-{uuid.uuid4().hex[:8]}"
    engine = make_engine(url)
    with Session(engine) as s:
        create_book(s, code, "JPY")
        open_account(s, code, AccountSpec("cash", "asset", opened_on=date(2019, 4, 1),
                                          credits_must_not_exceed_debits=True))
        open_account(s, code, AccountSpec("loan", "liability", opened_on=date(2019, 4, 1)))
        open_account(s, code, AccountSpec("fees", "expense", opened_on=date(2019, 4, 1)))
        if opening:
            post_entry(s, EntryDraft(code, "open", "loan_drawdown", date(2019, 7, 1),
                                     [debit("cash", Y(opening)), credit("loan", Y(opening))]))
        s.commit()
    engine.dispose()
    return code


def test_triggers_refuse_update_and_delete(pg_url):
    _book(pg_url, 1000)
    engine = make_engine(pg_url)
    for statement in ("UPDATE ledger_posting SET amount_minor = 1",
                      "DELETE FROM ledger_posting", "UPDATE ledger_entry SET kind = 'x'",
                      "DELETE FROM ledger_entry"):
        with pytest.raises(DBAPIError) as err:
            with engine.begin() as conn:
                conn.execute(text(statement))
        assert "LEDGER_IMMUTABLE" in str(err.value)
    engine.dispose()


def test_an_unbalanced_entry_cannot_be_committed(pg_url):
    code = _book(pg_url)
    engine = make_engine(pg_url)
    with pytest.raises(DBAPIError) as err:
        with engine.begin() as conn:
            book_id = conn.execute(text("SELECT id FROM ledger_book WHERE code = :c"),
                                   {"c": code}).scalar_one()
            account = conn.execute(text("SELECT id FROM ledger_account WHERE book_id = :b "
                                        "AND code = 'fees'"), {"b": book_id}).scalar_one()
            entry = conn.execute(text(
                "INSERT INTO ledger_entry (book_id, sequence, idempotency_key, content_hash, "
                "kind, status, effective_on, recorded_at, description, links, prev_hash, hash) "
                "VALUES (:b, 1, 'bad', 'x', 'bad', 'posted', '2019-07-01', now(), '', '{}', "
                "'0', '0') RETURNING id"), {"b": book_id}).scalar_one()
            conn.execute(text("INSERT INTO ledger_posting (entry_id, account_id, side, "
                              "amount_minor, currency, effective_on, status) VALUES "
                              "(:e, :a, 'D', 100, 'JPY', '2019-07-01', 'posted')"),
                         {"e": entry, "a": account})
    assert "ENTRY_UNBALANCED" in str(err.value)
    engine.dispose()


def test_eight_threads_never_overdraw_a_limited_account_and_lose_nothing(pg_url):
    code = _book(pg_url, 5_000)
    engine = make_engine(pg_url)
    successes: list[int] = []
    refusals: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(40):
            with Session(engine) as s:
                try:
                    post_entry(s, EntryDraft(code, f"w{n}-{i}", "fee", date(2019, 8, 1),
                                             [debit("fees", Y(30)), credit("cash", Y(30))]))
                    s.commit()
                    with lock:
                        successes.append(30)
                except SibError as error:
                    s.rollback()
                    with lock:
                        refusals.append(error.code)
                except OperationalError:
                    s.rollback()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as s:
        rows = {r.code: r for r in trial_balance(s, code).rows}
        assert rows["cash"].balance_minor == 5_000 - sum(successes)
        assert rows["cash"].balance_minor >= 0
        assert rows["fees"].balance_minor == sum(successes)
        assert len(successes) == 5_000 // 30  # every withdrawal that fits, no more, none lost
        assert set(refusals) == {"BALANCE_LIMIT_EXCEEDED"}
        assert verify(s, code).ok
    engine.dispose()


def test_migrations_go_up_down_and_up_again(pg_server_url):
    name = f"sib_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        downgrade(url, "base")
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT count(*) FROM information_schema.tables WHERE "
                                       "table_name LIKE 'ledger_%'")).scalar()
            triggers = conn.execute(text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE "
                                         "'ledger_%'")).scalar()
        engine.dispose()
        assert tables >= 8 and triggers == 3
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
