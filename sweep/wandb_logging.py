"""Weights & Biases dashboards for a sweep: one W&B run per trial, grouped by sweep, plus a Pareto run.

:class:`WandbTrialLogger` is a Ray Tune ``Callback`` that runs in the sweep driver (the head node on a
cluster), so only the driver needs W&B credentials and nothing about them travels to workers or into
Ray's job/runtime-env metadata. Per trial it logs the trial config, every eval report as history
(x axis: the optimizer ``step``) and the stop status (``stop_cause``, ``diverged``, ...) in the summary.
When an ``mtsweep run`` sweep ends it logs one extra run (``job_type="pareto"``) holding the Pareto table
(``analysis``'s trial-level front) as a ``wandb.Table`` and the fluency-vs-terminology plot as a
``wandb.Image``; a bare Ray Tuner's folder (no ``sweep.yaml``) gets no Pareto run.

Why not ``ray.air.integrations.wandb.WandbLoggerCallback``: it drops string results (so no
``stop_cause``), has no end-of-sweep hook for tables, and hands the API key to a Ray actor through a
runtime env (visible in Ray's metadata).

Modes: ``online``, ``offline`` (sync later with ``wandb sync <results>/wandb/offline-run-*``), ``off``,
``auto`` (online when an API key is configured, else offline). ``online`` without a key also falls back
to offline. W&B files go to ``<results dir>/wandb``.
"""

from __future__ import annotations

import json
import logging
import netrc
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ray.tune.callback import Callback

from sweep.choices import WANDB_MODES as MODES
from trainable.base.finite import is_finite_number

logger = logging.getLogger(__name__)

STATUS_SUMMARY_KEYS: tuple[str, ...] = (
    "is_final",
    "diverged",
    "diverged_step",
    "stop_cause",
    "divergence_cause",
)
"""Report keys that describe how a trial ended: written to the run summary, not the history."""
_RAY_RESULT_KEYS: frozenset[str] = frozenset(
    {
        "config",
        "done",
        "should_checkpoint",
        "checkpoint_dir_name",
        "trial_id",
        "experiment_tag",
        "date",
        "timestamp",
        "hostname",
        "node_ip",
        "pid",
        "time_since_restore",
        "iterations_since_restore",
        "time_this_iter_s",
    }
)
"""Bookkeeping keys Ray adds to every result: not history."""
INIT_BACKOFF_S: tuple[float, float] = (10.0, 600.0)
"""After a failed ``wandb.init`` no run is started for this long (doubling per failure in a row, up to the
cap): an unreachable W&B blocks the driver for its whole timeout on every try."""


class WandbBackoff(RuntimeError):
    """No W&B run is started now: a recent ``wandb.init`` failed (the trial's reports go unlogged)."""


# --- mode and credentials ------------------------------------------------------------------
def api_key_configured() -> bool:
    """An API key is set (``WANDB_API_KEY``) or stored by ``wandb login`` (netrc). The key is never read
    into anything that is logged; only its presence is checked."""
    if os.environ.get("WANDB_API_KEY", "").strip():
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or "api.wandb.ai"
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        auth = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(auth and auth[2])


