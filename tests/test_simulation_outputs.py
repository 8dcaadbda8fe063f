"""Issue 16: the assumptions file, the draws, degenerate distributions, reproducible output
(JSON, workbook, PDF), a worked example, the command and the endpoint."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api import db
from api.main import create_app
from api.users import add_user, create_token
from contracts.validate import load_contract_file
from investors.pdf_simulation import render
from investors.simulation_xlsx import write
from settlement.simulation import as_json, simulate, summarise
from settlement.simulation_assumptions import load_assumptions_file, validate_assumptions
from settlement.simulation_books import Subscription, run_books
from settlement.simulation_draws import beta_cdf, beta_ppf, normal_cdf, normal_ppf
from settlement.simulation_engine import receipts_of
from settlement.simulation_payouts import KpiDraws, settle_scalar, settle_vectorised, variables
from tests.test_simulation_engine import demo_history

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts/examples/sib-2019-five-municipalities.yaml"
EXAMPLE = ROOT / "contracts/examples/simulations/sib-2019-five-municipalities.yaml"
C = "sib-2019-five-municipalities"


@pytest.fixture(scope="module")
def contract():
    found, problems = load_contract_file(CONTRACT)
    assert found is not None, problems
    return found


def example_document() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- assumptions

def test_the_example_file_validates(contract):
    assumptions, problems = load_assumptions_file(EXAMPLE, contract)
    assert problems == []
    assert assumptions is not None and assumptions.from_fiscal_year == 2021
    # continuation-rate is per payer: one distribution per payer, Misato's its own.
    assert assumptions.distributions[(2021, "final", "continuation-rate", "misato")].kind == \
        "truncated_normal"
    assert assumptions.distributions[(2021, "final", "continuation-rate", "ube")].kind == \
        "empirical"


def test_every_problem_is_reported_with_its_field_path(contract):
    doc = example_document()
    doc["kpis"]["participants"]["final"][2022] = {"distribution": "normal", "mean": "1",
                                                  "sd": "-2"}
    doc["kpis"]["guideline-share"]["final"][2021]["values"][0]["probability"] = "0.5"
    doc["kpis"]["no-such-kpi"] = {"final": {}}
    doc["kpis"]["inactive-share"]["final"][2030] = {"distribution": "uniform", "min": 1,
                                                    "max": 2}
    doc["correlation"]["between_years"] = "1.5"
    doc["subscriptions"][0]["class"] = "no-class"
    doc["kpis"]["participants"]["final"][2023] = {"distribution": "lognormal"}
    assumptions, problems = validate_assumptions(doc, contract, "sim.yaml")
    assert assumptions is None
    found = {(p.code, p.field) for p in problems}
    assert ("PARAMETER_INVALID", "kpis.participants.final.2022.sd") in found
    assert ("PROBABILITIES_NOT_ONE", "kpis.guideline-share.final.2021.values") in found
    assert ("KPI_NOT_FOUND", "kpis.no-such-kpi") in found
    assert ("FISCAL_YEAR_OUTSIDE_TERM", "kpis.inactive-share.final.2030") in found
    assert ("CORRELATION_INVALID", "correlation.between_years") in found
    assert ("UNIT_CLASS_NOT_FOUND", "subscriptions[0].class") in found
    assert ("DISTRIBUTION_UNKNOWN", "kpis.participants.final.2023.distribution") in found
    assert all(p.source == "sim.yaml" for p in problems)


def test_a_year_without_distribution_or_audited_result_is_named(contract):
    doc = example_document()
    del doc["kpis"]["participants"]["final"][2022]
    assumptions, _ = validate_assumptions(doc, contract)
    sim, problems = simulate(contract, assumptions, 10, seed=1, known=demo_history(),
                             from_fiscal_year=2021)
    assert sim is None
    assert [(p.code, p.field) for p in problems] == [
        ("DISTRIBUTION_MISSING", "kpis.participants.final.2022")]


# --------------------------------------------------------------------------- draws

def test_normal_cdf_and_quantile_match_known_values():
    # Φ(0) = 1/2 by symmetry; Φ⁻¹(0.975) = 1.959963984540054 (the two-sided 95 % point);
    # Φ(−x) = 1 − Φ(x).
    assert normal_cdf(np.array([0.0]))[0] == 0.5
    assert abs(normal_ppf(np.array([0.975]))[0] - 1.959963984540054) < 1e-12
    x = np.linspace(-6, 6, 121)
    assert np.allclose(normal_cdf(-x), 1 - normal_cdf(x), atol=1e-15)
    p = np.array([1e-10, 0.01, 0.02425, 0.3, 0.5, 0.9, 0.999999])
    assert np.allclose(normal_cdf(normal_ppf(p)), p, rtol=1e-12, atol=1e-20)


def test_beta_cdf_and_quantile_match_closed_forms():
    # Beta(1, 1) is uniform: I_x = x. Beta(2, 1) has density 2x: I_x = x². Beta(1, 3):
    # I_x = 1 − (1 − x)³.
    x = np.linspace(0, 1, 11)
    assert np.allclose(beta_cdf(x, 1, 1), x, atol=1e-12)
    assert np.allclose(beta_cdf(x, 2, 1), x ** 2, atol=1e-12)
    assert np.allclose(beta_cdf(x, 1, 3), 1 - (1 - x) ** 3, atol=1e-12)
    u = np.array([0.04, 0.25, 0.81])
    assert np.allclose(beta_ppf(u, 2, 1), np.sqrt(u), atol=1e-5)  # inverse of x²


def test_the_copula_correlates_years_of_a_kpi(contract):
    doc = example_document()
    assumptions, _ = validate_assumptions(doc, contract)
    sim, _ = simulate(contract, assumptions, 4000, seed=5, known=demo_history(),
                      from_fiscal_year=2021)
    a = sim.draws[(2021, "final", "participants", "")].numerators.astype(float)
    b = sim.draws[(2022, "final", "participants", "")].numerators.astype(float)
    # between_years 0.6 on the normal scores; the marginals (truncated normal, triangular)
    # keep most of it: clearly positive, clearly below 1.
    assert 0.4 < np.corrcoef(a, b)[0, 1] < 0.7


# --------------------------------------------------------------------------- worked example

def test_binary_threshold_worked_example(contract):
    """FY2021 inactive-share pays 10,000,000 when the share is at least 55 % (the contract's
    rule), nothing at 54.9 %. The 10,000,000 is split by population 165:28:73:42:11 (319):
    truncated parts 5,172,413 + 877,742 + 2,288,401 + 1,316,614 + 344,827 = 9,999,997, the
    3 yen left to the first part (Ube): 5,172,416. The amounts include the tax, so each
    payer's due is its earned part; the grant is half of it, in whole thousands of yen when
    the grant has a unit, else truncated: Ube 5,172,416 / 2 = 2,586,208."""
    draws = {}
    for v in variables(contract):
        year, _, kpi, _ = v
        value = {"inactive-share": [550, 549]}.get(kpi, [0, 0]) if year == 2021 else [0, 0]
        draws[v] = KpiDraws(np.array(value, dtype=np.int64), 10)
    for payouts in (settle_vectorised(contract, draws, 2), settle_scalar(contract, draws, 2)):
        assert payouts.earned_by_kpi["inactive-share"][2021].tolist() == [10_000_000, 0]
        assert payouts.due["ube"][2021].tolist() == [5_172_416, 0]
        assert payouts.due["misato"][2021].tolist() == [344_827, 0]
        grant = contract.grants[0]
        expected = 2_586_208 if grant.rounding_unit_minor == 1 else 2_586_000
        assert payouts.grant["ube"][2021].tolist() == [expected, 0]


# --------------------------------------------------------------------------- degenerate

def fixed_document(contract) -> dict:
    """All mass on the demo's audited values, every year."""
    from api.demo import INTERIM, RESULTS
    kpis: dict = {}
    for year, (contract_wide, per_payer) in RESULTS.items():
        for kpi, value in contract_wide.items():
            kpis.setdefault(kpi, {"decimals": 1}).setdefault("final", {})[year] = {
                "distribution": "fixed", "value": value}
        body = kpis.setdefault("continuation-rate", {"decimals": 1})
        body.setdefault("final", {})[year] = {"distribution": "fixed", "value": "0"}
        for payer, value in per_payer.items():
            body.setdefault("payers", {}).setdefault(payer, {}).setdefault("final", {})[
                year] = {"distribution": "fixed", "value": value}
    kpis["participants"]["decimals"] = 0
    kpis["participants"]["interim"] = {2019: {"distribution": "fixed", "value": INTERIM[2019]}}
    doc = example_document()
    doc["kpis"] = kpis
    doc.pop("from_fiscal_year")
    return doc


