"""Read a sweep results directory (finished or still running) into :class:`~analysis.front.Point`s.

Format: docs/architecture.md, "Sweep results directory". Reading never writes into the sweep dir and
never blocks the sweep: JSONL files are read once each (``trials.jsonl`` before ``reports.jsonl``, so
every finished trial's reports are already there), a partial last line (the sweep is appending) is
skipped, and ``study.db`` is opened read-only (``?mode=ro``), in place, without copying.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.front import Point
from trainable.base.errors import InputError
from trainable.base.finite import finite_or_none, is_finite_number
from trainable.base.jsonl import read_jsonl
from trainable.base.metric_names import DEFAULT_OBJECTIVES, TABLE_METRICS, objective_modes
from trainable.base.pareto import Mode
from trainable.base.report_keys import FINAL_FROM_STEP, REPEATS_STEP, record_trial_key
from trainable.base.yaml_config import load_yaml

EXTRA_METRICS: tuple[str, ...] = TABLE_METRICS
"""Metrics exported next to the objectives for every front member (``trainable.base.metric_names``)."""


@dataclass
class SweepResults:
    """Everything the analysis needs from one sweep directory."""

    root: Path
    objectives: tuple[str, ...]
    modes: tuple[Mode, ...]
    trial_points: list[Point]
    """One point per trial (last good values), finished trials in completion order, then running ones."""
    checkpoint_points: list[Point]
    """One point per eval report, in the order the sweep wrote them."""
    trials: list[dict[str, Any]] = field(default_factory=list)
    """trials.jsonl records (finished trials)."""
    baseline: dict[str, Any] | None = None
    """baseline.json ({"split", "model", "metrics"}), when present."""
    config: dict[str, Any] = field(default_factory=dict)
    """sweep.yaml as a mapping (empty when missing)."""
    partial_lines: int = 0
    """How many partial last lines were skipped (0 or more: the sweep was writing)."""
    torn_lines: int = 0
    """Complete lines of trials.jsonl / reports.jsonl that were not JSON (a writer killed mid-line): skipped."""
    constraints: dict[str, Any] = field(default_factory=dict)
    """The sweep's feasibility constraints (sweep.yaml ``constraints``; none for a sweep without the key)."""

    @property
    def running_trials(self) -> list[str]:
        """Trials with reports but no trials.jsonl line yet."""
        return [p.trial_id for p in self.trial_points if p.state == "RUNNING"]

    @property
    def study_name(self) -> str | None:
        name = self.config.get("study_name") or (self.config.get("optuna") or {}).get("study_name")
        return str(name) if name else None


def read_baseline(root: Path) -> dict[str, Any] | None:
    """``root/baseline.json`` (S0: {"split", "model", "metrics"}) or None when absent."""
    path = Path(root) / "baseline.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}", f"not valid JSON ({err.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise InputError(str(path), "expected an object with a 'metrics' mapping")
    return data


def read_sweep_yaml(root: Path) -> dict[str, Any]:
    """``root/sweep.yaml`` as a mapping ({} when absent)."""
    path = Path(root) / "sweep.yaml"
    return load_yaml(path) if path.exists() else {}


def objectives_from_config(config: dict[str, Any]) -> tuple[str, ...]:
    """The objective names of a resolved sweep.yaml (``SweepConfig.objectives``; the defaults without one)."""
    objectives = config.get("objectives")
    return tuple(str(o) for o in objectives) if isinstance(objectives, list) else DEFAULT_OBJECTIVES


def resolve_modes(objectives: Sequence[str], where: str) -> tuple[Mode, ...]:
    """The direction of each objective (2 or 3 known metric names), or an InputError naming ``where``."""
    try:
        return objective_modes(objectives)
    except ValueError as err:
        raise InputError(where, str(err)) from None


def _values(metrics: dict[str, Any], objectives: Sequence[str]) -> dict[str, float | None]:
    return {o: finite_or_none(metrics.get(o)) for o in objectives}


def _good(values: dict[str, float | None]) -> bool:
    return all(v is not None for v in values.values())


def _eval_step(metrics: dict[str, Any]) -> Any:
    """The step whose weights a report measured: a diverged trial's final report names the eval it repeats
    (``repeats_step``), an early-stopped one the front eval whose weights it restored (``final_from_step``)."""
    return metrics.get(REPEATS_STEP, metrics.get(FINAL_FROM_STEP, metrics.get("step")))


def _step(metrics: dict[str, Any]) -> int | None:
    step = _eval_step(metrics)
    return int(step) if is_finite_number(step) else None


