"""A sweep in which every trial failed exits 1 and counts the causes (real Optuna study, real Ray sweep)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from sweep.cli import main
from sweep.failures import ALL_FAILED_EXIT, report_all_failed


def _study(states_and_reasons: list[tuple[str, str | None]]) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "maximize"])
    for state, reason in states_and_reasons:
        trial = study.ask()
        if reason:
            trial.set_user_attr("fail_reason", reason)
        if state == "FAIL":
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, [0.5, 0.5])
    return study


def test_all_failed_counts_causes(capsys: pytest.CaptureFixture[str]) -> None:
    study = _study([("FAIL", "disk full"), ("FAIL", "disk full"), ("FAIL", "no report")])
    assert report_all_failed(study, []) == ALL_FAILED_EXIT == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["mtsweep: error: every trial failed (3); causes:", "  2 x disk full", "  1 x no report"]


def test_one_success_is_enough(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_all_failed(_study([("FAIL", "disk full"), ("COMPLETE", None)]), []) == 0
    assert report_all_failed(_study([]), []) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.integration
def test_run_where_every_trial_fails_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({
        "params": {"behaviour": {"kind": "categorical", "choices": ["raise", "nan_first"]}},
        "presets": [{"behaviour": "raise"}, {"behaviour": "nan_first"}, {"behaviour": "raise"}],
    }))  # fmt: skip
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "all-fail", "search_space": str(space), "num_trials": 3, "max_concurrent": 2,
        "scheduler": {"mo_asha": False}, "trainable": "tests.sweep_tests.nan_trainables:nan_trainable",
    }))  # fmt: skip
    rc = main(["run", str(sweep), "--out", str(tmp_path / "out"), "--live-every", "60", "--num-cpus", "2"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "mtsweep: error: every trial failed (3); causes:" in err
    assert "  2 x RuntimeError: deliberate failure in a test trainable" in err, err
    assert "  1 x no report with finite values for every objective" in err, err
