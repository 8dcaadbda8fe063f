"""The authorisation matrix: every route of the service × every role, and no token at all.

The story is built once for the module with the demo's own steps (``api.demo``): the
five-municipality contract loaded, the loans drawn, FY2019 and FY2020 evaluated, settled, closed
and paid, three citizens holding units since June 2021, FY2021 settled and paid (municipalities,
waterfall, holders) but left open, and FY2022 settled but neither paid nor closed — the matrix
closes FY2021 and FY2022 itself. Each role has a token; the scoped
ones act for Ube (finance officer), the Yamaguchi Bank (lender) and citizen-001 (investor).

``EXPECTED`` has one row per route: who gets a success, and the request to send — realistic, so
that an allowed write really succeeds (fresh Idempotency-Key, fresh codes, a pending entry made
first for the roles that may resolve one). Any other role gets 403 ROLE_FORBIDDEN, no token gets
401 UNAUTHENTICATED, and a role in ``hidden`` gets 404: it may call the route, but has nothing
there it may see. The routes are read from the application itself, so a new route without a row
fails ``test_every_route_has_a_row``.

``CROSS_PARTY`` then asks, as each scoped role, for another party's object and for one that does
not exist: both answers are the same 404 with the same code, so nobody learns what exists.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import db, demo
from api.job_kinds import start_statements
from api.main import create_app
from api.settings import get_settings
from api.users import add_user, create_token
from contracts.store import get_contract
from investors.store import HolderSpec, add_holder, pay_holders, subscribe
from ledger.calendar import next_business_day
from ledger.schema import Account, Entry, Posting
from settlement.approvals import approve_notice
from settlement.close import build_pack
from settlement.payments import distribute, pay_fixed_fees, record_payment
from settlement.runs import settle
from settlement.transfers import set_bank_account

SIMULATION_FILE = (Path(__file__).resolve().parent.parent
                   / "contracts/examples/simulations/sib-2019-five-municipalities.yaml")

C = demo.C
B = f"/ledger/books/{C}"
Y = f"/contracts/{C}/years/2019"
HOLDERS = ("citizen-001", "citizen-002", "citizen-003")
WATERFALL_ON = "2020-05-29"  # the FY2019 waterfall paid the providers and the banks
PAYER_PAYS_ON = "2023-05-22"  # Ube pays what it owes for FY2022 (settled, not yet paid)
OPEN_ON = "2024-06-01"  # after FY2022, the last year the matrix closes
FY2021_WATERFALL_ON = "2022-05-30"  # the FY2021 waterfall (paid to the holders in the story)
BANK_ACCOUNT = {"bank_code": "0170", "bank_name": "ﾔﾏｸﾞﾁｷﾞﾝｺｳ", "branch_code": "001",
                "branch_name": "ﾎﾝﾃﾝ", "account_number": "7654321", "holder_kana": "ｶ)ﾃｽﾄ",
                "requester_code": "1000000009"}

# --------------------------------------------------------------------------- roles

ROLES = {  # name → (role, scope)
    "admin": ("admin", None),
    "intermediary": ("intermediary", None),
    "evaluator": ("evaluator", "tsukuba-kuno-lab"),
    "finance_officer": ("finance_officer", "ube"),
    "lender": ("lender", "yamaguchi-bank"),
    "investor": ("investor", "citizen-001"),
    "auditor": ("auditor", None),
}
SECOND_PEOPLE = {"submitter": ("evaluator", "tsukuba-kuno-lab"),
                 "requester": ("intermediary", None),
                 # a finance officer who is not the lead payer (CROSS_PARTY below)
                 "finance_officer_tono": ("finance_officer", "tono")}
EVERYONE = frozenset(ROLES)
FULL_READ = frozenset({"admin", "intermediary", "evaluator", "auditor"})
OVERSIGHT = frozenset({"admin", "intermediary", "auditor"})
WRITERS = frozenset({"admin", "intermediary"})
EVALUATORS = frozenset({"admin", "evaluator"})
NOBODY: frozenset[str] = frozenset()

# The object each caller asks for in the matrix: a scoped role asks for its own.
OWN_ACCOUNT = {"finance_officer": "receivable:ube", "lender": "loan:loan-yamaguchi"}
OWN_ENTRY = {"finance_officer": "ube_entry"}  # the others ask for the Yamaguchi draw


# --------------------------------------------------------------------------- the story


@contextmanager
def _settings_database(url: str) -> Iterator[None]:
    """Point the settings (which ``api.demo`` uses) at ``url`` for the block."""
    before = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = before
        get_settings.cache_clear()


def _entry_touching(session: Any, party_ref: str, kind: str | None = None) -> int:
    query = (select(Posting.entry_id).join(Account, Account.id == Posting.account_id)
             .join(Entry, Entry.id == Posting.entry_id).where(Account.party_ref == party_ref)
             .order_by(Posting.entry_id))
    if kind is not None:
        query = query.where(Entry.kind == kind)
    return int(session.scalars(query).first())


def _settle_and_pay_without_closing(year: int) -> None:
    """``demo.run_year`` but for the close: the matrix closes FY2021 and FY2022 itself."""
    with db.unit_of_work() as s:
        pay_fixed_fees(s, C, year, date(year, 9, 30))
    demo.evaluate(year)
    with db.unit_of_work() as s:
        settle(s, C, year)
        pack = build_pack(s, get_contract(s, C), year)
        waterfall_on = next_business_day(date(year + 1, 5, 29))
        received = {p["payer"]: p["outstanding"] for p in pack.payers if p["outstanding"]}
        for payer, amount in received.items():
            record_payment(s, C, payer, amount, next_business_day(date(year + 1, 5, 20)),
                           f"FY{year}")
        distribute(s, C, waterfall_on, reference=f"FY{year}")
        pay_holders(s, C, waterfall_on)


def _tell_the_story(url: str, out: Path) -> dict[str, Any]:
    """FY2019–2020 the demo's way, FY2021 and FY2022 settled but open; returns the ids and
    tokens the requests need."""
    with _settings_database(url):
        db.upgrade(url)
        demo.set_up()
        with db.unit_of_work() as s:
            contract_parties = ("thl", "peoples", "tokyo-dome-sports", "yamaguchi-bank",
                                "tohoku-bank", "kyoto-bank", "kagoshima-bank",
                                "saitama-resona-bank")
            for party in contract_parties:  # the demo pays these without Zengin files
                set_bank_account(s, C, party, requested_by="twr", approved_by="admin",
                                 **BANK_ACCOUNT)
        for year in (2019, 2020):
            demo.run_year(year, out, [])
        with db.unit_of_work() as s:
            for code in HOLDERS:
                add_holder(s, HolderSpec(code, "individual", f"市民 {code}", "ｼﾐﾝ"))
                subscribe(s, C, "citizen-units", code, 2, date(2021, 6, 1))
        _settle_and_pay_without_closing(2021)
        with db.unit_of_work() as s:
            pay_fixed_fees(s, C, 2022, date(2022, 9, 30))
        demo.evaluate(2022)
        with db.unit_of_work() as s:
            settle(s, C, 2022)
            for payer in demo.PAYERS:  # each finance office approves its FY2022 notice
                approve_notice(s, C, 2022, payer, f"{payer} finance office")
            _routed_contract_settled(s)
            ids: dict[str, Any] = {
                "yamaguchi_draw": _entry_touching(s, "lender:yamaguchi-bank", "loan_drawdown"),
                "kyoto_draw": _entry_touching(s, "lender:kyoto-bank", "loan_drawdown"),
                "ube_entry": _entry_touching(s, "payer:ube"),
                "tono_entry": _entry_touching(s, "payer:tono"),
                "tokens": {}}
            for name, (role, scope) in ROLES.items():
                add_user(s, f"u-{name}", role, scope)
                ids["tokens"][name] = create_token(s, f"u-{name}")
            # Who submits the results the matrix audits and asks for the changes it approves:
            # four eyes, so never the caller itself.
            for name, (role, scope) in SECOND_PEOPLE.items():
                add_user(s, f"u-{name}", role, scope)
                ids["tokens"][name] = create_token(s, f"u-{name}")
            # A job to follow: FY2019's documents in Japanese, queued (the service runs it).
            ids["job"] = start_statements(s, C, 2019, "u-admin", ["ja"]).id
    return ids


def _routed_contract_settled(session: Any) -> None:
    """The payee-routing contract (tests/test_payee_routing.py) with FY2021 settled: its city
    owes THL 1,650,000 directly, which the provider-payments row pays a yen at a time."""
    from contracts.store import load_contract
    from contracts.validate import validate_document
    from settlement.kpi import ResultInput
    from settlement.results import audit_result, submit_results
    from tests.test_payee_routing import C as ROUTED
    from tests.test_payee_routing import document
    terms, problems = validate_document(document(), "routing.yaml")
    assert problems == []
    load_contract(session, terms)
    for row in submit_results(session, [ResultInput(ROUTED, 2021, "participants", "800"),
                                        ResultInput(ROUTED, 2021, "steps", "6000")],
                              "evaluator"):
        audit_result(session, row.id or 0, "evaluation committee")
    settle(session, ROUTED, 2021)


@dataclass
class World:
    """The module's client, the ids of the story, and what the matrix has sent so far."""

    client: TestClient
    ids: dict[str, Any]
    closes: Iterator[int] = field(default_factory=lambda: iter((2021, 2022)))
    days: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Distributions of fresh receipts run in June 2023, after the FY2022 waterfall and before
    # the loans' June due dates, so that debt service does not spend the receipt first.
    waterfall_days: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Fresh (fiscal year, KPI, payer) slots for results: FY2023 is not evaluated in the story.
    slots: Iterator[tuple[int, str, str]] = field(default_factory=lambda: iter(
        [(2023, "continuation-rate", p) for p in demo.PAYERS]
        + [(2023, kpi, "") for kpi in ("participants", "inactive-share", "guideline-share")]))
    written: dict[str, str] = field(default_factory=dict)  # key → path of each successful write
    # Parties whose bank account the matrix asks to change, one per request (a party has one
    # change awaiting a decision at a time).
    parties: Iterator[str] = field(default_factory=lambda: itertools.cycle(
        ("peoples", "tokyo-dome-sports", "tohoku-bank", "kyoto-bank", "kagoshima-bank",
         "saitama-resona-bank", "yamaguchi-bank")))

    @property
    def app(self) -> FastAPI:
        return self.client.app  # type: ignore[return-value]

    def headers(self, role: str | None, write: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.ids['tokens'][role]}"} if role else {}
        if write:
            headers["Idempotency-Key"] = f"matrix-{uuid.uuid4().hex}"
        return headers

    def as_admin(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.as_("admin", method, path, **kwargs)

    def as_(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path,
                                       headers=self.headers(who, method != "GET"), **kwargs)
        assert response.status_code < 300, response.text
        return response.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("matrix")
    url = f"sqlite:///{tmp / 'matrix.db'}"
    ids = _tell_the_story(url, tmp / "out")
    with TestClient(create_app(url)) as client:
        yield World(client, ids)


# --------------------------------------------------------------------------- requests

# A request as one caller: (world, role or None for no token, whether the role may do it).
Send = Callable[[World, str | None, bool], httpx.Response]


def _fill(template: str, w: World, role: str | None, extra: dict[str, Any]) -> str:
    """A path with the caller's own objects (and what ``prepare`` made) filled in."""
    entry_key = OWN_ENTRY.get(role or "", "yamaguchi_draw")
    values = {"B": B, "Y": Y, "C": C, "account": OWN_ACCOUNT.get(role or "", "cash"),
              "entry": w.ids[entry_key], **{k: v for k, v in w.ids.items() if k != "tokens"},
              **extra}
    return template.format(**values)


def get(template: str, **params: Any) -> Send:
    return lambda w, role, allowed: w.client.get(_fill(template, w, role, {}),
                                                 params=params or None, headers=w.headers(role))


def post(template: str, body: Any = None, make_body: Callable[[World], Any] | None = None,
         prepare: Callable[[World], dict[str, Any]] | None = None,
         default: dict[str, Any] | None = None, method: str = "POST") -> Send:
    """A write. ``prepare`` (run, as admin, only for the roles allowed to write) makes what the
    request acts on; the others get ``default`` (an existing object), as they are refused
    before it is looked at. ``make_body`` makes a fresh body — for every caller, unless a
    fixed ``body`` is given too, which then goes to the callers that will be refused."""
    def send(w: World, role: str | None, allowed: bool) -> httpx.Response:
        extra = prepare(w) if prepare and allowed else dict(default or {})
        payload = make_body(w) if make_body and (allowed or body is None) else body
        headers = w.headers(role, write=True)
        response = w.client.request(method, _fill(template, w, role, extra), headers=headers,
                                    json=payload)
        if response.status_code < 300:
            w.written[headers["Idempotency-Key"]] = response.request.url.path
        return response
    return send


def _entry(amount: str = "10") -> dict[str, Any]:
    return {"kind": "adjustment", "effective_on": OPEN_ON, "description": "matrix",
            "postings": [{"account": "fees:thl", "side": "D",
                          "amount": {"amount": amount, "currency": "JPY"}},
                         {"account": "cash", "side": "C",
                          "amount": {"amount": amount, "currency": "JPY"}}]}


def _made_entry(pending: bool) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"target": w.as_admin("POST", f"{B}/entries",
                                           json=_entry() | {"pending": pending})["id"]}


