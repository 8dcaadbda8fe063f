"""Issue 16, item 4: a simulation in batches, merged into the report a direct run makes.

The reproducibility contract (settlement.simulation_batches): ``runs`` runs with seed ``S`` and
batch size ``B`` are ``⌈runs/B⌉`` batches, batch ``i`` the direct simulation of its runs with
seed ``batch_seed(S, i)`` (``S`` for batch 0); the result is the report of their scenarios
concatenated in batch order. These tests hold the merge to that contract — against the
batches' own arrays, against the direct run when every scenario is the same, and against the
direct run itself when there is one batch — and the job to it whichever workers draw the
batches: in-process on SQLite, and two ``sib worker`` processes on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml

from api import db, job_worker, jobs
from api.job_simulation import (
    SIMULATION,
    job_summary,
    merged_simulation,
    read_inputs,
    simulation_job,
    start_simulation,
)
from contracts.store import load_contract
from contracts.validate import load_contract_file
from ledger.errors import SibError
from settlement import simulation_batches as batching
from settlement.simulation import simulate, summarise
from settlement.simulation_assumptions import validate_assumptions
from settlement.simulation_service import run_simulation
from tests.test_simulation_engine import UNITS, demo_history, wide_assumptions
from tests.test_simulation_outputs import fixed_document

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts/examples/sib-2019-five-municipalities.yaml"
C = "sib-2019-five-municipalities"


@pytest.fixture(scope="module")
def contract():
    found, problems = load_contract_file(CONTRACT)
    assert found is not None, problems
    return found


@pytest.fixture(scope="module")
def wide(contract):
    assumptions, problems = validate_assumptions(wide_assumptions(contract), contract)
    assert assumptions is not None, problems
    return assumptions


def _bytes(summary: dict) -> bytes:
    return json.dumps(summary, ensure_ascii=False, sort_keys=False).encode()


# --------------------------------------------------------------------------- the split

def test_runs_split_into_batches_with_their_own_seeds():
    # 25 runs of 10 a batch: 10 + 10 + 5, starting at runs 0, 10 and 20. Batch 0 keeps the
    # seed (so one batch is the direct run); batch i > 0 takes the first 63 bits of
    # SHA-256("sib-simulation-batch:S:i").
    found = batching.batches(25, 3, 10)
    assert [(b.index, b.start, b.runs) for b in found] == [(0, 0, 10), (1, 10, 10),
                                                            (2, 20, 5)]
    assert found[0].seed == 3
    for b in found[1:]:
        digest = hashlib.sha256(f"sib-simulation-batch:3:{b.index}".encode()).digest()
        assert b.seed == int.from_bytes(digest[:8], "big") >> 1
        assert 0 <= b.seed < 2**63
    assert len({b.seed for b in found}) == 3
    assert [b.runs for b in batching.batches(10, 0, 10)] == [10]  # one batch exactly


@pytest.mark.parametrize(("runs", "size", "code", "field"), [
    (0, 10, "RUNS_INVALID", "runs"),
    (batching.MAX_RUNS + 1, 10_000, "RUNS_INVALID", "runs"),
    (100, 0, "BATCH_SIZE_INVALID", "batch_size"),
    (batching.MAX_RUNS, 10, "BATCH_SIZE_INVALID", "batch_size"),  # 100,000 batches
])
def test_a_bad_split_is_refused_naming_the_field(runs, size, code, field):
    with pytest.raises(SibError) as refused:
        batching.batches(runs, 1, size)
    assert [(p.code, p.field) for p in refused.value.problems] == [(code, field)]


# --------------------------------------------------------------------------- the merge

def test_the_merge_is_the_batches_scenarios_in_order(contract, wide):
    """Three batches drawn directly, each with its own seed: the merged scenarios are their
    arrays one after the other, and the report's figures are those of the concatenation."""
    parts = [simulate(contract, wide, b.runs, b.seed, from_fiscal_year=2019)[0]
             for b in batching.batches(70, 12, 30)]
    assert [p.runs for p in parts] == [30, 30, 10]
    merged = batching.merge(parts, 12)
    assert (merged.runs, merged.seed) == (70, 12)
    for payer in contract.payer_ids:
        for year in contract.fiscal_years:
            assert np.array_equal(merged.payouts.due[payer][year], np.concatenate(
                [p.payouts.due[payer][year] for p in parts]))
    for loan in contract.loans:
        for due, short in merged.money.loan_short[loan.id].items():
            assert np.array_equal(short, np.concatenate([p.money.loan_short[loan.id][due]
                                                         for p in parts]))
    flows = merged.money.class_flows[UNITS]
    assert flows.shape[0] == 70 and np.array_equal(flows[30:60], parts[1].money.class_flows[UNITS])

    summary = batching.summarise_batches(parts, 12, 30)
    assert summary["batches"] == {"size": 30, "count": 3}
    assert list(summary)[:5] == ["contract", "currency", "runs", "seed", "batches"]
    ube = next(p for p in summary["payers"] if p["payer"] == "ube")
    year = ube["years"][2]  # FY2021
    due = np.concatenate([p.payouts.due["ube"][2021] for p in parts])
    ordered = np.sort(due)
    # Inverted CDF: the smallest value with at least q % of the 70 runs at or below it, the
    # ⌈0.05·70⌉ = 4th, ⌈0.5·70⌉ = 35th and ⌈0.95·70⌉ = 67th smallest.
    assert (year["due"]["p5"], year["due"]["p50"], year["due"]["p95"]) == (
        int(ordered[3]), int(ordered[34]), int(ordered[66]))
    assert year["due"]["mean"] == int(due.sum()) // 70
    # P(above the year's limit): the runs above it of the 70, to 4 places.
    above = int((due > year["year_limit"]).sum())
    assert Decimal(year["probability_above_year_limit"]) == (
        Decimal(above) / 70).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
    # P(any shortfall) of the first loan: the runs short on at least one due date.
    loan = contract.loans[0].id
    short = np.zeros(70, dtype=bool)
    for part_short in [np.concatenate([p.money.loan_short[loan][d] for p in parts])
                       for d in parts[0].money.loan_short[loan]]:
        short |= part_short
    assert Decimal(summary["loans"][0]["probability_of_shortfall"]) == (
        Decimal(int(short.sum())) / 70).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
    assert summary["runs"] == 70 and summary["seed"] == 12


def test_one_batch_is_the_direct_run_to_the_byte(contract, wide):
    direct, _ = simulate(contract, wide, 40, 9, from_fiscal_year=2019)
    assert direct is not None
    (batch,) = batching.batches(40, 9, 40)
    part = batching.run_batch(contract, wide, batch, {}, 2019, None, None)
    assert _bytes(batching.summarise_batches([part], 9, 40)) == _bytes(summarise(direct))


def test_degenerate_batches_merge_to_the_direct_run(contract):
    """All mass on one value: every scenario is the deterministic settlement, so 4 + 4 + 2
    runs in three batches must report exactly what ten runs in one do — every percentile,
    probability, IRR and the public cost — whatever the seeds."""
    assumptions, problems = validate_assumptions(fixed_document(contract), contract)
    assert assumptions is not None, problems
    parts = [batching.run_batch(contract, assumptions, b, {}, 2019, None, None)
             for b in batching.batches(10, 5, 4)]
    direct, _ = simulate(contract, assumptions, 10, 5, from_fiscal_year=2019)
    assert direct is not None
    merged = batching.summarise_batches(parts, 5, 4)
    assert merged.pop("batches") == {"size": 4, "count": 3}
    assert _bytes(merged) == _bytes(summarise(direct))


def test_history_is_the_same_in_every_batch(contract):
    """The example file from FY2021 on, FY2019–FY2020 audited: the history goes into every
    batch unchanged (17 results), and only the simulated years differ between batches."""
    from settlement.simulation_assumptions import load_assumptions_file
    example = ROOT / "contracts/examples/simulations/sib-2019-five-municipalities.yaml"
    assumptions, problems = load_assumptions_file(example, contract)
    assert assumptions is not None, problems
    parts = [batching.run_batch(contract, assumptions, b, demo_history(), 2021, None, None)
             for b in batching.batches(60, 2, 25)]
    summary = batching.summarise_batches(parts, 2, 25)
    assert summary["known_results"] == 17 and summary["from_fiscal_year"] == 2021
    fy2019 = summary["payments_by_year"][0]
    assert fy2019["p5"] == fy2019["p95"]  # audited: one value in all 60 runs


