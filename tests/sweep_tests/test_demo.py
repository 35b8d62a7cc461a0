"""`mtsweep demo --quick`: the whole chain (toy assets -> real sweep on local Ray -> S0 -> Pareto outputs)
writes every promised file, leaves every trial final in the study, shows a divergence stop, and never
overwrites an earlier demo folder."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from sweep.cli import main
from sweep.commands.demo import QUICK_TRIALS
from tests.sweep_tests.export_checks import eval_path_hyps, plain_hyps
from trainable.base.jsonl import read_records

PARETO_FILES = ("pareto.png", "pareto.html", "curves.png", "pareto.csv", "pareto.md", "pareto.tex", "pareto.json",
                "trials.csv", "hypervolume.csv", "hypervolume.png", "summary.json")


@pytest.mark.integration
def test_quick_demo_writes_everything(tmp_path: Path, tiny_assets, capsys: pytest.CaptureFixture[str]) -> None:
    earlier = tmp_path / "demo_out"
    earlier.mkdir()
    (earlier / "keep.txt").write_text("an earlier demo")
    assets = tiny_assets.model_dir.parent

    code = main(["demo", "--quick", "--out", str(earlier), "--assets", str(assets), "--live-every", "60"])
    out = capsys.readouterr().out
    assert code == 0, out

    assert (earlier / "keep.txt").read_text() == "an earlier demo"  # never overwritten
    assert sorted(p.name for p in earlier.iterdir()) == ["keep.txt"]
    sweep = tmp_path / "demo_out-2" / "sweeps" / "demo"
    for name in ("sweep.yaml", "study.db", "reports.jsonl", "trials.jsonl", "baseline.json", "ray"):
        assert (sweep / name).exists(), name
    pareto = sweep / "pareto"
    for name in PARETO_FILES:
        assert (pareto / name).is_file() and (pareto / name).stat().st_size > 0, name
    for name in ("pareto.png", "curves.png"):
        assert (pareto / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("pareto.png", "pareto.html", "pareto.csv", "pareto.json"):
        assert (pareto / "checkpoint_level" / name).is_file(), name
    baseline = json.loads((sweep / "baseline.json").read_text())
    assert baseline["model"] == str(tiny_assets.model_dir) and 0 <= baseline["metrics"]["term_acc"] <= 1

    study = optuna.load_study(study_name="demo", storage=f"sqlite:///{sweep / 'study.db'}")
    assert len(study.trials) == QUICK_TRIALS
    assert all(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in study.trials)  # every trial final
    assert all(t.user_attrs.get("stop_cause") for t in study.trials)
    trials = read_records(sweep / "trials.jsonl")
    assert sorted(t["optuna_number"] for t in trials) == list(range(QUICK_TRIALS))

    # The NaN-prone preset diverges after its first evals: stopped by the guard, its last good result kept.
    preset = next(t for t in trials if t["params"].get("_preset") == "lr_too_high")
    assert preset["diverged"] and preset["stop_cause"] in ("nonfinite_loss", "nonfinite_grad", "loss_spike", "grad_spike")
    assert preset["state"] == "COMPLETE" and preset["diverged_step"] > preset["steps"] >= 10
    summary = json.loads((pareto / "summary.json").read_text())
    assert summary["running_trials"] == []

    # The NF4 preset's checkpoint, exported merged: plain transformers generates exactly what its eval did
    # (the merged weights are the dequantized base + the LoRA update, formed like the eval's fp32 copy).
    nf4 = next(t for t in trials if t["params"].get("_preset") == "toy_answer_only")
    assert nf4["params"]["quantization"] == "nf4"
    merged_out = tmp_path / "nf4_merged"
    assert main(["export", str(sweep), str(merged_out), "--trial", str(nf4["optuna_number"]), "--merge"]) == 0
    info = json.loads((merged_out / "mtsweep_export.json").read_text())
    assert info["trial_config"]["quantization"] == "nf4" and info["merge"]["relative_error"] == 0.0
    system, dev = info["system_prompt"], info["dev_metrics"]
    srcs, want = eval_path_hyps(info["trial_config"], info["checkpoint"]["path"], dev, system)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = AutoModelForCausalLM.from_pretrained(merged_out).eval()
    assert any(want) and plain_hyps(merged, AutoTokenizer.from_pretrained(merged_out), srcs, system,
                                    dev["max_new_tokens"]) == want
    adapter_out = tmp_path / "nf4_adapter"  # a 4-bit load is not the eval's arithmetic: the card says so
    assert main(["export", str(sweep), str(adapter_out), "--trial", str(nf4["optuna_number"])]) == 0
    assert "`mtsweep export --merge` reproduces the sweep's eval outputs exactly" in (adapter_out / "README.md").read_text()
    assert "export --merge` reproduces" not in (merged_out / "README.md").read_text()

    assert "DIVERGED at step" in out and "TOY model" in out
    for needle in ("Qwen/Qwen2.5-0.5B-Instruct", "Unbabel/wmt22-comet-da", "qwen_gpu.yaml", "pareto.png", "curves.png",
                   "pareto.html"):
        assert needle in out, needle
