"""The Ray Tune callback that feeds :class:`sweep.retention.Retention` on the driver (``retention: front``).

It pairs each report with the checkpoint Ray persisted for it, tells the policy when a trial ends, and
applies the policy at most every :attr:`RetentionCallback.every_s` seconds and once at the end of the
experiment (after Ray's final snapshot). Housekeeping never ends a sweep: errors are logged.
Imports Ray at module level: import it only where Ray runs (sweep/tuner.py).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ray.tune.callback import Callback

from sweep.retention import Retention
from sweep.study import OPTUNA_NUMBER_KEY
from trainable.base.report_keys import record_trial_key

logger = logging.getLogger(__name__)


class RetentionCallback(Callback):
    """Checkpoint retention for one sweep (see sweep/retention.py)."""

    every_s: float = 2.0
    """Least seconds between two passes over the checkpoints while the sweep runs."""

    def __init__(self, results_dir: str | Path, objectives: list[str], modes: list[str],
                 constraints: dict[str, Any] | None = None) -> None:
        self.retention = Retention(results_dir, objectives, modes, constraints)
        self._last_result: dict[str, dict[str, Any]] = {}
        self._last_pass = 0.0

    def __getstate__(self) -> dict[str, Any]:  # Ray pickles callbacks with the Tuner: rebuilt from files
        state = self.__dict__.copy()
        state["retention"] = Retention(self.retention.results_dir, self.retention.objectives, self.retention.modes,
                                       self.retention.constraints)
        state.update(_last_result={}, _last_pass=0.0)
        return state

    @staticmethod
    def _key(trial: Any) -> Any:
        return record_trial_key({"optuna_number": trial.config.get(OPTUNA_NUMBER_KEY), "trial_id": trial.trial_id})

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._last_result[trial.trial_id] = result

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        path = getattr(checkpoint, "path", None)
        if not path:
            return
        metrics = self._last_result.get(trial.trial_id) or dict(getattr(trial, "last_result", None) or {})
        self._guarded(self.retention.add, self._key(trial), str(Path(path).resolve()), metrics)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._last_result.pop(trial.trial_id, None)
        self._guarded(self.retention.finish, self._key(trial))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.on_trial_complete(iteration, trials, trial)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        now = time.monotonic()
        if now - self._last_pass >= self.every_s:
            self._last_pass = now
            self._guarded(self.retention.apply)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._guarded(self.retention.apply)

    @staticmethod
    def _guarded(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as err:  # housekeeping never ends a sweep
            logger.warning("checkpoint retention: %s: %s", type(err).__name__, err)
            return None
