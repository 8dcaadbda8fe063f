"""Tie-out: every document of the demo's five years agrees with the ledger, figure by figure,
and a document whose figure is altered is caught with the document, the figure and both values
named (issue 10, acceptance 3)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app
from api.db import make_engine
from api.settings import get_settings
from contracts.store import get_contract
from investors import documents
from investors.tieout import (
    lender_mismatches,
    notice_mismatches,
    tie_out_year,
    year_end_mismatches,
)
from ledger import read
from settlement.close import build_pack

C = "sib-2019-five-municipalities"


@pytest.fixture(scope="module")
def demo_session(demo_story):
    """A session on the demo's books after its five years (conftest's ``demo_story``)."""
    engine = make_engine(demo_story[0])
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.mark.parametrize("year", range(2019, 2024))
def test_every_document_of_the_demo_ties_out_to_the_ledger(demo_session, year):
    found = tie_out_year(demo_session, C, year)
    assert found == [], "\n".join(str(m) for m in found)


def test_an_altered_notice_amount_is_named_with_both_values(demo_session):
    ctx = documents.context(demo_session, C, 2021)
    notice = documents.payment_notice(demo_session, ctx, "ube")
    assert notice_mismatches(demo_session, notice) == []
    # The amount due is what was posted to Ube's receivable for FY2021's settlement.
    posted = sum(p.debit_minor - p.credit_minor
                 for p in read.postings(demo_session, C, account="receivable:ube")
                 if p.links.get("fiscal_year") == 2021)
    assert notice.amount_due_minor == posted > 0
    # A notice checks its own arithmetic (lines = total; tax included in the amounts, so
    # due = total), so the alteration keeps it: one yen more on the first line.
    assert notice.tax_included and notice.amount_due_minor == notice.earned_total_minor
    first = dataclasses.replace(notice.earned_lines[0],
                                earned_minor=notice.earned_lines[0].earned_minor + 1)
    altered = dataclasses.replace(notice, earned_lines=(first,) + notice.earned_lines[1:],
                                  earned_total_minor=notice.earned_total_minor + 1,
                                  amount_due_minor=notice.amount_due_minor + 1)
    found = notice_mismatches(demo_session, altered)
    earned = notice.earned_total_minor
    assert [(m.figure, m.document_minor, m.ledger_minor) for m in found] == [
        ("amount due", posted + 1, posted), ("earned total", earned + 1, earned)]
    assert str(found[0]) == (f"{notice.header.document_id}: amount due is {posted + 1:,} on "
                             f"the document but {posted:,} in the ledger")


def test_an_altered_loan_balance_and_trial_balance_are_caught(demo_session):
    ctx = documents.context(demo_session, C, 2022)
    statement = documents.lender_statement(demo_session, ctx, "kyoto-bank")
    assert lender_mismatches(demo_session, statement) == []
    loan = statement.loans[0]
    closing = read.balance_as_of(demo_session, C, f"loan:{loan.loan_id}", ctx.end_on)
    # A loan section checks its own roll-forward, so 100 more repaid goes with it.
    repaid = loan.principal_repaid_minor
    altered = dataclasses.replace(statement, loans=(dataclasses.replace(
        loan, closing_balance_minor=closing - 100, principal_repaid_minor=repaid + 100),)
        + statement.loans[1:])
    figures = {(m.figure, m.document_minor, m.ledger_minor)
               for m in lender_mismatches(demo_session, altered)}
    assert figures == {("closing balance", closing - 100, closing),
                       ("principal repaid", repaid + 100, repaid)}

    report = documents.year_end_report(demo_session, ctx)
    # The report checks that its trial balance balances: 7 moves from one side's row to the
    # other's, so both rows are wrong and the report still balances.
    rows = list(report.trial_balance)
    d = next(i for i, r in enumerate(rows) if r.debit_minor)
    c = next(i for i, r in enumerate(rows) if r.credit_minor)
    rows[d] = dataclasses.replace(rows[d], debit_minor=rows[d].debit_minor + 7)
    rows[c] = dataclasses.replace(rows[c], credit_minor=rows[c].credit_minor + 7)
    bad = dataclasses.replace(report, trial_balance=tuple(rows))
    found = year_end_mismatches(demo_session, bad, ctx.start_on, ctx.end_on)
    assert [(m.figure, m.document_minor - m.ledger_minor) for m in found] == sorted(
        [(f"trial balance {rows[d].account_code} debit", 7),
         (f"trial balance {rows[c].account_code} credit", 7)])


def test_the_budget_tables_agree_year_by_year(demo_session, monkeypatch):
    """Issue 12, acceptance 1: every notice's 債務負担行為 table, the pack, `sib contract show`
    and the year-end report place each payment in the budget year of the results it paid."""
    contract = get_contract(demo_session, C)
    packs = {y: build_pack(demo_session, contract, y) for y in range(2019, 2024)}
    paid = {(p["payer"], y): p["paid"] for y, pack in packs.items() for p in pack.payers}
    # The demo pays every year's results in May of the next year, inside the closing period:
    # each is its own year's payment, FY2023's (paid in May 2024) included.
    assert all(paid[("ube", y)] > 0 for y in range(2019, 2024))

    for year in range(2019, 2024):
        ctx = documents.context(demo_session, C, year)
        for payer in contract.payer_ids:
            notice = documents.payment_notice(demo_session, ctx, payer)
            shown = {row.fiscal_year: row.paid_minor for row in notice.authorisation.years}
            # Before this notice: the earlier years as the packs have them, nothing since.
            assert shown == {y: paid[(payer, y)] if y < year else 0 for y in shown}, (year, payer)
            assert notice.paid_to_date_minor == sum(paid[(payer, y)] for y in range(2019, year))

    url = demo_session.get_bind().url.render_as_string(hide_password=False)
    demo_session.commit()  # the command writes nothing, but commits its unit of work
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["contract", "show", C, "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["budget_years"]
    assert {(r["payer"], r["budget_year"]): int(r["paid"]["amount"]) for r in rows} == paid

    report = documents.year_end_report(demo_session, documents.context(demo_session, C, 2023))
    planned_2023 = {r.payer.party_id: r for r in report.payers}
    assert {p: r.paid_minor for p, r in planned_2023.items()} == {
        p: paid[(p, 2023)] for p in contract.payer_ids}
    # 予算額 is FY2023's budget for these results, not the five-year authorisation.
    ube = next(p for p in contract.payers if p.party == "ube")
    assert planned_2023["ube"].authorised_minor < ube.authorisation.max_amount_minor


def test_every_document_of_a_yen_contract_is_dated_in_japan(demo_session):
    """Issue 12, item 7: the footer time of every document of a Japanese contract is JST."""
    from datetime import timedelta

    ctx = documents.context(demo_session, C, 2022)
    docs = [documents.lender_statement(demo_session, ctx, "kyoto-bank"),
            documents.year_end_report(demo_session, ctx),
            documents.payment_notice(demo_session, ctx, "ube")]
    docs += documents.investor_statements(demo_session, ctx)[:1]
    assert {d.header.generated_at.utcoffset() for d in docs} == {timedelta(hours=9)}
    assert {d.header.generated_at for d in docs} == {ctx.generated_at}  # the same instant
