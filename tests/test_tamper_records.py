"""Issue 14, acceptance 3: a direct edit of any record that decides money is reported by
`sib verify`, naming the record.

The demo's five years are copied to a file of their own; each test edits that file with plain
SQL, as someone with access to the database file could, and runs `sib verify`. A small story of
its own shows the keyed chain: a chain recomputed without the key is found, and one recomputed
with it (or cut short) is found against a signed checkpoint.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete
from sqlmodel import Session
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.seals import SEALED, sealed_tables
from api.settings import get_settings
from api.tables import AuditRecord, User
from ledger.seals import RecordSeal, seal_rows
from settlement.tables import PartyBankAccount

runner = CliRunner()


def _use(url: str, monkeypatch: pytest.MonkeyPatch, key: str = "") -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    if key:
        monkeypatch.setenv("SIB_CHAIN_KEY", key)
    else:
        monkeypatch.delenv("SIB_CHAIN_KEY", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def demo_file(demo_story, tmp_path, monkeypatch):
    """A copy of the demo's database, which `sib` reads through DATABASE_URL."""
    source = demo_story[0].split("///", 1)[1]
    path = tmp_path / "demo.db"
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(path)) as copy:
        src.backup(copy)
    url = f"sqlite:///{path}"
    _use(url, monkeypatch)
    _users_and_audit()
    yield path
    get_settings.cache_clear()
    if url in db._engines:
        db._engines.pop(url).dispose()


def _users_and_audit() -> None:
    """The in-process demo writes no user and no audit row: two of each, as the service
    writes them."""
    with Session(db.get_engine()) as session:
        for name, role in (("alice", "intermediary"), ("bob", "finance_officer")):
            session.add(User(username=name, role=role, created_at=datetime.now(UTC)))
            session.add(AuditRecord(at=datetime.now(UTC), username=name, role=role,
                                    action="POST /contracts/c/results", status=201))
        session.commit()


