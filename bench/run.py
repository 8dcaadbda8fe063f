"""``make bench``: run every benchmark, print a readable table, write ``bench/results.json``.

Each benchmark measures its baseline in the same run (these machines are noisy: compare the
ratios, not the absolute figures between runs). ``SIB_BENCH_ONLY=ledger,settlement`` runs a
subset.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCHMARKS = {"ledger": "bench.ledger_bench", "settlement": "bench.settlement_bench",
              "statements": "bench.statements_bench", "api": "bench.api_bench"}
RESULTS = Path(__file__).resolve().parent / "results.json"
console = Console(width=140)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, out)
    else:
        is_count = isinstance(value, int) and not isinstance(value, bool)
        out.append((prefix, f"{value:,}" if is_count else str(value)))


def main() -> int:
    wanted = [w for w in os.environ.get("SIB_BENCH_ONLY", ",".join(BENCHMARKS)).split(",") if w]
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["_run"] = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "machine": f"{platform.machine()} {os.cpu_count()} cores",
                       "python": platform.python_version()}
    for name in wanted:
        started = time.monotonic()
        console.print(f"[bold]{name}[/] …")
        results[name] = importlib.import_module(BENCHMARKS[name]).run()
        results[name]["_seconds"] = round(time.monotonic() - started, 1)
        table = Table(title=f"{name} benchmark")
        table.add_column("figure")
        table.add_column("value", justify="right")
        rows: list[tuple[str, str]] = []
        _flatten("", results[name], rows)
        for key, value in rows:
            table.add_row(key, value)
        console.print(table)
        RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    console.print(f"figures written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
