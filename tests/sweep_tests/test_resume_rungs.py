"""Through the real CLI: constraints, per-trial rungs and MO-ASHA rungs that survive kill -9 + resume.

A real ``mtsweep run`` (local Ray, real Optuna SQLite, the synthetic trainable) with MO-ASHA on,
feasibility constraints (the default ``len_ratio`` band plus a BLEU floor that the reference's Run D
shape, terminology up and BLEU down, fails) and two presets with their own ``max_steps`` is killed with
SIGKILL (driver, Ray and workers) once MO-ASHA has stopped a trial, then finished by ``mtsweep resume``.
The rung decisions of the killed-and-resumed sweep (``rungs.jsonl``) must equal those of one fresh,
uninterrupted MOASHA fed the same reports in the same order, and the study must agree with them.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import optuna
import pytest
import yaml

from tests.sweep_tests.processes import kill_session, mtsweep
from trainable.base.jsonl import read_records

N_TRIALS = 10
SPACE = {
    "params": {
        "lr": {"kind": "loguniform", "low": 1.0e-6, "high": 3.0e-4},
        "lora_r": {"kind": "categorical", "choices": [8, 16, 32]},
        "masking": {"kind": "categorical", "choices": ["full", "answer_only", "weighted"]},
        "prompt_loss_weight": {"kind": "uniform", "low": 0.0, "high": 1.0, "when": {"masking": "weighted"}},
        "quantization": {"kind": "categorical", "choices": ["bf16"]},
    },
    "presets": [  # run first; each brings its own length (the reference's presets do the same)
        # "short" dominates "long" at step 100 (synthetic curves), so it survives rung 100 in either order.
        {"name": "short", "lr": 2.0e-4, "lora_r": 16, "lora_alpha": 16, "masking": "weighted",
         "prompt_loss_weight": 0.7, "quantization": "bf16", "max_steps": 200},
        {"name": "long", "lr": 2.0e-6, "lora_r": 16, "lora_alpha": 16, "masking": "full", "quantization": "bf16",
         "max_steps": 900},
        # Run D's shape (answer-only masking, high lr: terminology up, BLEU(char) ~20.6 at step 100): whatever
        # the random draws after the kill are, one trial fails the BLEU floor.
        {"name": "run_d", "lr": 2.0e-4, "lora_r": 16, "lora_alpha": 16, "masking": "answer_only",
         "quantization": "bf16", "max_steps": 300},
    ],
}  # fmt: skip


@pytest.mark.integration
def test_kill_and_resume_keep_rung_decisions_per_trial_rungs_and_constraints(tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE, sort_keys=False))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "rungs", "trainable": "trainable.testing.synthetic:synthetic_trainable", "search_space": "space.yaml",
        "num_trials": N_TRIALS, "max_concurrent": 2, "sampler": "random", "seed": 1, "reuse_actors": True,
        "scheduler": {"mo_asha": True, "grace_steps": 100, "reduction_factor": 2},
        "constraints": {"bleu_char": [21.5, None]},
        "trial": {"max_steps": 500, "eval_every": 100, "work_s": 0.25},
    }))  # fmt: skip
    out = tmp_path / "out"
    rungs = out / "rungs.jsonl"
    driver = mtsweep("run", str(sweep), "--out", str(out), "--num-cpus", "2", log=tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert driver.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            stops = [r for r in read_records(rungs) if r["decision"] == "STOP"]
            if stops and len(read_records(out / "trials.jsonl")) >= 3:
                break
            time.sleep(0.3)
        assert stops, "MO-ASHA stopped nothing before the kill"
    finally:
        assert kill_session(driver.pid) == []  # kill -9: driver, Ray head, workers
        driver.wait()
    assert driver.returncode == -signal.SIGKILL
    assert len(read_records(out / "trials.jsonl")) < N_TRIALS - 2, "killed too late to test anything"
    killed_at = time.time()

    resume = mtsweep("resume", str(out), "--num-cpus", "2", log=tmp_path / "resume.log")
    try:
        assert resume.wait(timeout=420) == 0, (tmp_path / "resume.log").read_text()[-4000:]
    finally:
        assert kill_session(resume.pid) == []

    from sweep.results_dir import read_resolved_config
    from sweep.tuner import make_scheduler

    cfg = read_resolved_config(out)
    study = optuna.load_study(study_name="rungs", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == N_TRIALS and all(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in study.trials)
    # Ray trial -> Optuna trial (a Ray trial lost with the dead driver's last snapshot is asked again: the
    # new Ray trial adopts the same Optuna trial, so two Ray ids can share one number).
    number_of = {r["trial_id"]: r["optuna_number"] for r in read_records(out / "reports.jsonl")}
    by_number = {t.number: t for t in study.trials}

    # 1. Resume-safe rungs: an uninterrupted MOASHA fed the logged reports decides exactly as the killed +
    #    resumed sweep did, and some decisions after the resume needed rungs filled before the kill.
    log = read_records(rungs)
    fresh = make_scheduler(cfg).core  # same options, empty, no log
    assert [fresh.on_result(r["trial_id"], r["step"], r["metrics"], r["max_steps"]).value for r in log] == [
        r["decision"] for r in log]  # fmt: skip
    before = {(r["rung"], r["trial_id"]) for r in log if r["time"] < killed_at}
    after = [r for r in log if r["time"] > killed_at]
    assert after and any(any(rung == r["rung"] and tid != r["trial_id"] for rung, tid in before) for r in after)
    # ... the logged inputs are the reports the sweep recorded, and the study agrees with the decisions.
    # reports.jsonl is keyed by Optuna number (a trial re-run under a new Ray id after the kill is recorded
    # once), so is each rung-log line.
    reports = {(r["optuna_number"], r["metrics"]["step"]): r["metrics"] for r in read_records(out / "reports.jsonl")}
    for r in log:
        assert {o: reports[(r["optuna_number"], r["step"])][o] for o in cfg.objectives} == {o: r["metrics"][o] for o in cfg.objectives}
    number_of.update({r["trial_id"]: r["optuna_number"] for r in log})
    stopped = {r["trial_id"]: r["rung"] for r in log if r["decision"] == "STOP"}
    assert {t.number for t in study.trials if t.state.name == "PRUNED"} == {number_of[tid] for tid in stopped}
    assert all(by_number[number_of[tid]].user_attrs["steps"] >= rung for tid, rung in stopped.items())

    # 2. Per-trial rungs: each trial meets only the rungs below its own max_steps; a final report is never a rung.
    for r in log:
        assert r["rung"] in fresh.levels_below(r["max_steps"]) and r["step"] < r["max_steps"]
    short = next(t for t in study.trials if t.params.get("lr") == 2.0e-4 and t.number < 2)
    assert short.state.name == "COMPLETE" and short.user_attrs["steps"] == 200
    assert not [r for r in log if number_of[r["trial_id"]] == short.number and r["step"] >= 200]

    # 3. Constraints through the CLI: recorded before tell, the front is feasible only, status says why.
    judged = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert all(t.constraints and t.user_attrs["feasible"] == (max(t.constraints.values()) <= 0) for t in judged)
    infeasible = [t for t in judged if not t.user_attrs["feasible"]]
    assert infeasible, "the BLEU floor must rule some trial out"
    assert all(r.startswith("bleu_char ") for t in infeasible for r in t.user_attrs["failed_constraints"])
    assert study.best_trials and all(t.user_attrs["feasible"] for t in study.best_trials)
    assert f"{len(infeasible)} infeasible trial(s) left out" in (tmp_path / "resume.log").read_text()  # the summary
    records = {r["trial_id"]: r for r in read_records(out / "trials.jsonl")}
    assert all(records[t.user_attrs["ray_trial_id"]]["failed_constraints"] == t.user_attrs["failed_constraints"]
               for t in judged)  # fmt: skip
    import subprocess
    import sys

    status = subprocess.run([sys.executable, "-m", "sweep", "status", str(out)], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert status.returncode == 0 and "bleu_char >= 21.5" in status.stdout
    assert all(t.user_attrs["failed_constraints"][0] in status.stdout for t in infeasible)
