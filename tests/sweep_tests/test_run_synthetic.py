"""`mtsweep run` end to end on the synthetic trainable with a local Ray; results never overwritten."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from analysis.loading import removed_checkpoints
from sweep.cli import main
from sweep.study import make_sampler
from tests.sweep_tests.test_ray_footprint import assert_finished_trials_trimmed, assert_trial_files_moved
from trainable.base.jsonl import read_records

REPO = Path(__file__).resolve().parents[2]
SYNTHETIC = REPO / "sweep" / "configs" / "synthetic.yaml"


@pytest.fixture(scope="module")
def local_ray():
    import ray
    import torch  # noqa: F401  (torch is imported before ray.init: DESIGN.md)

    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def test_bad_config_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sampler: cmaes\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "never")]) == 2
    # Lines a Ray worker of an earlier test forwards to the driver ("(pid=...) ...") are not mtsweep's output.
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "pid=" not in line]
    err = "\n".join(lines)
    assert err.startswith("mtsweep run: error:") and "'sampler'" in err and "\n" not in err
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("name", ["rung_tpe", "nsga2", "tpe", "gp", "random"])
def test_every_sampler_is_seeded_and_multi_objective(name: str) -> None:
    def run_study() -> list[dict]:
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(name, seed=3, population_size=4))
        for _ in range(3):
            trial = study.ask()
            x = trial.suggest_float("x", 0.0, 1.0)
            study.tell(trial, [x, x * x])
        return [t.params for t in study.trials]

    assert run_study() == run_study()


@pytest.mark.integration
def test_run_synthetic_end_to_end(tmp_path: Path, local_ray: None, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "syn"
    args = ["run", str(SYNTHETIC), "--out", str(out), "--set", "num_trials=8", "--set", "scheduler.reduction_factor=2",
            "--live-every", "0"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"results in {out}" in printed and "8/8 finished, 0 running" in printed and "Pareto front" in printed
    for name in ("sweep.yaml", "study.db", "reports.jsonl", "trials.jsonl", "ray/tuner.pkl"):
        assert (out / name).exists(), name

    study = optuna.load_study(study_name="synthetic", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 8
    assert {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED", "FAIL"}
    assert any(t.state.name == "COMPLETE" for t in study.trials)
    records = {r["optuna_number"]: r for r in read_records(out / "trials.jsonl")}
    assert sorted(records) == list(range(8))
    for t in study.trials:
        record = records[t.number]
        assert record["state"] == t.state.name and record["stop_cause"] == t.user_attrs["stop_cause"]
        assert record["trial_id"] == t.user_attrs["ray_trial_id"]
        if t.state.name == "PRUNED":  # stopped by MO-ASHA at a rung, before the trial's own end
            assert record["stop_cause"] == "pruned" and record["steps"] < 400
        if t.state.name == "COMPLETE":
            assert list(record["values"].values()) == t.values
    reports = read_records(out / "reports.jsonl")
    assert {r["optuna_number"] for r in reports} == set(range(8))
    removed = removed_checkpoints(out)  # retention: front deleted the dominated ones, and logged each
    assert all(Path(r["checkpoint"]).is_dir() != (r["checkpoint"] in removed) for r in reports if r["checkpoint"])
    assert any(r["checkpoint"] for r in reports)
    assert_finished_trials_trimmed(out)  # Ray keeps each finished trial's latest checkpoint only
    assert_trial_files_moved(out)

    # The same --out again: a new folder, the first one untouched.
    before = (out / "trials.jsonl").read_text()
    assert main(["run", str(SYNTHETIC), "--out", str(out), "--set", "num_trials=2", "--live-every", "60"]) == 0
    printed = capsys.readouterr().out
    second = out.with_name("syn-2")
    assert f"{out} exists; writing to {second}" in printed
    assert (out / "trials.jsonl").read_text() == before
    assert len(read_records(second / "trials.jsonl")) == 2

    assert main(["status", str(out)]) == 0
    table = capsys.readouterr().out
    assert "8/8 trials" in table and "comet (max), term_acc (max)" in table
    assert "disk: results folder" in table and "retention: front" in table


@pytest.mark.integration
def test_trainable_flag_runs_a_user_function(tmp_path: Path, local_ray: None) -> None:
    out = tmp_path / "zero"
    args = ["run", str(SYNTHETIC), "--out", str(out), "--trainable", "tests.sweep_tests.nan_trainables:zero_work_trainable",
            "--set", "num_trials=3", "--set", "scheduler.mo_asha=false", "--live-every", "60"]  # fmt: skip
    assert main(args) == 0
    records = read_records(out / "trials.jsonl")
    assert len(records) == 3 and all(r["state"] == "COMPLETE" and r["steps"] == 1 for r in records)