def _made_result(audited: bool) -> Callable[[World], dict[str, Any]]:
    def make(w: World) -> dict[str, Any]:
        year, kpi, payer = next(w.slots)
        row = w.as_("submitter", "POST", f"/contracts/{C}/kpi-results",
                    json={"fiscal_year": year, "kpi": kpi, "payer": payer,
                          "value": _value(kpi, "70.5")})[0]
        if audited:
            w.as_admin("POST", f"/kpi-results/{row['id']}/audit")
        return {"target": row["id"]}
    return make


def _own_job(w: World) -> dict[str, Any]:
    """A statements job of the caller's own, queued on the inline queue (the service's thread
    leaves it alone): a cancel cancels it, a retry finds it queued and changes nothing."""
    from api.jobs import INLINE_QUEUE
    with db.unit_of_work(w.app.state.database_url) as s:
        job = start_statements(s, C, 2019, "u-admin", ["ja"],
                               out=Path(f"matrix-job-{uuid.uuid4().hex[:8]}"),
                               queue=INLINE_QUEUE)
    return {"target": job.id}


def _received(w: World) -> str:
    """A payment received (as admin) under a reference of its own: money a distribution may
    spend once."""
    reference = f"matrix-{uuid.uuid4().hex[:8]}"
    w.as_admin("POST", f"/contracts/{C}/receipts", json={
        "payer": "tono", "amount": {"amount": "1", "currency": "JPY"},
        "received_on": PAYER_PAYS_ON, "reference": reference})
    return reference


