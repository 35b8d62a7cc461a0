"""Resume after the driver dies: exactly N trials, none lost or duplicated, Ray and Optuna agreeing.

The unit test replays the race a kill -9 leaves behind (study trials asked after Ray's last snapshot)
on the searcher alone; the integration test kills a real ``mtsweep run`` and then its resumes (each
driver with its whole process session, Ray included) at five points and finishes with ``mtsweep resume``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from sweep.study import make_sampler, make_storage
from tests.sweep_tests.processes import REPO, Driver, check_record, n_lines, study_of, write_sweep


def space(trial: optuna.Trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_categorical("k", [1, 2, 3])


def make_searcher(db: Path):
    from sweep.recorder import RecordingOptunaSearch

    return RecordingOptunaSearch(
        space=space, metric=["a", "b"], mode=["max", "min"], sampler=make_sampler("random", seed=0),
        study_name="resume", storage=make_storage(f"sqlite:///{db}"),
    )


def test_restored_searcher_adopts_trials_asked_after_the_snapshot(tmp_path: Path) -> None:
    db, snapshot = tmp_path / "study.db", str(tmp_path / "searcher.pkl")
    first = make_searcher(db)
    c1, c2 = first.suggest("t1"), first.suggest("t2")
    first.on_trial_complete("t1", {"step": 3, "a": 0.5, "b": 0.1})
    first.save(snapshot)  # Ray's last experiment snapshot
    c3 = first.suggest("t3")  # asked, never snapshotted: RUNNING in the study
    c4 = first.suggest("t4")  # asked and even finished before the driver died
    first.on_trial_complete("t4", {"step": 3, "a": 0.9, "b": 0.2})
    del first  # kill -9

    second = make_searcher(db)  # what Tuner.restore unpickles, then restores from the snapshot
    second.restore(snapshot)
    second.on_trial_complete("t2", {"step": 3, "a": 0.4, "b": 0.3})
    n3, n4, n5 = second.suggest("n3"), second.suggest("n4"), second.suggest("n5")
    assert (n3["_optuna_number"], n4["_optuna_number"], n5["_optuna_number"]) == (2, 3, 4)
    assert {k: n3[k] for k in ("x", "k")} == {k: c3[k] for k in ("x", "k")}  # same trial, same params
    assert {k: n4[k] for k in ("x", "k")} == {k: c4[k] for k in ("x", "k")}
    for tid in ("n3", "n4", "n5"):
        second.on_trial_complete(tid, {"step": 3, "a": 0.1, "b": 0.1})

    study = optuna.load_study(study_name="resume", storage=f"sqlite:///{db}")
    assert len(study.trials) == 5  # t1, t2, n3 (= t3), n4 (= t4), n5: one Optuna trial per Ray trial
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert study.trials[3].values == [0.9, 0.2]  # t4's verdict, told before the crash, is kept
    assert (c1["_optuna_number"], c2["_optuna_number"]) == (0, 1)


# --- integration ------------------------------------------------------------------------------
@pytest.mark.integration
def test_kill9_at_five_points_then_resume(tmp_path: Path) -> None:
    """kill -9 of the driver (its Ray node dies with it) at five points, ``mtsweep resume`` after each;
    the last kill comes right after the last trial ended. Then two more resumes of the finished sweep
    change nothing."""
    n = 8
    sweep = write_sweep(tmp_path / "sweep.yaml", "killme", n)
    out = tmp_path / "out"
    reports, trials = out / "reports.jsonl", out / "trials.jsonl"

    def resume(k: int) -> Driver:
        return Driver("resume", str(out), "--num-cpus", "2", log=tmp_path / f"resume{k}.log")

    def kill_when(driver: Driver, ready) -> None:  # noqa: ANN001
        driver.wait_until(ready)
        assert driver.kill9() == -signal.SIGKILL
        check_record(out, "killme", n, finished=False)

    kill_when(Driver("run", str(sweep), "--out", str(out), "--num-cpus", "2", log=tmp_path / "run.log"),
              lambda: n_lines(reports) >= 1)  # 1. mid-trial
    driver = resume(2)
    kill_when(driver, lambda: "mtsweep resume: continuing" in driver.output())  # 2. while Ray restores
    driver, before = resume(3), n_lines(trials)
    kill_when(driver, lambda: n_lines(trials) > before)  # 3. right after a trial ended
    driver, before = resume(4), n_lines(reports)
    kill_when(driver, lambda: n_lines(reports) > before + 1)  # 4. mid-trial again

    def all_told() -> bool:
        return sum(t.state.is_finished() for t in study_of(out, "killme").get_trials(deepcopy=False)) == n

    driver = resume(5)
    kill_when(driver, all_told)  # 5. right after the last trial ended (study complete, driver still up)

    driver = resume(6)
    assert driver.finish() == 0, driver.output()[-3000:]
    check_record(out, "killme", n, finished=True)
    files = {p.name: p.read_bytes() for p in (out / "trials.jsonl", out / "reports.jsonl", out / "study.db")}
    snapshots = sorted(p.name for p in (out / "ray").iterdir())
    for k in (7, 8):  # resume on the finished sweep: says so, changes nothing, starts no Ray
        driver = resume(k)
        assert driver.finish() == 0, driver.output()[-3000:]
        assert "already finished (8 trials); nothing to resume" in driver.output()
        assert "Started a local Ray" not in driver.output()
        assert {p.name: p.read_bytes() for p in (out / "trials.jsonl", out / "reports.jsonl", out / "study.db")} == files
        assert sorted(p.name for p in (out / "ray").iterdir()) == snapshots
    check_record(out, "killme", n, finished=True)
    status = subprocess.run([sys.executable, "-m", "sweep", "status", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert status.returncode == 0 and f"{n}/{n} trials" in status.stdout
