"""The analysis on a results folder the real writers wrote (``mtsweep run``, synthetic trainable), and the
hand-made folders of ``results_dir.py`` checked against that format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from analysis.exports import read_csv, read_markdown
from analysis.loading import load_sweep
from sweep.cli import main
from tests.analysis_tests.results_dir import write_results_dir
from trainable.base.jsonl import read_records

pytestmark = pytest.mark.integration  # the session fixture runs a real sweep


def test_a_diverged_trials_final_report_merges_into_the_eval_it_repeats(synthetic_results: Path) -> None:
    reports = read_records(synthetic_results / "reports.jsonl")
    repeats = [r for r in reports if r["metrics"].get("repeats_step") is not None]
    assert repeats, "the diverges_mid preset must stop after its first eval"
    res = load_sweep(synthetic_results)
    assert len(res.trial_points) == 6 and res.running_trials == []
    for r in repeats:
        tid, step = r["trial_id"], r["metrics"]["repeats_step"]
        assert r["checkpoint"] is None and r["metrics"]["step"] == step and r["metrics"]["is_final"]
        (point,) = [p for p in res.trial_points if p.trial_id == tid]
        # the trial's point is the repeated eval: its step, its checkpoint (on disk), the stop recorded on it
        assert point.diverged and point.step == step and Path(point.checkpoint).is_dir()
        assert point.metrics["diverged_step"] == r["metrics"]["diverged_step"] and point.stop_cause == "nonfinite_loss"
        at_step = [p for p in res.checkpoint_points if p.trial_id == tid and p.step == step]
        assert len(at_step) == 1 and at_step[0].diverged and at_step[0].checkpoint == point.checkpoint
    # one checkpoint point per (trial, step) the sweep evaluated: the repeats add none
    evals = {(r["trial_id"], r["metrics"]["step"]) for r in reports if r["metrics"].get("step") is not None}
    assert len(res.checkpoint_points) == len(evals)
    (no_eval,) = [p for p in res.trial_points if p.stop_cause == "no_good_eval"]
    assert no_eval.values == {"comet": None, "term_acc": None} and no_eval.state == "FAIL"


def test_pareto_tables_show_checkpoints_relative_to_the_results_folder(synthetic_results: Path, tmp_path: Path,
                                                                       capsys) -> None:
    root = tmp_path / "copied"  # an analyst's copy: the absolute paths in reports.jsonl point elsewhere
    shutil.copytree(synthetic_results, root)
    assert main(["pareto", str(root), "--no-plots"]) == 0
    assert "| checkpoint |" not in capsys.readouterr().out  # the printed summary has no checkpoint column
    rows = read_csv(root / "pareto" / "pareto.csv")
    assert rows and all(r["checkpoint"].startswith("ray/") and (root / r["checkpoint"]).is_dir() for r in rows)
    assert [r["checkpoint"] for r in read_markdown(root / "pareto" / "pareto.md")] == [r["checkpoint"] for r in rows]
    for table in ("pareto.md", "pareto.tex", "pareto.csv", "trials.csv"):
        assert str(synthetic_results) not in (root / "pareto" / table).read_text(), table
    meta = json.loads((root / "pareto" / "pareto.json").read_text())
    assert meta["results_dir"] == str(root.resolve())


def test_hand_made_folders_have_the_real_format(synthetic_results: Path, tmp_path: Path) -> None:
    made = write_results_dir(tmp_path / "made", n_trials=6, diverge=(2,), no_good_eval=(4,), running=0)
    for name in ("reports.jsonl", "trials.jsonl"):
        real_keys = {k for r in read_records(synthetic_results / name) for k in r}
        made_keys = {k for r in read_records(made / name) for k in r}
        assert made_keys == real_keys, name
    real_metrics = {k for r in read_records(synthetic_results / "reports.jsonl") for k in r["metrics"]}
    made_metrics = {k for r in read_records(made / "reports.jsonl") for k in r["metrics"]}
    assert made_metrics - real_metrics <= {"comet_model", "latency_ms", "divergence_cause"}, made_metrics - real_metrics
    real_yaml = yaml.safe_load((synthetic_results / "sweep.yaml").read_text())
    assert set(yaml.safe_load((made / "sweep.yaml").read_text())) <= set(real_yaml)
