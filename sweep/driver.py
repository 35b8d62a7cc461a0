"""What `mtsweep run` and `mtsweep resume` share: the Ray session and the end of a sweep
(reconciliation: no trial left RUNNING in the study; agreement check; summary)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sweep.config import SweepConfig
from sweep.interrupt import StopRequest

TERMINAL_RAY_STATES = ("TERMINATED", "ERROR")


@contextmanager
def ray_session(*, address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None) -> Iterator[None]:
    """Join ``address`` or start a local Ray (shut down on exit); reuse one the caller already started."""
    with contextlib.suppress(ImportError):  # DESIGN.md trap: ray.init() before `import torch` kills the driver
        import torch  # noqa: F401
    # A trial whose report has no objective (diverged before its first eval) is legal here: Ray's
    # strict check would abort the whole sweep; the recorder fails that trial instead.
    # Experiment snapshots (every trial's state and the searcher, O(trials) each): Ray's adaptive period,
    # >= 10 s and ~5% of the driver's time. A killed driver loses at most that much bookkeeping: trials
    # asked since are adopted on resume and the results files are written once (sweep/recorder.py).
    # Result loggers: sweep/ray_footprint.py instead of Ray's. All three are undone on exit, so a Tuner the
    # same process builds later (a user's script, a test) gets Ray's defaults.
    ray_env = {"TUNE_DISABLE_STRICT_METRIC_CHECKING": "1", "TUNE_GLOBAL_CHECKPOINT_S": "auto",
               "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    added_env = [k for k in ray_env if k not in os.environ]
    for key in added_env:
        os.environ[key] = ray_env[key]
    import ray

    started = False
    if not ray.is_initialized():
        # ray.init() replaces the driver's SIGTERM handler with one that aborts (exit 134): keep ours.
        handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        if address:
            ray.init(address=address)
        else:
            start_local_ray(num_cpus=num_cpus, num_gpus=num_gpus)
        started = True
        for s, handler in handlers.items():
            if handler is not None:
                signal.signal(s, handler)
    try:
        yield
    finally:
        from trainable.eval.comet_service import stop_comet_services

        with contextlib.suppress(Exception):  # detached shared-COMET actors must not outlive the sweep
            stop_comet_services()
        if started:
            ray.shutdown()
        for key in added_env:
            os.environ.pop(key, None)


def start_local_ray(*, num_cpus: int | None, num_gpus: int | None) -> None:
    """``ray.init`` of a local node, tried twice: Ray gives its raylet a fixed 30 s to register, which a
    busy machine can miss; the first attempt's processes (this driver's children) are ended first."""
    import ray

    try:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False)
    except Exception as err:
        if "timed out during startup" not in str(err):
            raise
        print("mtsweep: the local Ray did not start within its 30 s (a busy machine?); trying once more", flush=True)
        import psutil

        children = psutil.Process().children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(children, timeout=10)
        ray.shutdown()
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False)


def ray_trials(result_grid: Any) -> list[Any]:
    """Ray's Trial objects behind a ResultGrid ([] when Ray does not expose them)."""
    analysis = getattr(result_grid, "_experiment_analysis", None)
    return list(getattr(analysis, "trials", None) or [])


def finish_sweep(cfg: SweepConfig, results_dir: Path, result_grid: Any, storage: Any,
                 stop: StopRequest | None = None) -> int:
    """Reconcile the study when the experiment is over, print the summary; exit code: 0; 1 when every
    trial failed, with the causes counted; when the sweep stopped before its last trial (a stop signal,
    or Ray left trials unfinished), 128 + the signal (130 without one) after one line saying how to
    resume."""
    import optuna

    from sweep.recorder import retell_untold
    from sweep.results_dir import UNTOLD_JSONL
    from sweep.study import append_missing_trial_records, reconcile_study

    trials = ray_trials(result_grid)
    unfinished = [t for t in trials if t.status not in TERMINAL_RAY_STATES]
    study_name = cfg.resolved_study_name
    if unfinished or (stop is not None and stop.requested):
        code = record_stop(cfg, results_dir, storage, stop, ray_unfinished=bool(unfinished))
        if code:
            return code
    study = optuna.load_study(study_name=study_name, storage=storage)
    told, untold = retell_untold(study, results_dir / UNTOLD_JSONL)
    if told:
        print(f"mtsweep: wrote {len(told)} verdict(s) the Optuna storage had refused during the sweep: {told}")
    if not untold:
        fixed = reconcile_study(storage, study_name, reason="left RUNNING when the sweep ended")
        if fixed:
            print(f"mtsweep: marked {len(fixed)} trial(s) left RUNNING as FAIL: {fixed}")
    append_missing_trial_records(results_dir, storage, study_name, list(cfg.objectives))
    print_summary(cfg, results_dir, study, trials)
    for line in untold:
        print(f"mtsweep: warning: verdict not written to the Optuna storage: {line} "
              f"(kept in {results_dir / UNTOLD_JSONL}; `mtsweep resume {results_dir}` tries again)")
    from sweep.failures import report_all_failed

    return report_all_failed(study, trials)


