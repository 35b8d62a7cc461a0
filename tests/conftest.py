"""Shared fixtures: tiny offline assets built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

# One intra-op thread per process: on 2 shared cores torch's default (2 threads) makes the tiny model
# 10x slower under load, and Ray trial workers already get OMP_NUM_THREADS=1. Set before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("WANDB_SILENT", "true")

import pytest


@pytest.fixture(scope="session")
def tiny_comet_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Checkpoint path of a tiny, randomly initialised COMET model (built offline, once per session)."""
    from trainable.testing.tiny_comet import build_tiny_comet

    return build_tiny_comet(tmp_path_factory.mktemp("tiny_comet"))


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory: pytest.TempPathFactory):
    """Toy Qwen2 LM + tokenizer (pre-trained briefly on the sample data) and tiny COMET, built once per session."""
    from trainable.testing.tiny_assets import make_tiny_assets

    return make_tiny_assets(tmp_path_factory.mktemp("tiny_assets"))


SYNTHETIC_PRESETS = """
presets:
  - {name: diverges_mid, lr: 2.0e-4, lora_r: 16, lora_alpha: 32, masking: full, quantization: nf4}
  - {name: diverges_first, lr: 5.0e-4, lora_r: 16, lora_alpha: 32, masking: full, quantization: nf4}
"""
"""Effective lr 4e-4 diverges after the first eval (its final report repeats that eval); 1e-3 diverges
before any eval (``no_good_eval``): trainable/testing/synthetic.py's divergence rule."""


@pytest.fixture(scope="session")
def synthetic_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real results folder: ``mtsweep run`` (a subprocess with its own local Ray) of 6 synthetic trials,
    one diverging after its first eval and one before it. Read-only for tests: copy it to change it."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    root = tmp_path_factory.mktemp("synthetic_results")
    space = root / "space.yaml"
    space.write_text((repo / "search_spaces" / "default.yaml").read_text(encoding="utf-8") + SYNTHETIC_PRESETS)
    out = root / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "run", str(repo / "sweep" / "configs" / "synthetic.yaml"),
         "--out", str(out), "--set", "num_trials=6", "--set", f"search_space={space}", "--live-every", "0",
         "--num-cpus", "2"],
        capture_output=True, text=True, timeout=600, cwd=repo,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out
