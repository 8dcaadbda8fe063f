"""The portal shows a contract abroad in its own currency and year names (the documents'
rule, issue 13 item 5 / issue 12 item 7): a US state's FY2026 settlement preview reads
US$519,810.75 and FY2026 / 2026会計年度 — never a yen figure of cents or 令和8年度."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.db import unit_of_work
from api.main import create_app
from api.users import add_user, create_token
from contracts.store import load_contract
from contracts.validate import load_contract_file
from settlement.kpi import ResultInput
from settlement.results import audit_result, submit_results

U = "usd-pay-for-success-housing"
EXAMPLE = Path(__file__).resolve().parent.parent / "contracts/examples" / f"{U}.yaml"


def test_a_dollar_contracts_preview_reads_in_dollars_and_its_own_years(db_url):
    """Stably housed 81 of a target of 80 on the rate card ($4,250.75 a person, at most
    $425,075.00) earns 81 × $4,250.75 = $344,310.75; jail days 21.7 (linear from 10 to 30)
    earns (21.7 − 10)/20 × $300,000.00 = $175,500.00; due $519,810.75 (see
    tests/test_currencies.py)."""
    contract, problems = load_contract_file(EXAMPLE)
    assert contract is not None, problems
    with unit_of_work(db_url) as s:
        load_contract(s, contract, EXAMPLE.name)
        for row in submit_results(s, [ResultInput(U, 2026, "stably-housed", "81"),
                                      ResultInput(U, 2026, "jail-days-reduction", "21.7")],
                                  "lab"):
            audit_result(s, row.id or 0, "review")
        add_user(s, "homes-first", "intermediary")
        token = create_token(s, "homes-first", 1)
    client = TestClient(create_app(db_url), base_url="https://portal.test")
    client.get("/portal/signin")
    client.post("/portal/signin", data={"csrf": str(client.cookies.get("sib_pre")),
                                        "code": token, "username": "homes-first"})
    for lang, year in (("en", "FY2026"), ("ja", "2026会計年度")):
        page = client.get(f"/portal/workflow/preview?contract={U}&fy=2026&lang={lang}")
        assert page.status_code == 200, page.text[:400]
        assert "519,810.75" in page.text and year in page.text
        assert "51,981,075" not in page.text and "5,198.10" not in page.text
        assert "令和8年度" not in page.text
    # The receipt form is typed in dollars: 519810.75 is $519,810.75 (it took whole yen).
    import re

    from ledger import read
    from settlement.runs import settle
    with unit_of_work(db_url) as s:
        settle(s, U, 2026)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post(f"/portal/contracts/{U}/years/2026/receipts", data={
        "csrf": csrf.group(1), "form_key": "usd-receipt-1", "payer": "brookhaven-state",
        "amount": "519810.75", "on": "2026-08-20", "reference": "FY2026"},
        follow_redirects=False)
    assert done.status_code in (302, 303), done.text[:400]
    with unit_of_work(db_url) as s:
        assert read.totals(s, U, "cash").net_debit_minor == 51_981_075 + read.totals(
            s, U, "cash", kinds=["loan_drawdown", "unit_subscription"]).net_debit_minor
        assert read.totals(s, U, "receivable:brookhaven-state").net_debit_minor == 0
