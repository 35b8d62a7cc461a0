"""Ray Tune adapter of :class:`sweep.mo_asha.MOASHA` (multi-objective early stopping) that survives resume.

Imports Ray at module level (the class must be importable by name so Ray can pickle it into the
experiment state): import this module only inside the function that builds the Tuner, never from
``sweep/cli.py`` or a command module's top level.

Usage::

    from sweep.mo_asha_ray import make_ray_scheduler
    scheduler = make_ray_scheduler(["comet", "term_acc"], ["max", "max"], grace_steps=100,
                                   reduction_factor=3, max_steps=400, log_path="<results>/rungs.jsonl")
    tune.TuneConfig(search_alg=OptunaSearch(...), scheduler=scheduler, ...)

Each trial meets the rungs below its own ``max_steps`` (its config's ``max_steps``: presets may set
their own). A trial is known by its Optuna number (its config's ``_optuna_number``; the Ray trial id when the
config has none, e.g. under a plain ``OptunaSearch``): a trial the killed driver started after Ray's last
snapshot is re-run under a new Ray id on resume and must stay one entry in its rungs (:func:`trial_key`).
After (or during) the run, ``scheduler.stopped_trials`` maps each trial key it stopped to its rung and
``scheduler.stop_info(trial_id, optuna_number)`` gives ``{"stop_cause": "pruned", "rung": ...}`` so the
recorder can mark that trial PRUNED in Optuna.

Resume: Ray 2.60 never calls a scheduler's ``save``/``restore`` (the controller leaves
``_scheduler_alg`` out of its state; ``Tuner.restore`` unpickles the scheduler as it was pickled into
``tuner.pkl`` when the Tuner was built: empty). So every report recorded in a rung is appended, with the
decision, to ``log_path`` (``rungs.jsonl``) before Ray acts on it, and unpickling replays that log into a
fresh core (:meth:`MultiObjectiveASHAScheduler.restore_from_log`): the resumed scheduler holds exactly
the rungs of the dead one, and so does the recorder that asks it which trials it stopped.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from sweep.mo_asha import MOASHA, Decision
from sweep.study import OPTUNA_NUMBER_KEY
from trainable.base.constraints import active
from trainable.base.finite import is_finite_number
from trainable.base.jsonl import append_jsonl, read_records

logger = logging.getLogger(__name__)


def trial_key(trial_id: str, optuna_number: Any = None) -> str:
    """A trial's key in the rungs: its Optuna number when known, else its Ray trial id."""
    return str(optuna_number) if optuna_number is not None else str(trial_id)