def record_stop(cfg: SweepConfig, results_dir: Path, storage: Any, stop: StopRequest | None, *,
                ray_unfinished: bool = True) -> int:
    """After a stop signal (or Ray leaving trials unfinished): mark the study's running trials
    ``interrupted`` and print how to resume; the exit code (128 + signal, 130 without one), or 0 when
    every trial had finished anyway."""
    from sweep.study import mark_interrupted

    study_name = cfg.resolved_study_name
    why = stop.name if stop is not None and stop.requested else "Ray"
    interrupted = mark_interrupted(storage, study_name, why)
    finished = study_finished_count(storage, study_name)
    if not (ray_unfinished or interrupted or finished < cfg.num_trials):
        return 0
    print(f"mtsweep: sweep stopped by {why}: {finished}/{cfg.num_trials} trials finished, "
          f"{len(interrupted)} interrupted (resumable from their last checkpoint); "
          f"continue with: mtsweep resume {results_dir}", flush=True)
    return stop.exit_code if stop is not None and stop.requested else 130


def study_finished_count(storage: Any, study_name: str) -> int:
    """Trials of the study in a final state (COMPLETE, PRUNED, FAIL)."""
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))


def agreement(study: Any, trials: list[Any]) -> list[str]:
    """Mismatches between Ray's trials and the study (empty when they agree one to one)."""
    from optuna.trial import TrialState

    from sweep.study import OPTUNA_NUMBER_KEY

    problems = []
    asked = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
    numbers = [t.config.get(OPTUNA_NUMBER_KEY) for t in trials]
    if len(set(numbers)) != len(numbers):
        problems.append(f"Ray trials share Optuna trial numbers: {sorted(numbers, key=str)}")
    if trials and len(asked) != len(trials):
        problems.append(f"{len(trials)} Ray trials but {len(asked)} Optuna trials")
    by_number = {t.number: t for t in asked}
    for t in trials:
        frozen = by_number.get(t.config.get(OPTUNA_NUMBER_KEY))
        if frozen is None:
            problems.append(f"Ray trial {t.trial_id} has no Optuna trial")
            continue
        differing = [k for k, v in frozen.params.items() if t.config.get(k) != v]
        if differing:
            problems.append(f"Ray trial {t.trial_id} and Optuna trial {frozen.number} differ in {differing}")
    return problems


def print_summary(cfg: SweepConfig, results_dir: Path, study: Any, trials: list[Any]) -> None:
    from sweep.trial_table import format_table, short_params
    from trainable.base.constraints import active, describe

    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    counts: dict[str, int] = {}
    for t in finished:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    print(f"\nmtsweep: sweep '{cfg.name}' done: {len(finished)} trials "
          f"({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})")
    problems = agreement(study, trials)
    for p in problems:
        print(f"mtsweep: warning: {p}")
    front = study.best_trials if any(t.state.name == "COMPLETE" for t in finished) else []  # feasible only
    infeasible = sum(1 for t in finished if t.user_attrs.get("feasible") is False)
    constrained = f"; constraints {describe(cfg.constraints)}: {infeasible} infeasible trial(s) left out" if active(cfg.constraints) else ""
    if front:
        rows = [[t.number, *t.values, t.user_attrs.get("stop_cause"), short_params(t.params, 70)]
                for t in sorted(front, key=lambda t: t.number)]
        print("Pareto front of the feasible COMPLETE trials (" + ", ".join(f"{o} {m}" for o, m in zip(cfg.objectives, cfg.modes, strict=True))
              + f"{constrained}; every trial and checkpoint: mtsweep pareto {results_dir}):")
        print(format_table(["#", *cfg.objectives, "stop", "params"], rows))
    elif counts.get("COMPLETE"):
        print(f"Pareto front: empty, no COMPLETE trial is feasible{constrained} (which failed what: mtsweep status {results_dir})")
    print(f"results: {results_dir}")