def resolve_mode(mode: str) -> str:
    """``auto`` -> online/offline by key presence; ``online`` without a key -> offline (with a warning)."""
    if mode not in MODES:
        raise ValueError(f"wandb mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode in ("auto", "online") and not api_key_configured():
        if mode == "online":
            logger.warning("wandb: no API key configured (WANDB_API_KEY or `wandb login`): logging offline")
        return "offline"
    return "online" if mode == "auto" else mode


# --- values ---------------------------------------------------------------------------------
def _loggable(value: Any) -> bool:
    return isinstance(value, str | bool) or is_finite_number(value)


def history_row(result: dict[str, Any]) -> dict[str, Any]:
    """The numeric metrics of one report (status keys, Ray bookkeeping and non-finite values left out)."""
    return {
        key: value
        for key, value in result.items()
        if key not in _RAY_RESULT_KEYS and key not in STATUS_SUMMARY_KEYS and not str(key).startswith("_")
        and is_finite_number(value)
    }


def trial_config(config: dict[str, Any]) -> dict[str, Any]:
    """The trial config for W&B: reserved ``_`` keys dropped, except the Optuna trial number."""
    out = {k: v for k, v in config.items() if not str(k).startswith("_")}
    if "_optuna_number" in config:
        out["optuna_number"] = config["_optuna_number"]
    return json.loads(json.dumps(out, default=str))


# --- the callback ---------------------------------------------------------------------------
class WandbTrialLogger(Callback):
    """One W&B run per Ray Tune trial, grouped by sweep; a Pareto run at the end of the sweep."""

    def __init__(
        self,
        *,
        results_dir: str | Path,
        sweep_name: str,
        project: str = "mtsweep",
        mode: str = "auto",
        objectives: list[str] | None = None,
        entity: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.results_dir = Path(results_dir)
        self.sweep_name = sweep_name
        self.project = project
        self.mode = resolve_mode(mode)
        self.objectives = list(objectives or ["comet", "term_acc"])
        self.entity = entity
        self._runs: dict[str, Any] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._clock = clock
        self._init_failures = 0
        self._init_retry_at = float("-inf")

    @property
    def wandb_dir(self) -> Path:
        return self.results_dir / "wandb"

    def _init_run(self, *, name: str, run_id: str, job_type: str, config: dict[str, Any]) -> Any:
        try:
            import wandb
        except ImportError as err:  # pragma: no cover - wandb is a dependency
            raise RuntimeError("W&B logging needs the wandb package: pip install wandb") from err
        self.wandb_dir.mkdir(parents=True, exist_ok=True)
        return wandb.init(
            project=self.project,
            entity=self.entity,
            group=self.sweep_name,
            job_type=job_type,
            name=name,
            id=run_id,
            config=config,
            dir=str(self.results_dir),  # wandb adds the "wandb/" folder itself
            mode=self.mode,
            reinit="create_new",  # several trial runs live side by side in the driver
            resume="allow",
            settings=wandb.Settings(
                console="off",  # never capture the driver's stdout into W&B files
                silent=True,
                x_disable_stats=True,  # the driver's machine stats say nothing about a trial
                disable_git=True,
                save_code=False,
            ),
        )

    def _run_for(self, trial: Any) -> Any:
        tid = trial.trial_id
        if tid not in self._runs:
            self._runs[tid] = self._init_with_backoff(
                name=f"{self.sweep_name}-{tid}",
                run_id=f"{self.sweep_name}-{tid}",
                job_type="trial",
                config=trial_config(dict(trial.config)),
            )
        return self._runs[tid]

    def _init_with_backoff(self, **kwargs: Any) -> Any:
        """``_init_run``, not tried again for :data:`INIT_BACKOFF_S` after a failure."""
        now = self._clock()
        if now < self._init_retry_at:
            raise WandbBackoff(f"W&B init failed recently; next try in {self._init_retry_at - now:.0f} s")
        try:
            run = self._init_run(**kwargs)
        except Exception as err:
            self._init_failures += 1
            first, cap = INIT_BACKOFF_S
            wait = min(cap, first * 2 ** (self._init_failures - 1))
            self._init_retry_at = now + wait
            logger.warning("wandb: init failed (%d in a row: %s: %s); no W&B run starts for %.0f s",
                           self._init_failures, type(err).__name__, err, wait)
            raise
        self._init_failures = 0
        return run

    # Ray Tune callback hooks: a W&B failure (network, quota) is logged, never fails the sweep ----
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._safely("start", trial, self._run_for, trial)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._safely("result", trial, self._log_result, trial, result)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._safely("complete", trial, self._finish, trial, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._safely("error", trial, self._finish, trial, error=True)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for tid in list(self._runs):
            self._safely("end", None, self._runs.pop(tid).finish)
        self._safely("pareto", None, self.log_pareto)

    def _safely(self, what: str, trial: Any, fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except WandbBackoff:
            return  # said once, when the init failed
        except Exception as err:
            tid = getattr(trial, "trial_id", "-")
            logger.warning("wandb: %s of trial %s not logged (%s: %s)", what, tid, type(err).__name__, err)

    def _log_result(self, trial: Any, result: dict) -> None:
        run = self._run_for(trial)
        row = history_row(result)
        if row:
            step = result.get("step")
            run.log(row, step=int(step) if is_finite_number(step) else None)
        status = {k: result[k] for k in STATUS_SUMMARY_KEYS if k in result and _loggable(result[k])}
        if status:
            run.summary.update(status)
        self._last[trial.trial_id] = {**self._last.get(trial.trial_id, {}), **row, **status}

    def _finish(self, trial: Any, *, error: bool) -> None:
        run = self._run_for(trial)
        last = self._last.get(trial.trial_id, {})
        # A trial completed without a final report of its own was stopped by the scheduler.
        stop_cause = "error" if error else last.get("stop_cause") or "pruned"
        run.summary.update({"stop_cause": stop_cause, "diverged": bool(last.get("diverged", False))})
        self._last.setdefault(trial.trial_id, {})["stop_cause"] = stop_cause
        del self._runs[trial.trial_id]
        run.finish(exit_code=1 if error else 0)

    # Pareto run ------------------------------------------------------------------------------
    def log_pareto(self) -> None:
        """Log the Pareto table and plot of the whole sweep as one run (``<sweep>-pareto``)."""
        import wandb

        if not (self.results_dir / "sweep.yaml").is_file():
            logger.info("wandb: no Pareto run (%s is not an mtsweep results folder)", self.results_dir)
            return
        # the analysis package's own front, table columns and plot (what `mtsweep pareto` writes)
        rows, plot = analysis_pareto(self.results_dir, self.wandb_dir / "pareto.png")
        if not rows:
            return
        columns = list(dict.fromkeys(k for row in rows for k in row))
        table = wandb.Table(columns=columns, data=[[_cell(row.get(c)) for c in columns] for row in rows])
        run = self._init_with_backoff(
            name=f"{self.sweep_name}-pareto",
            run_id=f"{self.sweep_name}-pareto",
            job_type="pareto",
            config={"objectives": self.objectives, "sweep": self.sweep_name},
        )
        payload: dict[str, Any] = {"pareto_table": table}
        if plot is not None:
            payload["pareto_plot"] = wandb.Image(str(plot))
        run.log(payload)
        run.summary.update({"n_trials": len(rows), "n_pareto": sum(1 for r in rows if r.get("pareto"))})
        run.finish()

    def __getstate__(self) -> dict[str, Any]:
        """Ray may pickle callbacks (tuner.pkl): live W&B runs stay behind."""
        state = self.__dict__.copy()
        state.update(_runs={}, _last={})
        return state


def _cell(value: Any) -> Any:
    return (
        value
        if value is None or isinstance(value, bool | int | float | str)
        else json.dumps(value, default=str)
    )


# --- Pareto rows and plot ------------------------------------------------------------------
def analysis_pareto(results_dir: Path, out_png: Path) -> tuple[list[dict[str, Any]], Path | None]:
    """Trial-level Pareto rows (front first, ``pareto`` flag) and plot, drawn by ``analysis``."""
    from analysis.exports import front_rows, other_rows
    from analysis.front import pareto_front
    from analysis.loading import load_sweep
    from analysis.plot_info import pareto_plot_info
    from analysis.plot_static import draw_pareto

    results = load_sweep(results_dir)
    front = pareto_front(results.trial_points, results.objectives, results.modes, level="trial")
    rows = [{**r, "pareto": r.get("rank") == 0} for r in front_rows(front, results.root) + other_rows(front, results.root)]
    if not front.points:
        return rows, None
    info = pareto_plot_info(
        front, None, (results.baseline or {}).get("metrics"), sweep_name=results.root.name
    )
    out_png.parent.mkdir(parents=True, exist_ok=True)
    return rows, draw_pareto(info, out_png)