def _sql(path, *statements: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def _first_id(path, table: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        row_id = conn.execute(f"SELECT min(id) FROM {table}").fetchone()[0]
    assert row_id is not None, f"the demo has no {table} row to edit"
    return int(row_id)


def _verify(*args: str):
    return runner.invoke(app, ["verify", *args])


def test_the_untouched_demo_verifies_within_seconds(demo_file):
    started = time.perf_counter()
    result = _verify()
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "verified: OK" in result.output
    for table in SEALED:
        assert f"{table}: " in result.output
    assert elapsed < 5, f"verify took {elapsed:.1f} s"


# Each kind of record that decides money, and an edit of its deciding figure. Tables whose rows
# the database itself refuses to change lose that refusal first: the triggers are in the file.
EDITS = [
    ("settlement_kpi_result", "value = value || '1'"),
    ("settlement_kpi_result", "state = 'audited', audited_by = 'someone'"),
    ("contract_version", "document = replace(document, '0', '9')"),
    ("contract_commitment", "amount_minor = amount_minor + 1"),
    ("settlement_bank_account", "account_number = '7654321'"),
    ("investor_holder", "account_number = '7654321'"),
    ("investor_subscription", "units = units + 1"),
    ("investor_payment", "gross_minor = gross_minor + 1000"),
    ("settlement_run", "summary = replace(summary, '1', '2')"),
    ("settlement_line", "earned_minor = earned_minor + 1"),
    ("settlement_receipt_application", "amount_minor = amount_minor + 1"),
    ("settlement_notice_approval", "amount_minor = amount_minor + 1"),
    ("api_user", "role = 'admin'"),
    ("api_audit", "detail = 'nothing happened'"),
]


@pytest.mark.parametrize(("table", "change"), EDITS, ids=[f"{t}:{c[:20]}" for t, c in EDITS])
def test_a_direct_edit_is_reported_naming_the_record(demo_file, table, change):
    row_id = _first_id(demo_file, table)
    _sql(demo_file, f"DROP TRIGGER IF EXISTS {table}_no_update",
         f"UPDATE {table} SET {change} WHERE id = {row_id}")
    result = _verify()
    assert result.exit_code == 1
    assert f"{table} {row_id}: content does not match its seal" in result.output
    assert "RECORD_TAMPERED" in result.output


def test_a_change_request_edited_is_reported(demo_file, monkeypatch):
    """The demo asks for no bank-account change: one is asked here, through the service."""
    from settlement.tables import ChangeRequest
    with Session(db.get_engine()) as session:
        session.add(ChangeRequest(act="bank_account.change", contract_id="c", subject="payer",
                                  proposed='{"account_number": "1234567"}',
                                  requested_by="alice", requested_at=datetime.now(UTC)))
        session.commit()
    assert _verify().exit_code == 0
    row_id = _first_id(demo_file, "settlement_change_request")
    _sql(demo_file, "UPDATE settlement_change_request SET proposed = "
         "'{\"account_number\": \"7777777\"}', state = 'approved'")
    result = _verify()
    assert f"settlement_change_request {row_id}: content does not match its seal" \
        in result.output


def test_a_row_deleted_or_added_outside_the_service_is_reported(demo_file):
    row_id = _first_id(demo_file, "api_audit")
    _sql(demo_file, f"DELETE FROM api_audit WHERE id = {row_id}",
         "INSERT INTO api_audit (id, at, username, role, action, target, request_id, "
         "idempotency_key, status, detail) VALUES (999999, '2024-01-01 00:00:00', 'mallory', "
         "'admin', 'POST /x', '', '', '', 201, '')")
    result = _verify("--json")
    assert result.exit_code == 1
    assert f"api_audit {row_id}: sealed but no longer present" in result.output
    assert "api_audit 999999: has no seal" in result.output


def test_an_edited_seal_breaks_its_chain(demo_file):
    _sql(demo_file, "UPDATE record_seal SET content_hash = 'ff' WHERE id = "
         "(SELECT min(id) FROM record_seal WHERE table_name = 'settlement_kpi_result')")
    result = _verify()
    assert result.exit_code == 1
    assert "settlement_kpi_result seal 1" in result.output


# ------------------------------------------------------------------ keyed chain and checkpoint

KEY = "a key kept outside the database"


@pytest.fixture
def keyed_story(db_url, monkeypatch):
    """A fresh database with the key set: a bank account (changed once, through the service)
    and three audit rows."""
    _use(db_url, monkeypatch, KEY)
    engine = db.get_engine()
    with Session(engine) as session:
        account = PartyBankAccount(contract_id="c", party="payer:a", bank_code="0001",
                                   branch_code="001", account_number="1234567",
                                   holder_kana="ｱ")
        session.add(account)
        for n in range(3):
            session.add(AuditRecord(at=datetime(2024, 1, 1 + n, tzinfo=UTC), username="alice",
                                    role="admin", action=f"POST /things/{n}"))
        session.commit()
        account.account_number = "1111111"  # a change the service made: a second seal
        session.commit()
    yield db_url
    get_settings.cache_clear()
    if db_url in db._engines:
        db._engines.pop(db_url).dispose()


def _reseal(table: str, key: bytes | None) -> None:
    """What somebody with file access does to hide an edit: recompute the table's chain."""
    with db.get_engine().begin() as conn:
        conn.execute(delete(RecordSeal).where(RecordSeal.table_name == table))  # type: ignore[arg-type]
        seal_rows(conn, key, sealed_tables()[table], SEALED[table])


def test_the_keyed_story_verifies_and_a_changed_row_has_a_new_seal(keyed_story):
    result = _verify()
    assert result.exit_code == 0, result.output
    assert "settlement_bank_account: 2 seals" in result.output
    assert "api_audit: 3 seals" in result.output


def test_a_chain_recomputed_without_the_key_is_found(keyed_story):
    path = keyed_story.split("///", 1)[1]
    _sql(path, "UPDATE settlement_bank_account SET account_number = '7654321'")
    _reseal("settlement_bank_account", None)
    result = _verify()
    assert result.exit_code == 1
    assert "SEAL_FORGED" in result.output
    assert "settlement_bank_account seal 1" in result.output


def test_a_checkpoint_finds_a_chain_recomputed_with_the_key_or_cut_short(keyed_story,
                                                                         tmp_path):
    path = keyed_story.split("///", 1)[1]
    heads = tmp_path / "heads.json"
    assert _verify("--checkpoint", str(heads)).exit_code == 0
    assert _verify("--against", str(heads)).exit_code == 0

    _sql(path, "UPDATE settlement_bank_account SET account_number = '7654321'")
    _reseal("settlement_bank_account", KEY.encode())
    assert _verify().exit_code == 0  # the key was known: only the checkpoint can tell
    result = _verify("--against", str(heads))
    assert result.exit_code == 1
    assert "settlement_bank_account: the chain no longer passes through seal 2" \
        in result.output

    _sql(path, "DELETE FROM api_audit WHERE id = (SELECT max(id) FROM api_audit)",
         "DELETE FROM record_seal WHERE id = (SELECT max(id) FROM record_seal "
         "WHERE table_name = 'api_audit')")
    result = _verify("--against", str(heads))
    assert "api_audit: the chain no longer passes through seal 3" in result.output


def test_a_checkpoint_edited_or_written_without_the_key_is_refused(keyed_story, tmp_path,
                                                                   monkeypatch):
    heads = tmp_path / "heads.json"
    assert _verify("--checkpoint", str(heads)).exit_code == 0
    heads.write_text(heads.read_text().replace('"seals": 3', '"seals": 2'))
    result = _verify("--against", str(heads))
    assert "CHECKPOINT_SIGNATURE_INVALID" in result.output
    monkeypatch.delenv("SIB_CHAIN_KEY")
    get_settings.cache_clear()
    result = _verify("--checkpoint", str(tmp_path / "other.json"))
    assert result.exit_code == 1
    assert "CHAIN_KEY_MISSING" in result.output


def test_a_later_bulk_write_does_not_reseal_an_edited_row(demo_file):
    """A bulk insert (holder payments) cannot name its new rows: the sealing that follows it
    seals the rows without a seal, never a sealed row edited behind the service's back —
    that one keeps reporting. (Before, every row not matching its seal was sealed again,
    which laundered the edit.)"""
    from api.seals import seal_pending
    row_id = _first_id(demo_file, "investor_payment")
    _sql(demo_file, f"UPDATE investor_payment SET gross_minor = gross_minor + 1000 "
                    f"WHERE id = {row_id}")
    with Session(db.get_engine()) as session:
        seal_pending(session.connection(), {"investor_payment": None})  # what a bulk write does
        session.commit()
    result = _verify()
    assert result.exit_code == 1
    assert f"investor_payment {row_id}: content does not match its seal" in result.output


def test_an_edited_kpi_result_is_not_settled(demo_file):
    """Issue 14: 'an edited KPI result is then posted as valid entries by sib settle'. A
    result changed directly in the database is refused by settlement (RECORD_TAMPERED,
    nothing posted); untouched, settling the year again finds nothing to do."""
    from ledger.errors import SibError
    from settlement.runs import settle
    c = "sib-2019-five-municipalities"
    with Session(db.get_engine()) as session:
        assert settle(session, c, 2023).created is False
    with closing(sqlite3.connect(demo_file)) as conn:
        row_id = conn.execute("SELECT id FROM settlement_kpi_result WHERE fiscal_year = 2023 "
                              "AND kpi_id = 'participants' ORDER BY id DESC").fetchone()[0]
    _sql(demo_file, "DROP TRIGGER IF EXISTS settlement_kpi_result_no_update",
         f"UPDATE settlement_kpi_result SET value = '99999' WHERE id = {row_id}")
    with Session(db.get_engine()) as session:
        entries = len(session.exec(select_entries()).all())
        with pytest.raises(SibError) as refused:
            settle(session, c, 2023)
        assert refused.value.code == "RECORD_TAMPERED"
        assert f"KPI result {row_id}" in str(refused.value)
        session.rollback()
        assert len(session.exec(select_entries()).all()) == entries


def select_entries():
    from sqlmodel import select

    from ledger.schema import Entry
    return select(Entry)


def test_a_ledger_chain_recomputed_without_the_key_is_found(keyed_story):
    """Issue 14's defect "anyone with file access can also recompute the whole ledger chain":
    an amount is raised in the file and every entry's SHA-256 chain (and the book's head)
    recomputed, so the ledger's own check passes; the keyed seal of each entry, over its
    chain hash, no longer matches — verify names the first entry whose hash was rewritten."""
    from moneyed import Money

    from ledger.accounts import AccountSpec
    from ledger.entries import EntryDraft, chain_hash, credit, debit
    from ledger.service import create_book, open_account, post_entry
    from ledger.verify import verify as verify_ledger
    on = datetime(2024, 4, 1).date()
    with Session(db.get_engine()) as session:
        create_book(session, "spv", "JPY")
        for code, kind in (("cash", "asset"), ("loan", "liability")):
            open_account(session, "spv", AccountSpec(code, kind, code, code, opened_on=on))
        for n in range(3):
            post_entry(session, EntryDraft("spv", f"draw-{n}", "loan_drawdown", on,
                                           [debit("cash", Money(1_000 + n, "JPY")),
                                            credit("loan", Money(1_000 + n, "JPY"))], "draw"))
        session.commit()
    assert _verify().exit_code == 0
    path = keyed_story.split("///", 1)[1]
    _sql(path, "DROP TRIGGER IF EXISTS ledger_posting_no_update",
         "UPDATE ledger_posting SET amount_minor = amount_minor + 900000 WHERE entry_id = "
         "(SELECT min(id) FROM ledger_entry)")
    with closing(sqlite3.connect(path)) as conn:   # the whole chain, recomputed
        conn.executescript("DROP TRIGGER IF EXISTS ledger_entry_no_update;"
                           "DROP TRIGGER IF EXISTS ledger_book_no_update;")
        prev = "0" * 64
        entries = conn.execute("SELECT id, sequence, idempotency_key, kind, status, "
                               "effective_on, recorded_at, description, links FROM ledger_entry "
                               "ORDER BY sequence").fetchall()
        first_id = entries[0][0]
        for eid, seq, key, kind, status, eff, rec, desc, links in entries:
            postings = conn.execute("SELECT account_id, side, amount_minor, currency FROM "
                                    "ledger_posting WHERE entry_id = ? ORDER BY id",
                                    (eid,)).fetchall()
            digest = chain_hash(prev, "spv", seq, key, kind, status,
                                datetime.fromisoformat(eff).date(),
                                datetime.fromisoformat(rec), desc, links, None, None,
                                [tuple(p) for p in postings])
            conn.execute("UPDATE ledger_entry SET prev_hash = ?, hash = ? WHERE id = ?",
                         (prev, digest, eid))
            prev = digest
        conn.execute("UPDATE ledger_book SET head_hash = ? WHERE code = 'spv'", (prev,))
        conn.execute("UPDATE ledger_balance SET "
                     "debits_posted = (SELECT coalesce(sum(amount_minor), 0) FROM ledger_posting "
                     "WHERE account_id = ledger_balance.account_id AND side = 'D'), "
                     "credits_posted = (SELECT coalesce(sum(amount_minor), 0) FROM "
                     "ledger_posting WHERE account_id = ledger_balance.account_id AND "
                     "side = 'C')")
        conn.commit()
    with Session(db.get_engine()) as session:
        assert verify_ledger(session).ok   # the unkeyed chain alone is fooled
    result = _verify()
    assert result.exit_code == 1
    assert f"ledger_entry {first_id}: content does not match its seal" in result.output
