"""Build the Ray Tune ``Tuner`` of a sweep: OptunaSearch (multi-objective, NaN-safe), concurrency limit,
the multi-objective early-stopping scheduler, per-trial resources, results files and a live table.

Imports Ray and Optuna at module level: import this module only inside a command's ``run``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.callback import Callback
from ray.tune.search import ConcurrencyLimiter

from sweep.config import SweepConfig, base_trial_config, scheduler_steps
from sweep.preflight import import_trainable
from sweep.recording import RecordingOptunaSearch, ResultsFileCallback
from sweep.records import OPTUNA_NUMBER_KEY, make_sampler, make_storage
from sweep.results_dir import RAY_DIR, RUNGS_JSONL
from sweep.trial_table import format_table, short_params
from trainable.errors import InputError


def with_resources(fn: Callable[..., Any], cfg: SweepConfig) -> Any:
    """The trainable with its per-trial reservation (fractional GPUs pack trials onto one GPU)."""
    return tune.with_resources(
        fn, {"cpu": cfg.resources.cpus_per_trial, "gpu": cfg.resources.gpus_per_trial}
    )


def param_keys(space: Any) -> list[str]:
    """Trial-config keys that make up a trial's ``params`` in the results files."""
    keys = list(space.param_names) + sorted(space.trial_keys() - set(space.param_names))
    return keys + ["_preset"]


def make_scheduler(cfg: SweepConfig, results_dir: Path | None = None) -> Any:
    """The multi-objective ASHA scheduler (its rung log in ``results_dir``), or None when
    ``scheduler.mo_asha`` is off. Trials meet the rungs below their own ``max_steps``; the base trial's
    is the default."""
    if not cfg.scheduler.mo_asha:
        return None
    from sweep.mo_asha_ray import make_ray_scheduler

    grace_steps, max_steps = scheduler_steps(cfg)
    try:
        return make_ray_scheduler(
            list(cfg.objectives),
            cfg.modes,
            grace_steps=grace_steps,
            reduction_factor=cfg.scheduler.reduction_factor,
            max_steps=max_steps,
            tie_break=cfg.scheduler.tie_break,
            constraints=cfg.constraints,
            log_path=None if results_dir is None else Path(results_dir) / RUNGS_JSONL,
        )
    except ValueError as err:
        raise InputError("scheduler", str(err)) from None


@dataclass
class SweepParts:
    """What :func:`build_tuner` made, for the command that runs it."""

    tuner: Any
    searcher: RecordingOptunaSearch
    storage: Any
    scheduler: Any


def study_exists(storage: Any, study_name: str) -> bool:
    import optuna

    return any(s.study_name == study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False))


def build_tuner(cfg: SweepConfig, results_dir: Path, *, live_every_s: float = 10.0) -> SweepParts:
    """A fresh ``Tuner`` writing into ``results_dir`` (``sweep.yaml`` already there)."""
    from search_spaces.loader import load_search_space

    space = load_search_space(cfg.search_space)
    storage_url = cfg.storage_url(results_dir)
    storage = make_storage(storage_url)
    study_name = cfg.resolved_study_name
    if study_exists(storage, study_name):
        raise InputError(
            "study_name", f"study {study_name!r} already exists in {storage_url} (choose another study_name)"
        )
    scheduler = make_scheduler(cfg, results_dir)
    searcher = RecordingOptunaSearch(
        space=space.define_by_run,
        metric=list(cfg.objectives),
        mode=cfg.modes,
        points_to_evaluate=[dict(p) for p in space.presets[: cfg.num_trials]] or None,
        sampler=make_sampler(cfg.sampler, seed=cfg.seed, population_size=cfg.resolved_population_size,
                             num_trials=cfg.num_trials),
        study_name=study_name,
        storage=storage,
        scheduler=scheduler,
        constraints=cfg.constraints,
    )
    callbacks: list[Callback] = [
        ResultsFileCallback(
            results_dir, storage_url=storage_url, study_name=study_name, objectives=list(cfg.objectives),
            param_keys=param_keys(space),
        ),
        LiveTable(list(cfg.objectives), every_s=live_every_s, scheduler=scheduler),
    ]
    if cfg.wandb.mode != "off":  # W&B dashboards (issue "Cluster and tracking")
        from sweep.wandb_logging import WandbTrialLogger

        callbacks.append(WandbTrialLogger(results_dir=results_dir, sweep_name=results_dir.name, project=cfg.wandb.project,
                                          mode=cfg.wandb.mode, objectives=list(cfg.objectives)))
    tune_config = tune.TuneConfig(
        search_alg=ConcurrencyLimiter(searcher, max_concurrent=cfg.max_concurrent),
        scheduler=scheduler,
        num_samples=cfg.num_trials,
        reuse_actors=cfg.reuse_actors,  # off: a finished trial's process exits, all its GPU memory with it
    )
    run_config = tune.RunConfig(
        name=RAY_DIR,
        storage_path=str(results_dir),
        failure_config=tune.FailureConfig(max_failures=cfg.max_failures),
        callbacks=callbacks,
        verbose=0,  # the live table replaces Ray's own progress output
    )
    trainable = with_resources(import_trainable(cfg.trainable), cfg)
    tuner = tune.Tuner(trainable, param_space=base_trial_config(cfg), tune_config=tune_config, run_config=run_config)
    return SweepParts(tuner=tuner, searcher=searcher, storage=storage, scheduler=scheduler)


class LiveTable(Callback):
    """Prints a compact trial table (status, step, objectives, params) every ``every_s`` seconds
    when something changed, and once more at the end."""

    def __init__(self, objectives: list[str], *, every_s: float = 10.0, stream: Any = None, scheduler: Any = None) -> None:
        self.objectives = list(objectives)
        self.scheduler = scheduler  # MO-ASHA: tells which trials it stopped ("pruned")
        self.every_s = every_s
        self.stream = stream
        self._last_print = 0.0
        self._dirty = False
        self._started = time.monotonic()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["stream"] = None
        return state

    def _out(self) -> Any:
        return self.stream or sys.stdout

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._dirty = True

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._dirty = True

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._dirty = True

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        now = time.monotonic()
        if self._dirty and now - self._last_print >= self.every_s:
            self.print_table(trials)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.print_table(trials)

    def print_table(self, trials: list) -> None:
        self._last_print = time.monotonic()
        self._dirty = False
        counts: dict[str, int] = {}
        rows = []
        for t in trials:
            counts[t.status] = counts.get(t.status, 0) + 1
            last = t.last_result or {}
            rows.append(
                [t.trial_id, t.config.get(OPTUNA_NUMBER_KEY), t.status, last.get("step"),
                 *[last.get(o) for o in self.objectives], self._stop_cause(t, last),
                 short_params({k: v for k, v in t.config.items() if k in _searched(t)})]
            )
        elapsed = time.monotonic() - self._started
        summary = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
        headers = ["trial", "#", "status", "step", *self.objectives, "stop", "params"]
        print(f"\n[{elapsed:7.1f}s] trials: {summary}", file=self._out())
        print(format_table(headers, rows), file=self._out(), flush=True)


    def _stop_cause(self, trial: Any, last: dict) -> str | None:
        info = getattr(self.scheduler, "stop_info", lambda _: None)(trial.trial_id)
        return last.get("stop_cause") or (info or {}).get("stop_cause")


def _searched(trial: Any) -> set[str]:
    """Keys of a trial's config that the search set (Ray records them as the evaluated params)."""
    evaluated = getattr(trial, "evaluated_params", None) or {}
    return {k for k in evaluated if not str(k).startswith("_")}
