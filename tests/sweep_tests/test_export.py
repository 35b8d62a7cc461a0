"""`mtsweep export`, checkpoint retention and disk in `status`, on ONE real tiny-model sweep (module fixture).

The sweep (`mtsweep run`, local Ray, real QLoRA trial code on the toy model, default ``retention: front``)
is stopped by SIGINT after a few checkpoints and continued with `mtsweep resume`, so the retained folder
has been resumed. Then: the checkpoints left on disk are exactly each trial's own front plus its newest;
`pareto --level checkpoint` and `finalize` work on it; an exported front checkpoint, loaded with plain
transformers + peft (and merged, with plain transformers), generates exactly what the trial's eval
generated; the model card holds that checkpoint's metrics; bad inputs are one-line errors; an unreachable
Hub leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.cli import main
from tests.sweep_tests.export_checks import eval_path_hyps, plain_hyps
from tests.sweep_tests.processes import REPO, Driver
from trainable.base.jsonl import read_records

pytestmark = pytest.mark.integration


def _checkpointed(out: Path) -> int:
    return sum(1 for r in read_records(out / "reports.jsonl") if r.get("checkpoint"))


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory, tiny_assets) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    out = tmp / "sweep"
    space = tmp / "space.yaml"  # two toy-scale learning rates (the toy model learns at ~1e-3..1e-2)
    space.write_text("name: export_test\nparams:\n  lr: {kind: loguniform, low: 1.0e-3, high: 1.0e-2}\n"
                     "presets:\n  - {name: slow, lr: 3.0e-3}\n  - {name: fast, lr: 1.0e-2}\n")
    run = Driver("run", str(REPO / "sweep" / "configs" / "tiny.yaml"), "--out", str(out), "--num-cpus", "2",
                 "--live-every", "60", "--set", f"trial.model={tiny_assets.model_dir}",
                 "--set", f"trial.comet_model={tiny_assets.comet_ckpt}", "--set", f"search_space={space}",
                 "--set", "num_trials=2", "--set", "scheduler.mo_asha=false", "--set", "trial.quantization=bf16",
                 "--set", "trial.max_steps=16", "--set", "trial.eval_every=4", "--set", "trial.eval_samples=6",
                 log=tmp / "run.log")
    run.wait_until(lambda: _checkpointed(out) >= 3, timeout=400)
    run.signal(signal.SIGINT)
    assert run.finish() == 130, run.output()[-3000:]
    resume = Driver("resume", str(out), "--num-cpus", "2", log=tmp / "resume.log")
    assert resume.finish(timeout=400) == 0, resume.output()[-3000:]
    return out


def test_resumed_retained_folder_keeps_each_trials_front_and_newest(sweep_dir: Path) -> None:
    from analysis.front import pareto_front
    from analysis.loading import load_sweep
    from sweep.disk_usage import disk_usage

    trials = read_records(sweep_dir / "trials.jsonl")
    assert sorted(t["state"] for t in trials) == ["COMPLETE", "COMPLETE"] and all(t["steps"] == 16 for t in trials)
    for r in read_records(sweep_dir / "reports.jsonl"):  # the report contract holds through the real sweep
        for key in ("step", "loss", "grad_norm", "lr", "bleu_char", "chrf_pp", "len_ratio", "comet", "term_acc"):
            assert key in r["metrics"], key
    results = load_sweep(sweep_dir)
    expected: set[str] = set()
    for number in (0, 1):  # the rule, computed independently from the reports
        points = [p for p in results.checkpoint_points if p.optuna_number == number]
        recorded = [r["checkpoint"] for r in read_records(sweep_dir / "reports.jsonl")
                    if r["optuna_number"] == number and r["checkpoint"]]
        front = pareto_front(points, results.objectives, results.modes, level="checkpoint").front
        if not front:  # no feasible eval: the front of all of them
            front = pareto_front([dataclasses.replace(p, failed_constraints=()) for p in points],
                                 results.objectives, results.modes).front
        expected |= {p.checkpoint for p in front} | {recorded[-1]}
    on_disk = {str(p.resolve()) for p in sweep_dir.glob("ray/*/checkpoint_*")}
    assert on_disk == expected  # a resumed trial's repeat of a step on file (a second checkpoint) is gone too
    removed = read_records(sweep_dir / "retention.jsonl")
    assert any(r["removed"] == "checkpoint" for r in removed)
    assert {r["checkpoint"] for r in removed if r["removed"] == "checkpoint"}.isdisjoint(on_disk)
    usage = disk_usage(sweep_dir)
    assert usage.optimizer_states == 0  # both trials finished: no resume will need them
    assert 0 < usage.checkpoint_bytes < usage.total_bytes


def test_status_shows_disk(sweep_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(sweep_dir)]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("disk:")]
    assert len(line) == 1 and "checkpoints" in line[0] and "retention: front" in line[0]


def test_finalize_then_export_front_member_adapter_and_merged(sweep_dir: Path, tiny_assets, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert main(["pareto", str(sweep_dir), "--level", "checkpoint"]) == 0
    from analysis.exports import read_csv

    rows = read_csv(sweep_dir / "pareto" / "pareto.csv")  # --level checkpoint alone: at the top
    assert rows and all((sweep_dir / r["checkpoint"]).is_dir() for r in rows if r["checkpoint"])
    assert main(["finalize", str(sweep_dir), "--samples", "4", "--max-members", "1"]) == 0
    final = json.loads((sweep_dir / "final" / "s0_vs_s1.json").read_text())

    out = tmp_path / "adapter"
    assert main(["export", str(sweep_dir), str(out), "--front-member", "1"]) == 0
    info = json.loads((out / "mtsweep_export.json").read_text())
    assert info["checkpoint"]["path"] == final["members"][0]["checkpoint"] and info["checkpoint"]["on_front"]["trial"]
    card = (out / "README.md").read_text()
    dev = info["dev_metrics"]
    for value in (dev["comet"], dev["bleu_char"], final["members"][0]["metrics"]["bleu_char"], final["s0"]["bleu_char"]):
        assert f"{value:.6g}" in card
    assert f"| lr | {info['params']['lr']:.6g} |" in card and "(mtsweep finalize)" in card

    system, max_new = info["system_prompt"], dev["max_new_tokens"]
    srcs, want = eval_path_hyps(info["trial_config"], info["checkpoint"]["path"], dev, system)
    assert any(want)
    base = AutoModelForCausalLM.from_pretrained(tiny_assets.model_dir, dtype=torch.bfloat16).float()
    model = PeftModel.from_pretrained(base, str(out)).eval()  # the folder as is
    assert plain_hyps(model, AutoTokenizer.from_pretrained(out), srcs, system, max_new) == want

    merged_out = tmp_path / "merged"
    assert main(["export", str(sweep_dir), str(merged_out), "--trial", str(info["trial"]["optuna_number"]),
                 "--step", str(info["checkpoint"]["step"]), "--merge"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(merged_out)
    assert merged.dtype == torch.float32  # the toy base's own dtype
    assert plain_hyps(merged.eval(), AutoTokenizer.from_pretrained(merged_out), srcs, system, max_new) == want
    assert json.loads((merged_out / "mtsweep_export.json").read_text())["merge"]["relative_error"] == 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_inputs_and_unreachable_hub_write_nothing(sweep_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    removed = [r for r in read_records(sweep_dir / "retention.jsonl") if r["removed"] == "checkpoint"]
    taken = tmp_path / "taken"
    taken.mkdir()
    cases = [
        ([str(tmp_path / "nope"), "o", "--trial", "0"], "no such sweep results folder"),
        ([str(sweep_dir), str(taken), "--trial", "0"], "never overwrites"),
        ([str(sweep_dir), "o", "--trial", "7"], "--trial: no trial 7"),
        ([str(sweep_dir), "o", "--trial", "0", "--step", "5"], "--step: trial 0 has no report at step 5"),
        ([str(sweep_dir), "o", "--step", "4"], "--step: only goes with --trial"),
        ([str(sweep_dir), "o"], "--trial: give exactly one of"),
        ([str(sweep_dir), "o", "--front-member", "9"], "--front-member: must be 1.."),
        ([str(sweep_dir), "o", "--trial", "0", "--push-to-hub", "not a repo"], "--push-to-hub: expected"),
        ([str(sweep_dir), "o", "--trial", "0", "--merge-dtype", "float32"], "--merge-dtype: only goes with --merge"),
        ([str(sweep_dir), "o", "--trial", str(removed[0]["optuna_number"]), "--step", str(removed[0]["step"])],
         "deleted by the retention policy"),
    ]
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        for argv, message in cases:
            assert main(["export", *argv]) == 2, argv
            err = capsys.readouterr().err.strip()
            assert message in err and len(err.splitlines()) == 1, (argv, err)
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]

    out = tmp_path / "pushed"
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{_free_port()}", "HF_TOKEN": "hf_test_unreachable",
           "HF_HUB_OFFLINE": "0", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "sweep", "export", str(sweep_dir), str(out), "--trial", "0",
                           "--push-to-hub", "someone/enja-adapter"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and "--push-to-hub someone/enja-adapter" in errors[0], proc.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no OUT, no hidden partial folder
    assert not list((sweep_dir / "pins").glob("*.json"))
