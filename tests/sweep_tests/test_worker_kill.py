"""A trial whose worker process is killed (SIGKILL, as when a spot node is reclaimed) restarts from its
last checkpoint (``max_failures`` defaults to 1) and is recorded once, its curve going on where it
stopped: a real ``mtsweep run`` and a real kill of the Ray worker running the trial."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.sweep_tests.processes import Driver, check_record, session_pids, write_sweep
from trainable.base.jsonl import read_records


def trial_workers(sid: int) -> list[int]:
    """Ray worker processes of session ``sid`` that are running a trial right now."""
    pids = []
    for pid in session_pids(sid):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ImplicitFunc.train"):
                pids.append(pid)
        except FileNotFoundError:
            continue
    return pids


@pytest.mark.integration
def test_killed_worker_trial_continues_from_its_checkpoint(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep.yaml", "wk", 2, max_steps=400, work_s=0.6)
    out = tmp_path / "out"
    driver = Driver("run", str(sweep), "--out", str(out), "--num-cpus", "2", "--set", "max_concurrent=1",
                    "--set", "reuse_actors=false", log=tmp_path / "run.log")  # fmt: skip

    def first_trial_steps() -> list[int]:
        return [r["metrics"]["step"] for r in read_records(out / "reports.jsonl") if r["optuna_number"] == 0]

    driver.wait_until(lambda: len(first_trial_steps()) >= 2 and bool(trial_workers(driver.proc.pid)))
    (worker,) = trial_workers(driver.proc.pid)
    os.kill(worker, signal.SIGKILL)
    assert driver.finish() == 0, driver.output()[-3000:]

    check_record(out, "wk", 2, finished=True)
    reports = [r["metrics"] for r in read_records(out / "reports.jsonl") if r["optuna_number"] == 0]
    steps = [m["step"] for m in reports]
    assert steps == [100, 200, 300, 400], steps  # each eval once, in order
    # The restarted worker's first report (iterations_since_restore 1) is the eval after the checkpoint
    # it restored, not step 100 again: the curve went on where it stopped.
    (resumed,) = [m for m in reports if m["iterations_since_restore"] == 1 and m["step"] > 100]
    assert resumed["training_iteration"] == resumed["step"] // 100  # Ray's counter went on too
    (record,) = [r for r in read_records(out / "trials.jsonl") if r["optuna_number"] == 0]
    assert record["state"] == "COMPLETE" and record["steps"] == 400
