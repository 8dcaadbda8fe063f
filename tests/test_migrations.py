"""Migrations are the only way the schema is created: up, down to nothing, and up again."""

import pytest
from sqlalchemy import inspect

from api.db import downgrade, make_engine, upgrade


def test_sqlite_migrations_go_up_down_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    assert [t for t in inspect(engine).get_table_names() if t != "alembic_version"] == []
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"ledger_entry", "ledger_posting", "contract_version", "settlement_run",
            "investor_holder", "api_audit"} <= names


def test_a_book_opened_before_0009_has_its_tk_accounts_reclassified(tmp_path):
    """A book whose 匿名組合 accounts were opened as equity (before revision 0009) reads, after
    the migration, as Japanese GAAP has the operator book them: contributions a liability
    (預り匿名組合出資金), the profit share an expense (匿名組合損益分配額); down again, as before.
    Nothing but the accounts' type and names changes."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0008")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_book (code, name_ja, name_en, currency, fiscal_year_start_month,"
            " entry_count, head_hash, created_at) VALUES ('b', '', '', 'JPY', 4, 0, :h, "
            "'2021-04-01 00:00:00')"), {"h": "0" * 64})
        for code, kind, ja, en in (
                ("units:c", "equity", "匿名組合出資金 市民", "Units — Citizens"),
                ("distributions:c", "equity", "分配金 市民", "Distributions — Citizens"),
                ("distributions-payable:c", "liability", "未払分配金 市民",
                 "Distributions payable — Citizens")):
            conn.execute(text(
                "INSERT INTO ledger_account (book_id, code, name_ja, name_en, type, currency, "
                "opened_on, debits_must_not_exceed_credits, credits_must_not_exceed_debits) "
                "VALUES (1, :code, :ja, :en, :kind, 'JPY', '2021-04-01', 0, 0)"),
                {"code": code, "ja": ja, "en": en, "kind": kind})
    engine.dispose()

    def accounts() -> list[tuple[str, str, str, str]]:
        engine = make_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT code, type, name_ja, name_en FROM ledger_account "
                                     "ORDER BY code")).all()
        engine.dispose()
        return [tuple(r) for r in rows]

    before = accounts()
    upgrade(url)
    assert accounts() == [
        ("distributions-payable:c", "liability", "未払分配金 市民",
         "Distributions payable — Citizens"),
        ("distributions:c", "expense", "匿名組合損益分配額 市民",
         "Silent-partnership profit distributions — Citizens"),
        ("units:c", "liability", "預り匿名組合出資金 市民",
         "Silent-partnership contributions — Citizens")]
    downgrade(url, "0008")
    assert accounts() == before


def _schema_differences(url: str) -> list[object]:
    """What autogenerate would still write: the migrated schema against the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import api.models  # noqa: F401  (every table on the metadata)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection),
                                         SQLModel.metadata))
    finally:
        engine.dispose()


def test_the_migrations_make_the_models_schema_on_sqlite(tmp_path):
    """Every table, column, index and constraint of the models, and nothing else, after the
    migrations (revision 0011's change requests, Zengin payees and token columns included)."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    assert _schema_differences(url) == []


@pytest.mark.postgres
def test_the_migrations_make_the_models_schema_on_postgresql(pg_url):
    assert _schema_differences(pg_url) == []