class MultiObjectiveASHAScheduler(FIFOScheduler):
    """Stops trials that fall out of the top ``1/eta`` (by non-dominated rank) at a rung."""

    _supports_buffered_results = False  # decide on every report, not on a buffered batch

    def __init__(self, core: MOASHA, *, log_path: str | Path | None = None, max_steps_key: str = "max_steps") -> None:
        super().__init__()
        self.core = core
        self.log_path = str(log_path) if log_path else None
        """Rung log (one JSON line per recorded report); None: state lives in memory only."""
        self.max_steps_key = max_steps_key
        """Trial-config key holding a trial's own length."""
        self.replayed = 0
        """Rung reports replayed from the log when this object was unpickled (``mtsweep resume``)."""
        self._added: dict[str, int] = {}  # live trial id -> order added (FIFO without scanning every trial)
        self._next = 0

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_added": {}, "_next": 0}  # order of this driver's trials: a resume re-adds them

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"log_path": None, "max_steps_key": "max_steps", "replayed": 0, "_added": {}, "_next": 0, **state})
        for name, empty in (("constraints", {}), ("infeasible", {})):  # a core pickled before these existed
            self.core.__dict__.setdefault(name, empty)
        self.restore_from_log()

    @property
    def stopped_trials(self) -> dict[str, int]:
        """Trial key (:func:`trial_key`) -> rung level at which this scheduler stopped it."""
        return self.core.stopped

    def stop_info(self, trial_id: str, optuna_number: Any = None) -> dict[str, Any] | None:
        """``{"stop_cause": "pruned", "rung": level}`` for a trial this scheduler stopped, else None."""
        rung = self.core.stopped.get(trial_key(trial_id, optuna_number))
        return None if rung is None else {"stop_cause": "pruned", "rung": rung}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        # Objectives are given at construction; TuneConfig has no multi-objective metric/mode.
        return True

    def trial_max_steps(self, config: dict[str, Any]) -> int | None:
        """The trial's own length from its config (None: the core's default)."""
        value = config.get(self.max_steps_key)
        return int(value) if is_finite_number(value) else None

    # --- which trial runs next: FIFO, as Ray's, over the live trials only --------------------
    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._added[trial.trial_id] = self._next
        self._next += 1

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self._added.pop(trial.trial_id, None)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self._added.pop(trial.trial_id, None)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._added.pop(trial.trial_id, None)

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        """The earliest added PENDING trial, else the earliest PAUSED one, else None: Ray's FIFO choice,
        which scans every trial of the sweep at every controller step (O(trials) per step)."""
        live = tune_controller.get_live_trials()
        for status in ("PENDING", "PAUSED"):
            waiting = [t for t in live if t.status == status]
            if waiting:
                return min(waiting, key=lambda t: self._added.get(t.trial_id, len(self._added)))
        return None

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        step = result.get(self.core.step_key)
        if not is_finite_number(step):
            return TrialScheduler.CONTINUE
        step, max_steps = int(step), self.trial_max_steps(trial.config)
        number = trial.config.get(OPTUNA_NUMBER_KEY)
        key = trial_key(trial.trial_id, number)
        rung = self.core.rung_for(key, step, result, max_steps)
        decision = self.core.on_result(key, step, result, max_steps)
        if rung is not None:
            self._log(trial.trial_id, step, max_steps, rung, result, decision, number)
        return TrialScheduler.STOP if decision is Decision.STOP else TrialScheduler.CONTINUE

    # --- the rung log ----------------------------------------------------------------------
    def _log(self, trial_id: str, step: int, max_steps: int | None, rung: int, result: dict[str, Any],
             decision: Decision, optuna_number: int | None = None) -> None:
        if not self.log_path:
            return
        keys = [*self.core.objectives, *active(self.core.constraints)]
        record = {"trial_id": trial_id, "optuna_number": optuna_number, "step": step, "max_steps": max_steps, "rung": rung,
                  "metrics": {k: result.get(k) for k in dict.fromkeys(keys)}, "decision": decision.value,
                  "time": time.time()}  # fmt: skip
        try:
            append_jsonl(Path(self.log_path), record)
        except OSError as err:  # never let bookkeeping kill the sweep; a resume would forget this decision
            logger.warning("MO-ASHA could not append to its rung log %s: %s", self.log_path, err)

    def restore_from_log(self) -> int:
        """Replay the rung log into an empty core (the state the dead driver's scheduler had); returns
        how many reports were replayed. A replayed decision that differs from the logged one is warned."""
        if not self.log_path:
            return 0
        self.core.reset()
        records = read_records(Path(self.log_path))
        for r in records:
            key = trial_key(r["trial_id"], r.get("optuna_number"))
            decision = self.core.on_result(key, int(r["step"]), r["metrics"], r.get("max_steps"))
            if decision.value != r.get("decision"):
                logger.warning("MO-ASHA replay of %s at step %s decided %s, the log says %s",
                               r["trial_id"], r["step"], decision.value, r.get("decision"))  # fmt: skip
        self.replayed = len(records)
        if records:
            logger.info("MO-ASHA: %d rung reports replayed from %s (%s)", self.replayed, self.log_path, self.core.debug_string())
        return self.replayed

    def debug_string(self) -> str:
        return "Using " + self.core.debug_string()


def make_ray_scheduler(objectives: list[str], modes: list[str], *, log_path: str | Path | None = None,
                       **options: Any) -> MultiObjectiveASHAScheduler:
    """Build the Ray Tune scheduler; ``options`` are :class:`sweep.mo_asha.MOASHA`'s keyword arguments
    (validated there: ValueError naming the bad one); ``log_path``: the rung log (resume-safe state)."""
    return MultiObjectiveASHAScheduler(MOASHA(objectives, modes, **options), log_path=log_path)
