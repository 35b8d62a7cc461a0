"""End-to-end trials on the tiny model on CPU: `mtsweep trial`, NF4, resume, and Ray Tune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.trainable_tests.trial_helpers import tiny_config
from trainable.base.report_keys import REQUIRED_KEYS, STATUS_KEYS
from trainable.training.reporting import ListReporter
from trainable.trial import run_trial

pytestmark = pytest.mark.integration
CONFIG = Path(__file__).resolve().parents[2] / "trainable" / "configs" / "tiny_trial.yaml"


def test_mtsweep_trial_cli_40_steps_eval_every_10(tiny_assets, tmp_path, capsys):
    from sweep.cli import main

    out = tmp_path / "run"
    argv = ["trial", str(CONFIG), "--set", f"model={tiny_assets.model_dir}", "--set",
            f"comet_model={tiny_assets.comet_ckpt}", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    metrics = [r["metrics"] for r in records]
    # evals at 10/20/30/40 on the 16-pair subset, then the final report on the whole dev set
    assert [m["step"] for m in metrics] == [10, 20, 30, 40, 40]
    assert [m["n"] for m in metrics[:4]] == [16] * 4 and metrics[-1]["n"] > 16
    assert metrics[-1]["is_final"] is True and metrics[-1]["stop_cause"] == "completed"
    assert not any(m["is_final"] for m in metrics[:-1])
    for m in metrics:
        assert set(REQUIRED_KEYS) | set(STATUS_KEYS) <= set(m)
        assert all(m[k] is not None for k in ("comet", "bleu_char", "chrf_pp", "len_ratio", "loss", "lr"))
        assert not any(isinstance(v, dict) for v in m.values())  # flat
    assert [m["tokens_seen"] for m in metrics[:4]] == sorted({m["tokens_seen"] for m in metrics[:4]})
    assert metrics[-1]["wall_s"] > metrics[-1]["accel_s"] > 0 and metrics[-1]["eval_s"] > 0
    # checkpoints: adapter + trainer state only, one per eval; the final report reuses step 40's
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["step_000010", "step_000020", "step_000030", "step_000040"]
    assert records[-1]["checkpoint"] is None and records[3]["checkpoint"].endswith("step_000040")
    files = sorted(str(p.relative_to(out / "checkpoints" / "step_000040")) for p in
                   (out / "checkpoints" / "step_000040").rglob("*") if p.is_file())
    assert "adapter/adapter_model.safetensors" in files and "trainer_state.json" in files
    assert not any(f.startswith("model") or f.endswith(".bin") for f in files)  # never the base model
    # the table: a header and one row per report
    lines = printed.splitlines()
    assert lines[0].split()[:3] == ["step", "loss", "grad_norm"]
    assert [line.split()[0] for line in lines[1:6]] == ["10", "20", "30", "40", "40"]
    assert "trial finished: completed" in lines[-1]
    assert (out / "trial_config.yaml").is_file()


def test_cli_bad_config_is_one_line_error(tiny_assets, tmp_path, capsys):
    from sweep.cli import main

    assert main(["trial", str(CONFIG), "--set", "lr=-1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "tiny_trial.yaml: key 'lr'" in err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "records.jsonl").write_text("{}\n")
    argv = ["trial", str(CONFIG), "--set", f"model={tiny_assets.model_dir}", "--out", str(tmp_path / "used")]
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err


def test_nf4_path_runs_on_cpu(tiny_assets, tmp_path):
    reporter = ListReporter(tmp_path / "ckpts")
    final = run_trial(tiny_config(tiny_assets, quantization="nf4", max_steps=4, eval_every=2), reporter)
    assert [r["step"] for r in reporter.reports] == [2, 4]
    assert final["stop_cause"] == "completed" and final["comet"] is not None and final["loss"] is not None
    assert (Path(reporter.checkpoints[-1]) / "adapter" / "adapter_model.safetensors").is_file()


def test_resume_from_checkpoint_continues_identically(tiny_assets, tmp_path):
    full = ListReporter(tmp_path / "a")
    run_trial(tiny_config(tiny_assets), full)
    resumed = ListReporter(tmp_path / "b", restore_from=full.checkpoints[0])
    run_trial(tiny_config(tiny_assets), resumed)
    assert [r["step"] for r in resumed.reports] == [8]
    a, b = full.reports[1], resumed.reports[0]
    assert b["tokens_seen"] == a["tokens_seen"]
    assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
    assert b["bleu_char"] == pytest.approx(a["bleu_char"]) and b["comet"] == pytest.approx(a["comet"], abs=1e-4)


def test_speed_levers_keep_the_loss(tiny_assets):
    common = {"max_steps": 2, "eval_every": 2, "eval_samples": 2, "max_new_tokens": 4, "grad_accum": 2, "lr": 1e-9}
    plain, levers = ListReporter(), ListReporter()
    run_trial(tiny_config(tiny_assets, **common), plain)
    run_trial(tiny_config(tiny_assets, **common, micro_batch_size=8, packed=True, chunked_loss=True), levers)
    a, b = plain.final, levers.final
    assert b["tokens_seen"] == a["tokens_seen"]
    assert b["loss"] == pytest.approx(a["loss"], rel=2e-2)  # bf16 rounding only


def test_early_stopping_reports_its_cause(tiny_assets, tmp_path):
    reporter = ListReporter()
    cfg = tiny_config(tiny_assets, lr=1e-9, max_steps=12, early_stop_rule="any_objective_improved",
                      objectives=["bleu_char"])
    final = run_trial(cfg, reporter)
    # with a negligible lr the outputs do not change: the second eval improves nothing
    assert [r["step"] for r in reporter.reports] == [4, 8]
    assert final["stop_cause"] == "early_stopped" and final["is_final"] is True


def test_tune_trainable_under_ray_tuner(tiny_assets, tmp_path):
    import ray
    from ray import tune

    from trainable.trial import tune_trainable

    config = tiny_config(tiny_assets, max_steps=4, eval_every=2).to_dict()
    config["_trial_note"] = "reserved keys are ignored"
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(tune_trainable, {"cpu": 1}),
            param_space={**config, "lr": tune.grid_search([1e-3])},
            run_config=tune.RunConfig(name="ray", storage_path=str(tmp_path), verbose=0),
        )
        results = tuner.fit()
    finally:
        ray.shutdown()
    assert results.num_errors == 0 and len(results) == 1
    result = results[0]
    assert result.metrics["step"] == 4 and result.metrics["is_final"] is True
    assert result.metrics["stop_cause"] == "completed" and result.metrics["comet"] is not None
    history = result.metrics_dataframe
    assert list(history["step"]) == [2, 4]
    with result.checkpoint.as_directory() as d:
        assert (Path(d) / "adapter" / "adapter_model.safetensors").is_file()
        assert json.loads((Path(d) / "trainer_state.json").read_text())["step"] == 4
