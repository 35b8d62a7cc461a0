"""Every benchmark script stays runnable as the project moves: ``--help`` exits 0, and every import of a
project module anywhere in bench/ (module level or inside a function, run only on a GPU) names a module
and attribute that exist (the trainable/ reorganisation once left bench/search_efficiency.py failing at
import, unseen by any test)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PROJECT = ("sweep", "trainable", "analysis", "search_spaces", "gpu")
SCRIPTS = sorted(BENCH.glob("*.py"))


def _project_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) of every import of a project module in ``path``."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PROJECT:
                found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:  # bench/gpu's relative imports
            module = "gpu" + ("." + node.module if node.module else "")
            found += [(node.lineno, module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] in PROJECT]
    return found


def test_every_project_import_in_bench_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    files = [*SCRIPTS, *sorted((BENCH / "gpu").glob("*.py"))]
    checked, broken = 0, []
    for path in files:
        for line, module, name in _project_imports(path):
            where = f"{path.relative_to(REPO)}:{line}"
            try:
                mod = importlib.import_module(module)
            except ImportError as err:
                broken.append(f"{where}: {module}: {err}")
                continue
            if name is not None and name != "*" and not hasattr(mod, name):
                try:  # a submodule imported by name
                    importlib.import_module(f"{module}.{name}")
                except ImportError:
                    broken.append(f"{where}: {module} has no {name}")
            checked += 1
    assert checked > 50, checked  # the walk found the imports
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_bench_script_help(script: Path) -> None:
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout
