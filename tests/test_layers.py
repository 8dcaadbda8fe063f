"""The dependency direction of STYLE.md, checked on the source: api → investors → settlement →
contracts → ledger, and pure calculation modules import no database, web, PDF or pandas code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["ledger", "contracts", "settlement", "investors", "api"]
FRAMEWORKS = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "reportlab", "pandas", "typer",
              "alembic", "openpyxl", "psycopg")
# The pure calculation modules: payment rules, terms, schedules, waterfalls, statement data.
# Persistence, files, rendering and the clock live in the other modules (the edges).
PURE = ["ledger.money", "ledger.rounding", "ledger.calendar", "ledger.errors", "ledger.entries",
        "ledger.inputs",
        "ledger.money_json", "ledger.accounts", "contracts.chart", "contracts.liability",
        "contracts.model", "contracts.rules", "contracts.terms",
        "contracts.values", "contracts.instruments", "contracts.checks", "contracts.validate",
        "settlement.trace", "settlement.payouts", "settlement.engine", "settlement.waterfall",
        "settlement.schedules", "settlement.loans", "settlement.kpi", "settlement.zengin",
        "settlement.unit_returns",
        "investors.withholding", "investors.returns", "investors.capital",
        "investors.statement_data", "investors.formatting", "investors.trace_text"]
def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_packages_only_import_packages_below_them():
    wrong = []
    for rank, package in enumerate(ORDER):
        above = set(ORDER[rank + 1:])
        for path in _modules(package):
            for name in _imports(path):
                if name.split(".")[0] in above:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_pure_modules_import_no_framework_even_indirectly():
    code = ("import importlib, sys, json\n"
            f"for name in {PURE!r}: importlib.import_module(name)\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
            f"set({FRAMEWORKS!r}))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout.strip()
    assert loaded == "[]", f"pure modules pull in {loaded}"


# The ledger's tables and the module of raw reports over them. Everything outside ledger/ and
# api/ (wiring, migrations) reads the books through the read model, ``ledger.read``, and writes
# through the ledger's services (``ledger.service``, ``ledger.periods``).
LEDGER_TABLE_MODULES = {"ledger.schema", "ledger.tables", "ledger.reports"}


def _all_imports(path: Path) -> set[str]:
    """Every module an import statement names, at any depth (function-level imports too),
    with ``from ledger import schema`` counted as ``ledger.schema``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_ledger_and_the_wiring_touch_the_ledger_tables():
    wrong = []
    for package in ("contracts", "settlement", "investors"):
        for path in _modules(package):
            for name in sorted(_all_imports(path) & LEDGER_TABLE_MODULES):
                wrong.append(f"{path.relative_to(ROOT)} imports {name} (use ledger.read)")
    assert wrong == []


def test_every_package_opens_with_a_design_note():
    for package in ORDER:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
        assert doc and "Design" in doc, package
