"""NaN-safe recording: every trial ends COMPLETE / PRUNED / FAIL in the study, never RUNNING.

The unit tests drive ``RecordingOptunaSearch`` by hand (no cluster); the integration tests run real
sweeps on a local Ray with trainables that report raw NaN/inf, raise, or omit their objectives, and with
the synthetic trainable's contract-following NaN stops; the study is read back with ``optuna.load_study``.
"""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
import yaml

from sweep.cli import main
from sweep.study import make_sampler, make_storage, reconcile_study
from tests.sweep_tests.nan_trainables import BEHAVIOURS
from trainable.base.jsonl import read_records

NAN = float("nan")


class StubScheduler:
    """Stands in for the MO-ASHA scheduler: the recorder only reads ``stopped_trials``."""

    def __init__(self) -> None:
        self.stopped_trials: dict[str, int] = {}


def make_searcher(tmp_path: Path, scheduler: StubScheduler | None = None):
    from sweep.recorder import RecordingOptunaSearch

    def space(trial):
        trial.suggest_float("x", 0.0, 1.0)

    storage = make_storage(f"sqlite:///{tmp_path / 'study.db'}")
    searcher = RecordingOptunaSearch(
        space=space, metric=["comet", "term_acc"], mode=["max", "max"], sampler=make_sampler("nsga2", seed=0),
        study_name="unit", storage=storage, scheduler=scheduler,
    )
    return searcher, storage


def test_recorder_states_by_hand(tmp_path: Path) -> None:
    scheduler = StubScheduler()
    searcher, storage = make_searcher(tmp_path, scheduler)
    for tid in ("ok", "nan_last", "pruned", "err", "never", "final_nan"):
        config = searcher.suggest(tid)
        assert isinstance(config["_optuna_number"], int)
    searcher.on_trial_result("ok", {"step": 100, "comet": 0.7, "term_acc": 0.2})
    searcher.on_trial_complete("ok", {"step": 200, "comet": 0.8, "term_acc": 0.3, "is_final": True,
                                      "stop_cause": "completed"})  # fmt: skip
    searcher.on_trial_result("nan_last", {"step": 100, "comet": 0.75, "term_acc": 0.25})
    searcher.on_trial_complete("nan_last", {"step": 200, "comet": NAN, "term_acc": 0.3})
    searcher.on_trial_result("pruned", {"step": 100, "comet": 0.6, "term_acc": 0.1})
    scheduler.stopped_trials["pruned"] = 100
    searcher.on_trial_complete("pruned", {"step": 100, "comet": 0.6, "term_acc": 0.1})
    searcher.on_trial_result("err", {"step": 100, "comet": 0.6, "term_acc": 0.1})
    searcher.on_trial_complete("err", error=True)
    searcher.on_trial_complete("never", {"step": 50, "comet": NAN, "term_acc": NAN, "is_final": True,
                                         "diverged": True, "diverged_step": 50, "stop_cause": "no_good_eval"})  # fmt: skip
    # The trainable contract: a diverged trial's final report repeats its last good values.
    searcher.on_trial_complete("final_nan", {"step": 300, "comet": 0.77, "term_acc": 0.27, "is_final": True,
                                             "diverged": True, "diverged_step": 301, "stop_cause": "nonfinite_loss"})  # fmt: skip

    study = optuna.load_study(study_name="unit", storage=f"sqlite:///{tmp_path / 'study.db'}")
    by_id = {t.user_attrs["ray_trial_id"]: t for t in study.trials}
    assert {tid: t.state.name for tid, t in by_id.items()} == {
        "ok": "COMPLETE", "nan_last": "COMPLETE", "pruned": "PRUNED", "err": "FAIL", "never": "FAIL",
        "final_nan": "COMPLETE",
    }  # fmt: skip
    assert by_id["ok"].values == [0.8, 0.3] and by_id["ok"].user_attrs["stop_cause"] == "completed"
    assert by_id["nan_last"].values == [0.75, 0.25]  # the last report with every objective finite
    assert by_id["nan_last"].user_attrs["diverged"] is True and by_id["nan_last"].user_attrs["diverged_step"] == 200
    assert by_id["pruned"].user_attrs["stop_cause"] == "pruned"
    assert by_id["pruned"].user_attrs["last_values"] == {"comet": 0.6, "term_acc": 0.1}
    assert by_id["err"].user_attrs["stop_cause"] == "error"
    assert by_id["never"].user_attrs["stop_cause"] == "no_good_eval" and by_id["never"].values is None
    assert by_id["final_nan"].user_attrs == {**by_id["final_nan"].user_attrs, "diverged": True,
                                             "diverged_step": 301, "stop_cause": "nonfinite_loss", "steps": 300}  # fmt: skip
    # A second completion (Ray repeats itself after a resume) changes nothing.
    searcher.on_trial_complete("ok", {"step": 999, "comet": 0.1, "term_acc": 0.1})
    assert optuna.load_study(study_name="unit", storage=storage).trials[0].values == [0.8, 0.3]


