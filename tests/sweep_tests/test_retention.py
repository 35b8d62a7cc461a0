"""Checkpoint retention (sweep/retention.py): the plan per trial, the snapshot and pin guards, the log
that the analysis reads. Real folders on disk; Ray's snapshot is a real ``experiment_state-*.json`` file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from analysis.loading import removed_checkpoints
from sweep.checkpoint_pins import pin_checkpoints, pinned_paths
from sweep.retention import Entry, Retention, TrialCheckpoints, own_front, plan
from trainable.training.checkpointing import OPTIM_PT as OPTIM_FILE

MODES = ["max", "max"]


def _entry(values: tuple[float | None, ...], feasible: bool = True) -> Entry:
    return Entry(path=f"/x/{values}", step=None, values=values, feasible=feasible)


def test_own_front_is_the_non_dominated_set_with_feasible_first() -> None:
    entries = [_entry((0.1, 0.1)), _entry((0.3, 0.1)), _entry((0.2, 0.4)), _entry((0.25, 0.2)), _entry((None, 0.9))]
    assert own_front(entries, MODES) == {1, 2, 3}
    entries[2] = _entry((0.9, 0.9), feasible=False)  # infeasible points never beat feasible ones
    assert own_front(entries, MODES) == {1, 3}
    all_bad = [_entry((0.1, 0.2), False), _entry((0.2, 0.1), False), _entry((0.05, 0.05), False)]
    assert own_front(all_bad, MODES) == {0, 1}  # without a feasible one: the front of all of them


def test_plan_keeps_newest_whole_and_front_adapters() -> None:
    trial = TrialCheckpoints([_entry((0.1, 0.1)), _entry((0.3, 0.3)), _entry((0.2, 0.2))])
    drop, strip = plan(trial, MODES)
    assert drop == [0]  # dominated by step 1
    assert strip == [1]  # on the front, but not the newest: its optimizer state goes
    trial.finished = True
    assert plan(trial, MODES) == ([0], [1, 2])  # a finished trial never resumes


def _checkpoint(root: Path, name: str, trial_dir: str = "trial_a") -> str:
    folder = root / "ray" / trial_dir / name
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "adapter_model.safetensors").write_bytes(b"a" * 1000)
    (folder / OPTIM_FILE).write_bytes(b"o" * 2000)
    (folder / "trainer_state.json").write_text("{}")
    return str(folder.resolve())


def _snapshot(root: Path, n: int) -> None:
    path = root / "ray" / "experiment_state-2026.json"
    path.write_text(json.dumps({"n": n}))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + n * 1_000_000))


def test_retention_waits_for_a_snapshot_respects_pins_and_logs(tmp_path: Path) -> None:
    root = tmp_path
    ret = Retention(root, ["comet", "term_acc"], MODES, {"len_ratio": [0.7, 1.5]})
    key = ("optuna", 0)
    c0, c1, c2, c3 = (_checkpoint(root, f"checkpoint_00000{i}") for i in range(4))
    ok = {"len_ratio": 1.0}
    _snapshot(root, 1)
    ret.add(key, c0, {"step": 5, "comet": 0.1, "term_acc": 0.1, **ok})
    ret.add(key, c1, {"step": 10, "comet": 0.3, "term_acc": 0.3, **ok})
    assert ret.apply() == []  # c0 was the resume point at the last snapshot: untouched until the next one
    _snapshot(root, 2)
    done = ret.apply()
    assert [(Path(r["checkpoint"]).name, r["removed"]) for r in done] == [("checkpoint_000000", "checkpoint")]
    assert not Path(c0).exists() and (Path(c1) / OPTIM_FILE).exists()
    assert done[0]["bytes"] == 3002 and done[0]["optuna_number"] == 0 and done[0]["step"] == 5

    with pin_checkpoints(root, [c1]):
        assert pinned_paths(root) == {c1}
        ret.add(key, c2, {"step": 15, "comet": 0.9, "term_acc": 0.9, **ok})  # dominates c1
        ret.add(key, c3, {"step": 20, "comet": 2.0, "term_acc": 2.0, "len_ratio": 3.0})  # infeasible: not c2's rival
        _snapshot(root, 3)
        done = ret.apply()
        assert Path(c1).exists()  # pinned (an export reading it)
        assert [(Path(r["checkpoint"]).name, r["removed"]) for r in done] == [("checkpoint_000002", "optimizer_state")]
    assert pinned_paths(root) == set()
    removed = [Path(r["checkpoint"]).name for r in ret.apply()]
    assert removed == ["checkpoint_000001"]
    assert (Path(c2) / "adapter").is_dir() and not (Path(c2) / OPTIM_FILE).exists()
    assert (Path(c3) / OPTIM_FILE).exists()  # the newest of a running trial stays whole
    ret.finish(key)
    assert ret.apply() == []
    _snapshot(root, 4)
    assert [r["removed"] for r in ret.apply()] == ["optimizer_state"]
    assert (Path(c3) / "adapter").is_dir()  # newest: its adapter stays

    # The log is what a resumed driver and the analysis read.
    assert removed_checkpoints(root) == {c0, c1}
    fresh = Retention(root, ["comet", "term_acc"], MODES, {"len_ratio": [0.7, 1.5]})
    assert fresh.apply() == []  # no reports.jsonl: nothing known, nothing touched


def test_dead_pins_do_not_count(tmp_path: Path) -> None:
    folder = tmp_path / "pins"
    folder.mkdir()
    import socket

    (folder / "gone.json").write_text(json.dumps({"paths": ["/a"], "host": socket.gethostname(), "pid": 2**22 + 7,
                                                  "time": time.time()}))
    (folder / "other-host.json").write_text(json.dumps({"paths": ["/b"], "host": "elsewhere", "pid": 1,
                                                        "time": time.time()}))
    (folder / "old.json").write_text(json.dumps({"paths": ["/c"], "host": "elsewhere", "pid": 1, "time": 0}))
    (folder / "half.json").write_text('{"paths": ["/d"')
    assert pinned_paths(tmp_path) == {"/b"}


def test_retention_key_is_checked_up_front(tmp_path: Path) -> None:
    import pytest

    from sweep.choices import RETENTIONS
    from sweep.config import load_sweep_config
    from trainable.base.errors import InputError

    cfg = Path(__file__).resolve().parents[2] / "sweep" / "configs" / "synthetic.yaml"
    for name in RETENTIONS:
        assert load_sweep_config(cfg, [f"retention={name}"]).retention == name
    with pytest.raises(InputError) as err:
        load_sweep_config(cfg, ["retention=newest"])
    assert "retention" in str(err.value) and "front" in str(err.value) and "\n" not in str(err.value)


def test_a_resumed_driver_keeps_every_possible_resume_point_until_the_trial_reports(tmp_path: Path) -> None:
    """After a resume, Ray restores a trial from its snapshot's checkpoint, maybe older than the newest on
    file: nothing of an unfinished trial goes before it reports a new checkpoint in this run."""
    root = tmp_path
    paths = [_checkpoint(root, f"checkpoint_00000{i}") for i in range(3)]
    with (root / "reports.jsonl").open("w") as fh:
        for i, (path, comet) in enumerate(zip(paths, (0.1, 0.2, 0.3), strict=True)):
            fh.write(json.dumps({"optuna_number": 4, "metrics": {"step": 5 * (i + 1), "comet": comet, "term_acc": 0.5},
                                 "checkpoint": path}) + "\n")
    _snapshot(root, 1)
    ret = Retention(root, ["comet", "term_acc"], MODES)
    assert ret.apply() == []
    _snapshot(root, 2)
    assert ret.apply() == [] and all(Path(p, OPTIM_FILE).exists() for p in paths)
    new = _checkpoint(root, "checkpoint_000003")
    ret.add(("optuna", 4), new, {"step": 20, "comet": 0.4, "term_acc": 0.5})
    assert ret.apply() == []  # no snapshot since
    _snapshot(root, 3)
    assert sorted(Path(r["checkpoint"]).name for r in ret.apply()) == [Path(p).name for p in paths]
    assert [Path(p).exists() for p in paths] == [False, False, False] and Path(new, OPTIM_FILE).exists()


def test_a_trial_rerun_under_a_new_ray_id_loses_only_its_repeated_checkpoints(tmp_path: Path) -> None:
    """kill -9, resume, and Ray re-runs a trial lost with the snapshot under a new Ray id: its checkpoints
    for steps already on file repeat reports the recorder keeps once (the first), so analysis names the
    first checkpoints. The repeats go once they are not the running trial's newest; the first ones follow
    the usual rule (here: all on the trial's own front, so their adapters stay)."""
    root = tmp_path
    values = {5: (0.1, 0.5), 10: (0.3, 0.2), 15: (0.2, 0.3)}  # mutually non-dominated
    first = {}
    with (root / "reports.jsonl").open("w") as fh:
        for step in (5, 10):
            first[step] = _checkpoint(root, f"checkpoint_{step:06d}")
            metrics = {"step": step, "comet": values[step][0], "term_acc": values[step][1]}
            fh.write(json.dumps({"optuna_number": 7, "trial_id": "a", "metrics": metrics, "checkpoint": first[step]}) + "\n")
    _snapshot(root, 1)
    ret = Retention(root, ["comet", "term_acc"], MODES)
    rerun = {}
    for step in (5, 10, 15):  # the new Ray trial (another folder) reports the same curve again
        rerun[step] = _checkpoint(root, f"checkpoint_{step:06d}", trial_dir="trial_b")
        ret.add(("optuna", 7), rerun[step], {"step": step, "comet": values[step][0], "term_acc": values[step][1]})
    _snapshot(root, 2)
    done = {(Path(r["checkpoint"]).parent.name, Path(r["checkpoint"]).name, r["removed"]) for r in ret.apply()}
    assert done == {("trial_b", "checkpoint_000005", "checkpoint"), ("trial_b", "checkpoint_000010", "checkpoint"),
                    ("trial_a", "checkpoint_000005", "optimizer_state"),
                    ("trial_a", "checkpoint_000010", "optimizer_state")}
    assert all((Path(p) / "adapter").is_dir() for p in first.values())  # what reports.jsonl names stays
    assert (Path(rerun[15]) / OPTIM_FILE).exists()  # the running trial's newest stays whole
    ret.finish(("optuna", 7))
    _snapshot(root, 3)
    assert [r["removed"] for r in ret.apply()] == ["optimizer_state"] and (Path(rerun[15]) / "adapter").is_dir()


def test_an_early_stopped_trials_final_checkpoint_is_not_a_repeat(tmp_path: Path) -> None:
    """An early-stopped trial reports its stopping eval (step 20, with a checkpoint), then its final report
    at the same step with a checkpoint of the restored front weights (``final_from_step`` 10). The recorder
    writes both (the final flag is part of its report key) and analysis names the final one as the trial's
    checkpoint: retention must keep it, not take it for a re-run's repeat."""
    root = tmp_path
    ret = Retention(root, ["comet", "term_acc"], MODES)
    key = ("optuna", 3)
    c10, c20, final = (_checkpoint(root, name) for name in ("checkpoint_000000", "checkpoint_000001",
                                                           "checkpoint_000002"))
    ret.add(key, c10, {"step": 10, "comet": 0.5, "term_acc": 0.5, "is_final": False})
    ret.add(key, c20, {"step": 20, "comet": 0.4, "term_acc": 0.4, "is_final": False})  # no better: stop
    ret.add(key, final, {"step": 20, "comet": 0.5, "term_acc": 0.5, "is_final": True, "final_from_step": 10})
    ret.finish(key)
    _snapshot(root, 1)
    ret.apply()
    _snapshot(root, 2)
    ret.apply()
    assert (Path(final) / "adapter").is_dir()  # the trial's final checkpoint (what export --trial ships)
    assert not Path(c20).exists()  # dominated by step 10


def test_retention_never_deletes_outside_its_results_folder(tmp_path: Path) -> None:
    """reports.jsonl records absolute paths: in a results folder copied elsewhere and resumed there, they
    name the ORIGINAL folder's checkpoints. Retention touches only checkpoints under its own folder."""
    original, copy = tmp_path / "original", tmp_path / "copy"
    paths = [_checkpoint(original, f"checkpoint_00000{i}") for i in range(2)]
    (copy / "ray").mkdir(parents=True)
    with (copy / "reports.jsonl").open("w") as fh:
        for step, (path, value) in enumerate(zip(paths, (0.1, 0.9), strict=True), start=1):
            metrics = {"step": step * 10, "comet": value, "term_acc": value}
            fh.write(json.dumps({"optuna_number": 0, "trial_id": "a", "metrics": metrics, "checkpoint": path}) + "\n")
    (copy / "trials.jsonl").write_text(json.dumps({"optuna_number": 0, "trial_id": "a", "state": "COMPLETE"}) + "\n")
    _snapshot(copy, 1)
    ret = Retention(copy, ["comet", "term_acc"], MODES)
    ret.apply()
    _snapshot(copy, 2)
    assert ret.apply() == []
    assert all((Path(p) / OPTIM_FILE).exists() for p in paths)  # the original sweep is untouched
    assert not (copy / "retention.jsonl").exists()


def test_a_trials_final_checkpoint_stays_when_a_rerun_repeats_it(tmp_path: Path) -> None:
    """kill -9 right after a trial's final report was written (before its trials.jsonl line): on resume the
    trial is re-run and reports its final step again (a repeat, not recorded). Analysis names the FIRST
    final checkpoint as the trial's: it stays even when an earlier eval dominates it (a final full-dev
    eval is on other data than the subset evals)."""
    root = tmp_path
    c10, final = _checkpoint(root, "checkpoint_000000"), _checkpoint(root, "checkpoint_000001")
    with (root / "reports.jsonl").open("w") as fh:
        for path, metrics in ((c10, {"step": 10, "comet": 0.5, "term_acc": 0.5}),
                              (final, {"step": 20, "comet": 0.4, "term_acc": 0.4, "is_final": True})):
            fh.write(json.dumps({"optuna_number": 1, "trial_id": "a", "metrics": metrics, "checkpoint": path}) + "\n")
    _snapshot(root, 1)
    ret = Retention(root, ["comet", "term_acc"], MODES)
    again = _checkpoint(root, "checkpoint_000001", trial_dir="trial_b")
    ret.add(("optuna", 1), again, {"step": 20, "comet": 0.4, "term_acc": 0.4, "is_final": True})
    ret.finish(("optuna", 1))
    _snapshot(root, 2)
    ret.apply()
    assert (Path(final) / "adapter").is_dir()  # the trial point's checkpoint
    assert not Path(again).exists()  # the repeat goes


def test_status_names_the_policy_a_sweep_ran_under(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """A folder written before retention existed has no ``retention`` key: nothing was ever deleted there,
    so status must not claim the default policy."""
    from sweep.cli import main
    from sweep.config import load_sweep_config
    from sweep.results_dir import write_sweep_yaml

    cfg = load_sweep_config(Path(__file__).resolve().parents[2] / "sweep" / "configs" / "synthetic.yaml")
    (tmp_path / "new").mkdir()
    write_sweep_yaml(tmp_path / "new", cfg)
    (tmp_path / "old").mkdir()
    text = (tmp_path / "new" / "sweep.yaml").read_text()
    (tmp_path / "old" / "sweep.yaml").write_text("".join(
        line for line in text.splitlines(keepends=True) if not line.startswith("retention:")))
    disk = {}
    for name in ("new", "old"):
        assert main(["status", str(tmp_path / name)]) == 0
        disk[name] = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("disk:")]
    assert disk["new"][0].endswith("retention: front")
    assert not (tmp_path / "new" / "study.db").exists()  # no study yet (the driver died first): none created
    assert disk["old"][0].endswith("retention: none (this sweep predates retention: every checkpoint kept)")


def test_a_pin_is_never_written_during_a_retention_pass(tmp_path: Path) -> None:
    """Retention reads the pins and deletes under the pin lock; writing a pin waits for the pass to end, so
    a reader that then finds its checkpoint still there keeps it until it unpins. Real flock, real threads."""
    import threading

    from sweep.checkpoint_pins import pins_lock

    checkpoint = _checkpoint(tmp_path, "checkpoint_000000")
    written = threading.Event()
    release = threading.Event()

    def reader() -> None:
        with pin_checkpoints(tmp_path, [checkpoint]):
            written.set()
            release.wait(10)

    with pins_lock(tmp_path):  # a retention pass in progress
        thread = threading.Thread(target=reader)
        thread.start()
        assert not written.wait(0.5) and pinned_paths(tmp_path) == set()
    assert written.wait(5) and pinned_paths(tmp_path) == {checkpoint}
    release.set()
    thread.join(5)
    assert pinned_paths(tmp_path) == set()
