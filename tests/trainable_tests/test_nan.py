"""NaN-aware trials: injected non-finite loss / grads and a loss spike stop the trial in that step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.trainable_tests.trial_helpers import OBJECTIVE_KEYS, tiny_config
from trainable.base.report_keys import REQUIRED_KEYS, STATUS_KEYS
from trainable.training.reporting import ListReporter
from trainable.trial import run_trial

pytestmark = pytest.mark.integration


def run(tiny_assets, tmp_path: Path, **overrides) -> ListReporter:
    reporter = ListReporter(tmp_path / "ckpts")
    final = run_trial(tiny_config(tiny_assets, **overrides), reporter)
    assert final == reporter.final and final["is_final"] is True
    for report in reporter.reports:
        json.dumps(report, allow_nan=False)  # never NaN/inf in a report
        assert set(REQUIRED_KEYS) | set(STATUS_KEYS) <= set(report)
    return reporter


@pytest.mark.parametrize(
    ("kind", "cause", "extra"),
    [
        ("nan_loss", "nonfinite_loss", {}),
        ("nan_grad", "nonfinite_grad", {}),
        ("loss_spike", "loss_spike", {"spike_zscore_loss": 6.0, "spike_min_history": 3}),
    ],
)
def test_fault_stops_in_that_step_with_last_good_metrics(tiny_assets, tmp_path, kind, cause, extra):
    reporter = run(tiny_assets, tmp_path, inject_fault_step=6, inject_fault_kind=kind, **extra)
    *evals, final = reporter.reports
    assert [r["step"] for r in evals] == [4]  # the eval at step 8 never happened
    good = evals[-1]
    assert final["diverged"] is True and final["diverged_step"] == 6
    assert final["stop_cause"] == cause == final["divergence_cause"]
    for key in (*OBJECTIVE_KEYS, "step", "loss"):
        assert final[key] == good[key]
    assert good["comet"] is not None
    # the last checkpoint is the one reported with the step-4 eval; nothing written after step 6
    assert reporter.checkpoints[-1] is None
    last_ckpt = Path(reporter.checkpoints[0])
    assert last_ckpt.name.endswith("step_000004")
    state = json.loads((last_ckpt / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["last_good_eval"]["comet"] == good["comet"]
    assert sorted(p.name for p in (tmp_path / "ckpts").iterdir()) == [last_ckpt.name]


@pytest.mark.parametrize(("kind", "cause"), [("nan_loss", "nonfinite_loss"), ("nan_grad", "nonfinite_grad"),
                                           ("loss_spike", "loss_spike")])
def test_fault_is_caught_in_its_step_with_the_step_graph(tiny_assets, tmp_path, kind, cause):
    """``compile: step-graph`` (CPU: its fixed-shape code without capture): the fault enters through the
    graph's own static hooks and the guard, reading the raw loss and pre-clip norm, stops at that step."""
    reporter = run(tiny_assets, tmp_path, compile="step-graph", inject_fault_step=3, inject_fault_kind=kind,
                   max_steps=4, comet_model="none", objectives=["chrf_pp", "term_acc"], eval_samples=4,
                   max_new_tokens=4, spike_zscore_loss=6.0, spike_min_history=2)
    final = reporter.final
    assert final["diverged_step"] == 3 and final["divergence_cause"] == cause and final["step"] == 2
    assert final["compile_mode"] == "step-graph" and reporter.checkpoints == [None]


def test_divergence_before_the_first_eval_has_no_objectives(tiny_assets, tmp_path):
    reporter = run(tiny_assets, tmp_path, inject_fault_step=2, inject_fault_kind="nan_loss")
    (final,) = reporter.reports
    assert final["stop_cause"] == "no_good_eval" and final["divergence_cause"] == "nonfinite_loss"
    assert final["diverged"] is True and final["diverged_step"] == 2 and final["step"] == 1
    assert "comet" not in final and "term_acc" not in final
    assert final["bleu_char"] is None and final["loss"] is not None
    assert reporter.checkpoints == [None]


def test_skip_policy_drops_the_update_and_goes_on(tiny_assets, tmp_path):
    reporter = run(
        tiny_assets, tmp_path, inject_fault_step=3, inject_fault_kind="nan_grad", nan_policy="skip", max_skips=1
    )
    final = reporter.final
    assert [r["step"] for r in reporter.reports] == [4, 8]
    assert final["stop_cause"] == "completed" and final["diverged"] is False
    assert final["skipped_steps"] == 1 and final["comet"] is not None
