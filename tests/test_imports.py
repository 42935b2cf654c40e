"""The package's modules import each other without a cycle, counting imports inside functions, and
each imports on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gnnrec"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The gnnrec modules ``name`` imports anywhere in its file (top level, functions, classes)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from . import x` imports module x
    # the packages above a module are imported before it runs: importing them again is no edge
    return {m for m in out if m in known and m != name and not name.startswith(m + ".")}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imported(name, path, set(mods)) for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph (as a closed path), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        state[n] = 2
        path.pop()
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_graph_sees_relative_and_function_level_imports():
    edges = graph()
    assert "gnnrec.fast" in edges["gnnrec.gnn"] and "gnnrec.fast.ops" in edges["gnnrec.gnn"]
    assert "gnnrec.evaluate" in edges["gnnrec.cli"]  # imported inside a command function
    assert "gnnrec.models" in edges["gnnrec.fast.local"]  # `from ..models import`


def test_no_import_cycle_among_the_package_modules():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle)


def test_every_module_imports_in_a_fresh_interpreter():
    """Every module imported in a new process (the package's own order does not hide a cycle)."""
    names = [n for n in modules() if n != "gnnrec.__main__"]
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    run = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True,
                         cwd=PACKAGE.parent, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_speed_up_switch_is_read_by_the_gnn_predictor_alone():
    """The suite runs the reference path (the speed-ups off) only on the core tests of code that reads
    the switch (tests/conftest.py's REFERENCE_FILES): that holds while GNNPredictor is its one reader
    (besides gnnrec.fast's process set-up, which the entry points call, never the core tests)."""
    readers = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "enabled":
                readers.add(name)
    assert readers == {"gnnrec.gnn", "gnnrec.fast"}, readers