def test_degenerate_distributions_reproduce_the_deterministic_settlement(contract):
    assumptions, problems = validate_assumptions(fixed_document(contract), contract)
    assert assumptions is not None, problems
    sim, problems = simulate(contract, assumptions, 30, seed=11, from_fiscal_year=2019)
    assert sim is not None, problems
    # The deterministic settlement of the demo's values: the engine once, the books once.
    one = {v: KpiDraws(d.numerators[:1], d.scale) for v, d in sim.draws.items()}
    engine = settle_scalar(contract, one, 1)
    books = run_books(contract, sim.plans, receipts_of(engine, 0),
                      [Subscription("citizen-units", s.on, s.units * 50_000)
                       for s in assumptions.subscriptions])
    for payer in contract.payer_ids:
        for year in contract.fiscal_years:
            assert set(sim.payouts.due[payer][year].tolist()) == \
                {int(engine.due[payer][year][0])}
    for loan_id, outcome in books.loans.items():
        for year, amount in outcome.paid_by_fiscal_year.items():
            assert set(sim.money.loan_paid[loan_id][year].tolist()) == {amount}
    assert set(sim.money.class_returns["citizen-units"].tolist()) == \
        {books.classes["citizen-units"].returns_minor}
    summary = summarise(sim)
    for row in summary["payments_by_year"]:
        assert row["p5"] == row["p50"] == row["p95"] == row["mean"]
    # The summary reads the same figure: FY2019's total is the engine's.
    assert summary["payments_by_year"][0]["p50"] == sum(
        int(engine.due[p][2019][0]) for p in contract.payer_ids)


