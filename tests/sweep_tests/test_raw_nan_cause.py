"""A user trainable (``--trainable module:function``) that reports raw NaN and returns ends with the
divergence cause as its ``stop_cause``, not ``completed``."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from sweep.cli import main


@pytest.fixture
def local_ray():
    import ray
    import torch  # noqa: F401  (before ray.init: DESIGN.md)

    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.mark.integration
def test_raw_nan_user_trainable_stops_with_the_divergence_cause(tmp_path: Path, local_ray: None) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"params": {"nan_in": {"kind": "categorical", "choices": ["loss", "metric"]}},
                                     "presets": [{"nan_in": "loss"}, {"nan_in": "metric"}]}))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "rawnan", "search_space": str(space), "num_trials": 2,
                                     "max_concurrent": 2, "scheduler": {"mo_asha": False}}))
    out = tmp_path / "out"
    assert main(["run", str(sweep), "--out", str(out), "--live-every", "60",
                 "--trainable", "tests.sweep_tests.nan_trainables:raw_nan_trainable"]) == 0
    study = optuna.load_study(study_name="rawnan", storage=f"sqlite:///{out / 'study.db'}")
    by_kind = {t.params["nan_in"]: t for t in study.trials}
    for kind, cause in (("loss", "nonfinite_loss"), ("metric", "nonfinite_metric")):
        trial = by_kind[kind]
        assert trial.state.name == "COMPLETE" and trial.values == [0.72, 0.22]  # the last good report
        assert trial.user_attrs["stop_cause"] == cause
        assert trial.user_attrs["divergence_cause"] == cause
        assert trial.user_attrs["diverged"] is True and trial.user_attrs["diverged_step"] == 3
