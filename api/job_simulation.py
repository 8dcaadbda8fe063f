"""The outcome simulation as a background job (issues 15 and 16): the runs cut into batches
(:mod:`settlement.simulation_batches`) that any worker draws, one task a batch.

* **Plan** (in the starter's transaction): the assumptions checked against the contract (every
  problem with its field path, nothing queued), the first simulated year resolved, and the
  inputs read from the books — the contract's version, the audited results used as history,
  the recorded subscriptions and return rates — fixed by their digest, so that every task
  simulates the same thing or refuses (``SIMULATION_INPUTS_CHANGED``, like a statements job
  whose books moved). One task per batch; a task's units are its runs.
* **Task**: draws its batch from ``(seed, batch index)`` and writes its scenarios
  (:func:`~settlement.simulation_batches.pack`) atomically to the job's folder under the
  settings' documents folder (``SIB_OUT_DIR``, which every worker must see at the same path,
  as for a statements job). A task run twice writes the same bytes.
* **Result**: the task that finds every batch written merges them and writes the report's
  figures (``summary.json``; its SHA-256 goes into the job's result). :func:`job_summary`
  reads it (merging then if need be); :func:`merged_simulation` gives the scenarios for the
  workbook. The same seed and batch size give the same bytes with one worker or ten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from api import jobs
from api.jobs import DEFAULT_QUEUE, JobKind, JobView, Plan, TaskRun, TaskSpec
from contracts.model import Contract
from contracts.source import parse_yaml
from contracts.store import contract_from_row, latest_version
from ledger.errors import Conflict, NotFound, SibError
from settlement import simulation_batches as batching
from settlement.simulation import Simulation
from settlement.simulation_assumptions import Assumptions, validate_assumptions
from settlement.simulation_books import Subscription
from settlement.simulation_payouts import Variable
from settlement.unit_returns import RateSchedule

SIMULATION = "simulation"
SUMMARY_FILE = "summary.json"
MAX_SEED = 2**63 - 1
EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples" / "simulations"
"""The contracts' example simulation files, each named after its contract."""


@dataclass(frozen=True)
class Inputs:
    """What a simulation reads from the books, and its digest.

    Attributes:
        known: the audited results in force (variable → decimal text).
        subscriptions: the capital recorded per class (None: the assumptions' own).
        rates: each class's target return as the contract's versions set it.
        digest: SHA-256 over the contract version's hash and all of the above.
    """

    contract: Contract
    known: dict[Variable, str]
    subscriptions: list[Subscription] | None
    rates: dict[str, RateSchedule | None]
    digest: str


def read_inputs(session: Session, contract_id: str) -> Inputs:
    """The contract and what the simulation service reads with it
    (:mod:`settlement.simulation_service`), with their digest."""
    from settlement.payments import return_rates
    from settlement.simulation_service import audited_results, recorded_subscriptions
    row = latest_version(session, contract_id)
    assert row is not None  # latest_version raises CONTRACT_NOT_FOUND
    contract = contract_from_row(row)
    known = audited_results(session, contract)
    subscriptions = recorded_subscriptions(session, contract)
    rates = {u.id: return_rates(session, contract, u.id) for u in contract.unit_classes}
    text = repr((row.version, row.document_hash, sorted(known.items()), subscriptions,
                 sorted(rates.items())))
    return Inputs(contract, known, subscriptions, rates,
                  hashlib.sha256(text.encode()).hexdigest())


def assumptions_of(text: str, source: str, contract: Contract) -> Assumptions:
    """The simulation file's text read and checked against ``contract`` (as ``sib
    simulate`` reads its file); refused with every problem and its field path."""
    document, problems = parse_yaml(text, source)
    if document is None:
        raise SibError(problems)
    assumptions, problems = validate_assumptions(document, contract, source)
    if assumptions is None:
        raise SibError(problems)
    return assumptions


def contract_example(contract_id: str) -> Path | None:
    """The contract's own example simulation file, if it has one."""
    path = EXAMPLES / f"{contract_id}.yaml"
    return path if path.is_file() else None