def _document() -> dict[str, Any]:
    """The example contract as a client sends it (JSON: dates as ISO strings)."""
    text = demo.CONTRACT_FILE.read_text(encoding="utf-8")
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def _amendment(w: World) -> dict[str, Any]:
    """The current terms, edited: an amendment governing FY2023 on."""
    current = w.as_admin("GET", f"/contracts/{C}")["document"]
    return {"reason": "targets renegotiated", "effective_from": 2023,
            "document": current | {"description": f"amended {uuid.uuid4().hex[:6]}"}}


def _value(kpi: str, percent: str) -> str:
    """A result for the slot's KPI: a percentage as given, participants (people) whole."""
    return str(int(float(percent) * 100)) if kpi == "participants" else percent  # float-ok


def _submit(w: World) -> dict[str, Any]:
    year, kpi, payer = next(w.slots)
    return {"fiscal_year": year, "kpi": kpi, "payer": payer, "value": _value(kpi, "71.5")}


def _simulate(w: World, role: str | None, allowed: bool) -> httpx.Response:
    """A simulation is a POST that writes nothing (no audit record): 20 runs from FY2023."""
    return w.client.post(f"/contracts/{C}/simulations", headers=w.headers(role), json={
        "assumptions": SIMULATION_FILE.read_text(encoding="utf-8"), "runs": 20, "seed": 1,
        "from_fiscal_year": 2023})


def _simulation_folder(w: World) -> Path:
    """Where the matrix's simulation jobs write: beside its database, not in out/."""
    return Path(w.app.state.database_url.split("///", 1)[1]).parent / "simulations"


def _start_simulation_job(w: World, role: str | None, allowed: bool) -> httpx.Response:
    """A simulation job of 20 runs from FY2023 (the example file), its batches written
    beside the matrix's database (the folder is read from the settings when it starts)."""
    headers = w.headers(role, write=True)
    before = os.environ.get("SIB_OUT_DIR")
    os.environ["SIB_OUT_DIR"] = str(_simulation_folder(w))
    get_settings.cache_clear()
    try:
        response = w.client.post(f"/contracts/{C}/simulation-jobs", headers=headers, json={
            "example": C, "runs": 20, "seed": 1, "from_fiscal_year": 2023, "batch_size": 10})
    finally:
        if before is None:
            os.environ.pop("SIB_OUT_DIR", None)
        else:
            os.environ["SIB_OUT_DIR"] = before
        get_settings.cache_clear()
    if response.status_code < 300:
        w.written[headers["Idempotency-Key"]] = response.request.url.path
    return response


