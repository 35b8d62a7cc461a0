"""Ray Tune adapter of :class:`sweep.mo_asha.MOASHA` (multi-objective early stopping).

Imports Ray at module level (the class must be importable by name so Ray can pickle it into the
experiment state): import this module only inside the function that builds the Tuner, never from
``sweep/cli.py`` or a command module's top level.

Usage::

    from sweep.mo_asha_ray import make_ray_scheduler
    scheduler = make_ray_scheduler(["comet", "term_acc"], ["max", "max"], grace_steps=100,
                                   reduction_factor=3, max_steps=400)
    tune.TuneConfig(search_alg=OptunaSearch(...), scheduler=scheduler, ...)

After (or during) the run, ``scheduler.stopped_trials`` maps each trial id it stopped to its rung and
``scheduler.stop_info(trial_id)`` gives ``{"stop_cause": "pruned", "rung": ...}`` so the recorder can
mark that trial PRUNED in Optuna.
"""

from __future__ import annotations

import pickle
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from sweep.mo_asha import MOASHA, Decision


class MultiObjectiveASHAScheduler(FIFOScheduler):
    """Stops trials that fall out of the top ``1/eta`` (by non-dominated rank) at a rung."""

    _supports_buffered_results = False  # decide on every report, not on a buffered batch

    def __init__(self, core: MOASHA) -> None:
        super().__init__()
        self.core = core

    @property
    def stopped_trials(self) -> dict[str, int]:
        """Trial id -> rung level at which this scheduler stopped it."""
        return self.core.stopped

    def stop_info(self, trial_id: str) -> dict[str, Any] | None:
        """``{"stop_cause": "pruned", "rung": level}`` for a trial this scheduler stopped, else None."""
        rung = self.core.stopped.get(trial_id)
        return None if rung is None else {"stop_cause": "pruned", "rung": rung}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        # Objectives are given at construction; TuneConfig has no multi-objective metric/mode.
        return True

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        step = result.get(self.core.step_key)
        if step is None or result.get("is_final") or result.get("diverged"):
            return TrialScheduler.CONTINUE  # the trial ends itself; its last good values are recorded
        decision = self.core.on_result(trial.trial_id, int(step), result)
        return TrialScheduler.STOP if decision is Decision.STOP else TrialScheduler.CONTINUE

    def debug_string(self) -> str:
        return "Using " + self.core.debug_string()

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(self.__dict__, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self.__dict__.update(pickle.load(fh))


def make_ray_scheduler(objectives: list[str], modes: list[str], **options: Any) -> MultiObjectiveASHAScheduler:
    """Build the Ray Tune scheduler; ``options`` are :class:`sweep.mo_asha.MOASHA`'s keyword arguments
    (validated there: ValueError naming the bad one)."""
    return MultiObjectiveASHAScheduler(MOASHA(objectives, modes, **options))
