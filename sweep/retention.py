"""Checkpoint retention: what of each trial's checkpoints stays on disk (``retention: front``).

Every eval report of a trial comes with a checkpoint (adapter + ``trainer_state.json`` + optimizer and
scheduler state, trainable/training/checkpointing.py). Under ``retention: front``:

- a checkpoint stays whole while it is its trial's newest one and the trial is running (resume needs its
  optimizer and scheduler state);
- a checkpoint stays (adapter and trainer state, optimizer state dropped) while it is on its trial's own
  non-dominated set: the sweep's objectives and directions, feasible checkpoints only when the trial has
  any (trainable/base/constraints.py), else all of them. Every checkpoint on the sweep's checkpoint-level front
  is on its trial's set, and so is every trial-level front member's;
- a checkpoint of the trial's final report stays (adapter and trainer state): analysis names it as the
  trial's, even when an earlier eval dominates it (a final full-dev eval is on other data than the subset);
- any other checkpoint is deleted (the whole folder) once a newer report of its trial dominates it;
- a repeat (a trial re-run under a new Ray id after kill -9 writes a second checkpoint for a report already
  on file: same step, both final or both not, the recorder's report key) is deleted once it is no longer
  the running trial's newest: analysis names the first one. A final report at the step of its trial's
  last eval (an early-stopped trial's restored front weights) is no repeat: analysis names its checkpoint.

Two guards: a checkpoint named in a live pin (sweep/checkpoint_pins.py: `mtsweep export` / `finalize`
reading it) is never touched; and nothing that was the trial's newest checkpoint is changed before Ray
has written an experiment snapshot newer than the checkpoint that replaced it (after a kill -9 Ray
restores each trial from its snapshot's latest checkpoint, which may be older than the newest on disk).

Only checkpoints under the results folder are ever touched (the recorded paths are absolute: in a folder
copied elsewhere and resumed there, they name the original's). Each deletion is appended to ``<results>/retention.jsonl`` ({"checkpoint", "optuna_number", "step",
"removed": "checkpoint"|"optimizer_state", "bytes", "time"}); the analysis lists a removed checkpoint as
unavailable. ``retention: all`` keeps every checkpoint whole (no deletions). Pure bookkeeping here; the
Ray callback that feeds it is sweep/retention_callback.py.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweep.checkpoint_pins import pinned_paths, pins_lock
from sweep.results_dir import RAY_DIR, REPORTS_JSONL, RETENTION_JSONL, TRIALS_JSONL
from trainable.base.finite import finite_or_none
from trainable.base.jsonl import append_jsonl, read_records
from trainable.base.report_keys import record_trial_key
from trainable.training.checkpointing import OPTIM_PT

logger = logging.getLogger(__name__)

_NEEDED = object()
"""Marker: the checkpoint may still be what a restored trial resumes from."""


@dataclass
class Entry:
    """One checkpoint of one trial, in report order."""

    path: str
    step: int | None
    values: tuple[float | None, ...]
    feasible: bool
    final: bool = False
    """From the trial's final report (``is_final``)."""
    released_at: Any = _NEEDED
    """The snapshot marker seen when this stopped being the trial's resume point (``_NEEDED`` until then)."""
    optim_dropped: bool = False
    repeat: bool = False
    """A second checkpoint of a step already on file (a trial re-run under a new Ray id after kill -9: the
    recorder keeps the first report of each (step, final) key, so analysis names the first checkpoint)."""


@dataclass
class TrialCheckpoints:
    entries: list[Entry] = field(default_factory=list)
    finished: bool = False


def own_front(entries: Sequence[Entry], modes: Sequence[str]) -> set[int]:
    """Indices of the entries on the trial's own non-dominated set (feasible ones when there are any;
    repeats never count)."""
    from trainable.base.pareto import dominates

    scored = [i for i, e in enumerate(entries) if not e.repeat and all(v is not None for v in e.values)]
    feasible = [i for i in scored if entries[i].feasible]
    pool = feasible or scored
    return {i for i in pool if not any(dominates(entries[j].values, entries[i].values, modes)  # type: ignore[arg-type]
                                       for j in pool if j != i)}


