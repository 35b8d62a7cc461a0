"""Real ``mtsweep`` driver processes for stop/kill/resume tests, and the checks every stop must pass.

A driver runs in its own session (``start_new_session``), so the test signals and kills only what it
started: the driver, and the local Ray head, raylet and workers the driver started (never ``ray stop``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import optuna
import yaml

from trainable.base.jsonl import read_records

REPO = Path(__file__).resolve().parents[2]


def write_sweep(path: Path, name: str, n_trials: int, **trial: float) -> Path:
    """A small sweep on the SYNTHETIC trainable (random search, no early stopping)."""
    path.write_text(yaml.safe_dump({
        "name": name, "trainable": "trainable.testing.synthetic:synthetic_trainable", "num_trials": n_trials,
        "max_concurrent": 2, "scheduler": {"mo_asha": False}, "sampler": "random", "reuse_actors": True,
        "trial": {"max_steps": 300, "eval_every": 100, "work_s": 0.3, **trial},
    }))  # fmt: skip
    return path


def session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                zombie = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
                if os.getsid(int(entry)) == sid and not zombie:
                    pids.append(int(entry))
            except (ProcessLookupError, PermissionError, FileNotFoundError, IndexError):
                continue
    return pids


def kill_session(sid: int, timeout: float = 60.0) -> list[int]:
    """SIGKILL every process of session ``sid`` until none is left; returns the survivors (none)."""
    deadline = time.monotonic() + timeout
    while (pids := session_pids(sid)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    return session_pids(sid)


def mtsweep(*args: str, log: Path) -> subprocess.Popen:
    """``python -m sweep ARGS`` in its own session, output in ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "sweep", *args], cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class Driver:
    """One ``mtsweep`` process (:func:`mtsweep`) and what tests do with it."""

    def __init__(self, *args: str, log: Path) -> None:
        self.log = log
        self.proc = mtsweep(*args, log=log)

    def output(self) -> str:
        return self.log.read_text()

    def wait_until(self, condition: Callable[[], bool], timeout: float = 180.0) -> None:
        """Poll ``condition`` until it holds; fails if the driver exits or time runs out first."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"driver exited {self.proc.returncode} early:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"timed out:\n{self.output()[-3000:]}"
            time.sleep(0.1)

    def signal(self, signum: int, *, group: bool = True) -> None:
        """``signum`` to the driver's process group (what Ctrl-C at a terminal does) or to the driver."""
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            os.kill(self.proc.pid, signum)

    def finish(self, timeout: float = 240.0) -> int:
        """The driver's exit code; then every process it left is killed."""
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            assert kill_session(self.proc.pid) == []

    def kill9(self) -> int:
        """kill -9 of the driver and everything it started (its Ray node dies with it)."""
        os.kill(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait(timeout=30)
        assert kill_session(self.proc.pid) == []
        return code


def study_of(out: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def n_lines(path: Path) -> int:
    return len(read_records(path))


def check_record(out: Path, name: str, n_trials: int, *, finished: bool) -> None:
    """The guarantees after any stop: at most ``n_trials`` trials in the study, none FAIL for a reason
    other than its own reports, each finished trial once in ``trials.jsonl``, no report twice; when
    ``finished``, exactly ``n_trials`` trials, none RUNNING."""
    trials = [t for t in study_of(out, name).get_trials(deepcopy=False) if t.state.name != "WAITING"]
    assert len(trials) <= n_trials
    for t in trials:
        if t.state.name == "FAIL":  # only the synthetic curves' own divergence may fail a trial
            assert t.user_attrs.get("stop_cause") == "no_good_eval", (t.number, t.user_attrs)
    records = read_records(out / "trials.jsonl")
    numbers = [r["optuna_number"] for r in records]
    assert len(numbers) == len(set(numbers)), Counter(numbers)
    done = {t.number: t.state.name for t in trials if t.state.is_finished()}
    assert {r["optuna_number"]: r["state"] for r in records} == done
    keys = [(r["optuna_number"], r["metrics"].get("step"), r["metrics"].get("is_final")) for r in
            read_records(out / "reports.jsonl")]  # fmt: skip
    assert len(keys) == len(set(keys)), [k for k, n in Counter(keys).items() if n > 1]
    if finished:
        assert len(trials) == n_trials and len(done) == n_trials, [(t.number, t.state.name) for t in trials]
        assert sorted(numbers) == list(range(n_trials))
