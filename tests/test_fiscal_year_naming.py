"""Fiscal years named by the year they start or end in, as a contract term (issues 12 item 7
and 13 item 5): ``fiscal_year_named_by: start | end``.

Worked by hand.

A US state's July–June year that runs 1 July 2025 – 30 June 2026 ends in 2026: named by its
end it is FY2026. So, July–June named by end:

- FY2026 = 2025-07-01 … 2026-06-30; FY2025 = 2024-07-01 … 2025-06-30; FY2024 =
  2023-07-01 … 2024-06-30 holds 29 February 2024: 366 days (365 + 1);
- 2025-06-30 is the last day of FY2025; the next day, 2025-07-01, the first of FY2026;
  2026-06-30 is still FY2026, 2026-07-01 is FY2027.

Japan's April–March year named by its start: FY2019 = 2019-04-01 … 2020-03-31, so
2020-03-31 is FY2019 and 2020-04-01 FY2020 (and the UK's 2024-25 year, 2024-04-01 …
2025-03-31, is FY2024 in our examples). The same April–March days named by their end would
be FY2020.

A January year starts and ends in the same calendar year: FY2025 = 2025-01-01 … 2025-12-31
whichever naming, and 2025-06-15 is FY2025 either way.

The Brookhaven example (``contracts/examples/usd-pay-for-success-housing.yaml``) names its
years by their end: its term is FY2026–FY2027, FY2026 = 1 July 2025 – 30 June 2026. FY2026's
results: 81 people housed × $4,250.75 = $344,310.75; jail days down 21.7 % on a line from 10 %
(nothing) to 30 % (all of $300,000.00): (21.7 − 10) / (30 − 10) = 0.585 × $300,000.00 =
$175,500.00; earned $519,810.75 = 51,981,075 cents, posted on the year's last day, 2026-06-30.
The maxima of FY2026's tranches are committed (pending) on the year's first day, 2025-07-01;
FY2027's on 2026-07-01. Closing FY2026 closes both books through 2026-06-30.

Budget years in the contract's own names (``settlement.budget``). Without payment terms a
dollar contract has no closing period and its payment falls due two months after the year's
end: FY2026's on 2026-08-31 (a Monday, a business day). With FY-N results paid from the FY-N+1
budget and a two-month closing period: FY2026's results are paid from the FY2027 budget, and
FY2026's closing period ends 2026-08-31, so a payment on 2026-08-20 (FY2027 by its date) is an
FY2026 obligation, and one on 2026-09-01 an FY2027 one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.db import downgrade, make_engine, upgrade
from api.main import create_app
from api.settings import get_settings
from api.users import add_user, create_token
from contracts.model import Contract, PaymentTerms
from contracts.terms import apply_amendment
from contracts.validate import load_contract_file, validate_document
from ledger import read
from ledger.accounts import AccountSpec
from ledger.calendar import fiscal_year_bounds, fiscal_year_of, wareki_fiscal_year
from ledger.entries import DEBIT, EntryDraft, credit, debit
from ledger.errors import Conflict, SibError
from ledger.money import from_minor
from ledger.periods import close_period
from ledger.service import create_book, get_book, open_account, post_entry
from settlement.budget import budget_year, closing_period_end, due_on, obligation_year_of
from settlement.kpi import ResultInput
from settlement.results import audit_result, submit_results

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
USD = "usd-pay-for-success-housing"
runner = CliRunner()


def _usd() -> Contract:
    contract, problems = load_contract_file(EXAMPLES / f"{USD}.yaml")
    assert contract is not None, problems
    return contract


# --------------------------------------------------------------------------- the calendar

def test_a_july_to_june_year_named_by_its_end():
    assert fiscal_year_bounds(2026, 7, "end") == (date(2025, 7, 1), date(2026, 6, 30))
    assert fiscal_year_bounds(2025, 7, "end") == (date(2024, 7, 1), date(2025, 6, 30))
    assert fiscal_year_of(date(2025, 6, 30), 7, "end") == 2025
    assert fiscal_year_of(date(2025, 7, 1), 7, "end") == 2026
    assert fiscal_year_of(date(2026, 6, 30), 7, "end") == 2026
    assert fiscal_year_of(date(2026, 7, 1), 7, "end") == 2027
    start, end = fiscal_year_bounds(2024, 7, "end")
    assert (start, end, (end - start).days + 1) == (date(2023, 7, 1), date(2024, 6, 30), 366)
    # The same days named by their start are FY2025, as before.
    assert fiscal_year_bounds(2025, 7) == fiscal_year_bounds(2025, 7, "start") == \
        (date(2025, 7, 1), date(2026, 6, 30))


def test_an_april_to_march_year_named_by_its_start_and_by_its_end():
    assert fiscal_year_bounds(2019, 4, "start") == (date(2019, 4, 1), date(2020, 3, 31))
    assert fiscal_year_of(date(2020, 3, 31), 4, "start") == 2019
    assert fiscal_year_of(date(2020, 4, 1), 4, "start") == 2020
    assert fiscal_year_bounds(2024, 4) == (date(2024, 4, 1), date(2025, 3, 31))
    assert fiscal_year_bounds(2020, 4, "end") == (date(2019, 4, 1), date(2020, 3, 31))
    assert fiscal_year_of(date(2020, 3, 31), 4, "end") == 2020


def test_a_january_year_is_the_same_whichever_naming():
    for naming in ("start", "end"):
        assert fiscal_year_bounds(2025, 1, naming) == (date(2025, 1, 1), date(2025, 12, 31))
        assert fiscal_year_of(date(2025, 6, 15), 1, naming) == 2025
        assert fiscal_year_of(date(2025, 12, 31), 1, naming) == 2025


@pytest.mark.parametrize("naming", ["start", "end"])
@pytest.mark.parametrize("start_month", [1, 4, 7, 10])
def test_every_day_lies_in_the_year_it_is_named_in(start_month, naming):
    day = date(2023, 1, 1)
    while day <= date(2027, 12, 31):
        first, last = fiscal_year_bounds(fiscal_year_of(day, start_month, naming), start_month,
                                         naming)
        assert first <= day <= last, (day, start_month, naming)
        day += timedelta(days=1)


def test_a_naming_the_calendar_does_not_know_is_refused():
    with pytest.raises(ValueError, match="naming"):
        fiscal_year_of(date(2025, 7, 1), 7, "middle")
    with pytest.raises(ValueError, match="naming"):
        fiscal_year_bounds(2026, 7, "ending")


def test_the_era_year_is_that_of_the_years_name():
    # FY2026 named by its end (July 2025 – June 2026): 2026 is 令和8年 (2026 − 2019 + 1).
    assert wareki_fiscal_year(2026, 7, "end") == "令和8年度"
    assert wareki_fiscal_year(2019) == "令和元年度"


# --------------------------------------------------------------------------- the contract

def test_a_contract_named_by_its_end_loads_and_maps_its_years():
    contract = _usd()
    assert (contract.fiscal_year_start_month, contract.fiscal_year_named_by) == (7, "end")
    assert list(contract.fiscal_years) == [2026, 2027]
    assert contract.fiscal_year_bounds(2026) == (date(2025, 7, 1), date(2026, 6, 30))
    assert contract.fiscal_year_of(date(2025, 6, 30)) == 2025
    assert contract.fiscal_year_of(date(2025, 7, 1)) == 2026
    assert [t.fiscal_year for t in contract.tranches] == [2026, 2026, 2027, 2027]


def test_the_naming_defaults_to_start():
    contract, problems = load_contract_file(EXAMPLES / "gbp-rate-card-employment.yaml")
    assert contract is not None, problems
    assert (contract.fiscal_year_start_month, contract.fiscal_year_named_by) == (4, "start")
    assert contract.fiscal_year_bounds(2024) == (date(2024, 4, 1), date(2025, 3, 31))


def _document() -> dict:
    return yaml.safe_load((EXAMPLES / f"{USD}.yaml").read_text(encoding="utf-8"))


def test_a_wrong_naming_is_refused_naming_the_field():
    document = _document()
    document["fiscal_year_named_by"] = "ending"
    contract, problems = validate_document(document, "usd.yaml")
    assert contract is None
    assert [(p.code, p.field) for p in problems] == [("VALUE_NOT_ALLOWED",
                                                      "fiscal_year_named_by")]
    assert "'start'" in problems[0].message and "'end'" in problems[0].message


def test_the_naming_is_fixed_across_amendments():
    contract = _usd()
    renamed = contract.model_copy(update={"fiscal_year_named_by": "start"})
    amended, problems = apply_amendment(contract, renamed, "rename the years", 2027)
    assert amended is None
    assert ("AMENDMENT_CHANGES_SETTLED_PERIOD", "fiscal_year_named_by") in \
        [(p.code, p.field) for p in problems]


def test_budget_years_are_counted_in_the_contracts_own_names():
    contract = _usd()
    assert contract.payment_terms is None
    assert closing_period_end(contract, 2026) == date(2026, 6, 30)
    assert due_on(contract, 2026) == date(2026, 8, 31)
    assert budget_year(contract, 2026) == 2026
    following = contract.model_copy(update={"payment_terms": PaymentTerms(
        budget_year="following_year", closing_period_months=2)})
    assert budget_year(following, 2026) == 2027
    assert closing_period_end(following, 2026) == date(2026, 8, 31)
    assert obligation_year_of(following, date(2026, 8, 20)) == 2026
    assert obligation_year_of(following, date(2026, 9, 1)) == 2027
    assert obligation_year_of(following, date(2026, 9, 1), "FY2026") == 2026


# --------------------------------------------------------------------------- the ledger

def test_a_book_named_by_its_end_closes_its_years_by_those_names(session):
    book = create_book(session, "july-end", "USD", fiscal_year_start_month=7,
                       fiscal_year_named_by="end")
    assert (book.fiscal_year_named_by, book.fiscal_year_bounds(2026)) == (
        "end", (date(2025, 7, 1), date(2026, 6, 30)))
    for code, kind in (("cash", "asset"), ("capital", "equity")):
        open_account(session, "july-end", _spec(code, kind))
    money = from_minor(100, "USD")
    post_entry(session, EntryDraft("july-end", "e1", "test", date(2025, 6, 30),
                                   [debit("cash", money), credit("capital", money)], "FY2025"))
    post_entry(session, EntryDraft("july-end", "e2", "test", date(2025, 7, 1),
                                   [debit("cash", money), credit("capital", money)], "FY2026"))
    # 2025-06-30 is in FY2025, still open: FY2026 cannot close before it.
    with pytest.raises(SibError) as refused:
        close_period(session, "july-end", 2026)
    assert refused.value.code == "PERIOD_CLOSE_OUT_OF_ORDER"
    close_period(session, "july-end", 2025)
    assert get_book(session, "july-end").closed_through_on == date(2025, 6, 30)
    period = close_period(session, "july-end", 2026)
    assert (period.start_on, period.end_on) == (date(2025, 7, 1), date(2026, 6, 30))
    assert get_book(session, "july-end").closed_through_on == date(2026, 6, 30)


def _spec(code: str, kind: str) -> AccountSpec:
    return AccountSpec(code, kind, opened_on=date(2024, 7, 1))


def test_opening_a_book_again_with_another_naming_is_refused(session):
    create_book(session, "b", "USD", fiscal_year_start_month=7, fiscal_year_named_by="end")
    assert create_book(session, "b", "USD", fiscal_year_start_month=7,
                       fiscal_year_named_by="end").fiscal_year_named_by == "end"
    with pytest.raises(Conflict) as refused:
        create_book(session, "b", "USD", fiscal_year_start_month=7)
    assert [(p.code, p.field) for p in refused.value.problems] == [("BOOK_EXISTS", "code")]
    assert "named by their end year" in str(refused.value)
    with pytest.raises(SibError) as bad:
        create_book(session, "c", "USD", fiscal_year_start_month=7, fiscal_year_named_by="x")
    assert [(p.code, p.field) for p in bad.value.problems] == [
        ("FISCAL_NAMING_INVALID", "fiscal_year_named_by")]


# --------------------------------------------------------------------------- migration 0015

def _book_at_0014(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_book (code, name_ja, name_en, currency, fiscal_year_start_month,"
            " entry_count, head_hash, created_at) VALUES ('old', '', '', 'JPY', 4, 0, :h, "
            "'2021-04-01 00:00:00')"), {"h": "0" * 64})
    engine.dispose()


def _namings(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, fiscal_year_named_by FROM ledger_book")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_a_database_at_0014_upgrades_its_books_to_named_by_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0014")
    _book_at_0014(url)
    upgrade(url)
    assert _namings(url) == [("old", "start")]
    downgrade(url, "0014")
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT code FROM ledger_book")).scalars().all() == ["old"]
    engine.dispose()
    upgrade(url)
    assert _namings(url) == [("old", "start")]


@pytest.mark.postgres
def test_a_postgresql_database_at_0014_upgrades(own_pg_url):
    downgrade(own_pg_url, "0014")
    _book_at_0014(own_pg_url)
    upgrade(own_pg_url)
    assert _namings(own_pg_url) == [("old", "start")]


# --------------------------------------------------------------------------- a year told

@pytest.fixture
def cli_db(tmp_path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'sib.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        yield url
        get_settings.cache_clear()
        db._engines.pop(url).dispose() if url in db._engines else None


def _sib(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"sib {' '.join(args)}\n{result.output}"
    return result.stdout


def test_fy2026_is_typed_settled_closed_and_printed_as_2026(cli_db, tmp_path):
    _sib("contract", "load", str(EXAMPLES / f"{USD}.yaml"))
    shown = " ".join(_sib("contract", "show", USD).split())
    assert "FY2026–FY2027 (FY2026 = 2025-07-01 – 2026-06-30: years named by the year they " \
           "end in)" in shown
    _sib("money", "draw", "-c", USD, "--through", "2026-06-30")
    _sib("money", "fees", "-c", USD, "-y", "2026", "--on", "2025-09-30")
    with db.unit_of_work(cli_db) as s:
        rows = submit_results(s, [ResultInput(USD, 2026, "stably-housed", "81"),
                                  ResultInput(USD, 2026, "jail-days-reduction", "21.7")],
                              "policy-lab")
        for row in rows:
            audit_result(s, row.id or 0, "policy-lab-review")
        # FY2025 (July 2024 – June 2025) is before the term.
        with pytest.raises(SibError) as outside:
            submit_results(s, [ResultInput(USD, 2025, "stably-housed", "81")], "policy-lab")
        assert ("FISCAL_YEAR_OUTSIDE_TERM", "fiscal_year") in [
            (p.code, p.field) for p in outside.value.problems]
    pack = json.loads(_sib("close", "-c", USD, "-y", "2026", "--by", "spv", "--json"))
    assert (pack["fiscal_year"], pack["period_start"], pack["period_end"]) == (
        2026, "2025-07-01", "2026-06-30")
    with db.unit_of_work(cli_db) as s:
        earned = [e for e in read.entries(s, USD, kinds=["outcome_earned"])]
        assert {e.effective_on for e in earned} == {date(2026, 6, 30)}
        assert {e.links.get("fiscal_year") for e in earned} == {2026}
        assert sum(amount for e in earned for _, side, amount in e.postings
                   if side == DEBIT) == 51_981_075
        commitments = {e.links["tranche"]: e.effective_on
                       for e in read.entries(s, USD, kinds=["tranche_commitment"])}
        assert commitments == {"fy2026-housed": date(2025, 7, 1),
                               "fy2026-jail-days": date(2025, 7, 1),
                               "fy2027-housed": date(2026, 7, 1),
                               "fy2027-jail-days": date(2026, 7, 1)}
        assert get_book(s, USD).closed_through_on == date(2026, 6, 30)
        assert get_book(s, f"{USD}:payers").closed_through_on == date(2026, 6, 30)
        assert get_book(s, USD).fiscal_year_named_by == "end"
    out = tmp_path / "docs"
    _sib("statements", "-c", USD, "-y", "2026", "--out", str(out), "--lang", "en",
         "--processes", "1")
    [notice] = [p for p in out.rglob("*.en.pdf") if "BROOKHAVEN-STATE" in p.name]
    words = " ".join("\n".join(page.extract_text() or "" for page in
                               PdfReader(notice).pages).split())
    assert "FY2026" in words and "FY2025" not in words
    assert "1 Jul 2025 – 30 Jun 2026" in words


def test_the_api_opens_a_book_named_by_its_end_and_refuses_another_naming(db_url):
    with db.unit_of_work(db_url) as s:
        add_user(s, "ana", "intermediary", None)
        token = create_token(s, "ana")

    def headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}

    with TestClient(create_app(db_url)) as client:
        made = client.post("/ledger/books", json={
            "code": "july", "currency": "USD", "fiscal_year_start_month": 7,
            "fiscal_year_named_by": "end"}, headers=headers("b1"))
        assert made.status_code == 201, made.text
        assert (made.json()["fiscal_year_start_month"], made.json()["fiscal_year_named_by"]) \
            == (7, "end")
        wrong = client.post("/ledger/books", json={
            "code": "other", "currency": "USD", "fiscal_year_named_by": "ending"},
            headers=headers("b2"))
        assert wrong.status_code == 422
        assert "fiscal_year_named_by" in wrong.json()["field"]
        again = client.post("/ledger/books", json={
            "code": "july", "currency": "USD", "fiscal_year_start_month": 7},
            headers=headers("b3"))
        assert (again.status_code, again.json()["code"]) == (409, "BOOK_EXISTS")