def plan(trial: TrialCheckpoints, modes: Sequence[str]) -> tuple[list[int], list[int]]:
    """(indices whose folder goes, indices whose optimizer state goes) for one trial, before the guards."""
    if not trial.entries:
        return [], []
    newest = len(trial.entries) - 1
    keep = own_front(trial.entries, modes)
    keep |= {i for i, e in enumerate(trial.entries) if e.final and not e.repeat}  # the trial point's checkpoint
    if not (trial.finished and trial.entries[newest].repeat):  # a running trial resumes from its newest
        keep.add(newest)
    drop = [i for i in range(len(trial.entries)) if i not in keep]
    strip = [i for i in keep if i != newest or trial.finished]
    return drop, sorted(strip)


def snapshot_marker(results_dir: Path) -> Any:
    """What identifies Ray's newest experiment snapshot in ``results_dir/ray`` (None before the first)."""
    best = None
    for path in (Path(results_dir) / RAY_DIR).glob("experiment_state-*.json"):
        try:
            mark = (path.stat().st_mtime_ns, path.name)
        except OSError:
            continue
        best = mark if best is None or mark > best else best
    return best


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 when it is gone)."""
    total = 0
    for p in Path(path).rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            continue
    return total


class Retention:
    """Per-trial checkpoint lists and the deletions they allow (see the module docstring).

    ``objectives``/``modes``/``constraints``: the sweep's own. The lists are rebuilt from
    ``reports.jsonl``, ``trials.jsonl`` and ``retention.jsonl`` on first use (a resumed driver)."""

    def __init__(self, results_dir: str | Path, objectives: Sequence[str], modes: Sequence[str],
                 constraints: dict[str, Any] | None = None) -> None:
        self.results_dir = Path(results_dir)
        self.objectives = list(objectives)
        self.modes = list(modes)
        self.constraints = dict(constraints or {})
        self.trials: dict[Any, TrialCheckpoints] | None = None
        self._dirty: set[Any] = set()
        """Trials whose plan may allow a deletion now or later (a long sweep's passes stay short)."""

    # --- what is known ---------------------------------------------------------------------
    def _entry(self, path: str, metrics: dict[str, Any]) -> Entry:
        from trainable.base.constraints import failed

        values = tuple(finite_or_none(metrics.get(o)) for o in self.objectives)
        step = metrics.get("step")
        return Entry(str(path), int(step) if isinstance(step, int | float) else None, values,
                     not failed(self.constraints, metrics) if self.constraints else True,
                     final=bool(metrics.get("is_final")))

    def _load(self) -> dict[Any, TrialCheckpoints]:
        if self.trials is not None:
            return self.trials
        removed = {r.get("checkpoint") for r in read_records(self.results_dir / RETENTION_JSONL)
                   if r.get("removed") == "checkpoint"}
        stripped = {r.get("checkpoint") for r in read_records(self.results_dir / RETENTION_JSONL)
                    if r.get("removed") == "optimizer_state"}
        trials: dict[Any, TrialCheckpoints] = {}
        marker = snapshot_marker(self.results_dir)
        # Every checkpoint of a trial not yet finished stays a possible resume point until the trial reports
        # anew in this run: a restored trial restarts from Ray's snapshot, which may name an older one.
        for rec in read_records(self.results_dir / REPORTS_JSONL):
            path = rec.get("checkpoint")
            if not path or path in removed or not isinstance(rec.get("metrics"), dict):
                continue
            trial = trials.setdefault(record_trial_key(rec), TrialCheckpoints())
            entry = self._entry(path, rec["metrics"])
            entry.optim_dropped = path in stripped
            trial.entries.append(entry)
        for rec in read_records(self.results_dir / TRIALS_JSONL):
            if record_trial_key(rec) in trials:
                self._mark_finished(trials[record_trial_key(rec)], marker)
        self.trials = trials
        self._dirty = set(trials)
        return trials

    def add(self, trial_key: Any, path: str, metrics: dict[str, Any]) -> None:
        """A new checkpoint (the trial's newest); the previous newest is released at the current marker."""
        trial = self._load().setdefault(trial_key, TrialCheckpoints())
        if any(e.path == str(path) for e in trial.entries):
            return
        self._release(trial, snapshot_marker(self.results_dir))
        entry = self._entry(path, metrics)
        entry.repeat = entry.step is not None and any(e.step == entry.step and e.final == entry.final and not e.repeat
                                                      for e in trial.entries)
        trial.entries.append(entry)
        self._dirty.add(trial_key)

    def finish(self, trial_key: Any) -> None:
        """The trial ended: its newest checkpoint is no longer a resume point (after the next snapshot)."""
        trial = self._load().get(trial_key)
        if trial is not None and not trial.finished:
            self._mark_finished(trial, snapshot_marker(self.results_dir))
            self._dirty.add(trial_key)

    @staticmethod
    def _release(trial: TrialCheckpoints, marker: Any) -> None:
        """Every checkpoint still held as a resume point stops being one (at Ray's snapshot ``marker``)."""
        for entry in trial.entries:
            if entry.released_at is _NEEDED:
                entry.released_at = marker

    def _mark_finished(self, trial: TrialCheckpoints, marker: Any) -> None:
        trial.finished = True
        self._release(trial, marker)

    # --- deletions -------------------------------------------------------------------------
    def apply(self) -> list[dict[str, Any]]:
        """Delete what the plan allows now (guards: pins, a Ray snapshot since the release); returns
        the retention.jsonl records written. The pins are read and the deletions made under the pin lock."""
        trials = self._load()
        if not self._dirty:
            return []
        with pins_lock(self.results_dir):
            return self._apply(trials)

    def _apply(self, trials: dict[Any, TrialCheckpoints]) -> list[dict[str, Any]]:
        marker = snapshot_marker(self.results_dir)
        pins: set[str] | None = None
        done: list[dict[str, Any]] = []
        for key in list(self._dirty):
            trial = trials[key]
            drop, strip = plan(trial, self.modes)
            strip = [i for i in strip if not trial.entries[i].optim_dropped]
            ready = [i for i in drop + strip
                     if trial.entries[i].released_at is not _NEEDED and trial.entries[i].released_at != marker]
            if len(ready) == len(drop) + len(strip):
                self._dirty.discard(key)  # everything planned happens now (a pinned one: see below)
            if not ready:
                continue
            if pins is None:
                pins = pinned_paths(self.results_dir)
            gone: set[int] = set()
            for i in ready:
                entry = trial.entries[i]
                if entry.path in pins:
                    self._dirty.add(key)  # tried again once the pin is gone
                    continue
                if i in drop:
                    record = self._remove(key, entry, "checkpoint")
                    gone.add(i)
                else:
                    record = self._remove(key, entry, "optimizer_state")
                    entry.optim_dropped = True
                if record is not None:
                    done.append(record)
            trial.entries = [e for i, e in enumerate(trial.entries) if i not in gone]
        return done

    def _remove(self, key: Any, entry: Entry, what: str) -> dict[str, Any] | None:
        path = Path(entry.path)
        target = path if what == "checkpoint" else path / OPTIM_PT
        if not path.resolve().is_relative_to(self.results_dir.resolve()):  # a copied folder names the original's
            logger.warning("retention: %s is outside %s: left alone", path, self.results_dir)
            return None
        try:
            if what == "checkpoint":
                size = folder_bytes(path)
                if path.exists():
                    shutil.rmtree(path)
            else:
                size = target.stat().st_size if target.exists() else 0
                target.unlink(missing_ok=True)
        except OSError as err:  # never let housekeeping end the sweep
            logger.warning("retention: could not remove %s: %s", target, err)
            return None
        record = {"checkpoint": entry.path, "optuna_number": key[1] if isinstance(key, tuple) else key,
                  "step": entry.step, "removed": what, "bytes": size, "time": time.time()}
        append_jsonl(self.results_dir / RETENTION_JSONL, record)
        return record
