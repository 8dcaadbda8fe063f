"""Withheld tax paid over, as a user does it: ``sib tax remit`` and ``POST …/tax-remittances``,
and the 支払調書 合計表 from ``sib holder records`` and ``GET …/payment-records/summary``.

The story (as in tests/test_investors_tax.py): an individual holding 10 units and a company
holding 40 units since June 2021 are paid a class distribution of ¥123,456 on 31 May 2023 —
24,691 and 98,765, withheld 5,041 and 20,167 (20.42 %, truncated), 25,208 in all. The 10th of
June 2023 is a Saturday: due Monday 12 June.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from moneyed import Money
from sqlalchemy import select
from typer.testing import CliRunner

from api import db
from api.cli import app
from api.main import create_app
from api.settings import get_settings
from api.tables import AuditRecord
from api.users import add_user, create_token
from contracts.chart import Code, Kind
from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import HolderSpec, add_holder, pay_holders, subscribe
from ledger import read
from ledger.entries import EntryDraft, credit, debit
from ledger.service import post_entry
from settlement.payments import draw_loans

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
UNITS = "citizen-units"
runner = CliRunner()


def _tell(url: str) -> None:
    contract, problems = load_contract_file(FIVE)
    assert contract is not None and problems == []
    with db.unit_of_work(url) as s:
        load_contract(s, contract)
        draw_loans(s, C, date(2021, 3, 31))
        add_holder(s, HolderSpec("h-sato", "individual", "佐藤 花子", "ｻﾄｳ ﾊﾅｺ"))
        add_holder(s, HolderSpec("h-ube-kogyo", "company", "宇部興業株式会社",
                                 tax_category="corporate"))
        subscribe(s, C, UNITS, "h-sato", 10, date(2021, 6, 1))
        subscribe(s, C, UNITS, "h-ube-kogyo", 40, date(2021, 6, 1))
        money = Money(123_456, "JPY")
        post_entry(s, EntryDraft(C, "test:dist", Kind.INVESTOR_DISTRIBUTION, date(2023, 5, 31),
                                 [debit(Code.distributions(UNITS), money),
                                  credit(Code.distributions_payable(UNITS), money)],
                                 "target return", {"unit_class": UNITS}))
        pay_holders(s, C, date(2023, 5, 31))


@pytest.fixture
def cli_story(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    _tell(db_url)
    yield db_url
    get_settings.cache_clear()
    db._engines.pop(db_url).dispose() if db_url in db._engines else None


def _withholding_payable(url: str) -> int:
    with db.unit_of_work(url) as s:
        return read.totals(s, C, Code.WITHHOLDING_PAYABLE).net_credit_minor


def test_sib_tax_remit_posts_the_month_once_and_prints_the_slip(cli_story, monkeypatch):
    assert _withholding_payable(cli_story) == 25_208
    # The audit log reads the command from the process's arguments, as ``sib`` receives them.
    monkeypatch.setattr(sys, "argv", ["sib", "tax", "remit", "-c", C, "--month", "2023-05"])
    first = runner.invoke(app, ["tax", "remit", "-c", C, "--month", "2023-05", "--json"])
    assert first.exit_code == 0, first.output
    posted = json.loads(first.output)
    assert (posted["status"], posted["due_on"], posted["paid_on"], posted["late"]) == (
        "posted", "2023-06-12", "2023-06-12", False)
    slip = posted["slip"]
    assert slip["form"] == "利子等の所得税徴収高計算書（納付書）"
    assert (slip["recipients"], slip["paid"], slip["withheld"]) == (
        2, {"amount": "123456", "currency": "JPY"}, {"amount": "25208", "currency": "JPY"})
    # 25,208 ÷ 1.021 = 24,689.52 → 所得税 24,689; 復興特別所得税 519
    assert (slip["income_tax"]["amount"], slip["reconstruction_tax"]["amount"]) == (
        "24689", "519")
    assert slip["lines"][0]["category"] == "匿名組合契約等に基づく利益の分配"
    assert _withholding_payable(cli_story) == 0

    again = runner.invoke(app, ["tax", "remit", "-c", C, "--month", "2023-05"])
    assert again.exit_code == 0, again.output
    assert "利子等の所得税徴収高計算書" in again.output and "25,208" in again.output
    assert "already paid over" in again.output and f"entry {posted['entry_id']}" in again.output
    with db.unit_of_work(cli_story) as s:
        assert len(read.entries(s, C, kinds=[Kind.TAX_REMITTANCE])) == 1
        actions = list(s.scalars(select(AuditRecord.action)))
    assert actions.count("tax remit") == 2  # a money movement, recorded like every write


def test_sib_tax_remit_says_when_nothing_was_withheld_or_the_payment_is_late(cli_story):
    nothing = runner.invoke(app, ["tax", "remit", "-c", C, "--month", "2023-04"])
    assert nothing.exit_code == 0, nothing.output
    assert "nothing was withheld in 2023-04" in nothing.output
    late = runner.invoke(app, ["tax", "remit", "-c", C, "--month", "2023-05",
                               "--on", "2023-06-19"])
    assert late.exit_code == 0, late.output
    assert "late by 7 days" in late.output  # due 12 June, paid 19 June


@pytest.mark.parametrize("args, code, field", [
    (["-c", C, "--month", "2099-01"], "TAX_MONTH_IN_FUTURE", "month"),
    (["-c", "nowhere", "--month", "2023-05"], "CONTRACT_NOT_FOUND", "contract"),
    (["-c", C, "--month", "May"], "TAX_MONTH_INVALID", "month"),
    (["-c", C, "--month", "2023-05", "--on", "12 June"], "DATE_INVALID", "on"),
    (["-c", C, "--month", "2023-05", "--on", "2023-05-30"], "TAX_PAID_BEFORE_WITHHELD",
     "paid_on"),
])
def test_sib_tax_remit_refusals_name_the_field(cli_story, args, code, field):
    result = runner.invoke(app, ["tax", "remit", *args])
    assert result.exit_code == 1
    assert f"{code} {field}:" in result.output
    assert _withholding_payable(cli_story) == 25_208  # nothing posted


def test_sib_holder_records_marks_the_records_filed_and_prints_the_summary(cli_story):
    records = runner.invoke(app, ["holder", "records", "-c", C, "--calendar-year", "2023",
                                  "--json"])
    assert records.exit_code == 0, records.output
    # 24,691 is not more than 50,000: not filed; 98,765 is: filed. Existing fields stay.
    rows = {r["recipient"]["holder_id"]: r for r in json.loads(records.output)}
    assert (rows["h-sato"]["paid_minor"], rows["h-sato"]["must_file"]) == (24_691, False)
    assert (rows["h-ube-kogyo"]["paid_minor"], rows["h-ube-kogyo"]["must_file"]) == (98_765,
                                                                                      True)
    assert rows["h-sato"]["threshold_minor"] == 50_000
    summary = runner.invoke(app, ["holder", "records", "-c", C, "--calendar-year", "2023",
                                  "--summary", "--json"])
    assert summary.exit_code == 0, summary.output
    sheet = json.loads(summary.output)
    assert sheet["filed"] == {"count": 1, "paid": {"amount": "98765", "currency": "JPY"},
                              "withheld": {"amount": "20167", "currency": "JPY"}}
    assert sheet["below_threshold"]["count"] == 1
    assert sheet["below_threshold"]["withheld"]["amount"] == "5041"
    assert sheet["total"]["paid"]["amount"] == "123456"
    table = runner.invoke(app, ["holder", "records", "-c", C, "--calendar-year", "2023"])
    assert "below threshold" in table.output and "合計表 2023" in table.output


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
def client(db_url):
    _tell(db_url)
    with db.unit_of_work(db_url) as s:
        tokens = {}
        for role in ("intermediary", "auditor"):
            add_user(s, f"u-{role}", role)
            tokens[role] = create_token(s, f"u-{role}")
    with TestClient(create_app(db_url)) as test_client:
        test_client.tokens = tokens  # type: ignore[attr-defined]
        yield test_client


def _post(client, body, key: str, role: str = "intermediary", contract: str = C):
    return client.post(f"/contracts/{contract}/tax-remittances", json=body, headers={
        "Authorization": f"Bearer {client.tokens[role]}", "Idempotency-Key": key})


def test_the_endpoint_remits_a_month_once(client, db_url):
    first = _post(client, {"month": "2023-05", "paid_on": "2023-06-12"}, "k1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["status"], body["slip"]["withheld"]["amount"], body["due_on"]) == (
        "posted", "25208", "2023-06-12")
    again = _post(client, {"month": "2023-05"}, "k2")  # another request, the same month
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["entry_id"]) == ("already_posted",
                                                                  body["entry_id"])
    assert again.json()["slip"] == body["slip"]
    assert _withholding_payable(db_url) == 0
    nothing = _post(client, {"month": "2023-04"}, "k3")
    assert nothing.status_code == 200 and nothing.json()["status"] == "nothing_withheld"


@pytest.mark.parametrize("body, contract, status, code, field", [
    ({"month": "2099-01"}, C, 422, "TAX_MONTH_IN_FUTURE", "month"),
    ({"month": "2023-13"}, C, 422, "TAX_MONTH_INVALID", "month"),
    ({"month": "2023-05"}, "nowhere", 404, "CONTRACT_NOT_FOUND", "contract"),
    ({"month": "2023-05", "paid_on": "2023-05-01"}, C, 422, "TAX_PAID_BEFORE_WITHHELD",
     "paid_on"),
])
def test_the_endpoint_refusals_name_the_field(client, db_url, body, contract, status, code,
                                              field):
    response = _post(client, body, "refused", contract=contract)
    assert response.status_code == status, response.text
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert _withholding_payable(db_url) == 25_208


def test_only_the_intermediary_moves_the_money(client):
    response = _post(client, {"month": "2023-05"}, "k-auditor", role="auditor")
    assert response.status_code == 403 and response.json()["code"] == "ROLE_FORBIDDEN"


def test_the_payment_record_summary_over_http(client):
    response = client.get(f"/contracts/{C}/payment-records/summary",
                          params={"calendar_year": 2023},
                          headers={"Authorization": f"Bearer {client.tokens['auditor']}"})
    assert response.status_code == 200, response.text
    sheet = response.json()
    assert sheet["threshold"] == {"amount": "50000", "currency": "JPY"}
    assert (sheet["filed"]["count"], sheet["below_threshold"]["count"]) == (1, 1)
    assert sheet["total"]["withheld"]["amount"] == "25208"
    assert {r["holder"]: r["must_file"] for r in sheet["records"]} == {
        "h-sato": False, "h-ube-kogyo": True}
