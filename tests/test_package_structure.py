"""The package's shape: no import circle, no attack name outside the plug-ins, short modules.

* The import graph of ``advrecon`` (every ``import`` statement of every module, function-level
  ones included, resolved to modules of the package) has no cycle.
* ``report/`` and ``experiments/`` never spell a shipped threat model's name as a string: they
  loop over the registry (:mod:`advrecon.attacks.registry`, the one list that names them).
* In ``attacks/``, ``experiments/`` and ``report/`` no module is over 450 lines and no function
  over 80 (one concept a module, one screen an algorithm).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from advrecon.attacks.registry import SHIPPED

SRC = Path(__file__).resolve().parents[1] / "src" / "advrecon"
PACKAGES = ("attacks", "experiments", "report")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports (``from pkg import mod`` counts as mod)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".")
                parent = parent if is_pkg else parent[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m in known and m != name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circle_in_the_package():
    mods = _modules()
    graph = {n: _imports(p, n, set(mods)) for n, p in mods.items()}
    assert sum(map(len, graph.values())) > 100  # the walk sees the package's imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def _string_constants(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


@pytest.mark.parametrize("package", ["report", "experiments"])
def test_no_attack_name_outside_the_plugins(package):
    names = set(SHIPPED)
    found = [
        f"{p.relative_to(SRC)}:{line}: {value!r}"
        for p in sorted((SRC / package).rglob("*.py"))
        for line, value in _string_constants(p)
        if value in names
    ]
    assert not found, "\n".join(found)


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(SRC)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_and_functions_are_short(package):
    files = sorted((SRC / package).rglob("*.py"))
    long_modules = [
        f"{p.relative_to(SRC)} ({n} lines)"
        for p in files
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    long_functions = [f for p in files for f in _long_functions(p)]
    assert not long_modules and not long_functions, "\n".join(long_modules + long_functions)
