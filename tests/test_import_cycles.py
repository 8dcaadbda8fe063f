"""No import cycle among our own modules (ledger, contracts, settlement, investors, api).

A cycle makes a module's behaviour depend on which module happened to be imported first, and it
is usually a sign that a shared piece wants a module of its own. The graph is built from the
source with ``ast``, from module-level imports only: an import inside a function runs when the
function is called, by which time every module involved is fully loaded, and one under
``if TYPE_CHECKING:`` never runs.

Importing ``a.b.c`` first runs ``a/__init__.py`` and ``a/b/__init__.py``, so an import also
depends on the packages on the way, except the packages that contain the importing module
itself (Python has begun loading those before the module).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "contracts", "settlement", "investors", "api")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _our_modules() -> dict[str, Path]:
    """Module name → source file, for every module of our packages."""
    return {_module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


def _only_for_type_checkers(node: ast.If) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): its body never runs."""
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is loaded: at top level, or inside a top-level
    ``if``/``try``/``with`` (not in a function or class body, nor under ``TYPE_CHECKING``)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _only_for_type_checkers(node):
            pending.extend(node.orelse)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, block, []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
    return found


def _imported_names(node: ast.Import | ast.ImportFrom, importer: str,
                    is_package: bool) -> list[str]:
    """The full module names an import statement asks for (``from x import y`` asks for
    ``x.y`` as well, in case ``y`` is a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


def _dependencies(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that loading ``name`` loads directly, packages on the way included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    if path.name == "__init__.py":
        own_packages.add(name)
    found: set[str] = set()
    for node in _module_level_imports(tree):
        for wanted in _imported_names(node, name, path.name == "__init__.py"):
            parts = wanted.split(".")
            for i in range(1, len(parts) + 1):
                step = ".".join(parts[:i])
                if step in modules and step not in own_packages and step != name:
                    found.add(step)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → our modules it imports at load time."""
    modules = _our_modules()
    return {name: _dependencies(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), each
    written as a path that returns to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(component, graph) for component in components]


def _path_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A cycle inside ``component`` from its first module back to it (breadth first)."""
    members, start = set(component), component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1] + [start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    return component


def test_our_modules_import_each_other_without_cycles() -> None:
    found = [" → ".join(cycle) for cycle in cycles(import_graph())]
    assert found == [], "import cycles:\n" + "\n".join(found)


def test_the_cycle_finder_finds_a_cycle_through_a_package() -> None:
    graph = {"contracts.terms": {"contracts.checks"},
             "contracts.checks": {"contracts.checks.payments"},
             "contracts.checks.payments": {"contracts.terms", "contracts.model"},
             "contracts.model": set()}
    assert cycles(graph) == [["contracts.checks", "contracts.checks.payments", "contracts.terms",
                              "contracts.checks"]]


def test_a_package_importing_its_own_submodules_is_no_cycle() -> None:
    modules = _our_modules()
    # contracts.checks.payments imports contracts.checks.base, which runs contracts/checks/
    # __init__.py: that package is already loading when payments is, so it is no dependency.
    dependencies = _dependencies("contracts.checks.payments",
                                 modules["contracts.checks.payments"], modules)
    assert "contracts.checks.base" in dependencies
    assert "contracts.checks" not in dependencies


def test_imports_for_type_checkers_only_are_no_dependency() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    from contracts.model import Contract\n"
                     "else:\n    import ledger.errors\n")
    found = {name for node in _module_level_imports(tree)
             for name in _imported_names(node, "api.cli", False)}
    assert "contracts.model" not in found and "ledger.errors" in found