# --------------------------------------------------------------------------- fixed fees

def test_the_fixed_fees_unpaid_worked_example(contract):
    """Four scenarios of THL's fixed fees (FY2019 36,000,000 on 30 Sep 2019, FY2020
    32,000,000 on 30 Sep 2020, FY2021–FY2023 3,000,000 each 30 September): scenario 0 leaves
    FY2020's unpaid, scenario 1 FY2020's and FY2023's, scenario 2 FY2023's only, scenario 3
    none. So 3 of 4 leave a fee unpaid (0.75); the first unpaid dates are 30 Sep 2020, 30 Sep
    2020 and 30 Sep 2023, 1,095 days apart (three years of 365), whose mean is 365 days after
    30 Sep 2020: 30 Sep 2021. Unpaid over the term: 32,000,000, 35,000,000, 3,000,000 and 0,
    mean 70,000,000 / 4 = 17,500,000; percentiles by rank among 0 < 3 M < 32 M < 35 M: P5 0,
    P50 3,000,000 (the second of four), P95 35,000,000. FY2020: 2 of 4 unpaid (0.5), expected
    64,000,000 / 4 = 16,000,000; FY2023: 2 of 4 (0.5), 6,000,000 / 4 = 1,500,000, and by
    then 3 of 4 have had a fee unpaid (0.75)."""
    from datetime import date

    from settlement.simulation import fixed_fees_unpaid
    from settlement.simulation_books import YearPlan
    plans = [YearPlan(y, date(y, 9, 30), {}, date(y + 1, 5, 29)) for y in range(2019, 2024)]
    unpaid = {y: np.zeros(4, dtype=np.int64) for y in range(2019, 2024)}
    unpaid[2020][[0, 1]] = 32_000_000
    unpaid[2023][[1, 2]] = 3_000_000
    found = fixed_fees_unpaid(contract, plans, {"thl": unpaid}, 4)
    assert found["probability_unpaid"] == "0.7500"
    assert found["expected_first_unpaid_on"] == "2021-09-30"
    assert found["expected_unpaid"] == 17_500_000
    assert found["unpaid"] == {"p5": 0, "p50": 3_000_000, "p95": 35_000_000,
                               "mean": 17_500_000}
    rows = {r["fiscal_year"]: r for r in found["by_due_date"]}
    assert [r["due_on"] for r in found["by_due_date"]] == [f"{y}-09-30" for y in range(2019, 2024)]
    assert rows[2019] == {"provider": "thl", "fiscal_year": 2019, "due_on": "2019-09-30",
                          "fee": 36_000_000, "probability_unpaid": "0.0000",
                          "probability_unpaid_by_then": "0.0000", "expected_unpaid": 0}
    assert (rows[2020]["probability_unpaid"], rows[2020]["probability_unpaid_by_then"],
            rows[2020]["expected_unpaid"]) == ("0.5000", "0.5000", 16_000_000)
    assert (rows[2023]["probability_unpaid"], rows[2023]["probability_unpaid_by_then"],
            rows[2023]["expected_unpaid"]) == ("0.5000", "0.7500", 1_500_000)


