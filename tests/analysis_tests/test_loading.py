"""Reading a finished or running sweep: partial last line, running trials, read-only study, no writes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from analysis.loading import load_sweep, open_study_readonly
from tests.analysis_tests.results_dir import write_results_dir
from trainable.base.errors import InputError
from trainable.base.jsonl import read_jsonl


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_finished_sweep_points(tmp_path: Path) -> None:
    root = write_results_dir(tmp_path / "s", n_trials=6, diverge=(2,), no_good_eval=(4,), running=0)
    res = load_sweep(root)
    assert res.objectives == ("comet", "term_acc") and res.modes == ("max", "max")
    assert [p.trial_id for p in res.trial_points] == [f"trial_{i:03d}" for i in range(6)]
    assert res.running_trials == [] and res.baseline["split"] == "dev"
    diverged = res.trial_points[2]
    # its final report repeats the step-200 eval without a checkpoint: the point borrows that eval's checkpoint
    assert diverged.diverged and diverged.step == 200 and diverged.checkpoint.endswith("checkpoint_000001")
    assert diverged.stop_cause == "nonfinite_loss"
    no_eval = res.trial_points[4]
    assert no_eval.values == {"comet": None, "term_acc": None} and no_eval.state == "FAIL"
    # checkpoint level: 4 evals x 4 trials + 2 for the diverged one + 1 valueless point, no repeated final
    assert len(res.checkpoint_points) == 4 * 4 + 2 + 1
    last_good = [p for p in res.checkpoint_points if p.trial_id == "trial_002"]
    assert [p.diverged for p in last_good] == [False, True] and last_good[-1].metrics["diverged_step"] == 260


def test_running_sweep_with_partial_last_line(tmp_path: Path) -> None:
    root = write_results_dir(tmp_path / "s", n_trials=5, running=2, partial_last_line=True)
    before = _snapshot(root)
    res = load_sweep(root)
    assert res.partial_lines == 1
    assert res.running_trials == ["trial_003", "trial_004"]
    assert all(p.state == "RUNNING" and p.values["comet"] is not None for p in res.trial_points[3:])
    assert res.trial_points[3].step == 300  # the latest eval so far
    assert _snapshot(root) == before  # reading wrote nothing


def test_partial_line_only_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3', encoding="utf-8")
    got = read_jsonl(path)
    assert got.records == [{"a": 1}, {"a": 2}] and got.partial_last_line
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n', encoding="utf-8")  # a writer killed mid-line, then the next
    got = read_jsonl(path)
    assert got.records == [{"a": 1}, {"a": 3}] and got.bad_lines == 1 and not got.partial_last_line


def test_a_torn_line_costs_that_line_not_the_sweep(tmp_path: Path) -> None:
    """A writer killed mid-line leaves one torn line; the next append starts on a fresh line. pareto,
    status and export still read the sweep (the torn line skipped and counted)."""
    from trainable.base.jsonl import append_jsonl

    root = write_results_dir(tmp_path / "s", n_trials=5, running=0)
    whole = load_sweep(root)
    reports = root / "reports.jsonl"
    lines = reports.read_text(encoding="utf-8").splitlines(keepends=True)
    torn = json.loads(lines[-1])
    reports.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2], encoding="utf-8")
    append_jsonl(reports, torn)  # the resumed writer writes that report again
    res = load_sweep(root)
    assert res.torn_lines == 1 and res.partial_lines == 0
    assert [(p.trial_id, p.step, p.values) for p in res.trial_points] == [
        (p.trial_id, p.step, p.values) for p in whole.trial_points]


def test_study_read_only_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    root = write_results_dir(tmp_path / "s", n_trials=5, running=0)
    writer = sqlite3.connect(root / "study.db")
    writer.execute("BEGIN IMMEDIATE")  # the sweep is mid-write (RESERVED lock)
    try:
        study = open_study_readonly(root, "test-study")
        assert len(study.trials) == 5
        assert study.metric_names == ["comet", "term_acc"]
    finally:
        writer.rollback()
        writer.close()
    assert open_study_readonly(tmp_path / "nothing") is None


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such sweep directory"):
        load_sweep(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a sweep results directory"):
        load_sweep(tmp_path / "empty")
    root = write_results_dir(tmp_path / "s", n_trials=3, study=False)
    with pytest.raises(InputError, match="unknown objective 'fluency'"):
        load_sweep(root, ["comet", "fluency"])
    with pytest.raises(InputError, match="objective 'bleu_mecab' is in no report"):
        load_sweep(root, ["comet", "bleu_mecab"])
    res = load_sweep(root, ["bleu_char", "term_acc", "latency_ms"])
    assert res.modes == ("max", "max", "min")
    (root / "baseline.json").write_text(json.dumps({"split": "dev"}))
    with pytest.raises(InputError, match="baseline.json: expected an object with a 'metrics'"):
        load_sweep(root)


def test_analysis_never_imports_torch_or_ray() -> None:
    import subprocess
    import sys

    code = ("import sys, analysis.front, analysis.hypervolume, analysis.loading, analysis.exports, "
            "analysis.plot_info, analysis.plot_static, analysis.plot_html, analysis.importance, "
            "analysis.pareto_outputs, sweep.commands.pareto, sweep.commands.baseline, sweep.commands.finalize; "
            "bad = [m for m in ('torch', 'ray', 'transformers', 'comet', 'matplotlib', 'plotly', 'optuna') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_trial_rerun_under_a_new_ray_id_is_one_trial(tmp_path: Path) -> None:
    """After kill -9 + resume, Ray may re-run a trial the dead driver had started under a new Ray id; it keeps
    its Optuna number (docs/architecture.md), so its reports under both ids are one trial, finished."""
    root = write_results_dir(tmp_path / "s", n_trials=2, running=0)
    path = root / "reports.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for r in records:  # the dead driver's run of trial 1 reported steps 100 and 200 under another id
        if r["optuna_number"] == 1 and r["metrics"]["step"] <= 200:
            r["trial_id"] = "trial_dead"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    res = load_sweep(root)
    assert res.running_trials == []
    assert [(p.trial_id, p.optuna_number, p.state) for p in res.trial_points] == [
        ("trial_000", 0, "COMPLETE"), ("trial_001", 1, "COMPLETE")]
    assert [p.step for p in res.checkpoint_points if p.optuna_number == 1] == [100, 200, 300, 400]
    assert {p.trial_id for p in res.checkpoint_points if p.optuna_number == 1} == {"trial_001"}


def test_a_copied_results_folder_reads_its_own_checkpoints_while_the_original_exists(tmp_path: Path) -> None:
    from analysis.loading import local_checkpoint

    original = tmp_path / "cluster" / "sweep"
    (original / "ray" / "trial_a" / "checkpoint_000001").mkdir(parents=True)
    recorded = str((original / "ray" / "trial_a" / "checkpoint_000001").resolve())
    copy = tmp_path / "laptop" / "sweep"
    shutil.copytree(original, copy)
    assert local_checkpoint(recorded, copy) == str((copy / "ray" / "trial_a" / "checkpoint_000001").resolve())
    assert local_checkpoint(recorded, original) == recorded
    shutil.rmtree(copy / "ray" / "trial_a")  # not in the copy: the recorded path, as recorded
    assert local_checkpoint(recorded, copy) == recorded
    assert local_checkpoint(None, copy) is None


def test_an_early_stopped_trial_is_the_front_eval_it_ended_on_and_keeps_its_last_eval(tmp_path: Path) -> None:
    """Early stop at step 8 after the step-4 eval stayed on the trial's front: the trainable reports the
    step-8 eval (checkpoint c8), then a final report at step 8 naming ``final_from_step: 4`` with the step-4
    weights' metrics and a checkpoint of those weights (cF). The trial is step 4 with cF; the step-8 eval
    stays a point of its own."""
    from analysis.loading import _checkpoint_points, _trial_point

    def report(step: int, comet: float, term: float, checkpoint: str, **extra: object) -> dict:
        return {"trial_id": "t0", "optuna_number": 0, "checkpoint": checkpoint, "params": {"lr": 1e-4},
                "metrics": {"step": step, "comet": comet, "term_acc": term, "is_final": False, **extra}}

    reports = [report(4, 0.80, 0.30, "c4"), report(8, 0.78, 0.28, "c8"),
               report(8, 0.81, 0.31, "cF", is_final=True, stop_cause="early_stopped", final_from_step=4)]
    record = {"trial_id": "t0", "optuna_number": 0, "state": "COMPLETE", "steps": 8, "stop_cause": "early_stopped",
              "values": {"comet": 0.81, "term_acc": 0.31}}
    objectives = ["comet", "term_acc"]
    trial = _trial_point("t0", reports, record, objectives)
    assert (trial.step, trial.values, trial.checkpoint) == (4, {"comet": 0.81, "term_acc": 0.31}, "cF")
    points = _checkpoint_points(reports, {("optuna", 0): reports}, {("optuna", 0): record}, objectives)
    assert [(p.step, p.values["comet"], p.checkpoint) for p in points] == [(4, 0.81, "cF"), (8, 0.78, "c8")]
    # A completed trial's final report measures its own step: it stays that eval (unchanged behaviour).
    done = [report(4, 0.80, 0.30, "c4"), report(8, 0.82, 0.33, "c8", is_final=True, stop_cause="completed",
                                                 final_from_step=8)]
    assert _trial_point("t0", done, None, objectives).step == 8
