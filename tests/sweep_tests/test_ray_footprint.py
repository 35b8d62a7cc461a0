"""What the sweep driver keeps for the whole sweep (sweep/ray_footprint.py): a finished trial's state in Ray
(checked on the real sweep of test_run_synthetic.py); the heap's free space."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from sweep.ray_footprint import HeapTrimmer, malloc_trim
from sweep.results_dir import RAY_DIR
from trainable.base.jsonl import read_records


def assert_finished_trials_trimmed(results_dir: Path) -> None:
    """Every finished trial in the sweep's last Ray snapshot, read back as ``TuneController.resume`` reads it
    (``Trial.from_json_state`` + ``restore_run_metadata``), keeps its latest checkpoint (the one
    ``reports.jsonl`` names last for it) and last report, and nothing else of its checkpoints or metrics."""
    from ray.tune import ExperimentAnalysis

    checkpoints = defaultdict(list)  # Ray trial id -> checkpoint paths in report order
    for r in read_records(results_dir / "reports.jsonl"):
        if r["checkpoint"]:
            checkpoints[r["trial_id"]].append(r["checkpoint"])
    assert max(len(c) for c in checkpoints.values()) >= 2  # some trial registered several: something to trim
    trials: list[Any] = ExperimentAnalysis(str(results_dir / RAY_DIR)).trials
    assert trials and all(t.status == "TERMINATED" for t in trials)
    for trial in trials:
        meta = trial.run_metadata
        kept = meta.checkpoint_manager.best_checkpoint_results
        latest = meta.checkpoint_manager.latest_checkpoint_result
        assert meta.metric_analysis == {} and meta.metric_n_steps == {} and "config" not in meta.last_result
        assert meta.last_result["step"] > 0  # the last report itself stays (Result.metrics)
        if trial.trial_id not in checkpoints:  # diverged before its first eval: never checkpointed
            assert latest is None and kept == []
            continue
        assert len(kept) == 1 and kept[0].checkpoint.path == latest.checkpoint.path
        assert str(Path(latest.checkpoint.path).resolve()) == checkpoints[trial.trial_id][-1]  # what resume restores


def assert_trial_files_moved(results_dir: Path) -> None:
    """Each trial's ``result.json`` (one line per report), ``params.json`` and ``progress.csv`` are in its
    folder in the results, and none is left in Ray's driver staging folder (which every snapshot uploads
    whole). Call while the sweep's Ray session still runs."""
    import ray

    per_trial = defaultdict(int)
    for r in read_records(results_dir / "reports.jsonl"):
        per_trial[r["trial_id"]] += 1
    folders = [d for d in (results_dir / RAY_DIR).iterdir() if d.is_dir()]
    assert len(folders) == len(per_trial)
    for folder in folders:
        assert (folder / "params.json").is_file() and (folder / "progress.csv").is_file()
        lines = (folder / "result.json").read_text().splitlines()
        trial_id = next(tid for tid in per_trial if f"_{tid}_" in folder.name)
        assert len(lines) == per_trial[trial_id]  # the final report too: uploaded after the trial ended
    session = Path(ray._private.worker.global_worker.node.get_session_dir_path())
    staged = {d.name for d in session.glob(f"artifacts/*/{RAY_DIR}/driver_artifacts/*") if d.is_dir()}
    assert staged.isdisjoint(f.name for f in folders)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(malloc_trim() is None or not Path("/proc/self/status").exists(), reason="glibc on Linux only")
def test_the_heap_trimmer_hands_freed_heap_memory_back() -> None:
    kept, freed = [], []
    for _ in range(10_000):  # what a snapshot leaves: long-lived blocks between freed transient ones
        kept.append(bytearray(700))
        freed.append(bytearray(16_000))
    del freed
    before = rss_mb()
    trimmer = HeapTrimmer(every_s=3600.0)
    trimmer.on_step_end(iteration=1, trials=[])  # not yet due
    assert rss_mb() > before - 20
    trimmer.every_s = 0.0
    trimmer.on_step_end(iteration=2, trials=[])
    assert rss_mb() < before - 100  # ~150 MB were free inside the heap
    assert len(kept) == 10_000