def nothing_achieved(contract) -> dict:
    """Every KPI of every year (each payer's too) fixed at 0."""
    doc = example_document()
    kpis: dict = {}
    for year, evaluation, kpi_id, _ in variables(contract):
        body = kpis.setdefault(kpi_id, {"decimals": 0})
        body.setdefault(evaluation, {})[year] = {"distribution": "fixed", "value": "0"}
    doc["kpis"] = kpis
    doc.pop("from_fiscal_year")
    return doc


def test_a_vehicle_without_outcome_money_cannot_pay_fy2020s_fixed_fee(contract):
    """Nothing achieved in any year, so nothing is paid for FY2019. The loans are drawn at
    set-up: 15 + 15 + 6 + 12 + 8 + 4 = 60,000,000 in the cash account, which covers FY2019's
    36,000,000 on 30 Sep 2019; on 30 Sep 2020 it holds at most 60,000,000 − 36,000,000 =
    24,000,000 (less the interest paid by then), short of FY2020's 32,000,000: the ledger
    refuses it, in every run, so the probability is 1, the first unpaid fee falls on 30 Sep
    2020 in every run, and at least 32,000,000 is left to fund. The report says so in both
    languages, and the workbook has the sheet."""
    from openpyxl import load_workbook
    assumptions, problems = validate_assumptions(nothing_achieved(contract), contract)
    assert assumptions is not None, problems
    sim, problems = simulate(contract, assumptions, 5, seed=1, from_fiscal_year=2019)
    assert sim is not None, problems
    assert not any(sim.payouts.due[p][2019].any() for p in contract.payer_ids)
    summary = summarise(sim)
    fees = summary["fixed_fees_unpaid"]
    assert fees["probability_unpaid"] == "1.0000"
    assert fees["expected_first_unpaid_on"] == "2020-09-30"
    assert fees["unpaid"]["p5"] >= 32_000_000
    rows = {r["fiscal_year"]: r for r in fees["by_due_date"]}
    assert rows[2019]["probability_unpaid"] == "0.0000"
    assert (rows[2020]["probability_unpaid"], rows[2020]["expected_unpaid"]) == \
        ("1.0000", 32_000_000)
    assert list(summary).index("fixed_fees_unpaid") == list(summary).index("loans") + 1
    wire = as_json(summary, "JPY")["fixed_fees_unpaid"]
    assert wire["by_due_date"][1]["fee"] == {"amount": "32000000", "currency": "JPY"}
    ja = "".join(page.extract_text() for page in PdfReader(BytesIO(
        render(summary, contract, "ja"))).pages)
    assert "固定委託料の支払不足が生じる確率" in ja and "100.0%" in ja.replace(" ", "")
    assert "推計開始前" not in ja  # simulated from FY2019: no due date is history
    assert "32,000,000円" in ja and "令和2年9月30日" in ja.replace(" ", "")
    en = "".join(page.extract_text() for page in PdfReader(BytesIO(
        render(summary, contract, "en"))).pages)
    assert "Probability that a fixed fee cannot be paid when due" in en
    assert "30 Sep 2020" in en and "JPY 32,000,000" in en
    lockstep = sim.paths["books"]["lockstep_runs"]
    assert f"runs settled by the lockstep books: {lockstep:,}" in en.replace("\n", " ")
    book = load_workbook(BytesIO(write(summary, sim, "ja")))
    assert "固定委託料の支払不足" in book.sheetnames
    sheet = book["固定委託料の支払不足"]
    assert sheet.max_row >= 6  # the header and the five fees


