"""The dependency direction of STYLE.md, checked on the source: api → investors → settlement →
contracts → ledger, and pure calculation modules import no database, web, PDF or pandas code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["ledger", "contracts", "settlement", "investors", "api"]
FRAMEWORKS = ("sqlalchemy", "sqlmodel", "fastapi", "reportlab", "pandas", "typer", "alembic")
# Modules that are the edges of their package (persistence, files, rendering).
EDGES = {"schema", "service", "store", "tables", "results", "runs", "close", "payments", "transfers", "reports", "verify", "export", "render", "documents",
         "exports", "files", "imports", "pdf", "xlsx", "batch", "loader", "fonts", "charts"}


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


def test_pure_modules_import_no_framework():
    wrong = []
    for package in ORDER[:-1]:
        for path in _modules(package):
            if path.stem in EDGES or path.stem.startswith("store"):
                continue
            for name in _imports(path):
                if name.split(".")[0] in FRAMEWORKS:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_every_package_opens_with_a_design_note():
    for package in ORDER:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
        assert doc and "Design" in doc, package
