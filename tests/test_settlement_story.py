"""Settlement as worked examples on the five-municipality SIB: FY2019 figure by figure,
settling twice, a correction, the guard rails, and the ledger reconciling to the runs."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contracts.store import load_contract
from contracts.terms import max_outcome_by_tranche_payer
from contracts.validate import load_contract_file
from ledger.errors import SibError
from ledger.reports import trial_balance
from ledger.schema import Entry
from ledger.verify import verify
from settlement.engine import settle_year
from settlement.kpi import ResultInput
from settlement.payouts import KpiInput
from settlement.results import audit_result, correct_result, submit_results
from settlement.runs import current_runs, settle
from settlement.tables import SettlementLine

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
POPULATION = {"ube": 165_000, "tono": 28_000, "yawata": 73_000, "ibusuki": 42_000,
              "misato": 11_000}
CONTINUATION = {"ube": "68", "tono": "71", "yawata": "59", "ibusuki": "65", "misato": "70"}


def split_first_part(total: int) -> dict[str, int]:
    """By population, fractions dropped, the remainder to the lead payer (Ube) — written out
    here independently of the code under test."""
    weight = sum(POPULATION.values())
    parts = {p: total * n // weight for p, n in POPULATION.items()}
    parts["ube"] += total - sum(parts.values())
    return parts


@pytest.fixture
def contract(session):
    terms, problems = load_contract_file(FIVE)
    assert problems == []
    load_contract(session, terms)
    session.commit()
    return terms


def submit_fy2019(session, participants="7000"):
    inputs = [ResultInput(C, 2019, "participants", participants),
              ResultInput(C, 2019, "inactive-share", "52.5"),
              ResultInput(C, 2019, "guideline-share", "37")]
    inputs += [ResultInput(C, 2019, "continuation-rate", v, p) for p, v in CONTINUATION.items()]
    rows = submit_results(session, inputs, "kuno-lab")
    for row in rows:
        audit_result(session, row.id, "kuno-lab auditor")
    session.commit()
    return rows


def test_fy2019_figure_by_figure(session, contract):
    submit_fy2019(session)
    run = settle(session, C, 2019).run
    session.commit()
    lines = {(ln.tranche_id, ln.payer_id): ln.earned_minor for ln in session.scalars(
        select(SettlementLine).where(SettlementLine.run_id == run.id))}
    # participants: 9,000,000 × 7,000 / 7,200 = 8,750,000, split like the commitments
    maxima = {p: m for (t, p), m in max_outcome_by_tranche_payer(contract).items()
              if t == "fy2019-participants"}
    assert maxima == split_first_part(9_000_000)
    participants = sum(lines[("fy2019-participants", p)] for p in POPULATION)
    assert participants == 9_000_000 * 7_000 // 7_200 == 8_750_000
    # inactive share 52.5 % ≥ 50 %: the whole 6,000,000, split by population
    assert {p: lines[("fy2019-inactive", p)] for p in POPULATION} == split_first_part(6_000_000)
    # guideline 37 % is in the 35–40 tier: 80 % of 6,000,000 = 4,800,000
    assert sum(lines[("fy2019-guideline", p)] for p in POPULATION) == 4_800_000
    # continuation, per municipality: 0 at 60 %, full at 70 %, straight line between
    cont_max = split_first_part(6_000_000)
    expected = {p: int(min(max(Fraction(CONTINUATION[p]) - 60, 0) / 10, 1) * cont_max[p])
                for p in POPULATION}
    assert expected == {"ube": 2_482_760, "tono": 526_645, "yawata": 0, "ibusuki": 394_984,
                        "misato": 206_896}
    assert {p: lines[("fy2019-continuation", p)] for p in POPULATION} == expected
    summary = json.loads(run.summary)
    assert summary["earned"] == 8_750_000 + 6_000_000 + 4_800_000 + sum(expected.values()) \
        == 23_161_285
    ube = summary["payers"]["ube"]
    assert ube["earned"] == 12_594_840
    assert ube["grant"] == ube["due"] // 2  # the national grant covers half, truncated
    # the pending commitments were resolved: posted for what was earned, the rest released
    tb = {r.code: r for r in trial_balance(session, C).rows}
    assert tb["receivable:ube"].debit_minor == 12_594_840
    # The maxima include the tax: 12,594,840 × 10/110 = 1,144,985.45… → 1,144,985 of Ube's
    # invoice is consumption tax, moved out of its outcome income into 仮受消費税.
    assert ube["tax"] == 1_144_985
    assert tb["outcome-income:ube"].credit_minor == 12_594_840 - 1_144_985
    yawata = summary["payers"]["yawata"]
    assert tb["outcome-income:yawata"].credit_minor == yawata["earned"] - yawata["tax"]
    assert tb["tax-payable"].credit_minor == sum(p["tax"] for p in summary["payers"].values())
    assert verify(session).ok


def test_settling_twice_posts_once(session, contract):
    submit_fy2019(session)
    first = settle(session, C, 2019).run
    session.commit()
    entries = session.scalar(select(func.count()).select_from(Entry))
    again = settle(session, C, 2019)
    assert not again.created and again.run.id == first.id
    assert session.scalar(select(func.count()).select_from(Entry)) == entries


def test_a_correction_posts_only_the_difference_and_keeps_both_runs(session, contract):
    rows = submit_fy2019(session)
    first = settle(session, C, 2019).run
    session.commit()
    entries = session.scalar(select(func.count()).select_from(Entry))
    participants = next(r for r in rows if r.kpi_id == "participants")
    corrected = correct_result(session, participants.id, "7200", "recount of enrolments",
                               "kuno-lab")
    audit_result(session, corrected.id, "kuno-lab auditor")
    second = settle(session, C, 2019).run
    session.commit()
    assert (second.run_no, second.supersedes_run_id) == (2, first.id)
    assert json.loads(second.summary)["earned"] == 23_161_285 + 250_000
    # five participants lines changed: a reversal and a new entry each; the tax inside each
    # payer's invoice, and each payer's cost and grant in the payers' book: a reversal and a
    # new entry each. Nothing else moved.
    added = session.scalar(select(func.count()).select_from(Entry)) - entries
    assert added == 5 * 2 + 5 * 2 * 3
    assert [r.run_no for r in current_runs(session, C).values()] == [2]
    tb = {r.code: r for r in trial_balance(session, C).rows}
    assert sum(tb[f"receivable:{p}"].debit_minor for p in POPULATION) == 23_411_285
    assert verify(session).ok


def test_a_result_awaiting_audit_blocks_settlement(session, contract):
    submit_results(session, [ResultInput(C, 2019, "participants", "7000")], "kuno-lab")
    with pytest.raises(SibError) as err:
        settle(session, C, 2019)
    assert err.value.code == "KPI_RESULT_NOT_AUDITED"


def test_a_settlement_above_a_budget_authorisation_is_refused_with_the_figures(contract):
    tight = contract.model_copy(update={"payers": tuple(
        p.model_copy(update={"authorisation": p.authorisation.model_copy(
            update={"max_amount_minor": 1_000_000})}) if p.party == "misato" else p
        for p in contract.payers)})
    inputs = {("participants", ""): KpiInput(Decimal("7000"), target=Decimal("7200"))}
    result = settle_year(tight, 2019, "final", inputs, due_before={"misato": 900_000})
    problem = next(p for p in result.problems if p.code == "AUTHORISATION_EXCEEDED")
    # misato's part of 8,750,000 is 301,723: 900,000 before + 301,723 > 1,000,000
    assert problem.message == ("misato would owe 1,201,723 in total (900,000 before plus "
                               "301,723 now), above its 債務負担行為 of 1,000,000")


def test_the_ledger_reconciles_to_the_settlement_runs(session, contract):
    submit_fy2019(session)
    submit_results(session, [ResultInput(C, 2019, "participants", "3700",
                                         evaluation="interim")], "kuno-lab")
    for row in submit_results(session, [ResultInput(C, 2019, "participants", "3700",
                                                    evaluation="interim")], "kuno-lab"):
        audit_result(session, row.id, "kuno-lab auditor")
    settle(session, C, 2019)
    settle(session, C, 2019, "interim")
    session.commit()
    runs = current_runs(session, C)
    earned = {p: sum(json.loads(r.summary)["payers"][p]["earned"] for r in runs.values())
              for p in POPULATION}
    tb = {r.code: r for r in trial_balance(session, C).rows}
    tax = {p: sum(json.loads(r.summary)["payers"][p]["tax"] for r in runs.values())
           for p in POPULATION}
    for payer, amount in earned.items():
        # Tax included in the maxima: owed as earned; the tax inside the year's invoice (its
        # interim and final runs together, × 10/110, truncated once) is not the SPV's income.
        assert tax[payer] == amount * 10 // 110
        assert tb[f"outcome-income:{payer}"].credit_minor == amount - tax[payer]
        assert tb[f"receivable:{payer}"].debit_minor == amount
    assert sum(earned.values()) == 23_161_285 + 3_000_000
