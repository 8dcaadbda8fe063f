"""The authorisation matrix: every operation of the API against every role (and no token).

Each operation has one row saying which roles may call it; the test calls it as each role with
a realistic request and checks the answer: allowed → success; another role → 403
ROLE_FORBIDDEN; no token → 401. A new operation without a row fails the test. Scoped roles
(a bank, a finance officer, an investor) asking for another party's object get 404 with the same
code as for an object that does not exist, so nobody learns what exists.
"""

from __future__ import annotations

import io
import itertools
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from fastapi.testclient import TestClient

from api import db
from api.main import create_app
from api.users import add_user, create_token
from contracts.store import load_contract
from contracts.validate import load_contract_file
from investors.store import HolderSpec, add_holder, subscribe
from settlement.kpi import ResultInput
from settlement.payments import distribute, draw_loans, record_payment
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.transfers import set_bank_account

ROOT = Path(__file__).resolve().parent.parent
C = "sib-2019-five-municipalities"
ROLES = {"admin": ("admin", None), "intermediary": ("intermediary", None),
         "evaluator": ("evaluator", None), "finance_officer": ("finance_officer", "ube"),
         "lender": ("lender", "yamaguchi-bank"), "investor": ("investor", "citizen-001"),
         "auditor": ("auditor", None)}
EVERYONE = set(ROLES)
FULL = {"admin", "intermediary", "auditor", "evaluator"}
ALL = {"admin", "intermediary", "auditor"}
WRITERS = {"admin", "intermediary"}
EVALUATORS = {"admin", "evaluator"}
DISTRIBUTED_ON = date(2020, 5, 29)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('roles') / 'roles.db'}"
    db.upgrade(url)
    contract, _ = load_contract_file(ROOT / "contracts/examples" / f"{C}.yaml")
    with db.unit_of_work(url) as s:
        load_contract(s, contract)
        for party in ("twr", "ube", "yamaguchi-bank", "thl", "tohoku-bank",
                      "saitama-resona-bank", "peoples", "tokyo-dome-sports"):
            set_bank_account(s, C, party, bank_code="0170", bank_name="ﾔﾏｸﾞﾁｷﾞﾝｺｳ",
                             branch_code="001", branch_name="ﾎﾝﾃﾝ", account_number="1234567",
                             holder_kana="ｶ)ﾃｽﾄ", requester_code="1000000001")
        draw_loans(s, C, date(2020, 3, 31))
        inputs = [ResultInput(C, 2019, "participants", "7000"),
                  ResultInput(C, 2019, "inactive-share", "52.5"),
                  ResultInput(C, 2019, "guideline-share", "37")]
        inputs += [ResultInput(C, 2019, "continuation-rate", "68", p)
                   for p in ("ube", "tono", "yawata", "ibusuki", "misato")]
        for row in submit_results(s, inputs, "setup"):
            audit_result(s, row.id, "setup")
        settle(s, C, 2019)
        for code in ("citizen-001", "citizen-002"):
            add_holder(s, HolderSpec(code, "individual", f"市民 {code}", "ｼﾐﾝ"))
            subscribe(s, C, "citizen-units", code, 2, date(2021, 6, 1))
        record_payment(s, C, "tono", 1_000_000, date(2020, 5, 20), "FY2019-part")
        distribute(s, C, DISTRIBUTED_ON, {"tono": 1_000_000}, reference="FY2019-part")
        tokens = {}
        for name, (role, scope) in ROLES.items():
            add_user(s, f"u-{name}", role, scope)
            tokens[name] = create_token(s, f"u-{name}")
    with TestClient(create_app(url)) as c:
        c.tokens = tokens
        c.url = url
        yield c


