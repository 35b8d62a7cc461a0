"""SIGINT (Ctrl-C) and SIGTERM (``ray job stop``, ``kill``) stop a real sweep cleanly, then resume.

One sweep, six stops at different points, each followed by ``mtsweep resume``: the stopped driver
exits 130/143 with one line saying how to resume, running trials stay RUNNING in the study marked
``interrupted`` (never FAIL), and the resumed sweep ends with exactly ``num_trials`` trials, each
recorded once in the study, ``trials.jsonl`` and ``reports.jsonl``; interrupted trials continue from
their last checkpoint (their reports go on from the step they had reached).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.sweep_tests.processes import Driver, check_record, n_lines, study_of, write_sweep
from trainable.base.jsonl import read_records

N_TRIALS = 8


def stop_and_check(driver: Driver, out: Path, signum: int, ready, *, group: bool = True) -> None:  # noqa: ANN001
    driver.wait_until(ready)
    driver.signal(signum, group=group)
    code = driver.finish()
    text = driver.output()
    assert code == 128 + signum, text[-3000:]
    assert f"continue with: mtsweep resume {out}" in text, text[-3000:]
    assert "Tuner.restore" not in text  # Ray's own resume hint is not shown
    check_record(out, "sig", N_TRIALS, finished=False)
    for t in study_of(out, "sig").get_trials(deepcopy=False):
        if t.state.name == "RUNNING":
            assert t.user_attrs.get("interrupted") == signal.Signals(signum).name


@pytest.mark.integration
def test_sigint_and_sigterm_at_six_points_then_resume(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep.yaml", "sig", N_TRIALS)
    out = tmp_path / "out"
    reports, trials = out / "reports.jsonl", out / "trials.jsonl"

    def resume(k: int) -> Driver:
        return Driver("resume", str(out), "--num-cpus", "2", log=tmp_path / f"resume{k}.log")

    # 1. SIGINT (to the process group, as Ctrl-C) as soon as the first trial has reported.
    driver = Driver("run", str(sweep), "--out", str(out), "--num-cpus", "2", log=tmp_path / "run.log")
    stop_and_check(driver, out, signal.SIGINT, lambda: n_lines(reports) >= 1)
    interrupted = [t.number for t in study_of(out, "sig").trials if t.state.name == "RUNNING"]
    assert interrupted, "no trial was running at the first stop"
    # 2. SIGTERM to the driver alone (`ray job stop`, `kill`) while Ray restores the experiment.
    driver = resume(2)
    stop_and_check(driver, out, signal.SIGTERM, lambda: "mtsweep resume: continuing" in driver.output(),
                   group=False)
    # 3. SIGINT right after a trial finished.
    driver, before = resume(3), n_lines(trials)
    stop_and_check(driver, out, signal.SIGINT, lambda: n_lines(trials) > before)
    # 4. SIGTERM mid-trial (a new report on file).
    driver, before = resume(4), n_lines(reports)
    stop_and_check(driver, out, signal.SIGTERM, lambda: n_lines(reports) > before)
    # 5. SIGINT while the last trials are running (every trial asked).
    driver = resume(5)
    stop_and_check(driver, out, signal.SIGINT, lambda: len(study_of(out, "sig").trials) >= N_TRIALS)
    # 6. SIGTERM to the process group (a batch scheduler) while the last trials run: it ends the local
    # Ray too, and the driver records the stop all the same.
    driver, before = resume(6), n_lines(reports)
    stop_and_check(driver, out, signal.SIGTERM, lambda: n_lines(reports) > before)

    driver = resume(7)
    assert driver.finish() == 0, driver.output()[-3000:]
    check_record(out, "sig", N_TRIALS, finished=True)
    by_trial: dict[int, list[int]] = {}
    for r in read_records(reports):
        if not r["metrics"].get("diverged"):
            by_trial.setdefault(r["optuna_number"], []).append(r["metrics"]["step"])
    for number in interrupted:  # continued from its checkpoint: one curve, each step once, in order
        steps = by_trial[number]
        assert steps == sorted(set(steps)) and steps[0] == 100, (number, steps)
