"""The lead municipality's five-payer view (issue 15, item 1).

The five-municipality contract names Ube first among its payers — the representative
(「宇部市（山口県：代表）」) — and our example grants the lead payer the view of every payer
(``lead_payer_sees_all_payers: true``). FY2019 is evaluated and settled; nobody has approved a
notice yet. The story, told through the API and the portal alike:

- Ube's finance officer reads Tono's share of the contract (its 債務負担行為 table), Tono's
  FY2019 notice (the page and the PDF) and the contract's KPI results — the same answers the
  intermediary gets from the same routes;
- it still acts only for Ube: approving Tono's notice, taking Tono's Zengin file and recording
  a donation received by Tono answer 404, exactly as for a payer that does not exist, and
  write nothing; Tono's own officer then approves Tono's notice (it was approvable);
- Tono's officer, not the lead, sees only Tono's, as before;
- with the flag off (the same contract, ``lead_payer_sees_all_payers: false``) Ube's officer
  gets 404 on everything of Tono's, as before the term existed.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import db, demo
from api.deps import payers_visible_to
from api.main import create_app
from api.users import Caller, add_user, create_token
from contracts.store import get_contract, load_contract
from contracts.validate import validate_document
from ledger.schema import Entry
from settlement.kpi import ResultInput
from settlement.results import audit_result, submit_results
from settlement.runs import settle
from settlement.tables import NoticeApproval, TransferFilePayee
from settlement.transfers import set_bank_account

C = demo.C
PAYERS = ("ube", "tono", "yawata", "ibusuki", "misato")
USERS = [("fo-ube", "finance_officer", "ube"), ("fo-tono", "finance_officer", "tono"),
         ("twr", "intermediary", None)]
DONATION = "donations-via-municipalities"
PAYS_ON = "2020-05-20"
SINGLE_BASE = Path(__file__).with_name("contracts_invalid") / "_base_valid.yaml"


def _document(grant: bool) -> dict[str, Any]:
    document = yaml.safe_load(demo.CONTRACT_FILE.read_text(encoding="utf-8"))
    assert document["lead_payer_sees_all_payers"] is True  # the example grants it
    changed = copy.deepcopy(document)
    changed["lead_payer_sees_all_payers"] = grant
    return changed


def _story(url: str, grant: bool) -> dict[str, str]:
    """The contract (granting the view or not) loaded, FY2019 evaluated and settled, the
    payers' and the vehicle's bank accounts set; returns each user's API token."""
    contract, problems = validate_document(_document(grant), "five.yaml")
    assert contract is not None and problems == []
    contract_wide, per_payer = demo.RESULTS[2019]
    inputs = [ResultInput(C, 2019, kpi, value) for kpi, value in contract_wide.items()]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in per_payer.items()]
    with db.unit_of_work(url) as s:
        load_contract(s, contract, "five.yaml")
        for party in ("twr", "ube", "tono"):
            bank, bank_name, branch, branch_name, number, holder, code = \
                demo.BANK_ACCOUNTS[party]
            set_bank_account(s, C, party, requested_by="twr", approved_by="admin",
                             bank_code=bank, bank_name=bank_name, branch_code=branch,
                             branch_name=branch_name, account_number=number,
                             holder_kana=holder, requester_code=code)
        for row in submit_results(s, inputs, "evaluator"):
            audit_result(s, row.id or 0, "auditor")
        settle(s, C, 2019)
        tokens = {}
        for username, role, scope in USERS:
            add_user(s, username, role, scope)
            tokens[username] = create_token(s, username, 1)
    return tokens