def load_sweep(root: str | Path, objectives: Sequence[str] | None = None, *, where: str = "--objectives") -> SweepResults:
    """Read ``root`` (finished or running); ``objectives`` default to the sweep's own (sweep.yaml)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(str(root), "no such sweep directory")
    if not (root / "reports.jsonl").exists() and not (root / "trials.jsonl").exists():
        raise InputError(str(root), "not a sweep results directory (no reports.jsonl or trials.jsonl)")
    config = read_sweep_yaml(root)
    if objectives:
        objectives = tuple(objectives)
        modes = resolve_modes(objectives, where)
    else:
        objectives = objectives_from_config(config)
        modes = resolve_modes(objectives, f"{root / 'sweep.yaml'}: key 'objectives'")
    # trials.jsonl first: its trials' reports are all written already. A line a killed writer tore (the
    # writers go on on a fresh line, trainable/base/jsonl.py) is skipped and counted, never fatal.
    trials_read = read_jsonl(root / "trials.jsonl")
    reports_read = read_jsonl(root / "reports.jsonl")
    removed = removed_checkpoints(root)
    reports = [{**r, "checkpoint": None if r.get("checkpoint") in removed else local_checkpoint(r.get("checkpoint"), root)}
               for r in reports_read.records if isinstance(r.get("metrics"), dict)]
    seen_keys = {k for r in reports for k in r["metrics"]}
    for o in objectives:
        if reports and o not in seen_keys:
            raise InputError(where, f"objective '{o}' is in no report of {root / 'reports.jsonl'}")
    constraints = read_constraints(config, root)
    # One trial per Optuna number (a trial re-run under a new Ray id after kill -9 keeps it), else per Ray id.
    trial_records: dict[Any, dict[str, Any]] = {}
    for rec in trials_read.records:
        trial_records[record_trial_key(rec)] = rec
    by_trial: dict[Any, list[dict[str, Any]]] = {}
    for r in reports:
        by_trial.setdefault(record_trial_key(r), []).append(r)
    checkpoint_points = _judged(_checkpoint_points(reports, by_trial, trial_records, objectives), constraints)
    order = list(trial_records) + [t for t in by_trial if t not in trial_records]
    trial_points = _judged([_trial_point(_ray_id(by_trial.get(t, []), trial_records.get(t)), by_trial.get(t, []),
                                         trial_records.get(t), objectives) for t in order],
                           constraints)
    return SweepResults(
        root=root,
        objectives=tuple(objectives),
        modes=modes,
        trial_points=trial_points,
        checkpoint_points=checkpoint_points,
        trials=trials_read.records,
        baseline=read_baseline(root),
        config=config,
        partial_lines=int(trials_read.partial_last_line) + int(reports_read.partial_last_line),
        torn_lines=trials_read.bad_lines + reports_read.bad_lines,
        constraints=constraints,
    )


def removed_checkpoints(root: str | Path) -> set[str]:
    """Checkpoint folders the sweep's retention policy deleted (``retention.jsonl``, sweep/retention.py):
    their reports stay, listed without a checkpoint."""
    read = read_jsonl(Path(root) / "retention.jsonl")
    return {str(r["checkpoint"]) for r in read.records if r.get("removed") == "checkpoint" and r.get("checkpoint")}


def read_constraints(config: dict[str, Any], root: Path) -> dict[str, Any]:
    """The active constraints of a resolved sweep.yaml ({} when it has none: a sweep from before them)."""
    from trainable.base.constraints import ConstraintError, active, parse_constraints

    if "constraints" not in config:
        return {}
    try:
        return active(parse_constraints(config["constraints"]))
    except ConstraintError as err:
        raise InputError(str(Path(root) / "sweep.yaml"), f"key 'constraints.{err.key}': {err.message}") from None


def _judged(points: list[Point], constraints: dict[str, Any]) -> list[Point]:
    """``points`` with ``failed_constraints`` set from each point's own report metrics."""
    if not constraints:
        return points
    from trainable.base.constraints import failed

    return [dataclasses.replace(p, failed_constraints=tuple(failed(constraints, p.metrics))) if _good(p.values) else p
            for p in points]


def _ray_id(reports: list[dict[str, Any]], record: dict[str, Any] | None) -> str:
    """The trial's Ray id as shown: its trials.jsonl record's, else its newest report's."""
    return str((record or reports[-1]).get("trial_id"))


def _state(record: dict[str, Any] | None) -> str:
    return str(record.get("state") or "COMPLETE") if record else "RUNNING"


def _params(reports: list[dict[str, Any]], record: dict[str, Any] | None) -> dict[str, Any]:
    """The trial's hyperparameters (keys starting with ``_`` are the sweep's internals: dropped)."""
    found: dict[str, Any] = {}
    if record and isinstance(record.get("params"), dict):
        found = record["params"]
    else:
        found = next((r["params"] for r in reports if isinstance(r.get("params"), dict)), {})
    return {k: v for k, v in found.items() if not str(k).startswith("_")}


