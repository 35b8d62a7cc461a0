"""Build the Ray Tune ``Tuner`` of a sweep: OptunaSearch (multi-objective, NaN-safe), concurrency limit,
the multi-objective early-stopping scheduler, per-trial resources, results files and a live view.

Imports Ray and Optuna at module level: import this module only inside a command's ``run``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.callback import Callback
from ray.tune.search import ConcurrencyLimiter

from sweep.config import SweepConfig, base_trial_config, scheduler_steps
from sweep.live_view import LiveView
from sweep.ray_footprint import footprint_callbacks
from sweep.recorder import RecordingOptunaSearch, ResultsFileCallback
from sweep.results_dir import RAY_DIR, RUNGS_JSONL, UNTOLD_JSONL
from sweep.study import make_sampler, make_storage
from trainable.base.errors import InputError
from trainable.base.imports import import_function


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
        untold_path=results_dir / UNTOLD_JSONL,
    )
    callbacks: list[Callback] = [
        ResultsFileCallback(
            results_dir, storage_url=storage_url, study_name=study_name, objectives=list(cfg.objectives),
            param_keys=param_keys(space),
        ),
        LiveView(list(cfg.objectives), every_s=live_every_s, total=cfg.num_trials, scheduler=scheduler),
        *footprint_callbacks(),
    ]
    if cfg.retention == "front":  # sweep/retention.py: keep each trial's own front and newest checkpoint
        from sweep.retention_callback import RetentionCallback

        callbacks.append(RetentionCallback(results_dir, list(cfg.objectives), cfg.modes, cfg.constraints))
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
        verbose=0,  # the live view (sweep/live_view.py) replaces Ray's own progress output
    )
    trainable = with_resources(import_function(cfg.trainable, where="trainable"), cfg)
    tuner = tune.Tuner(trainable, param_space=base_trial_config(cfg), tune_config=tune_config, run_config=run_config)
    return SweepParts(tuner=tuner, searcher=searcher, storage=storage, scheduler=scheduler)


LiveTable = LiveView
"""Old name: the ``tuner.pkl`` of a sweep started before the rename refers to it (``mtsweep resume``)."""
