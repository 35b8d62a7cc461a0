"""Imports run one way: CLI -> sweep -> trainable / search_spaces / analysis -> the base (trainable/base/).

Every import statement of every module is read with ``ast`` (function-level imports included, so a lazy
import cannot hide a wrong direction)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sweep", "trainable", "search_spaces", "analysis")
BASE = "trainable.base"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path, module: str | None = None) -> set[str]:
    """The project modules ``path`` (module ``module``) imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = (module or _module_name(path)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] if base else []
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in PACKAGES)
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((REPO / package.replace(".", "/")).rglob("*.py"))


def _in(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


RULES = [
    # (package, predicate for an allowed project import, what the rule says)
    (BASE, lambda n: _in(n, BASE), "the base imports nothing else of the project"),
    ("analysis", lambda n: _in(n, "analysis") or _in(n, BASE), "analysis imports only itself and the base"),
    ("search_spaces", lambda n: _in(n, "search_spaces") or _in(n, BASE),
     "search_spaces imports only itself and the base"),
    ("trainable", lambda n: not _in(n, "sweep") and not _in(n, "analysis"),
     "trainable never imports sweep (nor analysis)"),
]


@pytest.mark.parametrize(("package", "allowed", "rule"), RULES, ids=[r[0] for r in RULES])
def test_import_direction(package: str, allowed, rule: str) -> None:
    wrong = sorted(
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules_of(package)
        for name in project_imports(path)
        if not allowed(name)
    )
    assert not wrong, f"{rule}:\n" + "\n".join(wrong)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The rule would catch a function-level import (the way heavy or backward imports hide)."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from sweep.study import CURVE_ATTR\n    from .front import Point\n")
    assert project_imports(probe, "analysis.probe") == {"sweep.study.CURVE_ATTR", "analysis.front.Point"}