def example_assumptions(name: str, field: str = "example") -> tuple[str, str]:
    """The text and source name of the example simulation file ``name`` (with or without
    ``.yaml``), as the portal's form names it; refused ``EXAMPLE_NOT_FOUND`` for a name that
    is not one of them (a path included)."""
    stem = name[:-5] if name.endswith(".yaml") else name
    found = {p.stem: p for p in EXAMPLES.glob("*.yaml")}.get(stem)
    if found is None:
        raise SibError(f"there is no example simulation file {name!r} (one is named after "
                       "its contract)", "EXAMPLE_NOT_FOUND", field)
    return found.read_text(encoding="utf-8"), f"examples/simulations/{found.name}"


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SibError(f"{name} must be a whole number from {low:,} to {high:,}",
                       "JOB_PARAMS_INVALID", name)
    return value


def simulations_folder() -> Path:
    """Where simulation jobs keep their batches: ``SIB_OUT_DIR/simulations``."""
    from api.settings import get_settings
    return get_settings().out_dir / "simulations"


def plan_simulation(session: Session, params: Mapping[str, Any]) -> Plan:
    """Check the simulation and cut it into batches. ``params``: ``contract``,
    ``assumptions`` (the file's text) and ``source`` (its name), ``runs``, ``seed``,
    ``from_fiscal_year`` (optional), ``batch_size`` (default
    :data:`~settlement.simulation_batches.RUNS_PER_BATCH`), ``out`` (optional folder)."""
    contract_id = str(params.get("contract", ""))
    text = params.get("assumptions")
    if not isinstance(text, str) or not text.strip():
        raise SibError("give the simulation file's text (assumptions)", "JOB_PARAMS_INVALID",
                       "assumptions")
    source = str(params.get("source") or "assumptions.yaml")
    runs = _whole(params.get("runs"), "runs", 1, batching.MAX_RUNS)
    seed = _whole(params.get("seed", 0), "seed", 0, MAX_SEED)
    size = _whole(params.get("batch_size", batching.RUNS_PER_BATCH), "batch_size", 1,
                  batching.MAX_RUNS)
    inputs = read_inputs(session, contract_id)
    contract = inputs.contract
    assumptions = assumptions_of(text, source, contract)
    start = params.get("from_fiscal_year")
    if start is not None:
        _whole(start, "from_fiscal_year", contract.first_fiscal_year, contract.last_fiscal_year)
    start = start or assumptions.from_fiscal_year or contract.first_fiscal_year
    planned = batching.batches(runs, seed, size)
    # One run now, so that what only drawing finds (a year with neither a distribution nor
    # an audited result) is refused at the start, not by every task.
    batching.run_batch(contract, assumptions, batching.Batch(0, 0, 1, seed), inputs.known,
                       start, inputs.subscriptions, inputs.rates)
    normalised: dict[str, Any] = {
        "contract": contract.id, "assumptions": text, "source": source, "runs": runs,
        "seed": seed, "from_fiscal_year": start, "batch_size": size, "inputs": inputs.digest}
    key = hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()[:24]
    out = params.get("out") or simulations_folder() / contract.id / key
    normalised["out"] = str(Path(str(out)).resolve())
    return Plan(normalised, [TaskSpec({"batch": b.index, "runs": b.runs}, b.runs)
                             for b in planned])


def _batch_path(folder: Path, index: int) -> Path:
    return folder / f"batch-{index:05d}.npz"


