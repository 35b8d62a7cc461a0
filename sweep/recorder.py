"""NaN-safe recording of a sweep in Optuna and in the results folder, for any trainable.

Ray 2.60's ``OptunaSearch`` leaves a trial RUNNING in the study forever when its last report holds NaN
(Optuna's ``tell`` refuses NaN and Ray only logs the error). :class:`RecordingOptunaSearch` closes that
gap: every result is sanitised (non-finite values dropped) before the searcher sees it, the last
report whose objectives were all finite is kept per trial, and on completion the trial is told

- ``COMPLETE`` with those last good values,
- ``PRUNED`` when the multi-objective scheduler stopped it,
- ``FAIL`` on an error or when it never reported finite objectives,

with user attributes ``stop_cause``, ``steps``, ``diverged``, ``diverged_step``, ``ray_trial_id`` (and
``last_values``, ``divergence_cause``, ``fail_reason`` where they apply). With feasibility constraints
(trainable/base/constraints.py), a COMPLETE or PRUNED trial also gets, before ``tell``, Optuna's own constraint
attributes (``constraints:<metric>>=<min>``..., what ``Trial.set_constraint`` writes; every Optuna 5
sampler and ``study.best_trials`` read them) from the report its values come from, and user attributes
``feasible`` and ``failed_constraints``. After a resume it adopts
study trials the dead driver had asked for but Ray never recorded, so Ray and Optuna keep one trial
each, one to one. :func:`reconcile_study` is the final guarantee: no trial is left RUNNING.

:class:`ResultsFileCallback` appends ``reports.jsonl`` and ``trials.jsonl`` (docs/architecture.md).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ray.tune.callback import Callback
from ray.tune.search.optuna import OptunaSearch

from sweep.results_dir import REPORTS_JSONL, TRIALS_JSONL
from sweep.study import (
    CONSTRAINTS_ATTR_PREFIX,
    CURVE_ATTR,
    OPTUNA_NUMBER_KEY,
    frozen_trial,
    make_storage,
    trial_record,
)
from trainable.base.constraints import active, failed, violations
from trainable.base.finite import is_finite_number, is_nonfinite, nonfinite_to_none
from trainable.base.jsonl import append_jsonl, json_safe, read_records
from trainable.base.report_keys import record_trial_key

logger = logging.getLogger(__name__)

SHOULD_CHECKPOINT = "should_checkpoint"


class RecordingOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that never lets a non-finite value reach Optuna and always finishes a trial.

    ``scheduler``: the sweep's trial scheduler, asked (``stop_info``, else ``stopped_trials``) whether it stopped a trial,
    which then ends PRUNED. It is not part of the saved searcher state (Ray restores it separately).
    ``constraints``: feasibility bands (trainable/base/constraints.py) recorded on every COMPLETE/PRUNED trial.
    ``untold_path``: JSONL file for verdicts the storage refused (an Optuna write that still failed after
    :attr:`TELL_RETRY_DELAYS_S`): the sweep goes on, and :func:`retell_untold` writes them at the end.
    """

    TELL_RETRY_DELAYS_S: tuple[float, ...] = (1.0, 4.0, 15.0)
    """Waits between attempts to write a verdict (SQLite locked, database briefly unreachable)."""

    def __init__(self, *args: Any, scheduler: Any = None, constraints: dict[str, Any] | None = None,
                 untold_path: str | Path | None = None, **kwargs: Any) -> None:
        self._scheduler = scheduler
        self._constraints = dict(constraints or {})
        self._untold_path = Path(untold_path) if untold_path is not None else None
        self._tracks: dict[str, dict[str, Any]] = {}
        self._finished_numbers: set[int] = set()  # Optuna numbers of trials done here (their Trial objects dropped)
        self._adopt_orphans = False
        super().__init__(*args, **kwargs)

    # --- Ray Searcher API ------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | None:
        adopted = None
        if self._adopt_orphans and trial_id not in self._ot_trials:
            adopted = self._adopt_orphan(trial_id)
        try:
            config = super().suggest(trial_id)
        except Exception:
            if adopted is None:
                raise
            # An adopted trial that cannot be re-suggested (e.g. finished with params missing): ask anew.
            logger.warning("could not re-suggest adopted Optuna trial %s; asking a new one", adopted)
            del self._ot_trials[trial_id]
            config = super().suggest(trial_id)
        ot_trial = self._ot_trials[trial_id]
        self._set_attr(ot_trial, "ray_trial_id", trial_id)
        if config is not None:
            config[OPTUNA_NUMBER_KEY] = ot_trial.number
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._track(trial_id, result)
        self._record_curve(trial_id)
        super().on_trial_result(trial_id, nonfinite_to_none(result))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials:
            return
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None:  # never suggested by us (should not happen)
            return
        if result:
            self._track(trial_id, result)
            self._record_curve(trial_id)
        state, values, attrs = self.verdict(trial_id, error=error)
        constraints = self.feasibility(trial_id) if state in ("COMPLETE", "PRUNED") else {}
        if constraints:
            metrics = self._tracks.get(trial_id, {}).get("constrained") or {}
            attrs["failed_constraints"] = failed(self._constraints, metrics)
            attrs["feasible"] = not attrs["failed_constraints"]
        self._tell_with_retries(ot_trial, state, values, attrs, constraints)
        self._completed_trials.add(trial_id)
        # Nothing per finished trial is kept but its id and number (a long sweep's driver stays small).
        self._finished_numbers.add(ot_trial.number)
        del self._ot_trials[trial_id]
        self._tracks.pop(trial_id, None)

    # --- state kept across driver restarts -------------------------------------------------
    def save(self, checkpoint_path: str) -> None:
        scheduler, self._scheduler = self._scheduler, None
        try:
            super().save(checkpoint_path)
        finally:
            self._scheduler = scheduler

    def restore(self, checkpoint_path: str) -> None:
        scheduler = self._scheduler
        super().restore(checkpoint_path)
        self._scheduler = scheduler
        for name, default in (("_finished_numbers", set()), ("_untold_path", None)):  # older snapshots
            self.__dict__.setdefault(name, default)
        self._adopt_orphans = True  # the dead driver may have asked for trials Ray never recorded

    # --- decisions -------------------------------------------------------------------------
    def _track(self, trial_id: str, raw: dict[str, Any]) -> None:
        """Remember the last report whose objectives are all finite, steps, and the status keys."""
        t = self._tracks.setdefault(
            trial_id, {"last_values": None, "values_step": None, "steps": None, "nonfinite_step": None, "last": {},
                       "constrained": {}}
        )
        result = nonfinite_to_none(raw)
        step = result.get("step", result.get("training_iteration"))
        if is_finite_number(step):
            t["steps"] = int(step)
        values = [result.get(m) for m in self._metric_list()]
        if all(is_finite_number(v) for v in values):
            t["last_values"] = [float(v) for v in values]
            t["values_step"] = t["steps"]
            t["constrained"] = {m: result.get(m) for m in active(self._constraints)}  # same report as the values
        elif t["nonfinite_step"] is None and any(is_nonfinite(raw.get(m)) for m in self._metric_list()):
            t["nonfinite_step"] = t["steps"]  # a trainable that reported NaN instead of stopping
            t["nonfinite_cause"] = nonfinite_cause(raw)
        keep = ("is_final", "diverged", "diverged_step", "stop_cause", "divergence_cause")
        t["last"].update({k: result[k] for k in keep if k in result})

    def _record_curve(self, trial_id: str) -> None:
        """Store the trial's objective vector per eval step in the study (user attr ``objective_curve``):
        what the sampler learns from, PRUNED trials included, also after a resume."""
        t = self._tracks[trial_id]
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or t["last_values"] is None or t["values_step"] is None:
            return
        if "curve" not in t:  # after a resume: continue the curve already in the study
            try:
                stored = self._ot_study._storage.get_trial(ot_trial._trial_id).user_attrs.get(CURVE_ATTR)
            except Exception as err:  # a storage error in bookkeeping never ends the sweep (tried next report)
                logger.warning("could not read the curve of Optuna trial %s: %s", ot_trial.number, describe_error(err))
                return
            t["curve"] = dict(stored or {})
        if t["curve"].get(str(t["values_step"])) == t["last_values"]:
            return
        t["curve"][str(t["values_step"])] = t["last_values"]
        self._set_attr(ot_trial, CURVE_ATTR, t["curve"])

    def _stopped_by_scheduler(self, trial_id: str) -> bool:
        ot_trial = self._ot_trials.get(trial_id)
        stop_info = getattr(self._scheduler, "stop_info", None)
        if stop_info is not None:  # MO-ASHA: knows a trial by its Optuna number
            return stop_info(trial_id, None if ot_trial is None else ot_trial.number) is not None
        stopped = getattr(self._scheduler, "stopped_trials", None)
        return stopped is not None and trial_id in stopped

    def verdict(self, trial_id: str, *, error: bool) -> tuple[str, list[float] | None, dict[str, Any]]:
        """(state, values, user attrs) for a finished trial, from what it reported."""
        t = self._tracks.get(trial_id, {"last_values": None, "steps": None, "nonfinite_step": None, "last": {}})
        last = t["last"]
        values = t["last_values"]
        attrs: dict[str, Any] = {
            "ray_trial_id": trial_id,
            "steps": t["steps"],
            "diverged": bool(last.get("diverged")) or t["nonfinite_step"] is not None,
            "diverged_step": last.get("diverged_step", t["nonfinite_step"]),
        }
        if last.get("divergence_cause"):
            attrs["divergence_cause"] = last["divergence_cause"]
        if values is not None:
            attrs["last_values"] = dict(zip(self._metric_list(), values, strict=True))
        if error:
            attrs.update(stop_cause="error", fail_reason="the trial raised an error (see the Ray trial log)")
            return "FAIL", None, attrs
        if self._stopped_by_scheduler(trial_id) and not last.get("is_final"):
            attrs["stop_cause"] = "pruned"
            return "PRUNED", None, attrs
        cause = last.get("stop_cause") or "completed"
        if cause == "completed" and t["nonfinite_step"] is not None:  # raw NaN/inf, no divergence status
            cause = t.get("nonfinite_cause") or "nonfinite_metric"
            attrs.setdefault("divergence_cause", cause)
        if values is None:
            attrs["stop_cause"] = cause if cause != "completed" else "no_good_eval"
            attrs["fail_reason"] = "no report with finite values for every objective"
            return "FAIL", None, attrs
        attrs["stop_cause"] = cause
        return "COMPLETE", values, attrs

    def feasibility(self, trial_id: str) -> dict[str, float]:
        """Optuna constraint values (bound key -> violation, <= 0 met) of the report the trial's values
        come from (its last one with finite objectives); {} without constraints."""
        metrics = self._tracks.get(trial_id, {}).get("constrained") or {}
        return violations(self._constraints, metrics)

    def _metric_list(self) -> list[str]:
        return self.metric if isinstance(self.metric, list) else [self.metric]

    # --- Optuna writes ---------------------------------------------------------------------
    def _set_attr(self, ot_trial: Any, key: str, value: Any) -> None:
        storage = self._ot_study._storage
        try:
            if not storage.get_trial(ot_trial._trial_id).state.is_finished():
                storage.set_trial_user_attr(ot_trial._trial_id, key, json_safe(value))
        except Exception as err:  # never let bookkeeping kill the sweep
            logger.warning("could not set user attr %s on Optuna trial %s: %s", key, ot_trial.number, err)

    def _tell_with_retries(self, ot_trial: Any, state: str, values: list[float] | None,
                           attrs: dict[str, Any], constraints: dict[str, float] | None = None) -> None:
        """:func:`tell_verdict`, retried; a verdict the storage still refuses is kept in the untold file
        (or, without one, logged) instead of ending the sweep."""
        for wait in (*self.TELL_RETRY_DELAYS_S, None):
            try:
                tell_verdict(self._ot_study, ot_trial.number, state, values, attrs, constraints)
                return
            except Exception as err:
                why = describe_error(err)
                if wait is None:
                    logger.error("Optuna trial %d: verdict %s not written (%s); kept for the end of the sweep",
                                 ot_trial.number, state, why)
                    if self._untold_path is not None:
                        append_jsonl(self._untold_path, {"number": ot_trial.number, "state": state, "values": values,
                                                         "attrs": attrs, "constraints": constraints, "error": why})
                    return
                logger.warning("Optuna trial %d: writing verdict failed (%s); retrying in %.1f s",
                               ot_trial.number, why, wait)
                time.sleep(wait)

    def _adopt_orphan(self, trial_id: str) -> int | None:
        """Give ``trial_id`` the oldest study trial no Ray trial owns (asked after the last checkpoint)."""
        import optuna

        owned = {t.number for t in self._ot_trials.values()} | self._finished_numbers
        orphans = [t for t in self._ot_study.get_trials(deepcopy=False) if t.number not in owned]
        orphans = [t for t in orphans if t.state != optuna.trial.TrialState.WAITING]
        if not orphans:
            self._adopt_orphans = False
            return None
        orphan = min(orphans, key=lambda t: t.number)
        self._ot_trials[trial_id] = optuna.trial.Trial(self._ot_study, orphan._trial_id)
        logger.info("Ray trial %s adopts Optuna trial %d (asked before the driver died)", trial_id, orphan.number)
        return orphan.number


