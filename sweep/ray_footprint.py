"""What Ray Tune keeps per trial for the whole sweep, cut to what mtsweep reads (Ray issue #64231: the
driver's memory grows with the trial count).

- Ray's default ``JsonLoggerCallback`` keeps every trial's config and ``CSVLoggerCallback`` a flag per
  trial for the whole sweep; its TensorBoard logger writes event files nobody here reads. The loggers
  below write the same ``result.json`` / ``params.json`` / ``progress.csv`` and forget a trial at its
  end (``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS``, set by :func:`sweep.driver.ray_session`, keeps Ray from
  adding its own).
- Each Ray ``Trial`` keeps running statistics of every numeric result key (max/min/avg/last-5/last-10:
  ~40 KB a trial with the report contract's keys) and its last result with a copy of the config; all
  of it goes into every experiment snapshot. :class:`FinishedTrialTrimmer` drops the statistics (used
  only by ``ExperimentAnalysis.get_best_trial``, which mtsweep never calls: the study and
  ``trials.jsonl`` hold the verdicts) and the config copy when a trial ends.
- Each trial's checkpoint manager keeps every checkpoint it registered, each with the full metrics of its
  report (~8 KB of every snapshot per trial with 4 evals). A restored trial (resume, a retry after a lost
  worker) starts from the latest only (``latest_checkpoint_result``), and mtsweep finds checkpoints through
  ``reports.jsonl``, never through Ray's list (``Result.best_checkpoints``): the trimmer keeps only the
  latest when a trial ends. It also drops the trial's never-read ``ObjectRef`` to its worker's default
  metrics (one per trial, pinned in Ray's object store for the whole sweep).
- Ray uploads the driver's whole staging folder (the experiment state and every trial's ``result.json``,
  ``params.json``, ``params.pkl``, ``progress.csv``) at every experiment snapshot: 4,000 files at 1,000
  trials, every 10 s, in a thread that competes with the driver. :class:`FinishedTrialFiles` uploads a
  finished trial's files once and removes them from the staging folder (never while an upload runs).
- What is left grows the driver's heap less than the heap's own free space does: each experiment snapshot
  builds O(trials) transient buffers (the searcher pickle, the JSON of the changed trials) and glibc keeps
  the freed memory. :class:`HeapTrimmer` hands it back to the OS (``malloc_trim``) every 10 s.
"""

from __future__ import annotations

import ctypes
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import ray
from ray.tune.callback import Callback
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

logger = logging.getLogger(__name__)


class TrialScopedJsonLogger(JsonLoggerCallback):
    """``result.json`` and ``params.json`` per trial; the trial's config is dropped when it ends."""

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        super().log_trial_end(trial, failed)
        self._trial_configs.pop(trial, None)


class TrialScopedCsvLogger(CSVLoggerCallback):
    """``progress.csv`` per trial; nothing of the trial is kept when it ends."""

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        super().log_trial_end(trial, failed)
        self._trial_continue.pop(trial, None)


class FinishedTrialTrimmer(Callback):
    """Drops a finished trial's per-metric statistics, the config copy in its last result and every
    checkpoint result but the latest."""

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        trim_finished(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        trim_finished(trial)


def trim_finished(trial: Any) -> None:
    meta = getattr(trial, "run_metadata", None)
    if meta is None:
        return
    meta.metric_analysis = {}
    meta.metric_n_steps = {}
    if "config" in meta.last_result:
        meta.last_result = {k: v for k, v in meta.last_result.items() if k != "config"}
    manager = meta.checkpoint_manager
    latest = getattr(manager, "latest_checkpoint_result", None)
    kept = getattr(manager, "_checkpoint_results", None)  # Ray's private list: no public way to forget one
    if latest is not None and kept is not None and kept != [latest]:
        manager._checkpoint_results = [latest]
    meta.invalidate_cache()  # the next snapshot serialises the trimmed state
    reported = {k for k in meta.last_result if k != "trial_id"}  # else Trial.last_result falls back on it
    if reported and isinstance(getattr(trial, "_default_result_or_future", None), ray.ObjectRef):
        trial._default_result_or_future = None


class FinishedTrialFiles(Callback):
    """Moves a finished trial's result files from Ray's driver staging folder to the trial's folder in
    the results, once, so that the snapshot uploads stop copying them (see the module docstring). Trials
    that finish while an upload runs are moved at a later step; at the end Ray's last upload copies what
    is left."""

    def __init__(self) -> None:
        self._pending: list[Any] = []

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._pending.append(trial)
        self._move()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._pending.append(trial)
        self._move()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self._pending:
            self._move()

    def _move(self) -> None:
        if uploading(self._pending[-1]):
            return
        for trial in self._pending:
            move_trial_files(trial)
        self._pending.clear()


def uploading(trial: Any) -> bool:
    """Whether the experiment's background upload (shared by its trials' storage) is running."""
    process = getattr(getattr(getattr(trial, "storage", None), "syncer", None), "_sync_process", None)
    return bool(process is not None and process.is_running)


def move_trial_files(trial: Any) -> None:
    """Upload ``trial``'s staging folder to its folder in the storage and delete the staging copy (a
    no-op where there is none or the storage is the staging folder itself)."""
    storage = getattr(trial, "storage", None)
    local = getattr(storage, "trial_driver_staging_path", None)
    if local is None or not Path(local).is_dir():
        return
    try:
        from ray.train._internal.storage import _upload_to_fs_path  # private: guarded, skipped if moved

        if Path(local).resolve() == Path(storage.trial_fs_path).resolve():
            return
        _upload_to_fs_path(local_path=local, fs=storage.storage_filesystem, fs_path=storage.trial_fs_path)
    except Exception as err:  # keep the files where Ray's own uploads find them
        logger.warning("could not move the result files of trial %s: %s", getattr(trial, "trial_id", "?"), err)
        return
    shutil.rmtree(local, ignore_errors=True)


class HeapTrimmer(Callback):
    """Returns the driver's freed heap memory to the OS every ``every_s`` seconds (glibc's ``malloc_trim``;
    a no-op elsewhere). 0.5-3 ms a call on the heap of a 1,000-trial driver (bench/README.md)."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self._last = time.monotonic()
        self._trim = malloc_trim()

    def __getstate__(self) -> dict[str, Any]:
        return {"every_s": self.every_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.get("every_s", 10.0))

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self._trim is not None and time.monotonic() - self._last >= self.every_s:
            self._trim(0)
            self._last = time.monotonic()


def malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)  # the C library this process already runs on
    except OSError:
        return None


def footprint_callbacks() -> list[Callback]:
    """The result-file loggers, the trimmer, the file mover (after the loggers: they close the files at
    a trial's end) and the heap trimmer, for ``RunConfig(callbacks=...)``."""
    return [TrialScopedJsonLogger(), TrialScopedCsvLogger(), FinishedTrialTrimmer(), FinishedTrialFiles(), HeapTrimmer()]