def _simulation_job(w: World) -> int:
    """A finished simulation job to read (made once, run here: it is queued for a command,
    which the service's thread leaves alone)."""
    if "simulation_job" not in w.ids:
        from api.job_simulation import start_simulation
        from api.job_worker import work
        from api.jobs import INLINE_QUEUE
        url = w.app.state.database_url
        with db.unit_of_work(url) as s:
            job = start_simulation(s, C, SIMULATION_FILE.read_text(encoding="utf-8"),
                                   SIMULATION_FILE.name, 20, 2, "u-admin", 2023, 10,
                                   out=_simulation_folder(w) / "read", queue=INLINE_QUEUE)
        work(url, "matrix", INLINE_QUEUE, job.id, until_idle=True)
        w.ids["simulation_job"] = job.id
    return int(w.ids["simulation_job"])


def _read_simulation_job(suffix: str) -> Send:
    def send(w: World, role: str | None, allowed: bool) -> httpx.Response:
        return w.client.get(f"/contracts/{C}/simulation-jobs/{_simulation_job(w)}{suffix}",
                            headers=w.headers(role))
    return send


def _upload(w: World, role: str | None, allowed: bool) -> httpx.Response:
    year, kpi, payer = next(w.slots) if allowed else (2023, "participants", "")
    data = f"contract,fiscal_year,kpi,payer,value\n{C},{year},{kpi},{payer},72\n"
    headers = w.headers(role, write=True)
    response = w.client.post("/kpi-results/upload", headers=headers, files={
        "file": (f"results-{uuid.uuid4().hex[:8]}.csv", io.BytesIO(data.encode()), "text/csv")})
    if response.status_code < 300:
        w.written[headers["Idempotency-Key"]] = "/kpi-results/upload"
    return response


def _account_request(w: World) -> dict[str, Any]:
    """A bank-account change asked for by another intermediary, for the caller to decide."""
    party = next(w.parties)
    row = w.as_("requester", "PUT", f"/contracts/{C}/parties/{party}/bank-account",
                json=_fresh_account(w))
    return {"target": row["id"]}


def _fresh_account(w: World) -> dict[str, Any]:
    return BANK_ACCOUNT | {"account_number": f"{next(w.days):07d}"}


def _fresh_party(w: World) -> dict[str, Any]:
    return {"party": next(w.parties)}


def _latest_closed(w: World) -> dict[str, Any]:
    """The latest closed year, with no reopening of it awaiting a decision."""
    for row in w.as_admin("GET", "/change-requests", params={"state": "requested"})["items"]:
        if row["act"] == "period.reopen":
            w.as_admin("POST", f"/change-requests/{row['id']}/rejection",
                       json={"reason": "matrix"})
    [book] = [b for b in w.as_admin("GET", "/ledger/books")["items"] if b["code"] == C]
    return {"year": date.fromisoformat(book["closed_through_on"]).year - 1}


def _close(w: World) -> dict[str, Any]:
    return {"year": next(w.closes)}  # FY2021, then FY2022: years close in order


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    """Who gets a success (``allowed``), who gets 404 because nothing there is theirs
    (``hidden``); every other role 403, no token 401 (unless ``public``)."""

    allowed: frozenset[str]
    send: Send
    hidden: frozenset[str] = NOBODY
    public: bool = False


def _public(path: str) -> Row:
    return Row(EVERYONE, get(path), public=True)


