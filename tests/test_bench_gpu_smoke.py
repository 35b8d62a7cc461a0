"""``bench/gpu_throughput.py --cpu-smoke`` runs every item on the tiny model and prints the whole table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_path import bench_on_path

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_cpu_smoke_prints_every_row(tmp_path: Path) -> None:
    with bench_on_path():
        import gpu_throughput as bench
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_throughput.py"), "--cpu-smoke", "--budget-s", "900", "--json", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    expected = bench.row_order()
    assert [r["name"] for r in rows] == expected
    table = proc.stdout
    assert all(name in table for name in expected) and "device: CPU" in table
    for row in rows:
        if row["name"] in ("share: 4 trial(s) on one GPU", "share: 8 trial(s) on one GPU"):
            assert row["note"].startswith("skipped in --cpu-smoke")
            continue
        assert row["values"], row  # measured, not skipped
        if row["name"].startswith("check:"):
            continue
        main = row["values"].get("tok/s") or row["values"].get("new tok/s") or row["values"].get("full-dev s")
        assert main and main > 0, row
    by_name = {r["name"]: r for r in rows}
    assert "full-dev s" in by_name["eval: bf16 merged fp32 b1024"]["values"]
    assert "paid back" in by_name["lever: + torch.compile"]["note"] or "never pays back" in by_name["lever: + torch.compile"]["note"]
    checks = by_name[bench.CHECK_TRAIN_ROW]["values"]
    assert checks["max rel diff loss"] < 1e-3 and checks["max rel diff grad"] < 2e-2, checks  # bf16 tolerance
    merge = by_name[bench.CHECK_EVAL_ROW]["values"]  # the eval's fp32 copy keeps the whole LoRA update
    assert merge["adapter effect"] > 0 and merge["fp32 error/effect"] < 1e-3 and merge["fp32 argmax agree"] == 1.0
    projected = json.loads(out.read_text())["projected"]
    assert [p["path"] for p in projected] == [p[0] for p in bench.PROJECTED]
    assert all(p["trial s"] == p["train s"] + bench.SEED_EVALS * p["eval s"] > 0 for p in projected), projected
    assert "projected seed-equivalent trial" in table


@pytest.mark.integration
def test_gpu_trial_cpu_smoke_runs_every_row(tmp_path: Path) -> None:
    out = tmp_path / "trial.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_trial.py"), "--cpu-smoke", "--budget-s", "550", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["name"].split(" ")[0] for r in rows] == ["defaults", "defaults", "defaults", "reference", "defaults"]
    for row in rows:
        assert row["error"] is None, row
        assert row["steps"] > 0 and row["evals"] >= 1 and row["train tok/s"] > 0 and row["eval s each"] > 0
        assert row["projected seed trial s"] > row["setup s"]
        assert len(row["train s per interval"]) == row["evals"] and row["warm-up interval s"] > 0
    assert rows[0]["steps"] == 6 and rows[0]["evals"] == 2  # 6 steps, an eval every 3
    assert "| defaults bf16 (seed-equivalent) | 6 | 2 |" in proc.stdout
    assert "training seconds per eval interval" in proc.stdout
    graph, plain, layers = rows[:3]
    assert (graph["compile"], plain["compile"], layers["compile"]) == ("step-graph", None, "reduce-overhead")
    assert plain["compiles"] == 0 and layers["compiles"] == layers["shapes"] >= 1  # one per width bucket
    assert graph["compiles"] == 0 and graph["shapes"] >= 1  # CPU: the step graph's code runs without capture
    assert graph["loss gap vs compile off"] < 2e-3  # the levers' loss tolerance


def test_interval_train_seconds_splits_wall_time_between_evals() -> None:
    with bench_on_path():
        import gpu_trial
    reports = [{"setup_s": 2.0, "wall_s": 10.0, "eval_s": 1.0}, {"setup_s": 2.0, "wall_s": 15.0, "eval_s": 2.5},
               {"setup_s": 2.0, "wall_s": 19.0, "eval_s": 3.0}]
    assert gpu_trial.interval_train_seconds(reports) == [7.0, 3.5, 3.5]


def test_whole_step_graph_computes_the_trial_step(tmp_path: Path) -> None:
    """The graph probe's step function (run eagerly on CPU) gives the trial step code's loss and grad norm."""
    import torch

    with bench_on_path():
        from gpu.configs import TINY
        from gpu.graph_step import GraphTrainer
        from gpu.model import build_model_dir, load_lora_model, step_batches, synthetic_examples
        from gpu.specs import Bench, TrainSpec
        from gpu.training import Trainer
    torch.set_num_threads(1)
    bench = Bench(smoke=True, seq=32, budget_s=60, device="cpu", model_dir=tmp_path)
    build_model_dir(tmp_path, {**TINY, "num_hidden_layers": 1}, "cpu")
    examples = synthetic_examples(64, 32, 3000)
    plain = TrainSpec("plain", quant="bf16", micro=32, accum=1)
    graph = TrainSpec("graph", quant="bf16", micro=32, accum=1, graph=True, width=32)
    results = []
    for spec, cls in ((plain, Trainer), (graph, GraphTrainer)):
        torch.manual_seed(0)
        model = load_lora_model(bench, "bf16")
        model.eval()  # dropout off: both see the same function
        trainer = cls(model, spec, "cpu")
        tokens = [trainer.step(mb) for mb in step_batches(examples, spec)[:2]]
        results.append((tokens, trainer.last))
    (tok_a, (loss_a, gn_a)), (tok_b, (loss_b, gn_b)) = results
    assert tok_a == tok_b and tok_a[0] > 0
    assert loss_b == pytest.approx(loss_a, rel=2e-3) and gn_b == pytest.approx(gn_a, rel=2e-2)
