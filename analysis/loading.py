"""Read a sweep results directory (finished or still running) into :class:`~analysis.front.Point`s.

Format: docs/architecture.md, "Sweep results directory". Reading never writes into the sweep dir and
never blocks the sweep: JSONL files are read once each (``trials.jsonl`` before ``reports.jsonl``, so
every finished trial's reports are already there), a partial last line (the sweep is appending) is
skipped, and ``study.db`` is opened read-only (``?mode=ro``), in place, without copying.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.front import Mode, Point, is_finite_number
from trainable.errors import InputError
from trainable.metrics import TABLE_METRICS

DEFAULT_OBJECTIVES: tuple[str, ...] = ("comet", "term_acc")
EXTRA_METRICS: tuple[str, ...] = TABLE_METRICS
"""Metrics exported next to the objectives for every front member (``trainable.metrics.TABLE_METRICS``)."""


@dataclass
class JsonlRead:
    """Records of one JSONL file plus what was skipped."""

    records: list[dict[str, Any]]
    partial_last_line: bool = False
    """True when the last line was incomplete (a writer was appending) and was skipped."""


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


def read_jsonl(path: Path) -> JsonlRead:
    """Parse a JSONL file read in one go; a partial last line is skipped, a bad inner line is an error."""
    if not path.exists():
        return JsonlRead([])
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]  # tail: text after the last newline ("" when none)
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{lineno}", f"not valid JSON ({err.msg})") from None
        if not isinstance(rec, dict):
            raise InputError(f"{path}:{lineno}", "expected a JSON object per line")
        records.append(rec)
    partial = False
    if tail.strip():
        try:
            rec = json.loads(tail)
            if isinstance(rec, dict):
                records.append(rec)
            else:
                partial = True
        except json.JSONDecodeError:
            partial = True
    return JsonlRead(records, partial)


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
    """``root/sweep.yaml`` as a dict ({} when absent)."""
    path = Path(root) / "sweep.yaml"
    if not path.exists():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(where, "not valid YAML") from None
    return data if isinstance(data, dict) else {}


def objectives_from_config(config: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """Objective names (and modes, when the config names them) from a resolved sweep.yaml."""
    objs = config.get("objectives")
    modes = config.get("modes")
    if objs is None:
        for section in ("search", "tune", "optuna"):
            sub = config.get(section)
            if isinstance(sub, dict) and sub.get("objectives") is not None:
                objs, modes = sub.get("objectives"), sub.get("modes", modes)
                break
    if objs is None:
        return DEFAULT_OBJECTIVES, None
    if isinstance(objs, dict):  # {comet: max, term_acc: max}
        return tuple(objs), tuple(str(m) for m in objs.values())
    names, found_modes = [], []
    for item in objs:
        if isinstance(item, dict):  # [{name: comet, mode: max}]
            names.append(str(item.get("name") or item.get("metric")))
            found_modes.append(item.get("mode"))
        else:
            names.append(str(item))
            found_modes.append(None)
    if modes is None and all(found_modes):
        modes = found_modes
    return tuple(names), tuple(str(m) for m in modes) if modes else None


def resolve_modes(objectives: Sequence[str], modes: Sequence[str] | None, where: str) -> tuple[Mode, ...]:
    """Modes for ``objectives``: the given ones, else trainable.metrics.METRIC_DIRECTIONS."""
    from trainable.metrics import METRIC_DIRECTIONS

    if not 2 <= len(objectives) <= 3:
        raise InputError(where, f"need 2 or 3 objectives, got {len(objectives)}: {','.join(objectives)}")
    if len(set(objectives)) != len(objectives):
        raise InputError(where, f"objectives repeat a name: {','.join(objectives)}")
    out: list[Mode] = []
    for i, name in enumerate(objectives):
        mode = modes[i] if modes else METRIC_DIRECTIONS.get(name)
        if mode not in ("max", "min"):
            known = ", ".join(sorted(METRIC_DIRECTIONS))
            raise InputError(where, f"unknown objective '{name}' (known: {known})")
        out.append(mode)  # type: ignore[arg-type]
    return tuple(out)


def _clean(value: Any) -> Any:
    """Non-finite floats become None (reports never carry NaN, but a hand-edited file might)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _values(metrics: dict[str, Any], objectives: Sequence[str]) -> dict[str, float | None]:
    return {o: (float(v) if is_finite_number(v := _clean(metrics.get(o))) else None) for o in objectives}


