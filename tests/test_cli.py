"""The ``sib`` command line as a user runs it: migrate, read the ledger, verify, export."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from moneyed import Money
from sqlalchemy import text
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.settings import get_settings
from ledger.entries import EntryDraft, credit, debit
from ledger.service import AccountSpec, create_book, open_account, post_entry

runner = CliRunner()
YEN = lambda n: Money(n, "JPY")  # noqa: E731


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    """DATABASE_URL pointed at a new SQLite file, migrated by ``sib db upgrade``."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    yield url
    get_settings.cache_clear()
    db._engines.pop(url).dispose() if url in db._engines else None


def _small_book(url: str) -> None:
    with db.unit_of_work(url) as session:
        create_book(session, "spv", "JPY", "SPV", "SPV")
        for spec in (AccountSpec("cash", "asset", "現金預金", "Cash"),
                     AccountSpec("loan:yamaguchi", "liability", "借入金 山口銀行", "Loan"),
                     AccountSpec("fees", "expense", "委託費", "Service fees")):
            open_account(session, "spv", spec)
        post_entry(session, EntryDraft("spv", "k1", "loan_drawdown", date(2019, 7, 1),
                                       [debit("cash", YEN(30_000_000)),
                                        credit("loan:yamaguchi", YEN(30_000_000))]))
        post_entry(session, EntryDraft("spv", "k2", "service_fee", date(2019, 9, 30),
                                       [debit("fees", YEN(4_400_000)),
                                        credit("cash", YEN(4_400_000))]))


def test_trial_balance_json_balances_and_names_each_account(cli_db):
    _small_book(cli_db)
    result = runner.invoke(app, ["ledger", "trial-balance", "--book", "spv", "--json"])
    assert result.exit_code == 0, result.output
    tb = json.loads(result.output)
    assert tb["balanced"] is True
    assert tb["total_debit"] == {"amount": "30000000", "currency": "JPY"}
    rows = {r["account"]: r for r in tb["rows"]}
    assert rows["cash"]["debit"]["amount"] == "25600000"
    assert rows["fees"]["debit"]["amount"] == "4400000"
    assert rows["loan:yamaguchi"]["credit"]["amount"] == "30000000"
    assert rows["loan:yamaguchi"]["name_ja"] == "借入金 山口銀行"


def test_statement_json_has_running_balance(cli_db):
    _small_book(cli_db)
    result = runner.invoke(app, ["ledger", "statement", "-b", "spv", "-a", "cash", "--json"])
    assert result.exit_code == 0, result.output
    st = json.loads(result.output)
    assert [ln["balance"]["amount"] for ln in st["lines"]] == ["30000000", "25600000"]
    assert st["closing"]["amount"] == "25600000"


def test_verify_passes_then_fails_naming_the_entry_after_sql_tampering(cli_db):
    _small_book(cli_db)
    ok = runner.invoke(app, ["ledger", "verify", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True
    with db.get_engine(cli_db).begin() as conn:
        conn.execute(text("DROP TRIGGER ledger_posting_no_update"))
        conn.execute(text("UPDATE ledger_posting SET amount_minor = 4000000 "
                          "WHERE amount_minor = 4400000 AND side = 'D'"))
    bad = runner.invoke(app, ["ledger", "verify", "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.output)
    assert report["ok"] is False
    assert report["problems"][0]["code"] == "ENTRY_TAMPERED"
    assert "entry 2 " in report["problems"][0]["message"]


def test_beancount_export_loads_in_beancount_with_the_same_balances(cli_db, tmp_path):
    beancount_loader = pytest.importorskip("beancount.loader")
    from beancount.core import realization
    _small_book(cli_db)
    out = tmp_path / "spv.beancount"
    result = runner.invoke(app, ["ledger", "export", "-b", "spv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    entries, errors, _ = beancount_loader.load_file(str(out))
    assert errors == []
    real = realization.realize(entries)
    cash = realization.get(real, "Assets:Cash").balance.get_currency_units("JPY").number
    loan = realization.get(real, "Liabilities:Loan:Yamaguchi").balance \
        .get_currency_units("JPY").number
    assert cash == Decimal("25600000")
    assert loan == Decimal("-30000000")


def test_unknown_book_is_refused_with_its_code(cli_db):
    result = runner.invoke(app, ["ledger", "trial-balance", "--book", "nope"])
    assert result.exit_code == 1
    assert "BOOK_NOT_FOUND" in result.output