def local_checkpoint(path: str | None, root: Path) -> str | None:
    """The checkpoint folder as seen from here: the recorded ``ray/...`` path under ``root`` when it is
    there (a results folder copied elsewhere reads its own checkpoints, never the original's, even while the
    original still exists), else the recorded path."""
    if not path:
        return path
    parts = Path(path).parts
    if "ray" in parts[:-1]:
        here = Path(root).resolve().joinpath(*parts[len(parts) - 1 - parts[::-1].index("ray"):])
        if here.exists():
            return str(here)
    return path


def _evals(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per eval of a trial, in report order: ``{"metrics", "checkpoint", "first"}`` (``first``:
    the eval's first report).

    An eval is known by the step whose weights it measured (:func:`_eval_step`): a report of that step
    again (a final report that ``repeats_step`` or names an earlier ``final_from_step``, a restored trial
    re-reporting) updates that eval (its metrics over the earlier ones, the earlier checkpoint kept when it
    brings none) instead of adding one; the eval keeps its own ``step``.
    """
    by_step: dict[Any, dict[str, Any]] = {}
    for i, r in enumerate(reports):
        m = r["metrics"]
        step = _eval_step(m)
        key = step if is_finite_number(step) else ("report", i)
        old = by_step.get(key)
        if old is None:
            by_step[key] = {"metrics": dict(m), "checkpoint": r.get("checkpoint"), "first": r}
        else:
            old["metrics"] = {**old["metrics"], **m, "step": old["metrics"].get("step", m.get("step"))}
            old["checkpoint"] = r.get("checkpoint") or old["checkpoint"]
    return list(by_step.values())


def _trial_point(
    trial_id: str, reports: list[dict[str, Any]], record: dict[str, Any] | None, objectives: Sequence[str]
) -> Point:
    """The eval the trial's final report measured (a diverged trial: the eval it repeats, with the stop; an
    early-stopped one: the front eval whose weights it ended on), else its last good eval."""
    params = _params(reports, record)
    diverged = bool(record.get("diverged")) if record else False
    diverged = diverged or any(bool(r["metrics"].get("diverged")) for r in reports)
    stop_cause = (record or {}).get("stop_cause") or next(
        (r["metrics"].get("stop_cause") for r in reversed(reports) if r["metrics"].get("stop_cause")), None
    )
    optuna_number = (record or {}).get("optuna_number", next((r.get("optuna_number") for r in reports), None))
    good = [e for e in _evals(reports) if _good(_values(e["metrics"], objectives))]
    if good:
        last = next((e for e in good if e["metrics"].get("is_final")), good[-1])
        return Point(trial_id, _step(last["metrics"]), _values(last["metrics"], objectives), last["metrics"], params,
                     last["checkpoint"], diverged, _state(record), optuna_number, stop_cause)
    rec_values = (record or {}).get("values") or {}
    values = {o: finite_or_none(rec_values.get(o)) for o in objectives}
    metrics = dict(reports[-1]["metrics"]) if reports else {}
    step = (record or {}).get("steps") if _good(values) else _step(metrics)
    return Point(trial_id, step, values, metrics, params, None, diverged, _state(record), optuna_number, stop_cause)


def _checkpoint_points(
    reports: list[dict[str, Any]], by_trial: dict[Any, list[dict[str, Any]]],
    trial_records: dict[Any, dict[str, Any]], objectives: Sequence[str],
) -> list[Point]:
    """One point per eval (:func:`_evals`), in the order the sweep first wrote each.

    At this level ``diverged`` marks only the eval a diverged trial's final report repeats (its last good
    one, whose metrics then carry ``diverged_step``); earlier evals of that trial are ordinary points.
    """
    order = {id(r): i for i, r in enumerate(reports)}
    points: list[tuple[int, Point]] = []
    for key, trial_reports in by_trial.items():
        record = trial_records.get(key)
        tid = _ray_id(trial_reports, record)
        for e in _evals(trial_reports):
            m, first = e["metrics"], e["first"]
            point = Point(tid, _step(m), _values(m, objectives), m, _params([first], record), e["checkpoint"],
                          bool(m.get("diverged")), _state(record), first.get("optuna_number"),
                          m.get("stop_cause") or (record or {}).get("stop_cause"))
            points.append((order[id(first)], point))
    return [p for _, p in sorted(points, key=lambda x: x[0])]


def open_study_readonly(root: str | Path, study_name: str | None = None):
    """The Optuna study in ``root/study.db``, opened read-only in place (no copy, no write); None if absent."""
    path = Path(root) / "study.db"
    if not path.exists():
        return None
    import optuna
    from optuna.storages import RDBStorage

    url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    storage = RDBStorage(url, skip_table_creation=True, skip_compatibility_check=True)
    if study_name is None:
        names = [s.study_name for s in storage.get_all_studies()]
        if len(names) != 1:
            return None
        study_name = names[0]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=study_name, storage=storage)