def run_simulation_task(run: TaskRun) -> dict[str, Any]:
    """Draw one batch and write its scenarios; if it is the last batch written, merge them
    all and write the report's figures."""
    from investors.files import write_atomic
    p, index = run.job_params, int(run.task_params["batch"])
    run.set_total(int(run.task_params["runs"]))
    with run.unit_of_work() as session:
        inputs = read_inputs(session, p["contract"])
    if inputs.digest != p["inputs"]:
        raise SibError(f"the contract {p['contract']}, its audited results or its recorded "
                       "subscriptions changed after this simulation was started; its batches "
                       "would not be of one simulation: start it again",
                       "SIMULATION_INPUTS_CHANGED", "inputs")
    assumptions = assumptions_of(p["assumptions"], p["source"], inputs.contract)
    batch = batching.batches(p["runs"], p["seed"], p["batch_size"])[index]
    sim = batching.run_batch(inputs.contract, assumptions, batch, inputs.known,
                             p["from_fiscal_year"], inputs.subscriptions, inputs.rates)
    folder = Path(p["out"])
    write_atomic(_batch_path(folder, index), batching.pack(sim))
    run.advance(batch.runs)
    result: dict[str, Any] = {"runs": batch.runs}
    count = -(-int(p["runs"]) // int(p["batch_size"]))
    if all(_batch_path(folder, i).is_file() for i in range(count)):
        # Every batch is written (this task wrote the last, or two finished together and
        # both merge: the same bytes).
        result["summary_sha256"] = _write_summary(folder, p, inputs.contract)
    return result


def _summary_bytes(summary: Mapping[str, Any]) -> bytes:
    return json.dumps(summary, ensure_ascii=False, separators=(",", ":")).encode()


def _parts(folder: Path, params: Mapping[str, Any], contract: Contract) -> list[Simulation]:
    count = -(-int(params["runs"]) // int(params["batch_size"]))
    parts = []
    for i in range(count):
        path = _batch_path(folder, i)
        if not path.is_file():
            raise NotFound(f"batch {i} of the simulation is missing from {folder}",
                           "SIMULATION_BATCH_MISSING", "batch")
        parts.append(batching.unpack(path.read_bytes(), contract))
    return parts


def _write_summary(folder: Path, params: Mapping[str, Any], contract: Contract) -> str:
    from investors.files import write_atomic
    summary = batching.summarise_batches(_parts(folder, params, contract), int(params["seed"]),
                                         int(params["batch_size"]))
    data = _summary_bytes(summary)
    write_atomic(folder / SUMMARY_FILE, data)
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- reading results

def simulation_job(session: Session, job_id: int) -> JobView:
    """A simulation job (``JOB_NOT_FOUND`` for any other id or kind)."""
    view = jobs.get_job(session, job_id)
    if view.kind != SIMULATION:
        raise NotFound(f"job {job_id} is not a simulation", "JOB_NOT_FOUND", "job")
    return view


def job_summary(session: Session, view: JobView) -> tuple[dict[str, Any], Contract]:
    """The report's figures of a finished simulation job (those :func:`summarise` gives for
    a direct run), and its contract. Refused ``JOB_NOT_DONE`` before it is done."""
    if view.state != "done":
        raise Conflict(f"simulation job {view.id} is {view.state}, not done",
                       "JOB_NOT_DONE", "job")
    folder = Path(view.params["out"])
    contract = latest_contract(session, view.params["contract"])
    path = folder / SUMMARY_FILE
    if not path.is_file():
        _write_summary(folder, view.params, contract)
    data = path.read_bytes()
    expected = view.result.get("summary_sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise Conflict(f"{path} is not the summary simulation job {view.id} wrote",
                       "SIMULATION_SUMMARY_CHANGED", "summary")
    return json.loads(data), contract


def latest_contract(session: Session, contract_id: str) -> Contract:
    row = latest_version(session, contract_id)
    assert row is not None  # latest_version raises CONTRACT_NOT_FOUND
    return contract_from_row(row)


def merged_simulation(session: Session, view: JobView) -> Simulation:
    """Every scenario of a finished simulation job, merged (for the workbook's scenario
    sheet)."""
    if view.state != "done":
        raise Conflict(f"simulation job {view.id} is {view.state}, not done",
                       "JOB_NOT_DONE", "job")
    contract = latest_contract(session, view.params["contract"])
    return batching.merge(_parts(Path(view.params["out"]), view.params, contract),
                          int(view.params["seed"]))


def start_simulation(session: Session, contract_id: str, assumptions: str, source: str,
                     runs: int, seed: int, started_by: str, from_fiscal_year: int | None = None,
                     batch_size: int = batching.RUNS_PER_BATCH, out: Path | None = None,
                     queue: str = DEFAULT_QUEUE) -> JobView:
    """Start a simulation for the workers (the portal's button, ``sib simulate
    --background``); the same simulation started again while it runs is the same job."""
    params: dict[str, Any] = {"contract": contract_id, "assumptions": assumptions,
                              "source": source, "runs": runs, "seed": seed,
                              "batch_size": batch_size}
    if from_fiscal_year is not None:
        params["from_fiscal_year"] = from_fiscal_year
    if out is not None:
        params["out"] = str(out)
    return jobs.enqueue(session, SIMULATION, params, started_by, queue)


jobs.register(JobKind(SIMULATION, plan_simulation, run_simulation_task,
                      "outcome simulation in batches of runs"))