class World:
    """A client of the service on one database, signed in through the API (bearer tokens)
    and, for the portal, with a session cookie per user."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens
        self.app = create_app(url)
        self.api = TestClient(self.app)

    def get(self, who: str, path: str, **params: Any) -> Any:
        return self.api.get(path, params=params or None,
                            headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def post(self, who: str, path: str, key: str, body: Any = None) -> Any:
        return self.api.post(path, json=body, headers={
            "Authorization": f"Bearer {self.tokens[who]}", "Idempotency-Key": key})

    def portal(self, who: str) -> TestClient:
        client = TestClient(self.app, base_url="https://portal.test")
        client.get("/portal/signin")
        signed = client.post("/portal/signin", data={
            "csrf": client.cookies.get("sib_pre"), "code": self.tokens[who], "username": who},
            follow_redirects=False)
        assert signed.status_code == 303, signed.text
        return client

    def count(self, what: Any, *where: Any) -> int:
        with db.unit_of_work(self.url) as s:
            return int(s.scalar(select(func.count()).select_from(what).where(*where)) or 0)


@pytest.fixture
def granted(db_url) -> World:  # noqa: ANN001
    return World(db_url, _story(db_url, grant=True))


@pytest.fixture
def not_granted(db_url) -> World:  # noqa: ANN001
    return World(db_url, _story(db_url, grant=False))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)


# --------------------------------------------------------------------------- the one rule

def test_the_rule_the_lead_reads_every_payer_only_where_the_contract_grants_it(db_url):
    """payers_visible_to is the one answer every route and page asks."""
    ube = Caller(1, "fo-ube", "finance_officer", "ube")
    tono = Caller(2, "fo-tono", "finance_officer", "tono")
    bank = Caller(3, "yb", "lender", "yamaguchi-bank")
    twr = Caller(4, "twr", "intermediary", None)
    stranger = Caller(5, "fo-osaka", "finance_officer", "osaka")
    for grant, lead_sees in ((True, set(PAYERS)), (False, {"ube"})):
        contract, problems = validate_document(_document(grant), "five.yaml")
        assert contract is not None and problems == []
        assert payers_visible_to(ube, contract) == lead_sees
        assert payers_visible_to(tono, contract) == {"tono"}  # not the lead: its own
        assert payers_visible_to(twr, contract) == set(PAYERS)
        assert payers_visible_to(bank, contract) == set()
        assert payers_visible_to(stranger, contract) == set()


def test_the_term_is_a_plain_true_or_false_granted_only_with_other_payers_to_see():
    base = _document(False)
    absent = {k: v for k, v in base.items() if k != "lead_payer_sees_all_payers"}
    contract, problems = validate_document(absent, "x")
    assert problems == [] and contract is not None
    assert contract.lead_payer_sees_all_payers is False  # the default: each its own
    _, problems = validate_document({**base, "lead_payer_sees_all_payers": "yes"}, "x")
    assert [(p.code, p.field) for p in problems] == [
        ("NOT_TRUE_OR_FALSE", "lead_payer_sees_all_payers")]
    # City A paying alone (the validation corpus's base contract without Town B; its
    # authorisation raised to the two tranches' 5,000,000 + 5,000,000): nobody else for it
    # to see.
    alone = yaml.safe_load(SINGLE_BASE.read_text(encoding="utf-8"))
    alone["parties"] = [p for p in alone["parties"] if p["id"] != "town-b"]
    alone["payers"] = alone["payers"][:1]
    alone["payers"][0]["authorisation"]["max_amount"] = "10,000,000"
    del alone["payer_shares"]
    assert validate_document(alone, "x")[1] == []
    _, problems = validate_document({**alone, "lead_payer_sees_all_payers": True}, "x")
    assert [(p.code, p.field) for p in problems] == [
        ("LEAD_PAYER_VIEW_SINGLE_PAYER", "lead_payer_sees_all_payers")]


# --------------------------------------------------------------------------- API, granted

def test_the_lead_reads_tono_s_share_notice_and_the_kpi_results_as_the_intermediary_does(
        granted):
    w = granted
    share = w.get("fo-ube", f"/contracts/{C}/payers/tono")
    assert share.status_code == 200, share.text
    assert share.json() == w.get("twr", f"/contracts/{C}/payers/tono").json()
    # Tono's whole authorisation, as its council voted it (the example: 21,000,000 yen).
    total = next(r for r in share.json() if r["fiscal_year"] is None)
    assert (total["payer"], total["authorised"]) == ("tono", {"amount": "21000000",
                                                               "currency": "JPY"})
    for lang in ("ja", "en"):
        path = f"/contracts/{C}/years/2019/documents/payers/tono"
        pdf = w.get("fo-ube", path, lang=lang)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == w.get("twr", path, lang=lang).content
    results = w.get("fo-ube", f"/contracts/{C}/kpi-results", fiscal_year=2019)
    assert results.status_code == 200, results.text
    assert results.json() == w.get("twr", f"/contracts/{C}/kpi-results",
                                   fiscal_year=2019).json()
    # Every payer's continuation rate is in it (demo.RESULTS[2019]: Tono 71 %).
    rates = {r["payer"]: r["value"] for r in results.json()["items"]
             if r["kpi"] == "continuation-rate"}
    assert set(rates) == set(PAYERS) and rates["tono"] == "71"


def test_the_lead_acts_only_for_its_own_payer_and_a_refusal_writes_nothing(granted):
    w = granted
    tono_approval = f"/contracts/{C}/years/2019/payers/tono/approval"
    refused = w.post("fo-ube", tono_approval, "ube-approves-tono")
    missing = w.post("fo-ube", f"/contracts/{C}/years/2019/payers/nowhere/approval", "k0")
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["code"] == missing.json()["code"] == "PAYER_NOT_FOUND"
    zengin = w.get("fo-ube", f"/contracts/{C}/payers/tono/zengin", on=PAYS_ON)
    assert zengin.status_code == 404 and zengin.json()["code"] == "PAYER_NOT_FOUND"
    donation = w.post("fo-ube", f"/contracts/{C}/donations", "ube-for-tono", {
        "donation": DONATION, "payer": "tono", "amount": {"amount": "100000", "currency": "JPY"},
        "received_on": "2020-02-03", "donor": "株式会社遠野", "reference": "T-1"})
    assert donation.status_code == 404 and donation.json()["code"] == "PAYER_NOT_FOUND"
    assert w.count(NoticeApproval) == 0
    assert w.count(TransferFilePayee) == 0
    assert w.count(Entry, Entry.kind == "donation") == 0
    # Tono's notice was approvable all along: its own officer approves it.
    assert w.post("fo-tono", tono_approval, "tono-approves").status_code == 201
    # Ube approves its own, takes its own Zengin file and records its own donation.
    assert w.post("fo-ube", f"/contracts/{C}/years/2019/payers/ube/approval",
                  "ube-approves").status_code == 201
    own = w.get("fo-ube", f"/contracts/{C}/payers/ube/zengin", on=PAYS_ON)
    assert own.status_code == 200 and own.content[:1] == b"1"  # the header record
    assert w.post("fo-ube", f"/contracts/{C}/donations", "ube-own", {
        "donation": DONATION, "payer": "ube", "amount": {"amount": "100000", "currency": "JPY"},
        "received_on": "2020-02-03", "donor": "株式会社宇部", "reference": "U-1"}
    ).status_code == 201


def test_tono_s_officer_is_not_the_lead_and_sees_only_tono(granted):
    w = granted
    for path in (f"/contracts/{C}/payers/ube",
                 f"/contracts/{C}/years/2019/documents/payers/ube"):
        other = w.get("fo-tono", path)
        missing = w.get("fo-tono", path.replace("/ube", "/nowhere"))
        assert other.status_code == missing.status_code == 404, path
        assert other.json()["code"] == missing.json()["code"]
    assert w.get("fo-tono", f"/contracts/{C}/payers/tono").status_code == 200
    results = w.get("fo-tono", f"/contracts/{C}/kpi-results")
    assert results.status_code == 403 and results.json()["code"] == "ROLE_FORBIDDEN"


# --------------------------------------------------------------------------- API, not granted

def test_without_the_grant_the_lead_sees_only_its_own_as_before(not_granted):
    w = not_granted
    with db.unit_of_work(w.url) as s:
        assert get_contract(s, C).lead_payer_sees_all_payers is False
    for path in (f"/contracts/{C}/payers/tono",
                 f"/contracts/{C}/years/2019/documents/payers/tono"):
        other = w.get("fo-ube", path)
        missing = w.get("fo-ube", path.replace("/tono", "/nowhere"))
        assert other.status_code == missing.status_code == 404, path
        assert other.json()["code"] == missing.json()["code"]
        assert w.get("twr", path).status_code == 200  # it exists: the intermediary reads it
    assert w.get("fo-ube", f"/contracts/{C}/payers/ube").status_code == 200
    assert w.get("fo-ube", f"/contracts/{C}/kpi-results").status_code == 403
    portal = w.portal("fo-ube")
    page = portal.get("/portal/payer")
    assert page.status_code == 200 and "data-all-payers" not in page.text
    for url in (f"/portal/payer?contract={C}&payer=tono",
                f"/portal/payer/notice?contract={C}&fy=2019&payer=tono",
                f"/portal/files/notice.pdf?contract={C}&fy=2019&payer=tono"):
        assert portal.get(url).status_code == 404, url


# --------------------------------------------------------------------------- the portal

def test_the_lead_s_page_has_every_payer_the_others_marked_read_only(granted):
    portal = granted.portal("fo-ube")
    page = portal.get(f"/portal/payer?contract={C}")
    assert page.status_code == 200
    table = page.text.split("data-all-payers", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-payer="([a-z-]+)"(.*?)</tr>', table, re.S)
    assert [payer for payer, _ in rows] == list(PAYERS)
    marked = {payer for payer, row in rows if "read-only-badge" in row}
    assert marked == set(PAYERS) - {"ube"}
    assert "全支払者（代表団体として閲覧）" in page.text
    assert 'data-read-only' not in page.text  # its own page is not read-only
    tono = portal.get(f"/portal/payer?contract={C}&payer=tono")
    assert tono.status_code == 200 and 'data-read-only="tono"' in tono.text
    assert "遠野市" in tono.text and "閲覧のみ（承認は各団体が行います）" in tono.text


def test_the_lead_reads_tono_s_notice_without_an_approve_or_zengin_button(granted):
    w = granted
    portal = w.portal("fo-ube")
    notice = portal.get(f"/portal/payer/notice?contract={C}&fy=2019&payer=tono")
    assert notice.status_code == 200 and 'data-read-only="tono"' in notice.text
    assert 'action="/portal/payer/approve"' not in notice.text
    assert 'action="/portal/files/zengin"' not in notice.text
    own = portal.get(f"/portal/payer/notice?contract={C}&fy=2019")
    assert 'action="/portal/payer/approve"' in own.text and "data-read-only" not in own.text
    pdf = portal.get(f"/portal/files/notice.pdf?contract={C}&fy=2019&payer=tono&lang=ja")
    assert pdf.status_code == 200
    assert pdf.content == w.get("twr", f"/contracts/{C}/years/2019/documents/payers/tono",
                                lang="ja").content
    # A form sent by hand for Tono is the API's refusal: 404, nothing written.
    csrf = _csrf(own.text)
    refused = portal.post("/portal/payer/approve", data={
        "csrf": csrf, "form_key": "by-hand", "contract": C, "fy": "2019", "payer": "tono"})
    assert refused.status_code == 404
    zengin = portal.get("/portal/files/zengin", params={
        "csrf": csrf, "contract": C, "on": PAYS_ON, "payer": "tono"})
    assert zengin.status_code == 404
    assert w.count(NoticeApproval) == w.count(TransferFilePayee) == 0


def test_tono_s_officer_gets_no_five_payer_table_and_404_on_ube(granted):
    portal = granted.portal("fo-tono")
    page = portal.get("/portal/payer")
    assert page.status_code == 200 and "data-all-payers" not in page.text
    assert portal.get(f"/portal/payer?contract={C}&payer=ube").status_code == 404
    assert portal.get(f"/portal/payer/notice?contract={C}&fy=2019&payer=ube"
                      ).status_code == 404


def test_the_simulation_page_shows_the_lead_every_payer_it_may_read(granted):
    from api.portal.simulation_pages import _payers
    with db.unit_of_work(granted.url) as s:
        contract = get_contract(s, C)
        assert _payers(s, Caller(1, "fo-ube", "finance_officer", "ube"), contract) == \
            list(PAYERS)
        assert _payers(s, Caller(2, "fo-tono", "finance_officer", "tono"), contract) == \
            ["tono"]