def describe_error(err: BaseException) -> str:
    """``Type: message``, with the underlying cause (Optuna wraps SQLAlchemy's errors)."""
    text = f"{type(err).__name__}: {err}".strip()
    cause = err.__cause__ or err.__context__
    return f"{text} (caused by {type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''})" if cause else text


def tell_verdict(study: Any, number: int, state: str, values: list[float] | None, attrs: dict[str, Any],
                 constraints: dict[str, float] | None = None) -> bool:
    """Write a trial's user attrs (and constraint values) and tell its state; False (nothing written) when
    it is finished already (told by a driver that died before its checkpoint: the first verdict is kept)."""
    from optuna.trial import TrialState

    storage = study._storage
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    if storage.get_trial(trial_id).state.is_finished():
        return False
    for key, value in attrs.items():
        storage.set_trial_user_attr(trial_id, key, json_safe(value))
    for key, value in (constraints or {}).items():  # what Trial.set_constraint writes
        storage.set_trial_system_attr(trial_id, f"{CONSTRAINTS_ATTR_PREFIX}{key}", float(value))
    study.tell(number, values if state == "COMPLETE" else None, state=TrialState[state])
    return True


def retell_untold(study: Any, untold_path: Path) -> tuple[list[int], list[str]]:
    """Write the verdicts the storage refused during the sweep (:class:`RecordingOptunaSearch`); returns
    (numbers told now, one line per verdict still not written)."""
    told, failed = [], []
    for entry in read_records(untold_path):
        try:
            if tell_verdict(study, entry["number"], entry["state"], entry["values"], entry["attrs"],
                            entry.get("constraints")):
                told.append(entry["number"])
        except Exception as err:
            failed.append(f"trial {entry['number']} ({entry['state']}): {describe_error(err)}")
    return told, failed


