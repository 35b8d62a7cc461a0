"""The SYNTHETIC trainable: curves, trade-off, divergence, report contract, resume."""

from __future__ import annotations

import json
import math

import pytest

from trainable.base.report_keys import REQUIRED_KEYS, STATUS_KEYS, STOP_CAUSES
from trainable.testing.synthetic import divergence_step, run_synthetic_trial, synthetic_metrics
from trainable.training.reporting import ListReporter

STABLE = {
    "lr": 1.3e-4,
    "lora_r": 16,
    "lora_alpha": 16,
    "masking": "full",
    "lora_dropout": 0.05,
    "quantization": "nf4",
}


def weighted(w: float) -> dict:
    return {**STABLE, "masking": "weighted", "prompt_loss_weight": w}


def test_metrics_are_deterministic_and_seeded():
    assert synthetic_metrics(STABLE, 200) == synthetic_metrics(dict(STABLE), 200)
    assert synthetic_metrics({**STABLE, "seed": 1}, 200)["comet"] != synthetic_metrics(STABLE, 200)["comet"]


def test_prompt_loss_weight_is_a_real_trade_off():
    points = [synthetic_metrics(weighted(w), 400) for w in (0.0, 0.5, 1.0)]
    comets = [p["comet"] for p in points]
    terms = [p["term_acc"] for p in points]
    assert comets[0] < comets[1] < comets[2]  # more prompt loss: more fluent
    assert terms[0] > terms[1] > terms[2]  # less prompt loss: better terminology


def test_tiny_learning_rates_barely_move_and_good_ones_learn():
    base = synthetic_metrics(STABLE, 0)["comet"]
    tiny = synthetic_metrics({**STABLE, "lr": 3e-6}, 400)["comet"]
    good = synthetic_metrics(STABLE, 400)["comet"]
    assert abs(tiny - base) < 0.01 < good - base


def test_too_high_learning_rate_diverges_with_nan():
    hot = {**STABLE, "lr": 5e-4, "lora_alpha": 32}
    div = divergence_step(hot)
    assert div is not None and div < 400
    assert math.isnan(synthetic_metrics(hot, div)["loss"])
    assert divergence_step(STABLE) is None
    # bf16 tolerates a higher effective lr than NF4
    edge = {**STABLE, "lr": 3.5e-4}
    assert divergence_step(edge) is not None and divergence_step({**edge, "quantization": "bf16"}) is None


def check_contract(report: dict) -> None:
    for key in REQUIRED_KEYS + STATUS_KEYS:
        assert key in report, key
    json.dumps(report, allow_nan=False)
    assert report["stop_cause"] is None or report["stop_cause"] in STOP_CAUSES


def test_trainable_reports_every_eval_and_checkpoints(tmp_path):
    reporter = ListReporter(tmp_path)
    final = run_synthetic_trial(
        {**STABLE, "eval_every": 50, "max_steps": 175, "_ignored": object()}, reporter=reporter
    )
    assert [r["step"] for r in reporter.reports] == [50, 100, 150, 175]
    for report in reporter.reports:
        check_contract(report)
        assert math.isfinite(report["comet"]) and math.isfinite(report["term_acc"])
    assert [r["is_final"] for r in reporter.reports] == [False, False, False, True]
    assert final["stop_cause"] == "completed" and final["diverged"] is False
    assert all(c is not None for c in reporter.checkpoints)
    assert final["comet"] == pytest.approx(synthetic_metrics(STABLE, 175)["comet"])


def test_diverging_trial_ends_with_last_good_metrics(tmp_path):
    hot = {**STABLE, "lr": 3.2e-4, "eval_every": 20, "max_steps": 400}
    div = divergence_step(hot)
    assert div is not None and div > 20
    reporter = ListReporter(tmp_path)
    final = run_synthetic_trial(hot, reporter=reporter)
    check_contract(final)
    last_good = reporter.reports[-2]
    assert (
        final["diverged"] is True
        and final["diverged_step"] == div
        and final["stop_cause"] == "nonfinite_loss"
    )
    assert final["comet"] == last_good["comet"] and final["step"] == last_good["step"] < div
    assert reporter.checkpoints[-1] is None  # nothing written after the bad step is kept
    assert all(math.isfinite(r["comet"]) for r in reporter.reports)


def test_diverging_before_first_eval_has_no_objectives(tmp_path):
    hot = {**STABLE, "lr": 5e-4, "lora_alpha": 64, "eval_every": 100}
    assert divergence_step(hot) < 100
    reporter = ListReporter(tmp_path)
    final = run_synthetic_trial(hot, reporter=reporter)
    assert len(reporter.reports) == 1
    check_contract(final)
    assert final["stop_cause"] == "no_good_eval" and final["divergence_cause"] == "nonfinite_loss"
    assert "comet" not in final and "term_acc" not in final


def test_resume_from_checkpoint_continues_where_it_stopped(tmp_path):
    config = {**STABLE, "eval_every": 50, "max_steps": 200}
    first = ListReporter(tmp_path / "a")
    run_synthetic_trial({**config, "max_steps": 100}, reporter=first)  # "crashed" after step 100
    resumed = ListReporter(tmp_path / "b", restore_from=first.checkpoints[-1])
    final = run_synthetic_trial(config, reporter=resumed)
    assert [r["step"] for r in resumed.reports] == [150, 200]
    assert final["comet"] == synthetic_metrics(STABLE, 200)["comet"]


def test_work_s_sleeps_and_counts_accelerator_seconds(tmp_path):
    reporter = ListReporter()
    final = run_synthetic_trial(
        {**STABLE, "eval_every": 10, "max_steps": 20, "work_s": 0.01}, reporter=reporter
    )
    assert final["accel_s"] == pytest.approx(0.02)
    assert final["wall_s"] >= 0.02
