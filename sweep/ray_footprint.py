"""What Ray Tune keeps per trial for the whole sweep, cut to what mtsweep reads (Ray issue #64231: the
driver's memory grows with the trial count).

- Ray's default ``JsonLoggerCallback`` keeps every trial's config and ``CSVLoggerCallback`` a flag per
  trial for the whole sweep; its TensorBoard logger writes event files nobody here reads. The loggers
  below write the same ``result.json`` / ``params.json`` / ``progress.csv`` and forget a trial at its
  end (``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS``, set by :func:`sweep.driver.ray_session`, keeps Ray from
  adding its own).
- Each Ray ``Trial`` keeps running statistics of every numeric result key (max/min/avg/last-5/last-10:
  ~40 KB a trial with the report contract's keys) and its last result with a copy of the config; all
  of it goes into every experiment snapshot. :class:`FinishedTrialTrimmer` drops the statistics (used
  only by ``ExperimentAnalysis.get_best_trial``, which mtsweep never calls: the study and
  ``trials.jsonl`` hold the verdicts) and the config copy when a trial ends.
"""

from __future__ import annotations

from typing import Any

from ray.tune.callback import Callback
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback


class TrialScopedJsonLogger(JsonLoggerCallback):
    """``result.json`` and ``params.json`` per trial; the trial's config is dropped when it ends."""

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        super().log_trial_end(trial, failed)
        self._trial_configs.pop(trial, None)


class TrialScopedCsvLogger(CSVLoggerCallback):
    """``progress.csv`` per trial; nothing of the trial is kept when it ends."""

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        super().log_trial_end(trial, failed)
        self._trial_continue.pop(trial, None)


class FinishedTrialTrimmer(Callback):
    """Drops a finished trial's per-metric statistics and the config copy in its last result."""

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        trim_finished(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        trim_finished(trial)


def trim_finished(trial: Any) -> None:
    meta = getattr(trial, "run_metadata", None)
    if meta is None:
        return
    meta.metric_analysis = {}
    meta.metric_n_steps = {}
    if "config" in meta.last_result:
        meta.last_result = {k: v for k, v in meta.last_result.items() if k != "config"}


def footprint_callbacks() -> list[Callback]:
    """The result-file loggers and the trimmer, for ``RunConfig(callbacks=...)``."""
    return [TrialScopedJsonLogger(), TrialScopedCsvLogger(), FinishedTrialTrimmer()]
