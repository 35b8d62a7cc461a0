"""MO-ASHA's rung log: the Ray adapter's state survives the unpickling that ``Tuner.restore`` does.

Ray 2.60 restores a scheduler only by unpickling ``tuner.pkl`` (written when the Tuner was built, so
empty); the adapter replays its ``rungs.jsonl`` then. Here the adapter is fed results by hand (trial
objects carry only what the scheduler reads: ``trial_id`` and ``config``), "killed" mid-way, unpickled
from its empty construction-time pickle, and must go on deciding exactly like one that never stopped.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from types import SimpleNamespace

from sweep.records import read_jsonl


def make(log_path: Path | None):
    from sweep.mo_asha_ray import make_ray_scheduler

    return make_ray_scheduler(["comet", "term_acc"], ["max", "max"], grace_steps=100, reduction_factor=3,
                              max_steps=600, constraints={"len_ratio": [0.7, 1.5]}, log_path=log_path)  # fmt: skip


def reports(seed: int) -> list[tuple[SimpleNamespace, dict]]:
    rng = random.Random(seed)
    trials = [SimpleNamespace(trial_id=f"t{i}", config={"max_steps": rng.choice([300, 600, 1000])}) for i in range(15)]
    out = []
    for step in (100, 200, 300, 400, 600, 900):
        for trial in trials:
            if step <= trial.config["max_steps"] and rng.random() < 0.8:
                result = {"step": step, "comet": rng.random(), "term_acc": rng.random(),
                          "len_ratio": rng.uniform(0.5, 1.8), "is_final": step == trial.config["max_steps"]}  # fmt: skip
                out.append((trial, result))
    return out


def test_unpickled_scheduler_replays_its_log_and_decides_like_an_uninterrupted_one(tmp_path: Path) -> None:
    log = tmp_path / "rungs.jsonl"
    fed = reports(seed=1)
    cut = len(fed) // 2
    uninterrupted = make(None)
    expected = [uninterrupted.on_trial_result(None, t, r) for t, r in fed]

    live = make(log)
    tuner_pkl = pickle.dumps(live)  # what Tuner() writes before the first trial
    before = [live.on_trial_result(None, t, r) for t, r in fed[:cut]]
    del live  # kill -9
    resumed = pickle.loads(tuner_pkl)  # what Tuner.restore does
    assert resumed.replayed == len(read_jsonl(log)) > 0
    after = [resumed.on_trial_result(None, t, r) for t, r in fed[cut:]]

    assert before + after == expected
    assert resumed.stopped_trials == uninterrupted.stopped_trials and "STOP" in after
    assert resumed.core.rungs == uninterrupted.core.rungs and resumed.core.infeasible == uninterrupted.core.infeasible
    lines = read_jsonl(log)
    assert all(r["step"] < r["max_steps"] for r in lines)  # per-trial rungs; a final report is never logged
    assert {r["trial_id"] for r in lines if r["decision"] == "STOP"} == set(uninterrupted.stopped_trials)
    assert 900 in {r["rung"] for r in lines}  # the 1000-step trials' own rung


def test_without_the_log_the_restored_scheduler_forgets(tmp_path: Path) -> None:
    """What Ray does to a scheduler without a log (the bug the log fixes): the restored one differs."""
    fed = reports(seed=1)
    cut = len(fed) // 2
    uninterrupted = make(None)
    expected = [uninterrupted.on_trial_result(None, t, r) for t, r in fed]
    live = make(None)
    tuner_pkl = pickle.dumps(live)
    before = [live.on_trial_result(None, t, r) for t, r in fed[:cut]]
    resumed = pickle.loads(tuner_pkl)
    assert resumed.stopped_trials == {}
    assert before + [resumed.on_trial_result(None, t, r) for t, r in fed[cut:]] != expected
