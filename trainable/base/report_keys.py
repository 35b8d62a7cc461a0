"""The report contract: the keys every eval report of a trial carries (DESIGN.md, "Contracts").

A trainable (ours, the synthetic one, or a user's ``module:function``) reports once per evaluation
through a ``trainable.training.reporting.Reporter``; the sweep, the W&B logger and the analysis read only these keys.
"""

from __future__ import annotations

from typing import Any

# Keys every eval report carries (values may be None where not applicable, never NaN).
STEP = "step"
REQUIRED_KEYS: tuple[str, ...] = (
    "step",  # optimizer steps done
    "loss",  # mean raw train loss since the previous report
    "grad_norm",  # last pre-clip gradient norm
    "lr",  # current learning rate
    "bleu_char",
    "chrf_pp",
    "len_ratio",
    "trunc_rate",  # share of segments cut at max_new_tokens without a stop token (trainable.eval.metrics)
    "runon_rate",  # share of segments longer than runon_ratio x their reference
    "tokens_seen",  # supervised + prompt tokens fed to the model so far
    "wall_s",  # trial wall seconds so far
    "accel_s",  # seconds spent on the accelerator (train + eval compute) so far
)
# Status keys, present on every report.
STATUS_KEYS: tuple[str, ...] = (
    "is_final",  # True on the trial's last report
    "diverged",  # True when a NaN/spike stopped the trial
    "diverged_step",  # step of the first bad update, or None
    "stop_cause",  # None while running; one of STOP_CAUSES on the final report
)

REPEATS_STEP = "repeats_step"
"""Key of a final report that brings no new eval: the step of the eval whose metrics it repeats (a diverged
trial's last good eval, a restored trial's last report). Readers merge it into that eval; never a new one."""

FINAL_FROM_STEP = "final_from_step"
"""Key of every final report: the step whose weights it evaluated (the report's own step, or an early-stopped
trial's front eval whose weights it restored). Readers merge the final report into that eval."""

STOP_CAUSES: tuple[str, ...] = (
    "completed",  # ran to max_steps / end of data
    "early_stopped",  # patience rule fired (no objective improved)
    "nonfinite_loss",
    "nonfinite_grad",
    "loss_spike",
    "grad_spike",
    "nonfinite_metric",  # a (user) trainable reported NaN/inf in an objective, nothing else non-finite
    "no_good_eval",  # diverged before its first eval: no objective values at all
    "pruned",  # stopped by the sweep's scheduler (set by the sweep, not the trainable)
    "error",  # an exception (set by the sweep)
)
DIVERGENCE_CAUSES: tuple[str, ...] = ("nonfinite_loss", "nonfinite_grad", "loss_spike", "grad_spike",
                                      "nonfinite_metric")


def record_trial_key(record: dict[str, Any]) -> tuple[str, Any]:
    """What identifies a trial in the results files (reports.jsonl, trials.jsonl, retention.jsonl; writers
    and readers alike): its Optuna number, else its Ray id (Ray ids change when a trial a killed driver
    asked is re-run after resume)."""
    number = record.get("optuna_number")
    return ("optuna", number) if number is not None else ("ray", record.get("trial_id"))
