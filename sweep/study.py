"""Ray-free helpers of the sweep record: Optuna sampler/storage, the trials.jsonl lines.

``sweep.recorder`` (Ray side) and ``mtsweep status`` / analysis readers share these; importing this
module pulls in neither Ray nor Optuna (both are imported inside the functions that need them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweep.choices import SAMPLERS
from sweep.results_dir import TRIALS_JSONL
from trainable.base.jsonl import append_jsonl, read_records

OPTUNA_NUMBER_KEY = "_optuna_number"
"""Trial-config key that carries the Optuna trial number (``_`` keys are ignored by trainables)."""
CONSTRAINTS_ATTR_PREFIX = "constraints:"
"""Optuna trial system-attr prefix of a constraint value (optuna.study._constrained_optimization; what
``Trial.set_constraint(key, value)`` writes: ``constraints:<key>``, <= 0 feasible)."""
CURVE_ATTR = "objective_curve"
"""Optuna user attr the recorder writes per report: eval step (str) -> objective values (objective
order). The ``rung_tpe`` sampler learns from it, PRUNED trials included, also after a resume."""


# --- Optuna pieces --------------------------------------------------------------------------
def make_sampler(name: str, *, seed: int, population_size: int = 50, num_trials: int = 100) -> Any:
    """A seeded Optuna sampler: ``rung_tpe`` (TPE on every trial's rung-level quality, pruned ones
    included: ``sweep/rung_sampler.py``), ``nsga2`` (NSGA-II), ``tpe``, ``gp`` or ``random``."""
    import optuna

    if name == "rung_tpe":
        from sweep.rung_sampler import RungTPESampler

        return RungTPESampler(seed=seed, n_startup_trials=max(4, min(8, num_trials // 24)))
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=population_size)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r} (known: {', '.join(SAMPLERS)})")


def make_storage(url: str) -> Any:
    """An Optuna ``RDBStorage`` (Ray's OptunaSearch refuses URL strings); SQLite waits on locks."""
    import optuna

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def frozen_trial(storage: Any, study_name: str, number: int) -> Any:
    study_id = storage.get_study_id_from_name(study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    return storage.get_trial(trial_id)


def reconcile_study(storage: Any, study_name: str, reason: str) -> list[int]:
    """Mark every trial still RUNNING (or WAITING) in the study FAIL with ``reason``; returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=storage)
    fixed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        if t.state == TrialState.WAITING:
            continue  # an enqueued preset never asked for: not a trial of this sweep
        storage.set_trial_user_attr(t._trial_id, "stop_cause", "error")
        storage.set_trial_user_attr(t._trial_id, "fail_reason", reason)
        study.tell(t.number, state=TrialState.FAIL)
        fixed.append(t.number)
    return fixed


# --- results files ---
def trial_record(frozen: Any, objectives: list[str], trial_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """One ``trials.jsonl`` line from the Optuna trial (the source of truth for the verdict)."""
    attrs = frozen.user_attrs
    if frozen.values is not None:
        values = dict(zip(objectives, frozen.values, strict=True))
    else:
        values = {o: (attrs.get("last_values") or {}).get(o) for o in objectives}
    return {
        "trial_id": trial_id,
        "optuna_number": frozen.number,
        "state": frozen.state.name,
        "stop_cause": attrs.get("stop_cause"),
        "values": values,
        "params": params,
        "steps": attrs.get("steps"),
        "diverged": bool(attrs.get("diverged", False)),
        "diverged_step": attrs.get("diverged_step"),
        "feasible": attrs.get("feasible"),
        "failed_constraints": attrs.get("failed_constraints"),
    }


def recorded_numbers(results_dir: Path) -> set[int]:
    """Optuna numbers of the trials already in ``trials.jsonl``."""
    return {r["optuna_number"] for r in read_records(Path(results_dir) / TRIALS_JSONL) if r.get("optuna_number") is not None}


def append_missing_trial_records(results_dir: Path, storage: Any, study_name: str, objectives: list[str]) -> list[int]:
    """``trials.jsonl`` lines for finished study trials that have none (a driver killed between Optuna's
    ``tell`` and the results file, or trials failed by :func:`reconcile_study`); returns their numbers."""
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    on_file = recorded_numbers(results_dir)
    missing = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and t.number not in on_file]
    for frozen in missing:
        append_jsonl(
            Path(results_dir) / TRIALS_JSONL,
            trial_record(frozen, objectives, str(frozen.user_attrs.get("ray_trial_id")), dict(frozen.params)),
        )
    return [t.number for t in missing]


def mark_interrupted(storage: Any, study_name: str, why: str) -> list[int]:
    """Mark every RUNNING study trial ``interrupted`` (by signal ``why``), leaving it RUNNING so that
    ``mtsweep resume`` continues it from its last checkpoint; returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=storage)
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in running:
        storage.set_trial_user_attr(t._trial_id, "interrupted", why)
    return [t.number for t in running]