EXPECTED: dict[tuple[str, str], Row] = {
    # service and documentation: anyone, token or not
    ("GET", "/health"): _public("/health"),
    ("GET", "/openapi.json"): _public("/openapi.json"),
    ("GET", "/docs"): _public("/docs"),
    ("GET", "/docs/oauth2-redirect"): _public("/docs/oauth2-redirect"),
    ("GET", "/redoc"): _public("/redoc"),
    # ledger: scoped roles see the books and accounts carrying their party
    ("GET", "/ledger/books"): Row(EVERYONE, get("/ledger/books")),
    ("POST", "/ledger/books"): Row(WRITERS, post("/ledger/books", make_body=lambda w: {
        "code": f"book-{uuid.uuid4().hex[:8]}", "currency": "JPY"})),
    ("GET", "/ledger/books/{book}/accounts"): Row(EVERYONE, get("{B}/accounts")),
    ("POST", "/ledger/books/{book}/accounts"): Row(WRITERS, post(
        "{B}/accounts", make_body=lambda w: {"code": f"memo:{uuid.uuid4().hex[:8]}",
                                             "type": "asset"})),
    ("GET", "/ledger/books/{book}/accounts/{account}/statement"): Row(
        FULL_READ | {"finance_officer", "lender"}, get("{B}/accounts/{account}/statement"),
        hidden=frozenset({"investor"})),  # no ledger account carries a holder
    ("GET", "/ledger/books/{book}/entries"): Row(FULL_READ, get("{B}/entries")),
    ("GET", "/ledger/books/{book}/entries/{entry_id}"): Row(
        FULL_READ | {"finance_officer", "lender"}, get("{B}/entries/{entry}"),
        hidden=frozenset({"investor"})),
    ("POST", "/ledger/books/{book}/entries"): Row(WRITERS, post("{B}/entries", _entry())),
    ("POST", "/ledger/books/{book}/entries/{entry_id}/post"): Row(WRITERS, post(
        "{B}/entries/{target}/post", {"effective_on": OPEN_ON}, prepare=_made_entry(True),
        default={"target": 1})),
    ("POST", "/ledger/books/{book}/entries/{entry_id}/void"): Row(WRITERS, post(
        "{B}/entries/{target}/void", {"effective_on": OPEN_ON}, prepare=_made_entry(True),
        default={"target": 1})),
    ("POST", "/ledger/books/{book}/entries/{entry_id}/reverse"): Row(WRITERS, post(
        "{B}/entries/{target}/reverse", {"effective_on": OPEN_ON}, prepare=_made_entry(False),
        default={"target": 1})),
    ("GET", "/ledger/books/{book}/trial-balance"): Row(FULL_READ, get("{B}/trial-balance")),
    ("GET", "/ledger/verify"): Row(OVERSIGHT, get("/ledger/verify")),
    # contracts
    ("POST", "/contracts/validate"): Row(WRITERS, post("/contracts/validate", _document())),
    ("POST", "/contracts"): Row(WRITERS, post("/contracts", _document())),  # loaded: no-op
    ("POST", "/contracts/{contract_id}/amendments"): Row(WRITERS, post(
        "/contracts/{C}/amendments", make_body=_amendment)),
    ("GET", "/contracts"): Row(EVERYONE, get("/contracts")),
    ("GET", "/contracts/{contract_id}"): Row(FULL_READ, get("/contracts/{C}")),
    ("GET", "/contracts/{contract_id}/payers/{payer}"): Row(
        FULL_READ | {"finance_officer"}, get("/contracts/{C}/payers/ube")),
    # KPI results: the evaluator submits and audits
    ("POST", "/contracts/{contract_id}/kpi-results"): Row(EVALUATORS, post(
        "/contracts/{C}/kpi-results", {"fiscal_year": 2023, "kpi": "participants", "value": "1"},
        make_body=_submit)),
    ("POST", "/kpi-results/upload"): Row(EVALUATORS, _upload),
    ("POST", "/kpi-results/{result_id}/audit"): Row(EVALUATORS, post(
        "/kpi-results/{target}/audit", prepare=_made_result(False), default={"target": 1})),
    ("POST", "/kpi-results/{result_id}/corrections"): Row(EVALUATORS, post(
        "/kpi-results/{target}/corrections", {"value": "69.5", "reason": "recount"},
        prepare=_made_result(True), default={"target": 1})),
    # ... and the lead payer's finance officer (Ube's) reads them, where the contract grants
    # it the view of every payer (the example does): tests/test_lead_payer_view.py
    ("GET", "/contracts/{contract_id}/kpi-results"): Row(FULL_READ | {"finance_officer"},
                                                         get("/contracts/{C}/kpi-results")),
    # settlement: only the intermediary (and admin) settles and closes
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/settlement/preview"): Row(
        OVERSIGHT, get("{Y}/settlement/preview")),
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/settlement"): Row(
        WRITERS, post("{Y}/settlement", {})),  # the same inputs: the first run again
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/close"): Row(WRITERS, post(
        "/contracts/{C}/years/{year}/close", prepare=_close, default={"year": 2021})),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/pack"): Row(OVERSIGHT, get("{Y}/pack")),
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/payers/{payer}/approval"): Row(
        frozenset({"admin", "finance_officer"}),
        post("/contracts/{C}/years/2022/payers/ube/approval")),
    # loans and Zengin files
    ("GET", "/contracts/{contract_id}/loans"): Row(FULL_READ | {"lender"},
                                                   get("/contracts/{C}/loans")),
    ("GET", "/contracts/{contract_id}/loans/{loan_id}"): Row(
        FULL_READ | {"lender"}, get("/contracts/{C}/loans/loan-yamaguchi")),
    ("GET", "/contracts/{contract_id}/payers/{payer}/zengin"): Row(
        OVERSIGHT | {"finance_officer"}, get("/contracts/{C}/payers/ube/zengin",
                                             on=PAYER_PAYS_ON)),
    ("GET", "/contracts/{contract_id}/distributions/{on}/zengin"): Row(
        OVERSIGHT, get(f"/contracts/{{C}}/distributions/{WATERFALL_ON}/zengin")),
    # holders: an investor sees only itself
    ("GET", "/holders"): Row(OVERSIGHT | {"investor"}, get("/holders")),
    ("POST", "/holders"): Row(WRITERS, post("/holders", make_body=lambda w: {
        "code": f"holder-{uuid.uuid4().hex[:8]}", "kind": "individual", "name_kanji": "市民"})),
    ("GET", "/holders/{code}"): Row(OVERSIGHT | {"investor"}, get("/holders/citizen-001")),
    ("POST", "/contracts/{contract_id}/subscriptions"): Row(WRITERS, post(
        "/contracts/{C}/subscriptions", make_body=lambda w: {
            "unit_class": "citizen-units", "holder": "citizen-002", "units": 1,
            "subscribed_on": f"2024-07-{next(w.days):02d}"})),
    ("GET", "/contracts/{contract_id}/holders/{code}/payments"): Row(
        OVERSIGHT | {"investor"}, get("/contracts/{C}/holders/citizen-001/payments")),
    ("GET", "/contracts/{contract_id}/returns"): Row(
        OVERSIGHT | {"investor"}, get("/contracts/{C}/returns", as_of="2023-03-31")),
    # documents and exports
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/lenders/{lender}"): Row(
        OVERSIGHT | {"lender"}, get("{Y}/documents/lenders/yamaguchi-bank")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/payers/{payer}"): Row(
        OVERSIGHT | {"finance_officer"}, get("{Y}/documents/payers/ube")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/holders/{code}"): Row(
        OVERSIGHT | {"investor"}, get("/contracts/{C}/years/2021/documents/holders/citizen-001")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/documents/year-end"): Row(
        OVERSIGHT, get("{Y}/documents/year-end")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/pack.xlsx"): Row(
        OVERSIGHT, get("{Y}/pack.xlsx")),
    ("GET", "/contracts/{contract_id}/years/{fiscal_year}/pack.csv.zip"): Row(
        OVERSIGHT, get("{Y}/pack.csv.zip")),
    # money movements: only the intermediary (and admin) moves money
    ("POST", "/contracts/{contract_id}/loan-draws"): Row(WRITERS, post(
        "/contracts/{C}/loan-draws", {"through_on": "2019-12-31"})),  # posted: the same again
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/fixed-fees"): Row(WRITERS, post(
        "{Y}/fixed-fees", {"paid_on": "2019-09-30"})),
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/contributions"): Row(WRITERS, post(
        "{Y}/contributions", {"received_on": "2019-09-30"})),  # none in this contract: []
    ("POST", "/contracts/{contract_id}/grant-receipts"): Row(WRITERS, post(
        "/contracts/{C}/grant-receipts", {"payer": "ube", "received_on": PAYER_PAYS_ON,
                                          "amount": {"amount": "1", "currency": "JPY"},
                                          "reference": "refused"},
        make_body=lambda w: {"payer": "ube", "received_on": PAYER_PAYS_ON,
                             "amount": {"amount": "1", "currency": "JPY"},
                             "reference": f"matrix-{uuid.uuid4().hex[:8]}"})),
    # donations through the municipalities: the receiving municipality's officer (Ube's) or
    # the intermediary records them; the auditor reads them too
    ("POST", "/contracts/{contract_id}/donations"): Row(WRITERS | {"finance_officer"}, post(
        "/contracts/{C}/donations", {"donation": "donations-via-municipalities",
                                     "payer": "ube", "received_on": PAYER_PAYS_ON,
                                     "amount": {"amount": "1", "currency": "JPY"},
                                     "donor": "matrix", "reference": "refused"},
        make_body=lambda w: {"donation": "donations-via-municipalities", "payer": "ube",
                             "received_on": PAYER_PAYS_ON,
                             "amount": {"amount": "1", "currency": "JPY"}, "donor": "matrix",
                             "reference": f"matrix-{uuid.uuid4().hex[:8]}"})),
    ("GET", "/contracts/{contract_id}/donations"): Row(
        WRITERS | {"auditor", "finance_officer"}, get("/contracts/{C}/donations")),
    ("POST", "/contracts/{contract_id}/receipts"): Row(WRITERS, post(
        "/contracts/{C}/receipts", {"payer": "tono", "amount": {"amount": "1", "currency": "JPY"},
                                    "received_on": PAYER_PAYS_ON, "reference": "refused"},
        make_body=lambda w: {"payer": "tono", "amount": {"amount": "1", "currency": "JPY"},
                             "received_on": PAYER_PAYS_ON,
                             "reference": f"matrix-{uuid.uuid4().hex[:8]}"})),
    ("POST", "/contracts/{contract_id}/distributions"): Row(WRITERS, post(
        "/contracts/{C}/distributions", {"on": "2024-07-31", "reference": "refused"},
        make_body=lambda w: {"on": f"2023-06-{next(w.waterfall_days):02d}",
                             "reference": _received(w)})),
    ("POST", "/contracts/{contract_id}/provider-payments"): Row(WRITERS, post(
        "/contracts/routing-sib/provider-payments", {"payer": "city", "provider": "thl",
                                                     "amount": {"amount": "1", "currency": "JPY"},
                                                     "paid_on": "2022-05-20",
                                                     "reference": "refused"},
        make_body=lambda w: {"payer": "city", "provider": "thl",
                             "amount": {"amount": "1", "currency": "JPY"},
                             "paid_on": "2022-05-20",
                             "reference": f"matrix-{uuid.uuid4().hex[:8]}"})),
    ("POST", "/contracts/{contract_id}/debt-service"): Row(WRITERS, post(
        "/contracts/{C}/debt-service", {"through": "2023-05-31"})),  # serviced: nothing new
    ("POST", "/contracts/{contract_id}/prepayments"): Row(WRITERS, post(
        "/contracts/{C}/prepayments", {"loan": "loan-kyoto", "on": "2023-06-01",
                                       "amount": {"amount": "100000", "currency": "JPY"}},
        make_body=lambda w: {"loan": "loan-kyoto", "on": f"2023-06-{next(w.waterfall_days):02d}",
                             "amount": {"amount": "100000", "currency": "JPY"}})),
    ("GET", "/contracts/{contract_id}/loans/{loan_id}/instalments"): Row(
        FULL_READ | {"lender"}, get("/contracts/{C}/loans/loan-yamaguchi/instalments",
                                    as_of="2023-03-31")),
    # a loan's documents (残高証明書, 利息計算書, 返済予定通知書): the bank of the loan reads them
    ("GET", "/contracts/{contract_id}/loans/{loan_id}/confirmation"): Row(
        FULL_READ | {"lender"}, get("/contracts/{C}/loans/loan-yamaguchi/confirmation",
                                    as_of="2021-04-30", format="json")),
    ("GET", "/contracts/{contract_id}/loans/{loan_id}/interest-statements/{due_on}"): Row(
        FULL_READ | {"lender"},
        get("/contracts/{C}/loans/loan-yamaguchi/interest-statements/2021-03-31",
            format="json")),
    ("GET", "/contracts/{contract_id}/loans/{loan_id}/repayment-notices/{due_on}"): Row(
        FULL_READ | {"lender"},
        get("/contracts/{C}/loans/loan-yamaguchi/repayment-notices/2021-03-31",
            format="json")),
    ("POST", "/contracts/{contract_id}/holder-payments"): Row(WRITERS, post(
        "/contracts/{C}/holder-payments", {"on": FY2021_WATERFALL_ON})),  # paid: paid once
    ("GET", "/contracts/{contract_id}/payment-records"): Row(
        OVERSIGHT, get("/contracts/{C}/payment-records", calendar_year=2022)),
    ("GET", "/contracts/{contract_id}/payment-records/summary"): Row(
        OVERSIGHT, get("/contracts/{C}/payment-records/summary", calendar_year=2022)),
    # the tax withheld from the FY2021 holder payments (May 2022), paid over late in an open
    # period (FY2022 is closed by then): posted once, the same month again answers 200
    ("POST", "/contracts/{contract_id}/tax-remittances"): Row(WRITERS, post(
        "/contracts/{C}/tax-remittances", {"month": "2022-05", "paid_on": OPEN_ON})),
    ("PUT", "/contracts/{contract_id}/parties/{party}/bank-account"): Row(WRITERS, post(
        "/contracts/{C}/parties/{party}/bank-account", BANK_ACCOUNT, make_body=_fresh_account,
        prepare=_fresh_party, default={"party": "thl"}, method="PUT")),
    # four eyes: another intermediary asked; the caller approves or rejects
    ("GET", "/change-requests"): Row(OVERSIGHT, get("/change-requests")),
    ("POST", "/change-requests/{request_id}/approval"): Row(WRITERS, post(
        "/change-requests/{target}/approval", prepare=_account_request, default={"target": 1})),
    ("POST", "/change-requests/{request_id}/rejection"): Row(WRITERS, post(
        "/change-requests/{target}/rejection", {"reason": "not this account"},
        prepare=_account_request, default={"target": 1})),
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/reopen"): Row(WRITERS, post(
        "/contracts/{C}/years/{year}/reopen", {"reason": "a late invoice"},
        prepare=_latest_closed, default={"year": 2020})),
    ("GET", "/contract-schema"): Row(EVERYONE, get("/contract-schema")),
    ("GET", "/ledger/books/{book}/export"): Row(OVERSIGHT, get("{B}/export")),
    # the audit log
    ("GET", "/audit"): Row(frozenset({"admin", "auditor"}), get("/audit")),
    # background jobs: the intermediary starts them; it, the admin and the auditor follow them
    ("POST", "/contracts/{contract_id}/years/{fiscal_year}/statement-jobs"): Row(WRITERS, post(
        "{Y}/statement-jobs", {"langs": ["ja"]})),
    ("GET", "/jobs"): Row(OVERSIGHT, get("/jobs")),
    ("GET", "/jobs/{job_id}"): Row(OVERSIGHT, get("/jobs/{job}")),
    # ... and who may start one may cancel it or retry it (a queued job of each caller's own)
    ("POST", "/jobs/{job_id}/cancel"): Row(WRITERS, post(
        "/jobs/{target}/cancel", prepare=lambda w: _own_job(w), default={"target": 1})),
    ("POST", "/jobs/{job_id}/retry"): Row(WRITERS, post(
        "/jobs/{target}/retry", prepare=lambda w: _own_job(w), default={"target": 1})),
    # simulation: every figure of every party, so the roles that read everything
    ("POST", "/contracts/{contract_id}/simulations"): Row(FULL_READ, _simulate),
    # ... and as a background job, as the portal's page: the finance office (Ube) starts one
    # too, and reads it (its own payers' figures; files included), as do the whole
    # contract's readers; a bank and an investor do neither
    ("POST", "/contracts/{contract_id}/simulation-jobs"): Row(
        frozenset({"admin", "intermediary", "finance_officer"}), _start_simulation_job),
    ("GET", "/contracts/{contract_id}/simulation-jobs/{job_id}"): Row(
        FULL_READ | {"finance_officer"}, _read_simulation_job("")),
    ("GET", "/contracts/{contract_id}/simulation-jobs/{job_id}/report.pdf"): Row(
        FULL_READ | {"finance_officer"}, _read_simulation_job("/report.pdf")),
    ("GET", "/contracts/{contract_id}/simulation-jobs/{job_id}/report.xlsx"): Row(
        FULL_READ | {"finance_officer"}, _read_simulation_job("/report.xlsx")),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the application answers (HEAD goes with GET)."""
    try:
        from fastapi.routing import iter_route_contexts  # routers included lazily
        routes: Any = iter_route_contexts(app.routes)
    except ImportError:
        routes = app.routes
    return {(method, route.path) for route in routes
            for method in (getattr(route, "methods", None) or ()) if method != "HEAD"}


# POSTs that write nothing: a simulation answers from the books without changing them.
READ_ONLY_POSTS = {("POST", "/contracts/{contract_id}/simulations")}


def test_every_route_has_a_row(world):
    assert app_routes(world.app) == set(EXPECTED)


CALLERS = [*ROLES, None]
CASES = [(op, role) for op in EXPECTED for role in CALLERS]


def _is_problem(response: httpx.Response, code: str) -> bool:
    return (response.headers["content-type"].startswith("application/problem+json")
            and response.json()["code"] == code)


@pytest.mark.parametrize("operation, role", CASES,
                         ids=[f"{m} {p} as {r or 'no token'}" for (m, p), r in CASES])
def test_the_matrix(world, operation, role):
    row = EXPECTED[operation]
    response = row.send(world, role, role in row.allowed)
    if role is None and not row.public:
        assert response.status_code == 401, response.text
        assert _is_problem(response, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"
    elif role in row.hidden:
        assert response.status_code == 404, response.text
    elif role is None or role in row.allowed:
        assert 200 <= response.status_code < 300, response.text
    else:
        assert response.status_code == 403, response.text
        assert _is_problem(response, "ROLE_FORBIDDEN")


def test_the_auditor_may_write_nothing():
    writes = [op for op in EXPECTED if op[0] != "GET" and op not in READ_ONLY_POSTS]
    assert writes and not any("auditor" in EXPECTED[op].allowed for op in writes)


def test_every_successful_write_is_in_the_audit_log(world):
    log = world.client.get("/audit", params={"limit": 500},
                           headers=world.headers("auditor")).json()["items"]
    recorded = {item["idempotency_key"] for item in log}
    writes = {k: p for k, p in world.written.items() if p != "/contracts/validate"}  # reads
    assert writes and {k: p for k, p in writes.items() if k not in recorded} == {}


# --------------------------------------------------------------------------- another party's object

# (role, what is asked, method, another party's object, an object that does not exist)
CROSS_PARTY = [
    ("lender", "another bank's loan", "GET",
     "/contracts/{C}/loans/loan-kyoto", "/contracts/{C}/loans/loan-nowhere"),
    ("lender", "another bank's balance confirmation", "GET",
     "/contracts/{C}/loans/loan-kyoto/confirmation?as_of=2021-04-30",
     "/contracts/{C}/loans/loan-nowhere/confirmation?as_of=2021-04-30"),
    ("lender", "another bank's interest statement", "GET",
     "/contracts/{C}/loans/loan-kyoto/interest-statements/2021-06-30",
     "/contracts/{C}/loans/loan-nowhere/interest-statements/2021-06-30"),
    ("lender", "another bank's statement", "GET",
     "{Y}/documents/lenders/kyoto-bank", "{Y}/documents/lenders/no-such-bank"),
    ("lender", "another bank's loan account", "GET",
     "{B}/accounts/loan:loan-kyoto/statement", "{B}/accounts/loan:loan-nowhere/statement"),
    ("lender", "an entry on another bank's accounts", "GET",
     "{B}/entries/{kyoto_draw}", "{B}/entries/999999999"),
    # Ube's finance officer is the lead payer, and the example contract lets it read every
    # payer's share and notices (LEAD_PAYER_READS below): another municipality's are asked
    # for by Tono's, which is not the lead. Acting for another payer (approval, Zengin file)
    # and the ledger stay the municipality's own, for the lead too.
    ("finance_officer_tono", "another municipality's share", "GET",
     "/contracts/{C}/payers/ube", "/contracts/{C}/payers/nowhere"),
    ("finance_officer_tono", "another municipality's payment notice", "GET",
     "{Y}/documents/payers/ube", "{Y}/documents/payers/nowhere"),
    ("finance_officer", "another municipality's approval", "POST",
     "/contracts/{C}/years/2022/payers/tono/approval",
     "/contracts/{C}/years/2022/payers/nowhere/approval"),
    ("finance_officer", "another municipality's Zengin file", "GET",
     "/contracts/{C}/payers/tono/zengin?on=" + PAYER_PAYS_ON,
     "/contracts/{C}/payers/nowhere/zengin?on=" + PAYER_PAYS_ON),
    ("finance_officer", "another municipality's receivable", "GET",
     "{B}/accounts/receivable:tono/statement", "{B}/accounts/receivable:nowhere/statement"),
    ("finance_officer", "an entry on another municipality's accounts", "GET",
     "{B}/entries/{tono_entry}", "{B}/entries/999999999"),
    ("investor", "another holder", "GET", "/holders/citizen-002", "/holders/nobody"),
    ("investor", "another holder's payments", "GET",
     "/contracts/{C}/holders/citizen-002/payments", "/contracts/{C}/holders/nobody/payments"),
    ("investor", "another holder's statement", "GET",
     "/contracts/{C}/years/2021/documents/holders/citizen-002",
     "/contracts/{C}/years/2021/documents/holders/nobody"),
]


@pytest.mark.parametrize("role, asked, method, other, missing", CROSS_PARTY,
                         ids=[f"{c[0]}: {c[1]}" for c in CROSS_PARTY])
def test_another_partys_object_looks_exactly_like_a_missing_one(world, role, asked, method,
                                                                 other, missing):
    answers = [world.client.request(method, _fill(path, world, role, {}),
                                    headers=world.headers(role, write=method != "GET"))
               for path in (other, missing)]
    assert [a.status_code for a in answers] == [404, 404], [a.text for a in answers]
    assert answers[0].json()["code"] == answers[1].json()["code"]
    assert answers[0].headers["content-type"] == answers[1].headers["content-type"]
    # the object itself exists: whoever may see everything gets it
    if method == "GET":
        seen = world.client.get(_fill(other, world, "admin", {}), headers=world.headers("admin"))
        assert seen.status_code == 200, seen.text


# What the lead payer's finance officer (Ube's) reads of the other payers by the contract's
# grant (lead_payer_sees_all_payers): the same answer as the intermediary's.
LEAD_PAYER_READS = [
    ("another municipality's share", "/contracts/{C}/payers/tono"),
    ("another municipality's payment notice", "{Y}/documents/payers/tono"),
    ("every payer's KPI results", "/contracts/{C}/kpi-results"),
]


@pytest.mark.parametrize("asked, path", LEAD_PAYER_READS, ids=[a for a, _ in LEAD_PAYER_READS])
def test_the_lead_payer_reads_the_other_payers_by_the_contracts_grant(world, asked, path):
    url = _fill(path, world, "finance_officer", {})
    lead = world.client.get(url, headers=world.headers("finance_officer"))
    assert lead.status_code == 200, lead.text
    assert lead.content == world.client.get(url, headers=world.headers("intermediary")).content


def test_lists_show_a_scoped_user_only_its_own_rows(world):
    def as_(role: str, path: str) -> Any:
        response = world.client.get(path, headers=world.headers(role))
        assert response.status_code == 200, response.text
        return response.json()

    loans = as_("lender", f"/contracts/{C}/loans")
    assert [loan["loan"] for loan in loans] == ["loan-yamaguchi"]
    for role, party in (("lender", "lender:yamaguchi-bank"), ("finance_officer", "payer:ube")):
        accounts = as_(role, f"{B}/accounts?limit=500")["items"]
        assert accounts and {a["party_ref"] for a in accounts} == {party}
        assert {b["code"] for b in as_(role, "/ledger/books")["items"]} <= {C, f"{C}:payers"}
    assert as_("investor", f"{B}/accounts")["items"] == []
    assert [h["code"] for h in as_("investor", "/holders")["items"]] == ["citizen-001"]
    assert as_("investor", f"/contracts/{C}/holders/citizen-001/payments")["total"] > 0


@pytest.mark.parametrize("method, path", [
    ("GET", "/contracts/{C}/years/{year}/documents/year-end"),
    ("GET", "/contracts/{C}/years/{year}/documents/payers/ube"),
    ("GET", "/contracts/{C}/years/{year}/pack.xlsx"),
    ("GET", "/contracts/{C}/years/{year}/settlement/preview"),
    ("POST", "/contracts/{C}/years/{year}/settlement"),
    ("POST", "/contracts/{C}/years/{year}/payers/ube/approval"),
])
@pytest.mark.parametrize("year", [1900, 2018, 2030])
def test_a_year_outside_the_contract_term_does_not_exist(world, method, path, year):
    # FY1900 once crashed the era formatting of the documents; FY2030 could be settled.
    url = path.format(C=C, year=year)
    response = world.client.request(method, url, headers=world.headers("admin", method != "GET"),
                                    json={} if method == "POST" else None)
    assert response.status_code == 404, response.text
    assert _is_problem(response, "FISCAL_YEAR_OUTSIDE_TERM")