# --------------------------------------------------------------------------- reproducible

def outputs(contract, seed: int) -> tuple[bytes, bytes, bytes, bytes]:
    assumptions, _ = validate_assumptions(example_document(), contract)
    sim, _ = simulate(contract, assumptions, 300, seed=seed, known=demo_history())
    summary = summarise(sim)
    text = json.dumps(as_json(summary, "JPY"), ensure_ascii=False, sort_keys=True).encode()
    return (text, write(summary, sim, "ja"), render(summary, contract, "ja"),
            render(summary, contract, "en"))


def test_the_same_seed_gives_byte_identical_json_workbook_and_pdfs(contract):
    first, second = outputs(contract, 42), outputs(contract, 42)
    for a, b in zip(first, second):
        assert a == b
    other = outputs(contract, 43)
    assert other[0] != first[0]


def test_money_is_amount_and_currency_and_the_pdf_reads_in_japanese(contract):
    text, _, pdf_ja, pdf_en = outputs(contract, 7)
    summary = json.loads(text)
    row = summary["payments_by_year"][2]
    assert row["p50"]["currency"] == "JPY" and row["p50"]["amount"].isdigit()
    assert summary["payers"][0]["authorisation"] == {"amount": "122000000", "currency": "JPY"}
    ja = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf_ja)).pages)
    assert "成果連動シミュレーション報告書" in ja and "宇部市" in ja and "令和3年度" in ja
    assert "122,000,000円" in ja  # Ube's 債務負担行為, in 円 with commas
    en = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf_en)).pages)
    assert "Outcome simulation report" in en and "JPY 122,000,000" in en


# --------------------------------------------------------------------------- API and CLI

@pytest.fixture
def client(db_url):
    with db.unit_of_work(db_url) as session:
        tokens = {name: (add_user(session, name, role, scope), create_token(session, name))[1]
                  for name, role, scope in [("ana", "intermediary", None),
                                            ("ube", "finance_officer", "ube")]}
    with TestClient(create_app(db_url)) as c:
        c.tokens = tokens
        yield c