# --- results files --------------------------------------------------------------------------
def _report_key(metrics: dict[str, Any]) -> Any:
    """What identifies a report within its trial: its ``step`` (else Ray's iteration counter) and whether
    it is final (a diverged trial's final report repeats its last good eval's step: it must be kept)."""
    step = metrics.get("step")
    final = bool(metrics.get("is_final"))
    return ("step", step, final) if step is not None else ("iter", metrics.get("training_iteration"), final)


class ResultsFileCallback(Callback):
    """Appends ``reports.jsonl`` (each report, with its checkpoint path) and ``trials.jsonl``.

    A report that asks for a checkpoint is held until Ray hands over the checkpoint (``on_checkpoint``)
    so its line carries the path. A report whose ``step`` is already on file for its Optuna trial (a
    resumed trial repeating itself, a trial re-run under a new Ray id after the driver died, or a
    trainable returning its final report) is not written again; nor is an Optuna trial already in
    ``trials.jsonl``: each is recorded once, whatever the Ray trial id.
    """

    def __init__(
        self, results_dir: str | Path, *, storage_url: str, study_name: str, objectives: list[str],
        param_keys: list[str],
    ) -> None:
        self.results_dir = Path(results_dir)
        self.storage_url = storage_url
        self.study_name = study_name
        self.objectives = list(objectives)
        self.param_keys = list(param_keys)
        self._storage: Any = None
        self._pending: dict[str, dict[str, Any]] = {}
        self._seen_reports: set[tuple[Any, Any]] | None = None
        self._seen_trials: set[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_storage=None, _pending={}, _seen_reports=None, _seen_trials=None)
        return state

    # --- helpers ---------------------------------------------------------------------------
    def storage(self) -> Any:
        if self._storage is None:
            self._storage = make_storage(self.storage_url)
        return self._storage

    def params_of(self, config: dict[str, Any]) -> dict[str, Any]:
        return {k: config[k] for k in self.param_keys if k in config}

    def _load_seen(self) -> None:
        if self._seen_reports is None:
            reports = read_records(self.results_dir / REPORTS_JSONL)
            self._seen_reports = {(record_trial_key(r), _report_key(r.get("metrics", {}))) for r in reports}
            self._seen_trials = {record_trial_key(r) for r in read_records(self.results_dir / TRIALS_JSONL)}

    def _flush(self, trial_id: str, checkpoint: str | None = None) -> None:
        record = self._pending.pop(trial_id, None)
        if record is None:
            return
        record["checkpoint"] = checkpoint
        self._load_seen()
        key = (record_trial_key(record), _report_key(record["metrics"]))
        if key in self._seen_reports:
            return  # a resumed or re-run trial repeating a report already on file
        self._seen_reports.add(key)
        append_jsonl(self.results_dir / REPORTS_JSONL, record)

    # --- Ray callbacks ---------------------------------------------------------------------
    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._flush(trial.trial_id)
        drop = {"config", "trial_id", "experiment_tag", "date", "hostname", "node_ip", "pid", "timestamp"}
        metrics = {k: v for k, v in result.items() if k not in drop}
        self._pending[trial.trial_id] = {
            "trial_id": trial.trial_id,
            "optuna_number": trial.config.get(OPTUNA_NUMBER_KEY),
            "params": self.params_of(trial.config),
            "metrics": metrics,
            "checkpoint": None,
            "time": time.time(),
        }
        if not result.get(SHOULD_CHECKPOINT):
            self._flush(trial.trial_id)

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        path = getattr(checkpoint, "path", None)
        self._flush(trial.trial_id, str(Path(path).resolve()) if path else None)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial_id in list(self._pending):
            self._flush(trial_id)

    def _finish(self, trial: Any) -> None:
        self._flush(trial.trial_id)
        number = trial.config.get(OPTUNA_NUMBER_KEY)
        self._load_seen()
        if number is None or ("optuna", number) in self._seen_trials:
            return
        try:
            frozen = frozen_trial(self.storage(), self.study_name, number)
        except Exception as err:
            logger.warning("trial %s: cannot read Optuna trial %s: %s", trial.trial_id, number, err)
            return
        if not frozen.state.is_finished():
            return  # the reconciliation pass writes it
        self._seen_trials.add(("optuna", number))
        append_jsonl(
            self.results_dir / TRIALS_JSONL,
            trial_record(frozen, self.objectives, trial.trial_id, self.params_of(trial.config)),
        )


def nonfinite_cause(raw: dict[str, Any]) -> str:
    """The divergence cause of a report with raw NaN/inf: the loss, else the gradient norm, else a metric."""
    if is_nonfinite(raw.get("loss")):
        return "nonfinite_loss"
    if is_nonfinite(raw.get("grad_norm")):
        return "nonfinite_grad"
    return "nonfinite_metric"
