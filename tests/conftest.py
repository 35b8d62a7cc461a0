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
