"""Loading contracts into the ledger: commitments per payer and year, amendments, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from api.cli import app
from api.settings import get_settings
from contracts.store import (
    active_commitments,
    amend_contract,
    commitment_totals,
    get_contract,
    load_contract,
    versions,
)
from contracts.terms import max_outcome_by_payer_year, max_outcome_by_tranche_payer
from contracts.validate import load_contract_file, validate_document
from ledger.errors import SibError
from ledger.reports import trial_balance
from ledger.schema import Entry
from ledger.service import entry_state
from ledger.verify import verify

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
FIVE = EXAMPLES / "sib-2019-five-municipalities.yaml"


def contract_of(path: Path):
    contract, problems = load_contract_file(path)
    assert problems == []
    return contract


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_loads_and_the_ledger_verifies(session, name):
    contract = contract_of(EXAMPLES / name)
    result = load_contract(session, contract, name)
    session.commit()
    assert result.created and result.version == 1
    assert verify(session).ok
    again = load_contract(session, contract, name)
    assert not again.created and again.commitments == result.commitments


def test_pending_commitments_sum_to_the_maximum_per_payer_and_year(session):
    contract = contract_of(FIVE)
    load_contract(session, contract)
    session.commit()
    expected = {k: v for k, v in max_outcome_by_payer_year(contract).items() if v}
    assert commitment_totals(session, contract.id) == expected
    # and from the ledger's own balances: every receivable's pending debits is its maximum
    tb = {r.code: r for r in trial_balance(session, contract.id).rows}
    for payer in contract.payer_ids:
        total = sum(v for (p, _), v in expected.items() if p == payer)
        assert tb[f"receivable:{payer}"].debits_pending == total
        assert tb[f"outcome-income:{payer}"].credits_pending == total
    assert sum(expected.values()) == sum(t.max_amount_minor for t in contract.tranches)
    # Ube's FY2019 maximum is its population share of the year's 30,000,000 of tranches
    assert expected[("ube", 2019)] == 15_517_254


def test_a_second_contract_under_the_same_id_is_refused(session):
    contract = contract_of(FIVE)
    load_contract(session, contract)
    other = contract.model_copy(update={"name_en": "Something else"})
    with pytest.raises(SibError) as err:
        load_contract(session, other)
    assert err.value.code == "CONTRACT_EXISTS"


def _amended_document(target_2022: str) -> dict:
    document = yaml.safe_load(FIVE.read_text(encoding="utf-8"))
    for kpi in document["kpis"]:
        if kpi["id"] == "participants":
            kpi["targets"][2022] = target_2022
    for tranche in document["tranches"]:
        if tranche["id"] == "fy2022-participants":
            tranche["max_amount"] = "17,000,000"
    return document


def test_an_amendment_of_a_future_target_leaves_earlier_years_untouched(session):
    contract = contract_of(FIVE)
    load_contract(session, contract)
    session.commit()
    before = {(c.tranche_id, c.payer_id): c.entry_id
              for c in active_commitments(session, contract.id) if c.fiscal_year < 2022}
    amended, problems = validate_document(_amended_document("15000"), "amendment.yaml")
    assert problems == []
    result = amend_contract(session, contract.id, amended, "participants target renegotiated",
                            2022)
    session.commit()
    assert result.version == 2
    after = {(c.tranche_id, c.payer_id): c.entry_id
             for c in active_commitments(session, contract.id) if c.fiscal_year < 2022}
    assert after == before  # same pending entries for FY2019–FY2021
    for entry_id in before.values():
        assert entry_state(session, session.get(Entry, entry_id)) == "pending"
    new_maxima = max_outcome_by_tranche_payer(amended)
    fy2022 = [c for c in active_commitments(session, contract.id, 2022)]
    assert all(c.version == 2 for c in fy2022)
    assert sum(c.amount_minor for c in fy2022) == sum(
        v for (t, _), v in new_maxima.items() if t.startswith("fy2022"))
    assert get_contract(session, contract.id).kpi("participants").targets[2022] == 15000
    assert get_contract(session, contract.id, 1).kpi("participants").targets[2022] == 16500
    history = versions(session, contract.id)
    assert [(v.version, v.effective_from, v.reason) for v in history] == [
        (1, 2019, "initial"), (2, 2022, "participants target renegotiated")]
    assert verify(session).ok


def test_an_amendment_that_changes_a_past_year_is_refused_and_writes_nothing(session):
    contract = contract_of(FIVE)
    load_contract(session, contract)
    session.commit()
    count = session.scalar(select(func.count()).select_from(Entry))
    document = _amended_document("15000")
    for kpi in document["kpis"]:
        if kpi["id"] == "participants":
            kpi["targets"][2020] = "9000"
    amended, problems = validate_document(document, "amendment.yaml")
    assert problems == []
    with pytest.raises(SibError) as err:
        amend_contract(session, contract.id, amended, "oops", 2022)
    assert "AMENDMENT_CHANGES_SETTLED_PERIOD" in err.value.codes
    assert "kpis.participants.targets[2020]" in [p.field for p in err.value.problems]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Entry)) == count
    assert len(versions(session, contract.id)) == 1


def test_show_prints_liability_next_to_authorisation_and_the_history(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'show.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        loaded = runner.invoke(app, ["contract", "load", str(FIVE)])
        assert loaded.exit_code == 0, loaded.output
        shown = runner.invoke(app, ["contract", "show", "sib-2019-five-municipalities",
                                    "--json"])
        assert shown.exit_code == 0, shown.output
        import json
        data = json.loads(shown.output)
        row = next(r for r in data["authorisation"]
                   if r["payer"] == "ube" and r["fiscal_year"] == 2019)
        assert row["max_liability"] == {"amount": "15517254", "currency": "JPY"}
        assert row["authorised"] == {"amount": "15600000", "currency": "JPY"}
        assert data["versions"][0]["reason"] == "initial"
        text_out = runner.invoke(app, ["contract", "show", "sib-2019-five-municipalities"])
        assert "15,517,254" in text_out.output and "15,600,000" in text_out.output
    finally:
        get_settings.cache_clear()


def test_an_invalid_file_loads_nothing(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        document = yaml.safe_load(FIVE.read_text(encoding="utf-8"))
        document["tranches"][3]["rule"]["floor"] = "90"  # floor above cap
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        result = runner.invoke(app, ["contract", "load", str(bad)])
        assert result.exit_code == 1
        assert "tranches[3].rule.floor" in result.output
        from api import db
        with db.get_engine(url).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM contract_version")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM ledger_book")).scalar() == 0
    finally:
        get_settings.cache_clear()


INVALID = Path(__file__).resolve().parent / "contracts_invalid"


@pytest.mark.parametrize("name", sorted(p.name for p in INVALID.glob("*.yaml")
                                        if not p.name.startswith("_")))
def test_each_invalid_file_is_refused_with_field_paths_and_loads_nothing(name, tmp_path,
                                                                          monkeypatch):
    url = f"sqlite:///{tmp_path / 'invalid.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        result = runner.invoke(app, ["contract", "load", str(INVALID / name)])
        assert result.exit_code == 1, result.output
        assert f"{name}:" in result.output  # each problem names the file and its field path
        from api import db
        with db.get_engine(url).connect() as conn:
            for table in ("contract_version", "contract_commitment", "ledger_book",
                          "ledger_entry", "api_audit"):
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
    finally:
        get_settings.cache_clear()
