"""The training package has no import circles: every module imports first in a fresh interpreter,
and the graph of its module-level imports inside the package is acyclic."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import advrecon.training

PACKAGE = Path(advrecon.training.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _package_imports(module: str) -> set[str]:
    """Modules of ``advrecon.training`` that ``module`` imports at module level."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions run later
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["advrecon", "training"] and len(parts) > 2 and parts[2] in MODULES:
                found.add(parts[2])
    return found


def test_package_has_the_expected_modules():
    assert {"config", "steps", "io", "loop", "commands"} <= set(MODULES)


def test_module_level_imports_are_acyclic():
    graph = {m: _package_imports(m) for m in MODULES}
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, f"import circle: {' -> '.join(path + (m,))}"
        if m in done:
            return
        for dep in graph[m]:
            visit(dep, path + (m,))
        done.add(m)

    for m in MODULES:
        visit(m, ())
    assert graph["loop"] >= {"config", "io", "steps"}  # the check sees real imports


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    code = f"import advrecon.training.{module}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_command_module_does_not_import_torch():
    code = "import sys, advrecon.training.commands; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