def test_the_endpoint_answers_the_same_summary_for_the_same_seed(client, db_url, contract):
    from contracts.store import load_contract
    with db.unit_of_work(db_url) as session:
        load_contract(session, contract, "test")
    doc = fixed_document(contract)
    body = {"assumptions": EXAMPLE.read_text(encoding="utf-8").replace(
        "from_fiscal_year: 2021", "from_fiscal_year: 2019"), "runs": 50, "seed": 9}
    # Without history in this database, the empirical years cannot be drawn: refused,
    # naming the field.
    refused = client.post(f"/contracts/{C}/simulations", json=body,
                          headers={"Authorization": f"Bearer {client.tokens['ana']}"})
    assert refused.status_code == 422, refused.text
    assert "kpis.continuation-rate.final.2021" in refused.text
    body["assumptions"] = json.loads(json.dumps(doc, default=str))
    first = client.post(f"/contracts/{C}/simulations", json=body,
                        headers={"Authorization": f"Bearer {client.tokens['ana']}"})
    assert first.status_code == 200, first.text
    again = client.post(f"/contracts/{C}/simulations", json=body,
                        headers={"Authorization": f"Bearer {client.tokens['ana']}"})
    assert first.json() == again.json()
    assert first.json()["runs"] == 50
    assert first.json()["payments_by_year"][0]["p50"]["currency"] == "JPY"
    forbidden = client.post(f"/contracts/{C}/simulations", json=body,
                            headers={"Authorization": f"Bearer {client.tokens['ube']}"})
    assert forbidden.status_code == 403


def test_the_command_prints_json_and_writes_the_files(tmp_path, db_url, contract,
                                                      monkeypatch):
    from typer.testing import CliRunner

    from api.cli import app
    from api.settings import get_settings
    from contracts.store import load_contract
    with db.unit_of_work(db_url) as session:
        load_contract(session, contract, "test")
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    assumptions = tmp_path / "fixed.yaml"
    assumptions.write_text(yaml.safe_dump(json.loads(json.dumps(fixed_document(contract),
                                                                default=str))),
                           encoding="utf-8")
    args = ["simulate", "-c", C, "--assumptions", str(assumptions), "--runs", "20",
            "--seed", "4", "--from-year", "2019", "--json", "--xlsx",
            str(tmp_path / "s.xlsx"), "--pdf", str(tmp_path / "s.pdf"), "--lang", "en"]
    result = CliRunner().invoke(app, args)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["contract"] == C and summary["runs"] == 20
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "s.xlsx").read_bytes().startswith(b"PK")
    assert not math.isnan(float(Decimal(summary["classes"][0]["irr"]["p50"])))


def test_the_demo_ends_with_a_simulation_from_fy2021_on_its_own_history(demo_story, tmp_path,
                                                                        monkeypatch):
    """Acceptance 4: the demo's last step simulates FY2021 on, with the audited FY2019–FY2020
    results of its books as history (17 results: 3 contract-wide KPIs and 5 continuation
    rates a year, and FY2019's interim participants count), and writes the report."""
    from api import demo
    url, _ = demo_story
    monkeypatch.setenv("DATABASE_URL", url)
    assert demo.simulate_rest(tmp_path) == 0
    folder = tmp_path / "simulation"
    for lang in ("ja", "en"):
        assert (folder / f"simulation-FY2021-{lang}.pdf").read_bytes().startswith(b"%PDF")
    assert (folder / "simulation-FY2021.xlsx").stat().st_size > 0
    text = "".join(page.extract_text() for page in PdfReader(
        folder / "simulation-FY2021-ja.pdf").pages)
    assert "推計開始年度" in text and "令和3年度" in text
    assert "使用した監査済み結果" in text and " 17" in text.replace("\n", " ")
    # The demo's Yamaguchi Bank instalment due 31 March 2021 (the last day of FY2020) was
    # paid late: history, the same in every run. The chart says its grey bars are history.
    assert "灰色：推計開始前の約定返済日" in text.replace("\n", "")
    english = "".join(page.extract_text() for page in PdfReader(
        folder / "simulation-FY2021-en.pdf").pages).replace("\n", " ")
    assert "grey: due dates before the first simulated year" in english
