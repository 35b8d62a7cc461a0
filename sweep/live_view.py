"""What a running sweep prints: short and the same size at trial 10 or 10,000.

On a terminal, a block redrawn in place every ``every_s`` seconds: counts, the running trials and the
last few finished ones. Anywhere else (a log file, ``ray job logs``, CI) one line per event: a trial
started, reported, finished or failed. Nothing is kept per finished trial beyond the last few rows.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, deque
from typing import Any

from ray.tune.callback import Callback

from sweep.study import OPTUNA_NUMBER_KEY
from sweep.trial_table import format_table, short_params

RECENT_ROWS = 5
"""Finished trials shown under the running ones on a terminal."""


class LiveView(Callback):
    """Sweep progress for a terminal (redrawn block) or a log (one line per event).

    ``objectives``: result keys shown; ``total``: trials the sweep will run (for "k/N finished");
    ``scheduler``: the MO-ASHA scheduler, asked for the stop cause of trials it stopped; ``tty``:
    force terminal or line mode (default: ``stream.isatty()``).
    """

    def __init__(self, objectives: list[str], *, every_s: float = 10.0, total: int | None = None,
                 stream: Any = None, scheduler: Any = None, tty: bool | None = None) -> None:
        self.objectives = list(objectives)
        self.every_s = every_s
        self.total = total
        self.stream = stream
        self.scheduler = scheduler
        self.tty = tty
        self._started = time.monotonic()
        self._running: dict[str, dict[str, Any]] = {}
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ROWS)
        self._counts: Counter[str] = Counter()
        self._last_draw = float("-inf")
        self._drawn_lines = 0
        self._dirty = False

    def __getstate__(self) -> dict[str, Any]:
        return {k: self.__dict__.get(k) for k in ("objectives", "every_s", "total", "scheduler", "tty")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A fresh view (also from the state of the ``LiveTable`` that sweeps before it pickled)."""
        self.__init__(state["objectives"], every_s=state.get("every_s", 10.0), total=state.get("total"),
                      scheduler=state.get("scheduler"), tty=state.get("tty"))

    # --- output -------------------------------------------------------------------------------
    def _out(self) -> Any:
        return self.stream or sys.stdout

    def _is_tty(self) -> bool:
        if self.tty is not None:
            return self.tty
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def _line(self, text: str) -> None:
        if not self._is_tty():
            print(f"[{time.monotonic() - self._started:7.1f}s] {text}", file=self._out(), flush=True)

    # --- Ray callback hooks -------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        row = self._running.setdefault(trial.trial_id, self._row(trial))
        self._dirty = True
        self._line(f"start  #{row['number']} ({trial.trial_id}) {row['params']}")

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        row = self._running.setdefault(trial.trial_id, self._row(trial))
        row["step"] = result.get("step", row["step"])
        row["values"] = [result.get(o, v) for o, v in zip(self.objectives, row["values"], strict=True)]
        self._dirty = True
        self._line(f"report #{row['number']} step {row['step']} {self._values(row)}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, "done")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._finish(trial, "error")

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if self._dirty and self._is_tty() and time.monotonic() - self._last_draw >= self.every_s:
            self.draw()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if self._is_tty():
            self.draw()
        else:
            self._line(self._summary())

    # --- state --------------------------------------------------------------------------------
    def _row(self, trial: Any) -> dict[str, Any]:
        evaluated = getattr(trial, "evaluated_params", None) or {}
        searched = {k: v for k, v in trial.config.items() if k in evaluated and not str(k).startswith("_")}
        return {"trial": trial.trial_id, "number": trial.config.get(OPTUNA_NUMBER_KEY), "step": None,
                "values": [None] * len(self.objectives), "stop": None, "params": short_params(searched)}

    def _finish(self, trial: Any, outcome: str) -> None:
        row = self._running.pop(trial.trial_id, None) or self._row(trial)
        last = getattr(trial, "last_result", None) or {}
        info = getattr(self.scheduler, "stop_info", lambda *_: None)(trial.trial_id, trial.config.get(OPTUNA_NUMBER_KEY)) or {}
        row["stop"] = "error" if outcome == "error" else last.get("stop_cause") or info.get("stop_cause")
        self._counts[outcome] += 1
        self._recent.append(row)
        self._dirty = True
        self._line(f"{outcome:<6} #{row['number']} step {row['step']} {self._values(row)} {row['stop'] or ''}  "
                   f"({self._summary()})")

    def _values(self, row: dict[str, Any]) -> str:
        return " ".join(f"{o} {v:.4g}" if isinstance(v, int | float) else f"{o} -"
                        for o, v in zip(self.objectives, row["values"], strict=True))

    def _summary(self) -> str:
        finished = sum(self._counts.values())
        of = f"/{self.total}" if self.total else ""
        errors = f", {self._counts['error']} errors" if self._counts["error"] else ""
        return f"{finished}{of} finished, {len(self._running)} running{errors}"

    # --- terminal block -----------------------------------------------------------------------
    def draw(self) -> None:
        """Redraw the block in place: summary, running trials, the last finished ones."""
        self._last_draw = time.monotonic()
        self._dirty = False
        headers = ["#", "trial", "step", *self.objectives, "stop", "params"]

        def cells(row: dict[str, Any]) -> list[Any]:
            return [row["number"], row["trial"], row["step"], *row["values"], row["stop"], row["params"]]

        lines = [f"[{time.monotonic() - self._started:7.1f}s] {self._summary()}"]
        if self._running:
            lines += ["running:", *format_table(headers, [cells(r) for r in self._running.values()]).splitlines()]
        if self._recent:
            lines += ["last finished:", *format_table(headers, [cells(r) for r in self._recent]).splitlines()]
        out = self._out()
        if self._drawn_lines:
            out.write(f"\x1b[{self._drawn_lines}F\x1b[J")  # back to the block's first line, clear below
        out.write("\n".join(lines) + "\n")
        out.flush()
        self._drawn_lines = len(lines)
