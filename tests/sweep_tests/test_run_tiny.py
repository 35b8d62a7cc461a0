"""`mtsweep run` on the tiny model (the real QLoRA trial code path) with a local Ray: 4 trials, 2 at a
time; every trial ends in a final state in the study, read back with ``optuna.load_study``."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from sweep.cli import main
from trainable.base.jsonl import read_records

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_run_tiny_model_sweep(tmp_path: Path, tiny_assets, capsys: pytest.CaptureFixture[str]) -> None:
    import ray
    import torch  # noqa: F401  (torch before ray.init: DESIGN.md)

    out = tmp_path / "tiny"
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        code = main([
            "run", str(REPO / "sweep" / "configs" / "tiny.yaml"), "--out", str(out),
            "--set", f"trial.model={tiny_assets.model_dir}", "--set", f"trial.comet_model={tiny_assets.comet_ckpt}",
            "--set", "num_trials=4", "--set", "max_concurrent=2", "--live-every", "60",
        ])  # fmt: skip
    finally:
        ray.shutdown()
    assert code == 0
    assert "Pareto front" in capsys.readouterr().out

    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 4
    assert all(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in study.trials)
    assert any(t.state.name == "COMPLETE" for t in study.trials)
    for t in study.trials:
        assert t.user_attrs["stop_cause"] and t.user_attrs["steps"] >= 1
        if t.state.name == "COMPLETE":
            assert len(t.values) == 2 and all(0.0 <= v <= 1.0 for v in t.values)
    reports = read_records(out / "reports.jsonl")
    assert {r["optuna_number"] for r in reports} == {0, 1, 2, 3}
    for r in reports:  # the report contract holds through the sweep
        for key in ("step", "loss", "grad_norm", "lr", "bleu_char", "chrf_pp", "len_ratio", "comet", "term_acc"):
            assert key in r["metrics"], key
    assert any(r["checkpoint"] and Path(r["checkpoint"]).is_dir() for r in reports)
    assert len(read_records(out / "trials.jsonl")) == 4