def h(client: TestClient, role: str | None, write: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {client.tokens[role]}"} if role else {}
    if write:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    return headers


def admin(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, path, headers=h(client, "admin", method != "GET"),
                              **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def _entry(amount: str = "10", pending: bool = False) -> dict[str, Any]:
    return {"kind": "test", "effective_on": "2020-04-10", "pending": pending,
            "postings": [{"account": "cash", "side": "C",
                          "amount": {"amount": amount, "currency": "JPY"}},
                         {"account": f"fees:thl", "side": "D",
                          "amount": {"amount": amount, "currency": "JPY"}}]}


def _document() -> dict[str, Any]:
    path = ROOT / "contracts/examples" / f"{C}.yaml"
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


# Fresh (fiscal year, payer) slots for results, so that no request is a duplicate.
SLOTS = iter([("continuation-rate", year, payer) for year in (2021, 2022, 2023)
              for payer in ("ube", "tono", "yawata", "ibusuki", "misato")])


def _result(client: TestClient, role: str | None, audited: bool) -> int:
    if role not in EVALUATORS:
        return 999_999  # refused before the result is looked up: no need to make one
    kpi, year, payer = next(SLOTS)
    row = admin(client, "POST", f"/contracts/{C}/kpi-results",
                json={"fiscal_year": year, "kpi": kpi, "payer": payer, "value": "70.5"})[0]
    if audited:
        admin(client, "POST", f"/kpi-results/{row['id']}/audit")
    return int(row["id"])


B = f"/ledger/books/{C}"
Y = f"/contracts/{C}/years/2019"

# (method, path) → (roles allowed, call). A call gets the client and a role and sends the
# request as that role, preparing what it needs (as admin) first.
Call = Callable[[TestClient, str], Any]


def get(path: str, **kw: Any) -> Call:
    return lambda c, role: c.get(path, headers=h(c, role), **kw)


def post(path: str | Callable[[TestClient, str], str], body: Any = None,
         make_body: Callable[[TestClient], Any] | None = None, **kw: Any) -> Call:
    def call(c: TestClient, role: str) -> Any:
        target = path(c, role) if callable(path) else path
        payload = make_body(c) if make_body else body
        return c.post(target, json=payload, headers=h(c, role, True), **kw)
    return call


def _pending(c: TestClient) -> str:
    return f"{B}/entries/{admin(c, 'POST', f'{B}/entries', json=_entry(pending=True))['id']}"


def _posted(c: TestClient) -> str:
    return f"{B}/entries/{admin(c, 'POST', f'{B}/entries', json=_entry())['id']}"


def _upload(c: TestClient, role: str) -> Any:
    kpi, year, payer = next(SLOTS) if role in EVALUATORS else ("participants", 2023, "")
    data = f"contract,fiscal_year,kpi,payer,value\n{C},{year},{kpi},{payer},71\n"
    return c.post("/kpi-results/upload", headers=h(c, role, True),
                  files={"file": (f"{uuid.uuid4().hex}.csv", io.BytesIO(data.encode()),
                                  "text/csv")})


MATRIX: dict[tuple[str, str], tuple[set[str], Call]] = {
    ("GET", "/health"): (EVERYONE, get("/health")),
    ("GET", "/ledger/books"): (EVERYONE, get("/ledger/books")),
    ("POST", "/ledger/books"): (WRITERS, post("/ledger/books", make_body=lambda c: {
        "code": f"b-{uuid.uuid4().hex[:8]}", "currency": "JPY"})),
    ("GET", "/ledger/books/{book}/accounts"): (EVERYONE, get(f"{B}/accounts")),
    ("POST", "/ledger/books/{book}/accounts"): (WRITERS, post(f"{B}/accounts", make_body=lambda c: {
        "code": f"memo:{uuid.uuid4().hex[:6]}", "type": "asset"})),
    ("GET", "/ledger/books/{book}/accounts/{account}/statement"):
        (FULL, get(f"{B}/accounts/cash/statement")),
    ("GET", "/ledger/books/{book}/entries"): (FULL, get(f"{B}/entries")),
    ("GET", "/ledger/books/{book}/entries/{entry_id}"):
        (FULL | {"finance_officer"}, get(f"{B}/entries/1")),  # Ube's first commitment
    ("POST", "/ledger/books/{book}/entries"): (WRITERS, post(f"{B}/entries", _entry())),
    ("POST", "/ledger/books/{book}/entries/{entry_id}/post"):
        (WRITERS, post(lambda c, r: _pending(c) + "/post", {"effective_on": "2020-04-11"})),
    ("POST", "/ledger/books/{book}/entries/{entry_id}/void"):
        (WRITERS, post(lambda c, r: _pending(c) + "/void", {"effective_on": "2020-04-11"})),
    ("POST", "/ledger/books/{book}/entries/{entry_id}/reverse"):
        (WRITERS, post(lambda c, r: _posted(c) + "/reverse", {"effective_on": "2020-04-11"})),
    ("GET", "/ledger/books/{book}/trial-balance"): (FULL, get(f"{B}/trial-balance")),
    ("GET", "/ledger/verify"): (ALL, get("/ledger/verify")),
    ("GET", "/audit"): ({"admin", "auditor"}, get("/audit")),
    ("POST", "/contracts/validate"): (WRITERS, post("/contracts/validate", _document())),
    ("POST", "/contracts"): (WRITERS, post("/contracts", _document())),
    ("POST", "/contracts/{contract_id}/amendments"): (WRITERS, post(
        f"/contracts/{C}/amendments", make_body=lambda c: {
            "reason": "targets renegotiated", "effective_from": 2023,
            "document": _document() | {"description": "amended"}})),
    ("GET", "/contracts"): (EVERYONE, get("/contracts")),
    ("GET", "/contracts/{contract_id}"): (FULL, get(f"/contracts/{C}")),
    ("GET", "/contracts/{contract_id}/payers/{payer}"):
        (FULL | {"finance_officer"}, get(f"/contracts/{C}/payers/ube")),
    ("POST", "/contracts/{contract_id}/kpi-results"): (EVALUATORS, post(
        f"/contracts/{C}/kpi-results", {"fiscal_year": 2023, "kpi": "inactive-share",
                                        "value": "51"})),  # the same result again: harmless
    ("POST", "/kpi-results/upload"): (EVALUATORS, _upload),
    ("POST", "/kpi-results/{result_id}/audit"): (EVALUATORS, post(
        lambda c, role: f"/kpi-results/{_result(c, role, False)}/audit")),
    ("POST", "/kpi-results/{result_id}/corrections"): (EVALUATORS, post(
        lambda c, role: f"/kpi-results/{_result(c, role, True)}/corrections",
        {"value": "49.5", "reason": "recount"})),
    ("GET", "/contracts/{contract_id}/kpi-results"): (FULL, get(f"/contracts/{C}/kpi-results")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/settlement/preview"):
        (ALL, get(f"{Y}/settlement/preview")),
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/settlement"):
        (WRITERS, post(f"{Y}/settlement", {})),
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/close"): (WRITERS, post(
        lambda c, r: f"/contracts/{C}/years/{2019 + next(c.closes)}/close")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/pack"): (ALL, get(f"{Y}/pack")),
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/payers/{payer}/approval"):
        ({"admin", "finance_officer"}, post(f"{Y}/payers/ube/approval")),
    ("GET", "/contracts/{contract_id}/loans"): (FULL | {"lender"}, get(f"/contracts/{C}/loans")),
    ("GET", "/contracts/{contract_id}/loans/{loan_id}"):
        (FULL | {"lender"}, get(f"/contracts/{C}/loans/loan-yamaguchi")),
    ("GET", "/contracts/{contract_id}/payers/{payer}/zengin"):
        ({"admin", "intermediary", "finance_officer"},
         get(f"/contracts/{C}/payers/ube/zengin", params={"on": "2020-05-20"})),
    ("GET", "/contracts/{contract_id}/distributions/{on}/zengin"):
        (WRITERS, get(f"/contracts/{C}/distributions/{DISTRIBUTED_ON}/zengin")),
    ("GET", "/holders"): (ALL | {"investor"}, get("/holders")),
    ("POST", "/holders"): (WRITERS, post("/holders", make_body=lambda c: {
        "code": f"h-{uuid.uuid4().hex[:8]}", "kind": "individual", "name_kanji": "市民"})),
    ("GET", "/holders/{code}"): (ALL | {"investor"}, get("/holders/citizen-001")),
    ("POST", "/contracts/{contract_id}/subscriptions"): (WRITERS, post(
        f"/contracts/{C}/subscriptions", make_body=lambda c: {
            "unit_class": "citizen-units", "holder": "citizen-002", "units": 1,
            "subscribed_on": f"2021-07-{c.days.__next__():02d}"})),
    ("GET", "/contracts/{contract_id}/holders/{code}/payments"):
        (ALL | {"investor"}, get(f"/contracts/{C}/holders/citizen-001/payments")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/lenders/{lender}"):
        (ALL | {"lender"}, get(f"{Y}/documents/lenders/yamaguchi-bank")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/payers/{payer}"):
        (ALL | {"finance_officer"}, get(f"{Y}/documents/payers/ube")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/holders/{code}"):
        (ALL | {"investor"}, get(f"/contracts/{C}/years/2021/documents/holders/citizen-001")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/year-end"):
        (ALL, get(f"{Y}/documents/year-end")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/pack.xlsx"): (ALL, get(f"{Y}/pack.xlsx")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/pack.csv.zip"):
        (ALL, get(f"{Y}/pack.csv.zip")),
}
PUBLIC = {("GET", "/health")}
# Object-level scoping: these roles may call the operation for their own objects; for the
# object in the matrix's request, which is not theirs, they get 404 (not 403).
NOT_THEIRS = {
    ("GET", "/ledger/books/{book}/accounts/{account}/statement"):
        {"finance_officer", "lender", "investor"},
    ("GET", "/ledger/books/{book}/entries/{entry_id}"): {"lender", "investor"},
}


def test_every_operation_has_a_row(client):
    operations = {(method.upper(), path) for path, item in client.app.openapi()["paths"].items()
                  for method in item}
    assert operations == set(MATRIX)


CASES = [(op, role) for op in MATRIX for role in [*ROLES, None]]


@pytest.mark.parametrize("operation, role", CASES, ids=[f"{m} {p} as {r}" for (m, p), r in CASES])
def test_the_matrix(client, operation, role):
    if not hasattr(client, "closes"):
        client.closes = itertools.count()
        client.days = itertools.count(1)
    allowed, call = MATRIX[operation]
    response = call(client, role)
    if role is None and operation not in PUBLIC:
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "UNAUTHENTICATED"
    elif role in NOT_THEIRS.get(operation, set()):
        assert response.status_code == 404, response.text
    elif role is None or role in allowed:
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "ROLE_FORBIDDEN"


CROSS_PARTY = [
    ("lender", f"/contracts/{C}/loans/loan-kyoto", f"/contracts/{C}/loans/loan-nowhere"),
    ("lender", f"{Y}/documents/lenders/kyoto-bank", f"{Y}/documents/lenders/no-bank"),
    ("lender", f"{B}/accounts/loan:loan-kyoto/statement", f"{B}/accounts/loan:none/statement"),
    ("finance_officer", f"/contracts/{C}/payers/tono", f"/contracts/{C}/payers/nowhere"),
    ("finance_officer", f"{Y}/documents/payers/tono", f"{Y}/documents/payers/nowhere"),
    ("finance_officer", f"{B}/accounts/receivable:tono/statement",
     f"{B}/accounts/receivable:none/statement"),
    ("investor", "/holders/citizen-002", "/holders/nobody"),
    ("investor", f"/contracts/{C}/years/2021/documents/holders/citizen-002",
     f"/contracts/{C}/years/2021/documents/holders/nobody"),
]


@pytest.mark.parametrize("role, other, missing", CROSS_PARTY)
def test_another_partys_object_looks_exactly_like_a_missing_one(client, role, other, missing):
    a = client.get(other, headers=h(client, role))
    b = client.get(missing, headers=h(client, role))
    assert a.status_code == b.status_code == 404
    assert a.json()["code"] == b.json()["code"]


def test_scoped_users_see_only_their_own_rows(client):
    loans = client.get(f"/contracts/{C}/loans", headers=h(client, "lender")).json()
    assert [loan["loan"] for loan in loans] == ["loan-yamaguchi"]
    accounts = client.get(f"{B}/accounts", headers=h(client, "finance_officer")).json()
    assert {a["party_ref"] for a in accounts["items"]} == {"payer:ube"}
    holders = client.get("/holders", headers=h(client, "investor")).json()
    assert [x["code"] for x in holders["items"]] == ["citizen-001"]
    other_approval = client.post(f"{Y}/payers/tono/approval",
                                 headers=h(client, "finance_officer", True))
    assert other_approval.status_code == 404
    other_zengin = client.get(f"/contracts/{C}/payers/tono/zengin",
                              params={"on": "2020-05-20"}, headers=h(client, "finance_officer"))
    assert other_zengin.status_code == 404