def test_reconcile_fails_leftover_running_trials(tmp_path: Path) -> None:
    searcher, storage = make_searcher(tmp_path)
    searcher.suggest("a")
    searcher.suggest("b")
    searcher.on_trial_complete("a", {"step": 1, "comet": 0.5, "term_acc": 0.5})
    fixed = reconcile_study(storage, "unit", reason="left RUNNING when the sweep ended")
    assert fixed == [1]
    study = optuna.load_study(study_name="unit", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL"]
    assert study.trials[1].user_attrs["fail_reason"] == "left RUNNING when the sweep ended"
    assert reconcile_study(storage, "unit", reason="again") == []


# --- integration: real sweeps on a local Ray ----------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    import ray
    import torch  # noqa: F401  (before ray.init: DESIGN.md)

    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.integration
def test_nonconforming_trainables_never_leave_running_trials(tmp_path: Path, local_ray: None) -> None:
    space = write_yaml(tmp_path / "space.yaml", {
        "params": {"behaviour": {"kind": "categorical", "choices": list(BEHAVIOURS)}},
        "presets": [{"behaviour": b} for b in BEHAVIOURS],
    })  # fmt: skip
    sweep = write_yaml(tmp_path / "sweep.yaml", {
        "name": "nan", "search_space": str(space), "num_trials": len(BEHAVIOURS), "max_concurrent": 2,
        "scheduler": {"mo_asha": False}, "trainable": "tests.sweep_tests.nan_trainables:nan_trainable",
    })  # fmt: skip
    out = tmp_path / "out"
    assert main(["run", str(sweep), "--out", str(out), "--live-every", "60"]) == 0

    study = optuna.load_study(study_name="nan", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == len(BEHAVIOURS)
    by_behaviour = {t.params["behaviour"]: t for t in study.trials}
    states = {b: t.state.name for b, t in by_behaviour.items()}
    assert states == {"ok": "COMPLETE", "nan_last": "COMPLETE", "inf_last": "COMPLETE", "nan_first": "FAIL",
                      "no_objectives": "FAIL", "raise": "FAIL"}  # fmt: skip
    assert by_behaviour["ok"].values == [0.74, 0.22]
    assert by_behaviour["nan_last"].values == [0.71, 0.25]
    assert by_behaviour["inf_last"].values == [0.73, 0.23]
    assert by_behaviour["nan_last"].user_attrs["diverged"] is True
    assert by_behaviour["raise"].user_attrs["stop_cause"] == "error"
    assert all(math.isfinite(v) for t in study.trials if t.values for v in t.values)

    trials = read_records(out / "trials.jsonl")
    assert sorted(r["optuna_number"] for r in trials) == sorted(t.number for t in study.trials)
    for record in trials:
        assert record["state"] == study.trials[record["optuna_number"]].state.name
    reports = read_records(out / "reports.jsonl")
    assert len(reports) == sum(len(v) for v in BEHAVIOURS.values())
    nan_reports = [r for r in reports if r["params"]["behaviour"] == "nan_first"]
    assert all(r["metrics"]["comet"] is None for r in nan_reports)  # NaN written as JSON null


@pytest.mark.integration
def test_synthetic_nan_stops_end_final(tmp_path: Path, local_ray: None) -> None:
    """The synthetic trainable's NaN stops (before and after its first eval), with the MO scheduler on."""
    space = write_yaml(tmp_path / "space.yaml", {
        "params": {
            "lr": {"kind": "loguniform", "low": 1e-6, "high": 1e-3},
            "lora_r": {"kind": "categorical", "choices": [8, 16, 32]},
            "lora_alpha_multiple": {"kind": "categorical", "choices": [1, 2]},
            "masking": {"kind": "categorical", "choices": ["full", "answer_only"]},
        },
        "presets": [
            {"name": "diverges_early", "lr": 8e-4, "lora_r": 16, "lora_alpha": 32, "masking": "full"},
            {"name": "diverges_late", "lr": 3.3e-4, "lora_r": 16, "lora_alpha": 16, "masking": "full"},
            {"name": "stable", "lr": 1e-4, "lora_r": 16, "lora_alpha": 16, "masking": "answer_only"},
        ],
    })  # fmt: skip
    sweep = write_yaml(tmp_path / "sweep.yaml", {
        "name": "syn-nan", "search_space": str(space), "num_trials": 6, "max_concurrent": 2,
        "trainable": "trainable.testing.synthetic:synthetic_trainable", "trial": {"max_steps": 400, "eval_every": 100},
    })  # fmt: skip
    out = tmp_path / "out"
    assert main(["run", str(sweep), "--out", str(out), "--live-every", "60"]) == 0
    study = optuna.load_study(study_name="syn-nan", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 6
    assert all(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in study.trials)
    early = next(t for t in study.trials if t.number == 0)
    assert early.state.name == "FAIL" and early.user_attrs["stop_cause"] == "no_good_eval"
    late = next(t for t in study.trials if t.number == 1)
    assert late.user_attrs["diverged"] is True or late.state.name == "PRUNED"
    if late.state.name == "COMPLETE":
        assert late.user_attrs["stop_cause"] == "nonfinite_loss" and all(math.isfinite(v) for v in late.values)
