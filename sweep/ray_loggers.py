"""Ray Tune's per-trial result files (``result.json``, ``params.json``, ``progress.csv``), written by
loggers that forget a trial once it ends.

Ray's default ``JsonLoggerCallback`` keeps every trial's config and ``CSVLoggerCallback`` a flag per
trial for the whole sweep (part of Ray issue #64231: the driver grows with the trial count); its
TensorBoard logger writes event files nobody here reads. :func:`result_file_loggers` replaces the three
(``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS``, set by :func:`sweep.driver.ray_session`, keeps Ray from adding
its own): same files, nothing kept after a trial's end.
"""

from __future__ import annotations

from typing import Any

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


def result_file_loggers() -> list[Any]:
    return [TrialScopedJsonLogger(), TrialScopedCsvLogger()]