def test_batches_of_different_simulations_are_not_merged(contract, wide):
    a = batching.run_batch(contract, wide, batching.Batch(0, 0, 5, 1), {}, 2019, None, None)
    b = batching.run_batch(contract, wide, batching.Batch(1, 5, 5, 2), {}, 2020, None, None)
    with pytest.raises(SibError) as refused:
        batching.merge([a, b], 1)
    assert refused.value.problems[0].code == "BATCHES_DIFFER"
    assert refused.value.problems[0].field == "from_fiscal_year"


# --------------------------------------------------------------------------- packing

def test_a_packed_batch_reads_back_as_the_same_scenarios(contract, wide):
    sim = batching.run_batch(contract, wide, batching.Batch(2, 0, 25, 77), {}, 2019, None,
                             None)
    data = batching.pack(sim)
    assert batching.pack(sim) == data  # fixed member dates: the same batch, the same bytes
    back = batching.unpack(data, contract)
    assert batching.pack(back) == data
    assert _bytes(summarise(back)) == _bytes(summarise(sim))
    assert back.draws.keys() == sim.draws.keys() and back.plans == sim.plans


def test_what_is_not_a_batch_is_refused(contract, wide):
    with pytest.raises(SibError) as refused:
        batching.unpack(b"PK\x03\x04 not a zip", contract)
    assert refused.value.problems[0].code == "BATCH_UNREADABLE"
    sim = batching.run_batch(contract, wide, batching.Batch(0, 0, 3, 1), {}, 2019, None, None)
    with pytest.raises(SibError) as refused:
        batching.unpack(batching.pack(sim), contract.model_copy(update={"id": "another"}))
    assert refused.value.problems[0].code == "BATCH_UNREADABLE"


# --------------------------------------------------------------------------- the job

def _wide_text(contract) -> str:
    return yaml.safe_dump(json.loads(json.dumps(wide_assumptions(contract), default=str)),
                          allow_unicode=True)


def _load(url: str, contract) -> None:
    with db.unit_of_work(url) as session:
        load_contract(session, contract, "test")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_the_job_on_sqlite_in_process_gives_the_merged_report(db_url, contract, tmp_path):
    """25 runs of 10 a batch: three tasks, run here one after the other; the job's report is
    the merge of the three batches drawn directly, byte for byte, and its workbook and PDF
    can be made from it."""
    _load(db_url, contract)
    text = _wide_text(contract)
    with db.unit_of_work(db_url) as session:
        view = start_simulation(session, C, text, "wide.yaml", 25, 5, "ana", batch_size=10,
                                out=tmp_path / "job")
        again = start_simulation(session, C, text, "wide.yaml", 25, 5, "ana", batch_size=10,
                                 out=tmp_path / "job")
    assert again.id == view.id  # started again while queued: the same job
    assert (view.kind, view.tasks_total, view.units_total) == (SIMULATION, 3, 25)
    assert view.params["from_fiscal_year"] == 2019  # the contract's first year
    assert job_worker.work(db_url, "w1", job_id=view.id, until_idle=True) == 3
    with db.unit_of_work(db_url) as session:
        done = simulation_job(session, view.id)
        summary, found = job_summary(session, done)
        inputs = read_inputs(session, C)
        scenarios = merged_simulation(session, done)
    assert (done.state, done.units_done, done.result["runs"]) == ("done", 25, 25)
    files = _files(tmp_path / "job")
    assert sorted(files) == ["batch-00000.npz", "batch-00001.npz", "batch-00002.npz",
                             "summary.json"]
    assert done.result["summary_sha256"] == hashlib.sha256(files["summary.json"]).hexdigest()

    assumptions, _ = validate_assumptions(yaml.safe_load(text), contract)
    parts = [batching.run_batch(contract, assumptions, b, inputs.known, 2019,
                                inputs.subscriptions, inputs.rates)
             for b in batching.batches(25, 5, 10)]
    assert summary == batching.summarise_batches(parts, 5, 10)
    assert scenarios.runs == 25 and found.id == C
    from investors.pdf_simulation import render
    from investors.simulation_xlsx import write
    assert render(summary, found, "ja").startswith(b"%PDF")
    assert write(summary, scenarios, "en").startswith(b"PK")

    # The same simulation again, as a new job writing elsewhere: the same bytes.
    with db.unit_of_work(db_url) as session:
        second = start_simulation(session, C, text, "wide.yaml", 25, 5, "bo", batch_size=10,
                                  out=tmp_path / "again")
    assert second.id != view.id
    job_worker.work(db_url, "w2", job_id=second.id, until_idle=True)
    assert _files(tmp_path / "again") == files


