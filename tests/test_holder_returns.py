"""Holder returns as data (issue 13, item 7 and acceptance 4): `sib holder returns` and
GET …/returns agree with the investor statement and with pyxirr, on the demo's books."""

from __future__ import annotations

import json
from datetime import date

import pytest
import pyxirr
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from api.db import make_engine
from investors import documents
from investors.holder_returns import holder_returns
from investors.store import holder_payments
from investors.tables import Holder, Subscription

C = "sib-2019-five-municipalities"
YEAR_END = date(2024, 3, 31)


@pytest.fixture(scope="module")
def books(demo_story):
    url, _ = demo_story
    engine = make_engine(url)
    with Session(engine) as session:
        yield url, session
    engine.dispose()


def test_each_holder_agrees_with_its_statement_and_with_pyxirr(books):
    _, session = books
    rows = {r.holder: r for r in holder_returns(session, C, YEAR_END)}
    statements = documents.investor_statements(session, documents.context(session, C, 2023))
    assert len(statements) == 120 and len(rows) == 121      # 120 holders and the class
    for statement in statements:
        row = rows[statement.holder.holder_id]
        summary = statement.returns
        assert (row.paid_in_minor, row.residual_minor, row.moic, row.irr) == (
            summary.contributed_minor, summary.residual_minor, summary.moic, summary.irr)
        assert row.return_distributed_minor + row.capital_returned_minor \
            + row.recovered_minor == summary.distributed_minor
    # citizen-002 bought 2 % 5 + 1 = 3 units of 50,000 on 1 June 2021: 150,000 paid in.
    assert rows["citizen-002"].paid_in_minor == 150_000
    # pyxirr on the same dated flows (subscriptions out, money received in, the residual on
    # the valuation date) gives the same IRR.
    holder = session.scalars(select(Holder).where(Holder.code == "citizen-002")).one()
    flows = [(s.subscribed_on, -s.amount_minor) for s in session.scalars(
        select(Subscription).where(Subscription.holder_id == holder.id))]
    flows += [(p.paid_on, p.gross_minor) for p in holder_payments(session, C, holder.id)
              if p.paid_on <= YEAR_END and p.kind != "write_down"]
    row = rows["citizen-002"]
    if row.residual_minor:
        flows.append((YEAR_END, row.residual_minor))
    expected = pyxirr.xirr([d for d, _ in flows], [a for _, a in flows])
    assert row.irr is not None and abs(float(row.irr) - expected) < 1e-9  # float-ok: reference


def test_the_command_and_the_endpoint_give_the_same_rows(books, monkeypatch):
    url, session = books
    session.rollback()  # no read transaction left open on the SQLite file while the CLI runs
    monkeypatch.setenv("DATABASE_URL", url)
    from api.settings import get_settings
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["holder", "returns", "-c", C, "--holder",
                                          "citizen-002", "--as-of", "2024-12-31", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    # At the end everything came back: 150,000 of capital and the return, nothing held.
    assert (row["paid_in"], row["capital_returned"], row["residual_value"]) == (
        {"amount": "150000", "currency": "JPY"}, {"amount": "150000", "currency": "JPY"},
        {"amount": "0", "currency": "JPY"})
    [same] = holder_returns(session, C, date(2024, 12, 31), "citizen-002")
    assert row["irr"] == str(same.irr) and row["multiple"] == str(same.moic)
