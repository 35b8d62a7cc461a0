"""The analyst's install: ``pip install mtsweep`` (no extra) into a fresh venv has no training stack and
runs ``mtsweep pareto`` and ``mtsweep status`` on a results folder copied from where the sweep ran."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TRAINING_STACK = ("torch", "transformers", "peft", "bitsandbytes", "unbabel-comet", "ray", "trl", "wandb")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # nothing of this tree
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


@pytest.mark.integration
def test_light_install_runs_pareto_and_status_on_a_copied_results_folder(synthetic_results: Path,
                                                                          tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, mtsweep = venv / "bin" / "python", venv / "bin" / "mtsweep"
    src = tmp_path / "src"  # a clean copy of the source tree (no build folders or eggs of this checkout)
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "build", "__pycache__",
                                                                ".pytest_cache", ".ruff_cache", "sweeps", "demo_out"))
    started = time.monotonic()
    proc = _run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(src)], timeout=600)
    install_s = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    installed = _run([str(py), "-m", "pip", "list", "--format=freeze"], check=True).stdout.lower()
    names = {line.split("==")[0] for line in installed.splitlines()}
    assert not names & set(TRAINING_STACK), names & set(TRAINING_STACK)
    print(f"light install: {install_s:.0f} s, {_size_mb(venv):.0f} MB ({len(names)} packages)")

    results = tmp_path / "copied"  # as if rsync'ed down from the cluster: the recorded paths are elsewhere
    shutil.copytree(synthetic_results, results)
    pareto = _run([str(mtsweep), "pareto", str(results)], cwd=tmp_path, timeout=300)
    assert pareto.returncode == 0, pareto.stdout[-2000:] + pareto.stderr[-2000:]
    assert "Pareto front, trial level" in pareto.stdout and "hypervolume" in pareto.stdout
    for name in ("pareto.csv", "pareto.md", "pareto.tex", "pareto.json", "pareto.png", "pareto.html", "trials.csv"):
        assert (results / "pareto" / name).is_file(), name
    status = _run([str(mtsweep), "status", str(results)], cwd=tmp_path, timeout=300)
    assert status.returncode == 0, status.stdout[-2000:] + status.stderr[-2000:]
    assert "6/6 trials" in status.stdout and "COMPLETE" in status.stdout
    # nothing of the training stack was imported on the way (it is not even installed)
    probe = _run([str(py), "-c", "import analysis.loading, sweep.commands.status; import torch"], cwd=tmp_path)
    assert "No module named 'torch'" in probe.stderr
