"""A simulation cut into batches (issue 16, item 4): for 10⁶ runs, or a portfolio, the runs
split into batches that any number of workers draw, and whose scenarios are merged into the
one report :func:`settlement.simulation.summarise` makes. Pure: bytes in, bytes out; where the
bytes are kept is :mod:`api.job_simulation`'s.

**The reproducibility contract.** A simulation of ``runs`` runs with seed ``S`` and batch
size ``B`` is ``k = ⌈runs / B⌉`` batches; batch ``i`` is the direct simulation
(:func:`settlement.simulation.simulate`) of ``B`` runs — the last one of what is left — with
the seed :func:`batch_seed` ``(S, i)``, which is ``S`` itself for batch 0 and a 63-bit hash of
``(S, i)`` for the others. The result is :func:`summarise` of the scenarios of batches
``0 … k−1`` concatenated in that order. So it depends on ``(S, B, runs)`` and the inputs, never
on how many workers drew the batches or in which order they finished; and a simulation of one
batch (``runs ≤ B``) *is* the direct run ``sib simulate --seed S``, to the byte.

**Why the scenarios are kept, not statistics.** The report's percentiles are scenario values
at ranks (inverted CDF) and most of its figures are joint over a scenario: a payer's
cumulative cost across years, the total of every payer, a lender's loss summed over its loans,
a class's IRR from its dated flows, the first due date short. No per-batch statistic merges
into those exactly short of the figures themselves, so each batch keeps its per-scenario
arrays (the :class:`~settlement.simulation.Simulation` less the contract), packed by
:func:`pack` as a compressed archive of ``.npy`` arrays and a JSON manifest (no pickle: a file
read back can only hold data) with fixed member dates, so that the same batch gives the same
bytes: 230 to 410 bytes a run for the five-municipality contract (measured from FY2021 with
its example file, and with every year drawn). :func:`merge` concatenates them and the report
is computed once, by the same function as for a direct run.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import accumulate
from typing import Any

import numpy as np

from contracts.model import Contract
from ledger.errors import SibError
from settlement.simulation import Simulation, simulate, summarise
from settlement.simulation_assumptions import Assumptions
from settlement.simulation_books import Subscription, YearPlan
from settlement.simulation_engine import MoneyResults
from settlement.simulation_payouts import KpiDraws, Payouts, Variable
from settlement.unit_returns import RateSchedule

RUNS_PER_BATCH = 10_000
MAX_RUNS = 1_000_000
MAX_BATCHES = 10_000
FORMAT = "sib-simulation-batch/1"
_SEED_BITS = 63
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the zip members' fixed date: same batch, same bytes
_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (YearPlan, KpiDraws, Payouts,
                                                           MoneyResults)}


@dataclass(frozen=True)
class Batch:
    """One batch of a simulation.

    Attributes:
        index: its place (0 first); the scenarios are merged in this order.
        start: the number of runs of the batches before it (its first run's number).
        runs: its runs.
        seed: the seed its draws come from (:func:`batch_seed`).
    """

    index: int
    start: int
    runs: int
    seed: int


def batch_seed(seed: int, index: int) -> int:
    """The seed of batch ``index``: ``seed`` for batch 0 (so that one batch is the direct
    run), else the first 63 bits of SHA-256 of ``"sib-simulation-batch:{seed}:{index}"`` —
    independent streams for the batches, the same on every machine."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"sib-simulation-batch:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


def batches(runs: int, seed: int, batch_size: int = RUNS_PER_BATCH) -> list[Batch]:
    """The batches of ``runs`` runs of ``batch_size`` each (the last one what is left).
    Refused ``RUNS_INVALID`` / ``BATCH_SIZE_INVALID`` naming the field."""
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise SibError(f"runs must be a whole number from 1 to {MAX_RUNS:,}", "RUNS_INVALID",
                       "runs")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SibError("the batch size must be a whole number of at least 1",
                       "BATCH_SIZE_INVALID", "batch_size")
    count = -(-runs // batch_size)
    if count > MAX_BATCHES:
        raise SibError(f"{runs:,} runs of {batch_size:,} a batch make {count:,} batches; at "
                       f"most {MAX_BATCHES:,}: choose a larger batch size",
                       "BATCH_SIZE_INVALID", "batch_size")
    return [Batch(i, i * batch_size, min(batch_size, runs - i * batch_size),
                  batch_seed(seed, i)) for i in range(count)]


def run_batch(contract: Contract, assumptions: Assumptions, batch: Batch,
              known: Mapping[Variable, str], from_fiscal_year: int,
              subscriptions: Sequence[Subscription] | None,
              rates: Mapping[str, RateSchedule | None] | None) -> Simulation:
    """Batch ``batch``'s scenarios: the direct simulation of its runs from its seed."""
    sim, problems = simulate(contract, assumptions, batch.runs, batch.seed, known,
                             from_fiscal_year, subscriptions, rates)
    if sim is None:
        raise SibError(problems)
    return sim


# --------------------------------------------------------------------------- merging

def merge(parts: Sequence[Simulation], seed: int) -> Simulation:
    """The batches' scenarios as one simulation, in the given order (batch 0 first), under
    the simulation's own seed. Refused ``BATCHES_DIFFER`` if they are not batches of one
    simulation (another contract, start year, history or plan)."""
    if not parts:
        raise SibError("there is no batch to merge", "BATCHES_DIFFER", "batches")
    first = parts[0]
    for name in ("from_fiscal_year", "plans", "known"):
        if any(getattr(p, name) != getattr(first, name) for p in parts):
            raise SibError(f"the batches differ in {name}: they are not of one simulation",
                           "BATCHES_DIFFER", name)
    if any(p.contract.id != first.contract.id for p in parts):
        raise SibError("the batches are of different contracts", "BATCHES_DIFFER", "contract")
    starts = list(accumulate((p.runs for p in parts[:-1]), initial=0))
    return Simulation(
        first.contract, sum(p.runs for p in parts), seed, first.from_fiscal_year,
        first.plans, _join("draws", [p.draws for p in parts], starts),
        _join("payouts", [p.payouts for p in parts], starts),
        _join("money", [p.money for p in parts], starts), dict(first.known),
        _paths([p.paths for p in parts]))


def _union(lists: Sequence[Sequence[Any]]) -> list[Any]:
    out: list[Any] = []
    for items in lists:
        out += [x for x in items if x not in out]
    return out


def _counts_runs(name: str) -> bool:
    """A count of runs (``runs``, ``scalar_runs``…): the batches' counts add up."""
    return name == "runs" or name.endswith("_runs")


def _lists_reasons(name: str) -> bool:
    return name == "reasons" or name.endswith("_reasons")


def _paths(paths: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Which path settled the runs: the scalar one if it settled any batch's; the reasons
    of every batch; the counts of runs (those the engine recomputed…) added up."""
    out: dict[str, Any] = {}
    for key in paths[0]:
        parts = [p[key] for p in paths]
        merged: dict[str, Any] = {}
        for name in parts[0]:
            values = [p[name] for p in parts]
            if name == "path":
                merged[name] = "scalar" if "scalar" in values else values[0]
            elif _lists_reasons(name):
                merged[name] = _union(values)
            elif _counts_runs(name):
                merged[name] = sum(values)
            elif any(v != values[0] for v in values):
                raise SibError(f"the batches' paths differ in {key}.{name}", "BATCHES_DIFFER",
                               f"paths.{key}.{name}")
            else:
                merged[name] = values[0]
        out[key] = merged
    return out


def _join(name: str, values: Sequence[Any], starts: Sequence[int]) -> Any:
    """Values of one field of every batch, joined: arrays concatenated over runs (axis 0),
    tables joined key by key, counts of runs added, run numbers shifted by their batch's
    start; anything else must be the same in every batch."""
    first = values[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(values, axis=0)
    if isinstance(first, KpiDraws):
        if any(v.scale != first.scale for v in values):
            raise SibError(f"the batches draw {name} on different scales", "BATCHES_DIFFER",
                           name)
        return KpiDraws(np.concatenate([v.numerators for v in values]), first.scale)
    if is_dataclass(first) and not isinstance(first, type):
        return type(first)(**{f.name: _join(f.name, [getattr(v, f.name) for v in values],
                                            starts) for f in fields(first) if f.init})
    if isinstance(first, dict):
        if any(list(v) != list(first) for v in values):
            raise SibError(f"the batches' {name} have different keys", "BATCHES_DIFFER", name)
        return {k: _join(name, [v[k] for v in values], starts) for k in first}
    if _counts_runs(name):
        return sum(values)
    if name.endswith("_run_ids"):  # run numbers within the batch: shifted by its start
        return [start + run for start, ids in zip(starts, values) for run in ids]
    if _lists_reasons(name):
        return _union(values)
    if any(v != first for v in values):
        raise SibError(f"the batches differ in {name}", "BATCHES_DIFFER", name)
    return first


def summarise_batches(parts: Sequence[Simulation], seed: int, batch_size: int
                      ) -> dict[str, Any]:
    """The report of the merged batches: :func:`summarise` of :func:`merge`; with more than
    one batch it also says the batch size and count, which the result depends on."""
    summary = summarise(merge(parts, seed))
    if len(parts) == 1:
        return summary
    out: dict[str, Any] = {}
    for key, value in summary.items():
        out[key] = value
        if key == "seed":
            out["batches"] = {"size": batch_size, "count": len(parts)}
    return out


# --------------------------------------------------------------------------- packing

def pack(sim: Simulation) -> bytes:
    """A batch's scenarios as bytes: a zip of ``manifest.json`` (the structure, with every
    array named) and one ``.npy`` member per array; the same scenarios, the same bytes."""
    arrays: list[np.ndarray] = []
    manifest = {"format": FORMAT, "contract": sim.contract.id, "simulation": _encode(
        {"runs": sim.runs, "seed": sim.seed, "from_fiscal_year": sim.from_fiscal_year,
         "plans": sim.plans, "draws": sim.draws, "payouts": sim.payouts, "money": sim.money,
         "known": sim.known, "paths": sim.paths}, arrays)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _member(archive, "manifest.json", json.dumps(manifest, sort_keys=True,
                                                     separators=(",", ":")).encode())
        for i, array in enumerate(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            _member(archive, f"a{i}.npy", member.getvalue())
    return buffer.getvalue()


def _member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def unpack(data: bytes, contract: Contract) -> Simulation:
    """A batch packed by :func:`pack`, for ``contract``. Refused ``BATCH_UNREADABLE`` if the
    bytes are not such a batch (or are one of another contract)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            if manifest.get("format") != FORMAT or manifest.get("contract") != contract.id:
                raise ValueError(f"not a batch of {contract.id} ({manifest.get('format')})")

            def array(index: int) -> np.ndarray:
                with archive.open(f"a{index}.npy") as member:
                    return np.lib.format.read_array(member, allow_pickle=False)

            s = _decode(manifest["simulation"], array)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise SibError(f"a simulation batch cannot be read: {error}", "BATCH_UNREADABLE",
                       "batch") from None
    return Simulation(contract, s["runs"], s["seed"], s["from_fiscal_year"], s["plans"],
                      s["draws"], s["payouts"], s["money"], s["known"], s["paths"])


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    """``value`` as JSON, its arrays appended to ``arrays`` and named by their index."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"$array": len(arrays) - 1}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, Fraction):
        return {"$fraction": [value.numerator, value.denominator]}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if is_dataclass(value) and type(value).__name__ in _CLASSES:
        return {"$class": type(value).__name__,
                "fields": {f.name: _encode(getattr(value, f.name), arrays)
                           for f in fields(value) if f.init}}
    raise TypeError(f"a simulation batch cannot hold a {type(value).__name__}")


def _decode(value: Any, array: Callable[[int], np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, array) for v in value]
    if not isinstance(value, dict):
        return value
    if "$array" in value:
        return array(int(value["$array"]))
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    if "$decimal" in value:
        return Decimal(value["$decimal"])
    if "$fraction" in value:
        return Fraction(*value["$fraction"])
    if "$tuple" in value:
        return tuple(_decode(v, array) for v in value["$tuple"])
    if "$dict" in value:
        return {_decode(k, array): _decode(v, array) for k, v in value["$dict"]}
    if "$class" in value:
        cls = _CLASSES[value["$class"]]
        return cls(**{k: _decode(v, array) for k, v in value["fields"].items()})
    return {k: _decode(v, array) for k, v in value.items()}