def test_one_batch_job_is_the_direct_service_run(db_url, contract, tmp_path):
    _load(db_url, contract)
    text = _wide_text(contract)
    with db.unit_of_work(db_url) as session:
        view = start_simulation(session, C, text, "wide.yaml", 30, 8, "ana", batch_size=100,
                                out=tmp_path / "one")
    job_worker.work(db_url, "w", job_id=view.id, until_idle=True)
    with db.unit_of_work(db_url) as session:
        summary, _ = job_summary(session, simulation_job(session, view.id))
        direct = summarise(run_simulation(session, C, yaml.safe_load(text), "wide.yaml", 30, 8))
    assert _bytes(summary) == _bytes(direct)


def test_a_bad_simulation_is_refused_at_the_start_and_nothing_is_queued(db_url, contract,
                                                                       tmp_path):
    _load(db_url, contract)
    doc = wide_assumptions(contract)
    doc["kpis"]["participants"]["final"][2022] = {"distribution": "normal", "mean": "1",
                                                  "sd": "-2"}
    text = yaml.safe_dump(json.loads(json.dumps(doc, default=str)))
    with db.unit_of_work(db_url) as session, pytest.raises(SibError) as refused:
        start_simulation(session, C, text, "bad.yaml", 25, 5, "ana", batch_size=10,
                         out=tmp_path / "bad")
    assert ("PARAMETER_INVALID", "kpis.participants.final.2022.sd") in {
        (p.code, p.field) for p in refused.value.problems}
    missing = wide_assumptions(contract)
    del missing["kpis"]["participants"]["final"][2022]
    with db.unit_of_work(db_url) as session:
        with pytest.raises(SibError) as refused:
            start_simulation(session, C, yaml.safe_dump(json.loads(json.dumps(
                missing, default=str))), "gap.yaml", 25, 5, "ana", batch_size=10)
        with pytest.raises(SibError) as too_many:
            start_simulation(session, C, _wide_text(contract), "w.yaml", 0, 5, "ana")
        assert jobs.list_jobs(session, SIMULATION)[1] == 0
    assert [(p.code, p.field) for p in refused.value.problems] == [
        ("DISTRIBUTION_MISSING", "kpis.participants.final.2022")]
    assert too_many.value.problems[0].field == "runs"
    assert not (tmp_path / "bad").exists()


def test_the_command_line_in_batches_and_in_the_background(db_url, contract, tmp_path,
                                                           monkeypatch):
    """``sib simulate --batch-size`` runs the job itself and prints what the direct command
    prints when there is one batch; ``--background`` queues it for ``sib worker``; ``--job``
    reads the result."""
    from typer.testing import CliRunner

    from api.cli import app
    from api.settings import get_settings
    _load(db_url, contract)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SIB_OUT_DIR", str(tmp_path / "out"))
    get_settings.cache_clear()
    file = tmp_path / "wide.yaml"
    file.write_text(_wide_text(contract), encoding="utf-8")
    base = ["simulate", "-c", C, "--assumptions", str(file), "--runs", "20", "--seed", "4",
            "--json"]
    runner = CliRunner()
    try:
        direct = runner.invoke(app, base)
        one = runner.invoke(app, [*base, "--batch-size", "20", "--processes", "1"])
        three = runner.invoke(app, [*base, "--batch-size", "7", "--processes", "1",
                                    "--pdf", str(tmp_path / "s.pdf")])
        queued = runner.invoke(app, [*base, "--batch-size", "7", "--background"])
        assert queued.exit_code == 0, queued.output
        job_id = json.loads(queued.stdout)["job"]
        job_worker.work(db_url, "w", until_idle=True)
        read = runner.invoke(app, ["simulate", "--job", str(job_id), "--json"])
    finally:
        get_settings.cache_clear()
    for result in (direct, one, three, read):
        assert result.exit_code == 0, result.output
    assert one.stdout == direct.stdout
    assert json.loads(three.stdout)["batches"] == {"size": 7, "count": 3}
    assert read.stdout == three.stdout  # the same simulation, by a worker
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------- PostgreSQL

