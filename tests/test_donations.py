"""Donations through the municipalities (寄附（自治体経由）, issue 12 item 4): the
five-municipality contract names the scheme (企業版ふるさと納税 via any of the five) and each
donation is recorded when it arrives — the receiving municipality's revenue designated for the
programme, in its fiscal year, never the vehicle's money. Through the service, the command
line and the API, with the refusals that keep a wrong record out."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import db, demo
from api.cli import app
from api.main import create_app
from api.settings import get_settings
from api.users import add_user, create_token
from contracts.store import get_contract, load_contract
from contracts.validate import load_contract_file
from ledger import read
from ledger.errors import SibError
from ledger.verify import verify
from settlement.donations import donations_by_year, record_donation

C = demo.C
PAYERS_BOOK = f"{C}:payers"
D = "donations-via-municipalities"


@pytest.fixture
def loaded(db_url):
    contract, problems = load_contract_file(demo.CONTRACT_FILE)
    assert contract is not None and not problems
    with db.unit_of_work(db_url) as s:
        load_contract(s, contract, demo.CONTRACT_FILE.name)
    return db_url


def test_a_donation_is_the_municipality_s_designated_revenue_of_its_year(loaded):
    """Ube receives 3,000,000 from 株式会社A on 15 March 2021 (FY2020: April 2020 – March
    2021) and 2,000,000 from 株式会社B on 1 April 2021 (FY2021); Yawata 500,000 on 20 May
    2021 (FY2021). Payers' book: bank:ube 5,000,000 debit, donations:ube 5,000,000 credit;
    by year: ube FY2020 3,000,000 (1), ube FY2021 2,000,000 (1), yawata FY2021 500,000 (1).
    The vehicle's books do not move: its cash stays what it was (nothing drawn: 0)."""
    with db.unit_of_work(loaded) as s:
        record_donation(s, C, D, "ube", 3_000_000, date(2021, 3, 15), "R-001", "株式会社A")
        record_donation(s, C, D, "ube", 2_000_000, date(2021, 4, 1), "R-002", "株式会社B")
        record_donation(s, C, D, "yawata", 500_000, date(2021, 5, 20), "Y-17", "株式会社C")
        # The same receipt again (a retry) is the same entry, not a second donation.
        again = record_donation(s, C, D, "ube", 3_000_000, date(2021, 3, 15), "R-001",
                                "株式会社A")
        assert len(read.entries(s, PAYERS_BOOK, kinds=["donation"])) == 3
        assert again.id == read.entry_by_key(s, PAYERS_BOOK, f"{C}:donation:{D}:ube:R-001").id
        assert read.totals(s, PAYERS_BOOK, "bank:ube").net_debit_minor == 5_000_000
        assert read.totals(s, PAYERS_BOOK, "donations:ube").net_credit_minor == 5_000_000
        assert read.totals(s, C, "cash").net_debit_minor == 0
        by_year = [(d.payer, d.fiscal_year, d.amount_minor, d.count)
                   for d in donations_by_year(s, get_contract(s, C))]
        assert by_year == [("ube", 2020, 3_000_000, 1), ("ube", 2021, 2_000_000, 1),
                           ("yawata", 2021, 500_000, 1)]
        assert verify(s).ok


@pytest.mark.parametrize(("args", "code", "field"), [
    (("nowhere", "ube", 1, date(2021, 3, 15), "R", "A"), "DONATION_NOT_FOUND", "donation"),
    ((D, "osaka", 1, date(2021, 3, 15), "R", "A"), "PAYER_NOT_FOUND", "payer"),
    ((D, "ube", 0, date(2021, 3, 15), "R", "A"), "AMOUNT_NOT_POSITIVE", "amount"),
    ((D, "ube", 1, date(2030, 3, 15), "R", "A"), "DATE_OUTSIDE_TERM", "on"),
    ((D, "ube", 1, date(2021, 3, 15), "R", " "), "DONATION_INCOMPLETE", "donor"),
    ((D, "ube", 1, date(2021, 3, 15), "R", "株式会社\u202eA"), "TEXT_INVALID", "donor"),
])
def test_a_wrong_donation_is_refused_by_name_and_nothing_is_written(loaded, args, code, field):
    with db.unit_of_work(loaded) as s, pytest.raises(SibError) as refused:
        record_donation(s, C, *args)
    assert (refused.value.code, refused.value.problems[0].field) == (code, field)
    with db.unit_of_work(loaded) as s:
        assert read.entries(s, PAYERS_BOOK, kinds=["donation"]) == []


