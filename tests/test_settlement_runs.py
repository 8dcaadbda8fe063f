"""Settlement runs in the database: idempotent, corrected by differences, guarded.

The five-municipality contract, FY2019. Expected figures are derived here from the contract's
terms (population shares, tranche maxima, rules), not read back from the code under test.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from contracts.model import Contract
from contracts.store import load_contract
from contracts.validate import load_contract_file, validate_document
from ledger.errors import SibError
from ledger.reports import trial_balance
from ledger.schema import Entry
from ledger.verify import verify
from settlement.kpi import ResultInput
from settlement.results import audit_result, correct_result, results_for, submit_results
from settlement.runs import current_runs, runs_of, settle
from settlement.tables import KpiResult, SettlementLine, SettlementRun

FIVE = (Path(__file__).resolve().parent.parent
        / "contracts/examples/sib-2019-five-municipalities.yaml")
C = "sib-2019-five-municipalities"
PAYERS_BOOK = f"{C}:payers"
POPULATION = {"ube": 165_000, "tono": 28_000, "yawata": 73_000, "ibusuki": 42_000,
              "misato": 11_000}


def split(total: int) -> dict[str, int]:
    """By population, fractions of a yen dropped, the remainder to Ube (first_part)."""
    weight = sum(POPULATION.values())
    parts = {p: total * n // weight for p, n in POPULATION.items()}
    parts["ube"] += total - sum(parts.values())
    return parts


def linear(value: str, floor: int, cap: int) -> Fraction:
    return min(max((Fraction(value) - floor) / (cap - floor), Fraction(0)), Fraction(1))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def submit_and_audit(session, inputs):
    rows = submit_results(session, inputs, "kuno-lab")
    for row in rows:
        audit_result(session, row.id, "evaluation committee")
    session.commit()
    return rows


def fy2019(continuation: dict[str, str], participants: str = "7200",
           guideline: str = "40") -> list[ResultInput]:
    inputs = [ResultInput(C, 2019, "participants", participants),
              ResultInput(C, 2019, "inactive-share", "50"),
              ResultInput(C, 2019, "guideline-share", guideline)]
    return inputs + [ResultInput(C, 2019, "continuation-rate", v, p)
                     for p, v in continuation.items()]


@pytest.fixture
def loaded(session):
    contract, problems = load_contract_file(FIVE)
    assert problems == []
    load_contract(session, contract)
    session.commit()
    return session


def test_settling_the_same_audited_results_twice_posts_once(loaded):
    session = loaded
    submit_and_audit(session, fy2019({p: "70" for p in POPULATION}))
    first = settle(session, C, 2019, by="twr")
    session.commit()
    assert first.created and first.run.run_no == 1
    entries, lines = count(session, Entry), count(session, SettlementLine)
    again = settle(session, C, 2019, by="twr")
    session.commit()
    assert not again.created and again.run.id == first.run.id
    assert (count(session, Entry), count(session, SettlementLine)) == (entries, lines)
    assert count(session, SettlementRun) == 1
    # Every target met: each payer earns exactly its committed share of the four tranches.
    summary = json.loads(first.run.summary)
    expected = {p: sum(split(m)[p] for m in (9_000_000, 6_000_000, 6_000_000, 6_000_000))
                for p in POPULATION}
    assert {p: f["earned"] for p, f in summary["payers"].items()} == expected
    assert summary["earned"] == 27_000_000


def test_a_corrected_result_posts_only_the_difference_and_both_runs_are_kept(loaded):
    session = loaded
    continuation = {"ube": "70", "tono": "65", "yawata": "62", "ibusuki": "58", "misato": "68"}
    rows = submit_and_audit(session, fy2019(continuation))
    first = settle(session, C, 2019).run
    session.commit()
    cont_max = split(6_000_000)
    before = {p: int(linear(v, 60, 70) * cont_max[p]) for p, v in continuation.items()}
    assert before["ibusuki"] == 0  # 58 % is below the 60 % floor: its commitment was voided
    # Yawata's continuation rate is recounted (62 → 66.8) and so is Ibusuki's (58 → 61.5).
    spv_entries = count(session, Entry)
    by_payer = {r.payer_id: r for r in rows if r.kpi_id == "continuation-rate"}
    for payer, value in (("yawata", "66.8"), ("ibusuki", "61.5")):
        fixed = correct_result(session, by_payer[payer].id, value, "late step uploads counted",
                               "kuno-lab")
        assert (fixed.version, fixed.state, fixed.supersedes_id) == (2, "submitted",
                                                                     by_payer[payer].id)
        audit_result(session, fixed.id, "evaluation committee")
    second = settle(session, C, 2019).run
    session.commit()
    assert (second.run_no, second.supersedes_run_id) == (2, first.id)
    after = dict(before, yawata=int(linear("66.8", 60, 70) * cont_max["yawata"]),
                 ibusuki=int(linear("61.5", 60, 70) * cont_max["ibusuki"]))
    # Yawata: 1,373,040 × 0.68 = 933,667.2 → 933,667; Ibusuki: 789,968 × 0.15 = 118,495.2
    assert (after["yawata"], after["ibusuki"]) == (933_667, 118_495)
    # What was posted: Yawata's line reversed and posted again; Ibusuki's line (voided at 0)
    # posted; the tax inside each one's (tax-inclusive) invoice reversed and taken out again;
    # in the payers' book each one's cost and grant reversed and posted again.
    new = list(session.scalars(select(Entry).order_by(Entry.id).offset(spv_entries)))
    assert sorted(e.kind for e in new) == sorted(
        ["outcome_correction", "outcome_earned", "outcome_earned"]
        + ["outcome_tax_correction", "outcome_tax", "outcome_cost_correction", "outcome_cost",
           "grant_recognised_correction", "grant_recognised"] * 2)
    assert {json.loads(e.links)["payer"] for e in new} == {"yawata", "ibusuki"}
    reversed_line = next(e for e in new if e.kind == "outcome_correction")
    assert json.loads(reversed_line.links)["tranche"] == "fy2019-continuation"
    # Both runs are kept, each with its own lines; run 2 is the one in force.
    runs = runs_of(session, C, 2019, "final")
    assert [r.run_no for r in runs] == [1, 2]
    assert current_runs(session, C)[(2019, "final")].id == second.id
    line = {(ln.run_id, ln.tranche_id, ln.payer_id): ln.earned_minor for ln in session.scalars(
        select(SettlementLine))}
    assert line[(first.id, "fy2019-continuation", "yawata")] == before["yawata"] == 274_608
    assert line[(second.id, "fy2019-continuation", "yawata")] == 933_667
    # Totals: the ledger now says what run 2 says, payer by payer.
    full = {p: sum(split(m)[p] for m in (9_000_000, 6_000_000, 6_000_000)) for p in POPULATION}
    expected = {p: full[p] + after[p] for p in POPULATION}
    summary = json.loads(second.summary)["payers"]
    tb = {r.code: r.balance_minor for r in trial_balance(session, C).rows}
    payers = {r.code: r.balance_minor for r in trial_balance(session, PAYERS_BOOK).rows}
    for payer in POPULATION:
        assert summary[payer]["earned"] == expected[payer]
        assert summary[payer]["grant"] == expected[payer] // 2
        # Tax included: owed as earned; the tax inside (× 10/110, truncated) is not income.
        assert summary[payer]["tax"] == expected[payer] * 10 // 110
        assert tb[f"receivable:{payer}"] == expected[payer]
        assert tb[f"outcome-income:{payer}"] == expected[payer] - expected[payer] * 10 // 110
        assert payers[f"outcome-cost:{payer}"] == payers[f"payable:{payer}"] == expected[payer]
        assert payers[f"grant-receivable:{payer}"] == expected[payer] // 2
    # The versions: v1 settled by run 1 and never changed; v2 settled by run 2.
    versions = [(r.version, r.value, r.state, r.settled_run_id) for r in results_for(
        session, C, 2019) if r.kpi_id == "continuation-rate" and r.payer_id == "yawata"]
    assert versions == [(1, "62", "settled", first.id), (2, "66.8", "settled", second.id)]
    assert verify(session).ok


def _with_ube_limit_2019(limit: int) -> Contract:
    """The example contract with Ube's FY2019 authorised limit cut to ``limit``. Validation
    refuses such terms (the maximum liability exceeds the limit); a council can still cut a
    budget after the contract is signed, so settlement checks again."""
    document = yaml.safe_load(FIVE.read_text(encoding="utf-8"))
    document["payers"][0]["authorisation"]["limits_by_year"][2019] = f"{limit:,}"
    contract, problems = validate_document(document, "tight.yaml")
    assert contract is None and "AUTHORISATION_YEAR_EXCEEDED" in {p.code for p in problems}
    return Contract.model_validate(document)


def test_interim_and_final_together_may_not_exceed_the_years_authorised_limit(session):
    load_contract(session, _with_ube_limit_2019(15_000_000))
    session.commit()
    submit_and_audit(session, [ResultInput(C, 2019, "participants", "3800",
                                           evaluation="interim")])
    interim = settle(session, C, 2019, "interim").run
    session.commit()
    ube_interim = split(3_000_000)["ube"]
    assert json.loads(interim.summary)["payers"]["ube"]["due"] == ube_interim == 1_551_726
    submit_and_audit(session, fy2019({p: "70" for p in POPULATION}))
    entries, runs = count(session, Entry), count(session, SettlementRun)
    with pytest.raises(SibError) as refused:
        settle(session, C, 2019, "final")
    ube_final = sum(split(m)["ube"] for m in (9_000_000, 6_000_000, 6_000_000, 6_000_000))
    assert ube_final == 13_965_528 and ube_final < 15_000_000 < ube_interim + ube_final
    assert refused.value.codes == ["AUTHORISATION_EXCEEDED"]
    assert refused.value.problems[0].message == (
        "ube would owe 15,517,254 in FY2019 (1,551,726 already settled plus 13,965,528 now), "
        "above its authorised 15,000,000 for the year")
    session.rollback()
    # Nothing written: no entry, no run, the results still audited and not settled.
    assert (count(session, Entry), count(session, SettlementRun)) == (entries, runs)
    assert {r.state for r in results_for(session, C, 2019, "final")} == {"audited"}


def test_a_result_not_yet_audited_blocks_settlement_and_nothing_is_written(loaded):
    session = loaded
    rows = submit_results(session, fy2019({p: "70" for p in POPULATION}), "kuno-lab")
    for row in rows:
        if row.payer_id != "misato":
            audit_result(session, row.id, "evaluation committee")
    session.commit()
    misato = next(r for r in rows if r.payer_id == "misato")
    entries = count(session, Entry)
    with pytest.raises(SibError) as refused:
        settle(session, C, 2019)
    assert refused.value.codes == ["KPI_RESULT_NOT_AUDITED"]
    assert refused.value.problems[0].message == (
        "continuation-rate FY2019 misato version 1 is submitted; it must be audited before "
        "settlement")
    session.rollback()
    assert count(session, Entry) == entries and count(session, SettlementRun) == 0
    assert session.get(KpiResult, misato.id).state == "submitted"
    audit_result(session, misato.id, "evaluation committee")
    assert settle(session, C, 2019).created
