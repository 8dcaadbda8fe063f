"""``make bench``: run every benchmark, print readable tables, write ``bench/results.json``.

Each benchmark module has a ``run()`` returning a JSON-able dict of figures; a module may add a
``goals`` list of ``{"database", "figure", "value", "goal", "met"}`` rows, printed as a table of
goals and whether each is met. Every benchmark measures its baseline in the same run (these
machines are noisy: compare ratios, not absolute figures between runs).

``bench/results.json`` is merged by section: a run replaces the sections it ran and keeps the
others, and it is rewritten after each section, so an interrupted run keeps what it measured.
``SIB_BENCH_ONLY=ledger,settlement`` runs a subset. The exit status is 1 if a benchmark failed
(its error is recorded in its section), not if a goal is missed.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCHMARKS = {"ledger": "bench.ledger_bench", "settlement": "bench.settlement_bench",
              "statements": "bench.statements_bench", "api": "bench.api_bench",
              "jobs": "bench.jobs_bench", "simulation": "bench.simulation_bench"}
RESULTS = Path(__file__).resolve().parent / "results.json"
console = Console(width=140)


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "NO", None: "—"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if prefix == "" and key == "goals":
                continue
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        out.append((prefix, ", ".join(_text(v) for v in value)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, out)
    else:
        out.append((prefix, _text(value)))


def _figures_table(name: str, figures: dict[str, Any]) -> Table:
    table = Table(title=f"{name} benchmark", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right", overflow="fold")
    rows: list[tuple[str, str]] = []
    _flatten("", figures, rows)
    for key, value in rows:
        table.add_row(key, value)
    return table


def _goals_table(title: str, goals: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column, justify in (("benchmark", "left"), ("database", "left"), ("figure", "left"),
                            ("value", "right"), ("goal", "right"), ("met", "center")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, goal in goals:
        met = goal.get("met")
        table.add_row(name, str(goal.get("database", "")), str(goal["figure"]),
                      _text(goal["value"]), str(goal["goal"]),
                      "[green]yes[/]" if met else "—" if met is None else "[bold red]NO[/]")
    return table


def main() -> int:
    wanted = [w for w in os.environ.get("SIB_BENCH_ONLY", ",".join(BENCHMARKS)).split(",") if w]
    unknown = [w for w in wanted if w not in BENCHMARKS]
    if unknown:
        console.print(f"[red]unknown benchmark(s): {', '.join(unknown)}[/] "
                      f"(known: {', '.join(BENCHMARKS)})")
        return 2
    try:
        results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    except ValueError:
        results = {}
    results["_run"] = {"at": datetime.now(UTC).isoformat(timespec="seconds"),
                       "machine": f"{platform.machine()} {os.cpu_count()} cores",
                       "python": platform.python_version(), "ran": wanted}
    failed: list[str] = []
    all_goals: list[tuple[str, dict[str, Any]]] = []
    run_started = time.monotonic()
    for name in wanted:
        started = time.monotonic()
        console.print(f"[bold]{name}[/] …")
        try:
            figures = importlib.import_module(BENCHMARKS[name]).run()
        except Exception as exc:  # noqa: BLE001 - recorded, the other benchmarks still run
            console.print(f"[bold red]{name} failed:[/] {exc!r}")
            console.print(traceback.format_exc(), markup=False, highlight=False)
            figures = {"error": repr(exc)}
            failed.append(name)
        figures["_seconds"] = round(time.monotonic() - started, 1)
        results[name] = figures
        console.print(_figures_table(name, figures))
        goals = [(name, g) for g in figures.get("goals", [])]
        if goals:
            console.print(_goals_table(f"{name}: goals", goals))
        all_goals += goals
        RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    if len(all_goals) > 0 and len(wanted) > 1:
        console.print(_goals_table("all goals", all_goals))
    console.print(f"{len(wanted)} benchmark(s) in {time.monotonic() - run_started:.0f} s; "
                  f"figures written to {RESULTS}")
    if failed:
        console.print(f"[bold red]failed: {', '.join(failed)}[/]")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
