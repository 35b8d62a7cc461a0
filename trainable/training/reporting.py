"""Where a trial's reports go: the :class:`Reporter` protocol and its implementations.

A trainable (ours, the synthetic one, or a user's ``module:function``) calls a :class:`Reporter` once per
evaluation; the keys a report carries are in :mod:`trainable.base.report_keys`.

- :class:`TuneReporter`: inside a Ray Tune trial (``tune.report`` + ``Checkpoint.from_directory``);
- :class:`LocalReporter`: ``mtsweep trial`` (``records.jsonl`` + ``checkpoints/step_000100/``);
- :class:`ListReporter`: tests (reports kept in memory, checkpoints copied to a folder).

Every reporter copies (persists) the checkpoint directory during ``report``; the trial may delete its
own copy afterwards. Reports never hold NaN/inf: ``nonfinite_to_none`` (trainable/base/finite.py)
replaces them by None.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Protocol

from trainable.base.errors import InputError
from trainable.base.finite import nonfinite_to_none


class Reporter(Protocol):
    """Where a trial's reports go: Ray Tune, a local directory, or a test list."""

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        """Record one report; ``checkpoint_dir`` (if given) holds adapter + trainer state."""
        ...

    def restore_dir(self) -> str | None:
        """A checkpoint directory to resume from (Ray restarts a trial), or None."""
        ...


def checkpoint_name(metrics: dict[str, Any]) -> str:
    """Folder name of a report's checkpoint: ``step_000100``."""
    return f"step_{int(metrics.get('step') or 0):06d}"


class TuneReporter:
    """Reports to Ray Tune from inside a function trainable."""

    def __init__(self) -> None:
        import logging

        # Ray logs one INFO line per persisted checkpoint from every worker; the sweep's table says enough.
        for name in ("ray.train._internal.storage", "ray.train.v2._internal.execution.storage"):
            logging.getLogger(name).setLevel(logging.WARNING)

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        from ray import tune

        checkpoint = tune.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        tune.report(nonfinite_to_none(metrics), checkpoint=checkpoint)

    def restore_dir(self) -> str | None:
        """A local copy of the checkpoint Ray restored this trial with, or None on a fresh start."""
        from ray import tune

        checkpoint = tune.get_checkpoint()
        return None if checkpoint is None else checkpoint.to_directory()


class LocalReporter:
    """Writes ``out_dir/records.jsonl`` (one line per report) and ``out_dir/checkpoints/step_NNNNNN/``."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and (not self.out_dir.is_dir() or any(self.out_dir.iterdir())):
            raise InputError(str(self.out_dir), "output directory exists and is not empty (choose another --out)")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.records_path = self.out_dir / "records.jsonl"
        self.records_path.touch()

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        metrics = nonfinite_to_none(metrics)
        saved = None
        if checkpoint_dir:
            dest = self.out_dir / "checkpoints" / checkpoint_name(metrics)
            n = 2
            while dest.exists():
                dest = dest.with_name(f"{checkpoint_name(metrics)}-{n}")
                n += 1
            shutil.copytree(checkpoint_dir, dest)
            saved = str(dest.resolve())
        record = {"time": time.time(), "metrics": metrics, "checkpoint": saved}
        with self.records_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")

    def restore_dir(self) -> str | None:
        return None


class ListReporter:
    """Keeps reports in memory; copies each checkpoint under ``checkpoint_root`` (if given)."""

    def __init__(self, checkpoint_root: str | Path | None = None, *, restore_from: str | None = None) -> None:
        self.reports: list[dict[str, Any]] = []
        self.checkpoints: list[str | None] = []
        self.checkpoint_root = Path(checkpoint_root) if checkpoint_root is not None else None
        self.restore_from = restore_from

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        metrics = nonfinite_to_none(metrics)
        json.dumps(metrics, allow_nan=False)  # the contract: JSON-safe, no NaN
        saved = None
        if checkpoint_dir and self.checkpoint_root is not None:
            dest = self.checkpoint_root / f"{len(self.reports):03d}_{checkpoint_name(metrics)}"
            shutil.copytree(checkpoint_dir, dest)
            saved = str(dest)
        elif checkpoint_dir:
            saved = checkpoint_dir
        self.reports.append(metrics)
        self.checkpoints.append(saved)

    def restore_dir(self) -> str | None:
        return self.restore_from

    @property
    def final(self) -> dict[str, Any]:
        """The last report."""
        return self.reports[-1]
