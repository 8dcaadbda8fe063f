"""Money over HTTP: the same story told through the services (as ``sib`` does) and through the
API must leave the same books — loan draws, bank accounts, fixed fees, payments received, the
waterfall with its traces, holders paid net of withholding, 支払調書 data, the beancount export.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from api import db, demo
from api.main import create_app
from api.users import add_user, create_token
from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import HolderSpec, add_holder, pay_holders, payment_records, subscribe
from ledger.calendar import next_business_day
from ledger.reports import trial_balance
from ledger.verify import verify
from settlement.close import close_year
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, pay_fixed_fees, record_payment
from settlement.results import audit_result, submit_results
from settlement.transfers import set_bank_account

C = demo.C
YEARS = (2019, 2020, 2021)
HOLDERS = {"citizen-001": 2, "citizen-002": 3}
DRAWN_THROUGH = date(2024, 3, 31)


def _bank(party: str) -> dict[str, str]:
    bank, bank_name, branch, branch_name, number, holder, code = demo.BANK_ACCOUNTS[party]
    return {"bank_code": bank, "bank_name": bank_name, "branch_code": branch,
            "branch_name": branch_name, "account_number": number, "holder_kana": holder,
            "requester_code": code}


def _load_and_register(url: str) -> None:
    """The contract and its holders (not money: the same in both stories)."""
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems
    with db.unit_of_work(url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
        for code in HOLDERS:
            add_holder(s, HolderSpec(code, "individual", f"市民 {code}", "ｼﾐﾝ"))


def _evaluate(url: str, year: int) -> None:
    contract_wide, per_payer = demo.RESULTS[year]
    inputs = [ResultInput(C, year, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, year, "continuation-rate", v, p) for p, v in per_payer.items()]
    with db.unit_of_work(url) as s:
        for row in submit_results(s, inputs, "evaluator"):
            audit_result(s, row.id or 0, "auditor")


def _dates(year: int) -> tuple[date, date]:
    return next_business_day(date(year + 1, 5, 20)), next_business_day(date(year + 1, 5, 29))


def _through_the_services(url: str) -> None:
    _load_and_register(url)
    with db.unit_of_work(url) as s:
        for party in demo.BANK_ACCOUNTS:
            set_bank_account(s, C, party, requested_by="twr", approved_by="admin",
                                 **_bank(party))
        draw_loans(s, C, DRAWN_THROUGH)
    for year in YEARS:
        if year == 2021:
            with db.unit_of_work(url) as s:
                for code, units in HOLDERS.items():
                    subscribe(s, C, "citizen-units", code, units, date(2021, 6, 1))
        with db.unit_of_work(url) as s:
            pay_fixed_fees(s, C, year, date(year, 9, 30))
        _evaluate(url, year)
        paid_on, waterfall_on = _dates(year)
        with db.unit_of_work(url) as s:
            pack = close_year(s, C, year, "twr")
            received = {}
            for p in pack.payers:
                if p["outstanding"]:
                    record_payment(s, C, p["payer"], p["outstanding"], paid_on, f"FY{year}")
                    received[p["payer"]] = p["outstanding"]
            distribute(s, C, waterfall_on, reference=f"FY{year}")
            pay_holders(s, C, waterfall_on)


class Api:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.token, self.count = client, token, 0

    def send(self, method: str, path: str, body=None, status: int = 201, key: str | None = None):
        self.count += 1
        headers = {"Authorization": f"Bearer {self.token}",
                   "Idempotency-Key": key or f"money-{self.count}"}
        r = self.client.request(method, path, json=body, headers=headers)
        assert r.status_code == status, r.text
        return r.json()


def _through_the_api(url: str) -> dict:
    _load_and_register(url)
    with db.unit_of_work(url) as s:
        add_user(s, "twr", "intermediary")
        token = create_token(s, "twr")
        add_user(s, "admin", "admin")
        admin_token = create_token(s, "admin")
    seen: dict = {"distributions": [], "holder_payments": []}
    with TestClient(create_app(url)) as client:
        api = Api(client, token)
        admin = Api(client, admin_token)
        for party in demo.BANK_ACCOUNTS:  # asked for by TWR, approved by the admin
            request = api.send("PUT", f"/contracts/{C}/parties/{party}/bank-account",
                               _bank(party), status=202)
            number = _bank(party)["account_number"]
            assert request["proposed"]["account_number"] == "****" + number[-3:]
            approved = admin.send("POST", f"/change-requests/{request['id']}/approval", None,
                                  status=200)
            assert approved["state"] == "approved"
        draws = api.send("POST", f"/contracts/{C}/loan-draws",
                         {"through_on": DRAWN_THROUGH.isoformat()})
        again = api.send("POST", f"/contracts/{C}/loan-draws",
                         {"through_on": DRAWN_THROUGH.isoformat()})
        assert draws["entries"] and again == draws  # each draw posted once
        for year in YEARS:
            if year == 2021:
                for code, units in HOLDERS.items():
                    api.send("POST", f"/contracts/{C}/subscriptions", {
                        "unit_class": "citizen-units", "holder": code, "units": units,
                        "subscribed_on": "2021-06-01"})
            api.send("POST", f"/contracts/{C}/years/{year}/fixed-fees",
                     {"paid_on": f"{year}-09-30"})
            _evaluate(url, year)
            paid_on, waterfall_on = _dates(year)
            pack = api.send("POST", f"/contracts/{C}/years/{year}/close")
            for p in pack["payers"]:
                if p["outstanding"] != {"amount": "0", "currency": "JPY"}:
                    receipt = api.send("POST", f"/contracts/{C}/receipts", {
                        "payer": p["payer"], "received_on": paid_on.isoformat(),
                        "reference": f"FY{year}", "amount": p["outstanding"]})
                    assert len(receipt["entries"]) == 2
            distribution = api.send("POST", f"/contracts/{C}/distributions", {
                "on": waterfall_on.isoformat(), "reference": f"FY{year}"})
            seen["distributions"].append(distribution)
            seen["holder_payments"].append(api.send(
                "POST", f"/contracts/{C}/holder-payments", {"on": waterfall_on.isoformat()}))
        seen["refused_twice"] = api.send("POST", f"/contracts/{C}/distributions", {
            "on": waterfall_on.isoformat(), "reference": "FY2021"}, status=409)
        seen["too_much"] = api.send("POST", f"/contracts/{C}/receipts", {
            "payer": "ube", "received_on": "2023-05-22", "reference": "x",
            "amount": {"amount": "999999999", "currency": "JPY"}}, status=422)
        seen["wrong_currency"] = api.send("POST", f"/contracts/{C}/receipts", {
            "payer": "ube", "received_on": "2023-05-22", "reference": "x",
            "amount": {"amount": "1.00", "currency": "GBP"}}, status=422)
        auditor_headers = {"Authorization": f"Bearer {token}"}
        seen["records"] = client.get(f"/contracts/{C}/payment-records",
                                     params={"calendar_year": 2022},
                                     headers=auditor_headers).json()
        export = client.get(f"/ledger/books/{C}/export", headers=auditor_headers)
        assert export.status_code == 200
        seen["export"] = export.text
        seen["schema"] = client.get("/contract-schema", headers=auditor_headers).json()
    return seen


@pytest.fixture(scope="module")
def stories(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("money")
    services, over_http = f"sqlite:///{tmp / 'services.db'}", f"sqlite:///{tmp / 'api.db'}"
    for url in (services, over_http):
        db.upgrade(url)
    _through_the_services(services)
    return services, over_http, _through_the_api(over_http)


def _balances(url: str, book: str) -> dict[str, tuple[int, int, int, int]]:
    with db.unit_of_work(url) as s:
        return {r.code: (r.debits_posted, r.credits_posted, r.debits_pending, r.credits_pending)
                for r in trial_balance(s, book).rows}


def test_the_api_leaves_the_books_the_services_leave(stories):
    services, over_http, _ = stories
    with db.unit_of_work(services) as s:
        assert set(verify(s).books) == {C, f"{C}:payers"}  # the SPV's book and the payers'
    for book in (C, f"{C}:payers"):
        assert _balances(over_http, book) == _balances(services, book), book
    with db.unit_of_work(over_http) as s:
        report = verify(s)
    assert report.ok, report.problems


def test_each_distribution_adds_up_and_shows_its_traces(stories):
    _, _, seen = stories
    for d in seen["distributions"]:
        paid = sum(int(a["paid"]["amount"]) for a in d["allocations"])
        assert paid + int(d["left"]["amount"]) == int(d["available"]["amount"])
        assert int(d["available"]["amount"]) <= sum(int(m["amount"])
                                                     for m in d["receipts"].values())
        assert any(t["subject"] == "waterfall" for t in d["traces"])
    fy2021 = seen["distributions"][-1]
    returns = [a for a in fy2021["allocations"] if a["step"] == "investor_returns"]
    assert returns and all(a["owed"]["currency"] == "JPY" for a in returns)
    assert any("accrued" in " ".join(s["label"] for s in t["steps"])
               for t in fy2021["traces"])  # the return owed is explained


def test_holders_are_paid_once_and_net_of_withholding(stories):
    services, _, seen = stories
    fy2021 = seen["holder_payments"][-1]
    assert {p["holder"] for p in fy2021} <= set(HOLDERS)
    for p in fy2021:
        gross, withheld, net = (int(p[k]["amount"]) for k in ("gross", "withheld", "net"))
        assert gross - withheld == net and withheld >= 0
    with db.unit_of_work(services) as s:
        expected = {r.recipient.holder_id: (r.paid_minor, r.withheld_minor)
                    for r in payment_records(s, C, 2022)}
    assert {r["holder"]: (int(r["paid"]["amount"]), int(r["withheld"]["amount"]))
            for r in seen["records"]} == expected


def test_money_refusals_are_named(stories):
    _, _, seen = stories
    assert seen["refused_twice"]["code"] == "ALREADY_DISTRIBUTED"
    assert seen["too_much"]["code"] == "PAYMENT_EXCEEDS_DUE"
    assert seen["wrong_currency"]["code"] == "CURRENCY_MISMATCH"
    assert seen["wrong_currency"]["field"] == "amount.currency"


def test_the_export_and_the_schema(stories):
    _, _, seen = stories
    assert seen["export"].count("* \"") > 10 and "Assets:" in seen["export"]
    assert seen["schema"]["$schema"].startswith("https://json-schema.org/")