def _good(values: dict[str, float | None]) -> bool:
    return all(v is not None for v in values.values())


def _step(metrics: dict[str, Any]) -> int | None:
    step = metrics.get("step")
    return int(step) if is_finite_number(step) else None


def load_sweep(root: str | Path, objectives: Sequence[str] | None = None, *, where: str = "--objectives") -> SweepResults:
    """Read ``root`` (finished or running); ``objectives`` default to the sweep's own (sweep.yaml)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(str(root), "no such sweep directory")
    if not (root / "reports.jsonl").exists() and not (root / "trials.jsonl").exists():
        raise InputError(str(root), "not a sweep results directory (no reports.jsonl or trials.jsonl)")
    config = read_sweep_yaml(root)
    cfg_objectives, cfg_modes = objectives_from_config(config)
    if objectives:
        objectives = tuple(objectives)
        mode_map = dict(zip(cfg_objectives, cfg_modes, strict=True)) if cfg_modes else {}
        modes = resolve_modes(objectives, [mode_map[o] for o in objectives] if all(o in mode_map for o in objectives) else None, where)
    else:
        objectives = cfg_objectives
        modes = resolve_modes(objectives, cfg_modes, f"{root / 'sweep.yaml'}: objectives")
    trials_read = read_jsonl(root / "trials.jsonl")  # first: its trials' reports are all written already
    reports_read = read_jsonl(root / "reports.jsonl")
    removed = removed_checkpoints(root)
    reports = [r if r.get("checkpoint") not in removed else {**r, "checkpoint": None}
               for r in reports_read.records if isinstance(r.get("metrics"), dict)]
    seen_keys = {k for r in reports for k in r["metrics"]}
    for o in objectives:
        if reports and o not in seen_keys:
            raise InputError(where, f"objective '{o}' is in no report of {root / 'reports.jsonl'}")
    constraints = read_constraints(config, root)
    trial_records: dict[str, dict[str, Any]] = {}
    for rec in trials_read.records:
        trial_records[str(rec.get("trial_id"))] = rec
    by_trial: dict[str, list[dict[str, Any]]] = {}
    for r in reports:
        by_trial.setdefault(str(r.get("trial_id")), []).append(r)
    checkpoint_points = _judged(_checkpoint_points(reports, trial_records, objectives), constraints)
    order = list(trial_records) + [t for t in by_trial if t not in trial_records]
    trial_points = _judged([_trial_point(t, by_trial.get(t, []), trial_records.get(t), objectives) for t in order],
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
        constraints=constraints,
    )


def removed_checkpoints(root: str | Path) -> set[str]:
    """Checkpoint folders the sweep's retention policy deleted (``retention.jsonl``, sweep/retention.py):
    their reports stay, listed without a checkpoint."""
    read = read_jsonl(Path(root) / "retention.jsonl")
    return {str(r["checkpoint"]) for r in read.records if r.get("removed") == "checkpoint" and r.get("checkpoint")}


def read_constraints(config: dict[str, Any], root: Path) -> dict[str, Any]:
    """The active constraints of a resolved sweep.yaml ({} when it has none: a sweep from before them)."""
    from trainable.constraints import ConstraintError, active, parse_constraints

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
    from trainable.constraints import failed

    return [dataclasses.replace(p, failed_constraints=tuple(failed(constraints, p.metrics))) if _good(p.values) else p
            for p in points]


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


def _trial_point(
    trial_id: str, reports: list[dict[str, Any]], record: dict[str, Any] | None, objectives: Sequence[str]
) -> Point:
    """The trial's last good result; a diverged trial's final repeat borrows the checkpoint of the eval it repeats."""
    params = _params(reports, record)
    diverged = bool(record.get("diverged")) if record else False
    diverged = diverged or any(bool(r["metrics"].get("diverged")) for r in reports)
    stop_cause = (record or {}).get("stop_cause") or next(
        (r["metrics"].get("stop_cause") for r in reversed(reports) if r["metrics"].get("stop_cause")), None
    )
    optuna_number = (record or {}).get("optuna_number", next((r.get("optuna_number") for r in reports), None))
    good = [(r, _values(r["metrics"], objectives)) for r in reports]
    good = [(r, v) for r, v in good if _good(v)]
    if good:
        last, values = good[-1]
        chosen = last
        if not last.get("checkpoint"):  # e.g. a diverged trial's final report repeats an earlier eval
            for r, v in reversed(good):
                if v == values and r.get("checkpoint"):
                    chosen = r
                    break
        metrics = dict(last["metrics"])
        step = _step(chosen["metrics"])
        if chosen is not last:
            metrics["step"] = step
        return Point(trial_id, step, values, metrics, params, chosen.get("checkpoint"), diverged,
                     _state(record), optuna_number, stop_cause)
    rec_values = (record or {}).get("values") or {}
    values = {o: (float(v) if is_finite_number(v := _clean(rec_values.get(o))) else None) for o in objectives}
    metrics = dict(reports[-1]["metrics"]) if reports else {}
    step = (record or {}).get("steps") if _good(values) else _step(metrics)
    return Point(trial_id, step, values, metrics, params, None, diverged, _state(record), optuna_number, stop_cause)


def _checkpoint_points(
    reports: list[dict[str, Any]], trial_records: dict[str, dict[str, Any]], objectives: Sequence[str]
) -> list[Point]:
    """One point per eval; a diverged final report that repeats the previous eval is not a new point.

    At this level ``diverged`` marks only the last good eval of a trial that then diverged (its metrics
    carry ``diverged_step``); earlier evals of that trial are ordinary points.
    """
    points: list[Point] = []
    index: dict[tuple[str, int | None], int] = {}
    last_values: dict[str, dict[str, float | None]] = {}
    last_index: dict[str, int] = {}
    for r in reports:
        tid = str(r.get("trial_id"))
        m = r["metrics"]
        values = _values(m, objectives)
        record = trial_records.get(tid)
        if m.get("diverged") and m.get("is_final") and last_values.get(tid) == values and _good(values):
            # the final repeat of the last good eval: not a new point, but the stop is recorded on it
            k = last_index[tid]
            stop = {key: m.get(key) for key in ("diverged_step", "stop_cause", "is_final", "divergence_cause") if key in m}
            points[k] = dataclasses.replace(points[k], diverged=True, metrics={**points[k].metrics, **stop},
                                            stop_cause=m.get("stop_cause") or points[k].stop_cause)
            continue
        params = _params([r], record)
        point = Point(tid, _step(m), values, dict(m), params, r.get("checkpoint"),
                      bool(m.get("diverged")),
                      _state(record), r.get("optuna_number"), m.get("stop_cause") or (record or {}).get("stop_cause"))
        key = (tid, point.step)
        if key in index and point.step is not None:  # same eval reported twice (e.g. after a restore)
            old = points[index[key]]
            if not point.checkpoint and old.checkpoint:
                point = dataclasses.replace(point, checkpoint=old.checkpoint)
            points[index[key]] = point
        else:
            index[key] = len(points)
            points.append(point)
        if _good(values):
            last_values[tid] = values
            last_index[tid] = index[key]
    for tid, k in last_index.items():  # the recorder keeps one line per step: the stop may be only in trials.jsonl
        record = trial_records.get(tid) or {}
        if record.get("diverged") and not points[k].diverged:
            stop = {"diverged": True, "stop_cause": record.get("stop_cause"), "diverged_step": record.get("diverged_step")}
            points[k] = dataclasses.replace(points[k], diverged=True, metrics={**points[k].metrics, **stop},
                                            stop_cause=record.get("stop_cause") or points[k].stop_cause)
    return points


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
