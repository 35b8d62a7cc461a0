"""Resume after the driver dies: exactly N trials, none lost or duplicated, Ray and Optuna agreeing.

The unit test replays the race a kill -9 leaves behind (study trials asked after Ray's last snapshot)
on the searcher alone; the integration test kills a real ``mtsweep run`` (its whole process session,
Ray included) mid-sweep and finishes it with ``mtsweep resume``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from sweep.records import make_sampler, make_storage, read_jsonl

REPO = Path(__file__).resolve().parents[2]


def space(trial: optuna.Trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_categorical("k", [1, 2, 3])


def make_searcher(db: Path):
    from sweep.recording import RecordingOptunaSearch

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
def session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid`` (a driver started with start_new_session and the
    Ray head, raylet and workers it started)."""
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
        time.sleep(0.5)
    return session_pids(sid)


def mtsweep(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sweep", *args], cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.integration
def test_kill_driver_then_resume(tmp_path: Path) -> None:
    n_trials = 8
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "killme", "trainable": "trainable.synthetic:synthetic_trainable", "num_trials": n_trials,
        "max_concurrent": 2, "scheduler": {"mo_asha": False}, "sampler": "random",
        "trial": {"max_steps": 400, "eval_every": 100, "work_s": 0.6},
    }))  # fmt: skip
    out = tmp_path / "out"
    driver = mtsweep("run", str(sweep), "--out", str(out), "--num-cpus", "2", log=tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 240
        while len(read_jsonl(out / "trials.jsonl")) < 2 and time.monotonic() < deadline:
            assert driver.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(0.5)
        assert len(read_jsonl(out / "trials.jsonl")) >= 2, "the sweep made no progress"
        time.sleep(1.0)  # let some trials be mid-flight
    finally:
        assert kill_session(driver.pid) == []  # kill -9: driver, Ray head, workers
        driver.wait()
    assert driver.returncode == -signal.SIGKILL
    done_before = len(read_jsonl(out / "trials.jsonl"))
    assert done_before < n_trials, "killed too late to test anything"

    resume = mtsweep("resume", str(out), "--num-cpus", "2", log=tmp_path / "resume.log")
    try:
        assert resume.wait(timeout=420) == 0, (tmp_path / "resume.log").read_text()[-4000:]
    finally:
        assert kill_session(resume.pid) == []

    study = optuna.load_study(study_name="killme", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == n_trials
    assert all(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in study.trials)

    from ray.tune import ExperimentAnalysis

    ray_trials = ExperimentAnalysis(str(out / "ray")).trials
    assert len(ray_trials) == n_trials
    assert all(t.status == "TERMINATED" for t in ray_trials)
    numbers = sorted(t.config["_optuna_number"] for t in ray_trials)
    assert numbers == list(range(n_trials))  # one Optuna trial per Ray trial, none shared
    by_number = {t.number: t for t in study.trials}
    for t in ray_trials:
        frozen = by_number[t.config["_optuna_number"]]
        assert frozen.params == {k: t.config[k] for k in frozen.params}
        assert frozen.user_attrs["ray_trial_id"] == t.trial_id or frozen.state.name != "RUNNING"

    records = read_jsonl(out / "trials.jsonl")
    assert sorted(r["optuna_number"] for r in records) == list(range(n_trials))
    assert {r["trial_id"] for r in records} == {t.trial_id for t in ray_trials}
    reports = read_jsonl(out / "reports.jsonl")
    keys = [(r["trial_id"], r["metrics"]["step"]) for r in reports]
    assert len(keys) == len(set(keys))  # no report written twice across the restart
    status = subprocess.run([sys.executable, "-m", "sweep", "status", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert status.returncode == 0 and f"{n_trials}/{n_trials} trials" in status.stdout
