"""evaluate_adapter: S0 (no adapter) and a trial checkpoint, scored with the real metrics."""

from __future__ import annotations

import pytest

from tests.trainable_tests.trial_helpers import tiny_config
from trainable.eval.evaluate import eval_subset, evaluate_adapter
from trainable.training.reporting import ListReporter
from trainable.trial import run_trial


def test_eval_subset_is_fixed_and_seeded():
    pairs = list(range(100))
    a = eval_subset(pairs, 10, seed=3)  # type: ignore[arg-type]
    assert a == eval_subset(pairs, 10, seed=3) and a == sorted(a) and len(set(a)) == 10
    assert a != eval_subset(pairs, 10, seed=4)  # type: ignore[arg-type]
    assert eval_subset(pairs, None, seed=0) == pairs and eval_subset(pairs, 500, seed=0) == pairs  # type: ignore[arg-type]


@pytest.mark.integration
def test_evaluate_baseline_and_checkpoint(tiny_assets, tmp_path):
    cfg = tiny_config(tiny_assets, max_steps=2, eval_every=2)
    s0 = evaluate_adapter(cfg, None, "test", samples=6)
    assert s0["n"] == 6 and s0["split"] == "test" and s0["adapter"] is None
    assert s0["comet"] is not None and s0["latency_ms"] > 0 and "signature_bleu_char" in s0
    assert not any(isinstance(v, dict) for v in s0.values())
    reporter = ListReporter(tmp_path / "ckpts")
    run_trial(cfg, reporter)
    s1 = evaluate_adapter(cfg, reporter.checkpoints[-1], "dev", samples=8)
    assert s1["n"] == 8 and s1["adapter"].endswith("step_000002")
    assert s1["bleu_char"] == pytest.approx(reporter.final["bleu_char"])  # same subset, same weights