def test_the_same_receipt_number_with_another_amount_is_refused(loaded):
    with db.unit_of_work(loaded) as s:
        record_donation(s, C, D, "ube", 1_000_000, date(2021, 3, 15), "R-001", "株式会社A")
    with db.unit_of_work(loaded) as s, pytest.raises(SibError) as refused:
        record_donation(s, C, D, "ube", 1_500_000, date(2021, 3, 15), "R-001", "株式会社A")
    assert refused.value.code == "IDEMPOTENCY_CONFLICT"


def test_a_donation_through_the_command_line_and_the_api(loaded, monkeypatch):
    """CLI: Tono receives ¥1,200,000 (FY2021). API: Misato's finance officer records
    ¥800,000 for Misato (FY2022) and may not record one for Ube (404, nothing written); the
    intermediary reads both years, Misato's officer only its own."""
    monkeypatch.setenv("DATABASE_URL", loaded)
    get_settings.cache_clear()
    done = CliRunner().invoke(app, ["money", "donation", "-c", C, "--donation", D, "--payer",
                                    "tono", "--amount", "1,200,000", "--on", "2021-06-01",
                                    "--donor", "株式会社遠野", "--reference", "T-1", "--json"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert (shown["fiscal_year"], shown["amount"]) == (
        2021, {"amount": "1200000", "currency": "JPY"})
    with db.unit_of_work(loaded) as s:
        add_user(s, "misato-fo", "finance_officer", "misato")
        add_user(s, "twr", "intermediary")
        tokens = {u: create_token(s, u) for u in ("misato-fo", "twr")}
    body = {"donation": D, "payer": "misato", "amount": {"amount": "800000", "currency": "JPY"},
            "received_on": "2022-07-01", "donor": "株式会社美郷", "reference": "M-9"}
    with TestClient(create_app(loaded)) as client:
        def post(who: str, data: dict, key: str):
            return client.post(f"/contracts/{C}/donations", json=data, headers={
                "Authorization": f"Bearer {tokens[who]}", "Idempotency-Key": key})
        assert post("misato-fo", body, "k1").status_code == 201
        other = post("misato-fo", {**body, "payer": "ube", "reference": "U-1"}, "k2")
        assert other.status_code == 404 and other.json()["code"] == "PAYER_NOT_FOUND"
        listed = client.get(f"/contracts/{C}/donations",
                            headers={"Authorization": f"Bearer {tokens['twr']}"}).json()
        assert [(r["payer"], r["fiscal_year"], r["amount"]["amount"]) for r in listed] == [
            ("misato", 2022, "800000"), ("tono", 2021, "1200000")]
        own = client.get(f"/contracts/{C}/donations",
                         headers={"Authorization": f"Bearer {tokens['misato-fo']}"}).json()
        assert [r["payer"] for r in own] == ["misato"]
        # A finance officer of a municipality that is not a payer of the contract: 404.
        with db.unit_of_work(loaded) as s:
            add_user(s, "osaka-fo", "finance_officer", "osaka")
            tokens["osaka-fo"] = create_token(s, "osaka-fo")
        stranger = client.get(f"/contracts/{C}/donations",
                              headers={"Authorization": f"Bearer {tokens['osaka-fo']}"})
        assert stranger.status_code == 404 and stranger.json()["code"] == "PAYER_NOT_FOUND"
    with db.unit_of_work(loaded) as s:
        assert read.totals(s, PAYERS_BOOK, "donations:ube").credits_minor == 0
    get_settings.cache_clear()
