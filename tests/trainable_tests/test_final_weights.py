"""An early-stopped trial ends on the newest eval of its own front: its final report (and checkpoint)
carry that eval's weights and metrics, and name its step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainable_tests.trial_helpers import tiny_config
from trainable.base.metric_names import TABLE_METRICS
from trainable.eval.evaluate import evaluate_adapter
from trainable.training.reporting import ListReporter
from trainable.trial import run_trial


@pytest.mark.integration
def test_early_stopped_trial_reports_the_newest_undominated_checkpoint(tiny_assets, tmp_path: Path) -> None:
    reporter = ListReporter(tmp_path / "checkpoints")
    # lr 1e-2 overshoots on the toy model: the step-8 eval is worse than step 4 on both objectives
    cfg = tiny_config(tiny_assets, lr=1e-2, max_steps=16, early_stop_rule="any_objective_improved",
                      objectives=["bleu_char", "chrf_pp"], comet_model="none")
    final = run_trial(cfg, reporter)
    assert final["stop_cause"] == "early_stopped" and final["step"] == 8
    assert final["final_from_step"] == 4
    evals = {r["step"]: r for r in reporter.reports if not r["is_final"]}
    assert sorted(evals) == [4, 8]
    assert evals[4]["bleu_char"] > evals[8]["bleu_char"] and evals[4]["chrf_pp"] > evals[8]["chrf_pp"]
    keys = ("bleu_char", "chrf_pp", "term_acc", "n", *TABLE_METRICS)
    assert {k: final[k] for k in keys} == {k: evals[4][k] for k in keys}
    # the final checkpoint holds the step-4 weights: evaluating it gives the step-4 eval again
    again = evaluate_adapter(cfg, reporter.checkpoints[-1], samples=cfg.eval_samples)
    assert {k: again[k] for k in keys} == {k: evals[4][k] for k in keys}