def _env(url: str, out: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT),
            "SIB_OUT_DIR": str(out)}


@pytest.mark.postgres
def test_two_workers_on_postgresql_write_what_one_wrote(own_pg_url, contract, tmp_path):
    """Twelve batches of 1,500 runs shared by two ``sib worker`` processes, then the same
    simulation by one worker: the same batch files, the same report, to the byte — and the
    same as on SQLite in-process."""
    _load(own_pg_url, contract)
    text = _wide_text(contract)
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    workers = [subprocess.Popen([sys.executable, "-m", "api.cli", "worker"], cwd=ROOT,
                                env=_env(own_pg_url, tmp_path / "out"),
                                stdout=subprocess.DEVNULL, stderr=log.open("w"))
               for log in logs]
    try:
        deadline = time.monotonic() + 60
        while not all("worker:" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        with db.unit_of_work(own_pg_url) as session:
            shared = start_simulation(session, C, text, "wide.yaml", 18_000, 21, "ana",
                                      batch_size=1500, out=tmp_path / "two")
        while True:
            with db.unit_of_work(own_pg_url) as session:
                view = jobs.get_job(session, shared.id)
                tasks = jobs.job_tasks(session, shared.id)
            if view.finished:
                break
            assert time.monotonic() < deadline + 240, "the job did not finish"
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            worker.wait(timeout=60)
    assert view.state == "done", view.error
    assert len({t.claimed_by for t in tasks}) == 2  # both workers drew batches

    with db.unit_of_work(own_pg_url) as session:
        alone = start_simulation(session, C, text, "wide.yaml", 18_000, 21, "ana",
                                 batch_size=1500, out=tmp_path / "one")
    single = subprocess.run([sys.executable, "-m", "api.cli", "worker", "--once"], cwd=ROOT,
                            env=_env(own_pg_url, tmp_path / "out"), capture_output=True,
                            text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    with db.unit_of_work(own_pg_url) as session:
        assert jobs.get_job(session, alone.id).state == "done"
        summary, _ = job_summary(session, simulation_job(session, shared.id))
        inputs = read_inputs(session, C)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert summary["runs"] == 18_000 and summary["batches"] == {"size": 1500, "count": 12}
    # ... and both are the batches drawn here, directly, merged.
    assumptions, _ = validate_assumptions(yaml.safe_load(text), contract)
    parts = [batching.run_batch(contract, assumptions, b, {}, 2019, None, inputs.rates)
             for b in batching.batches(18_000, 21, 1500)]
    assert summary == batching.summarise_batches(parts, 21, 1500)


# --------------------------------------------------------------------------- inputs moved, cancel

def _changed_result(session) -> None:
    """FY2019's participants audited after the start: the history every batch must share
    is not the one the job was planned on."""
    from settlement.kpi import ResultInput
    from settlement.results import audit_result, submit_results
    [row] = submit_results(session, [ResultInput(C, 2019, "participants", "7000")],
                           "evaluator")
    audit_result(session, row.id or 0, "evaluation committee")


def _changed_subscription(session) -> None:
    """Units subscribed after the start: the capital the classes' returns are computed on
    is not the one the job was planned on."""
    from datetime import date

    from investors.store import HolderSpec, add_holder, subscribe
    add_holder(session, HolderSpec("citizen-late", "individual", "市民 遅", "ｼﾐﾝ"))
    subscribe(session, C, UNITS, "citizen-late", 3, date(2021, 6, 1))


@pytest.mark.parametrize("change", [_changed_result, _changed_subscription],
                         ids=["an audited result", "a subscription"])
def test_a_task_refuses_when_the_inputs_changed_after_the_start(db_url, contract, tmp_path,
                                                               change):
    """Three batches; the first is drawn, then the books move. The next task refuses
    (SIMULATION_INPUTS_CHANGED) rather than draw a batch of another simulation; the job
    fails with it, the batch drawn before stays alone and nothing is merged."""
    _load(db_url, contract)
    with db.unit_of_work(db_url) as session:
        view = start_simulation(session, C, _wide_text(contract), "wide.yaml", 25, 5, "ana",
                                batch_size=10, out=tmp_path / "job")
        planned = read_inputs(session, C).digest
    assert view.params["inputs"] == planned
    assert job_worker.run_one(db_url, "w", job_id=view.id)
    with db.unit_of_work(db_url) as session:
        change(session)
    with db.unit_of_work(db_url) as session:
        assert read_inputs(session, C).digest != planned
    assert job_worker.run_one(db_url, "w", job_id=view.id)
    with db.unit_of_work(db_url) as session:
        failed = simulation_job(session, view.id)
        tasks = jobs.job_tasks(session, view.id)
        with pytest.raises(SibError) as refused:
            job_summary(session, failed)
    assert failed.state == "failed"
    assert failed.error.startswith("task 1: SIMULATION_INPUTS_CHANGED")
    assert [t.state for t in tasks] == ["done", "failed", "queued"]
    assert refused.value.problems[0].code == "JOB_NOT_DONE"
    assert sorted(_files(tmp_path / "job")) == ["batch-00000.npz"]  # no summary.json
    assert "summary_sha256" not in failed.result
    # Nothing picks up the rest of a failed job.
    assert not job_worker.run_one(db_url, "w", job_id=view.id)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("db_url" if request.param == "sqlite" else "own_pg_url"))


def test_a_job_cancelled_mid_way_then_retried_is_the_uninterrupted_run(any_url, contract,
                                                                        tmp_path, monkeypatch):
    """Four batches of 10. The job is cancelled while the second batch is drawn: that task
    stops once its batch is written (it looks at every unit), the last two never start, and
    nothing is merged. Retried, the cancelled tasks run again (the batch written before the
    stop is written again, the same bytes) and the folder — batches and summary — is byte
    for byte that of the same simulation run without a stop."""
    import api.job_simulation as job_simulation
    monkeypatch.setattr(jobs, "CANCEL_CHECK_SECONDS", 0.0)
    _load(any_url, contract)
    text = _wide_text(contract)
    with db.unit_of_work(any_url) as session:
        stopped = start_simulation(session, C, text, "wide.yaml", 40, 6, "ana", batch_size=10,
                                   out=tmp_path / "stopped")
    real_run_batch = batching.run_batch

    def cancel_while_drawing(*args, **kwargs):
        batch = args[2]
        if batch.index == 1:
            with db.unit_of_work(any_url) as session:
                jobs.cancel(session, stopped.id)
        return real_run_batch(*args, **kwargs)

    assert job_worker.run_one(any_url, "w", job_id=stopped.id)  # batch 0
    monkeypatch.setattr(job_simulation.batching, "run_batch", cancel_while_drawing)
    assert job_worker.run_one(any_url, "w", job_id=stopped.id)  # batch 1, stopped
    assert not job_worker.run_one(any_url, "w", job_id=stopped.id)  # nothing left to claim
    monkeypatch.setattr(job_simulation.batching, "run_batch", real_run_batch)
    with db.unit_of_work(any_url) as session:
        view = simulation_job(session, stopped.id)
        tasks = jobs.job_tasks(session, stopped.id)
    assert view.state == "cancelled"
    assert [t.state for t in tasks] == ["done", "cancelled", "cancelled", "cancelled"]
    assert sorted(_files(tmp_path / "stopped")) == ["batch-00000.npz", "batch-00001.npz"]

    with db.unit_of_work(any_url) as session:
        assert jobs.retry(session, stopped.id).state == "running"
    assert job_worker.work(any_url, "w", job_id=stopped.id, until_idle=True) == 3
    with db.unit_of_work(any_url) as session:
        done = simulation_job(session, stopped.id)
        summary, _ = job_summary(session, done)
        clean = start_simulation(session, C, text, "wide.yaml", 40, 6, "bo", batch_size=10,
                                 out=tmp_path / "clean")
    assert (done.state, done.units_done, done.result["runs"]) == ("done", 40, 40)
    job_worker.work(any_url, "w", job_id=clean.id, until_idle=True)
    with db.unit_of_work(any_url) as session:
        uninterrupted, _ = job_summary(session, simulation_job(session, clean.id))
    assert _files(tmp_path / "stopped") == _files(tmp_path / "clean")
    assert _bytes(summary) == _bytes(uninterrupted)
    assert summary["runs"] == 40 and summary["batches"] == {"size": 10, "count": 4}
