"""Migrations are the only way the schema is created: up, down to nothing, and up again."""

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
