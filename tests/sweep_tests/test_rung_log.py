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

from trainable.base.jsonl import read_records


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
    assert resumed.replayed == len(read_records(log)) > 0
    after = [resumed.on_trial_result(None, t, r) for t, r in fed[cut:]]

    assert before + after == expected
    assert resumed.stopped_trials == uninterrupted.stopped_trials and "STOP" in after
    assert resumed.core.rungs == uninterrupted.core.rungs and resumed.core.infeasible == uninterrupted.core.infeasible
    lines = read_records(log)
    assert all(r["step"] < r["max_steps"] for r in lines)  # per-trial rungs; a final report is never logged
    assert {r["trial_id"] for r in lines if r["decision"] == "STOP"} == set(uninterrupted.stopped_trials)
    assert 900 in {r["rung"] for r in lines}  # the 1000-step trials' own rung


def test_a_trial_rerun_under_a_new_ray_id_after_resume_stays_one_rung_entry(tmp_path: Path) -> None:
    """kill -9 after Ray's last snapshot: on resume, a trial the dead driver had started runs again under
    a new Ray id. The rungs know it by its Optuna number: its repeated report is not a second entry, and
    a trial stopped before the kill is stopped again at once."""
    from sweep.study import OPTUNA_NUMBER_KEY

    def trial(ray_id: str, number: int) -> SimpleNamespace:
        return SimpleNamespace(trial_id=ray_id, config={"max_steps": 600, OPTUNA_NUMBER_KEY: number})

    good = {"step": 100, "comet": 0.8, "term_acc": 0.6, "len_ratio": 1.0}
    bad = {"step": 100, "comet": 0.2, "term_acc": 0.1, "len_ratio": 1.0}
    live = make(tmp_path / "rungs.jsonl")
    tuner_pkl = pickle.dumps(live)
    assert live.on_trial_result(None, trial("a1", 0), good) == "CONTINUE"
    assert live.on_trial_result(None, trial("a2", 1), good | {"comet": 0.9, "term_acc": 0.7}) == "CONTINUE"
    assert live.on_trial_result(None, trial("a3", 2), bad) == "STOP"
    del live  # kill -9; Ray's snapshot predates trials 1 and 2: they run again as b2, b3

    resumed = pickle.loads(tuner_pkl)
    assert resumed.on_trial_result(None, trial("b2", 1), good | {"comet": 0.9, "term_acc": 0.7}) == "CONTINUE"
    assert resumed.on_trial_result(None, trial("b3", 2), bad) == "STOP"
    assert sorted(resumed.core.rungs[100]) == ["0", "1", "2"]  # one entry per Optuna trial
    assert resumed.stop_info("b3", 2) == resumed.stop_info("a3", 2) == {"stop_cause": "pruned", "rung": 100}
    assert resumed.stop_info("b2", 1) is None
    assert len(read_records(tmp_path / "rungs.jsonl")) == 3  # the repeated reports are not logged again
    assert resumed.on_trial_result(None, trial("b2", 1), good | {"step": 300}) == "CONTINUE"
    assert list(resumed.core.rungs[300]) == ["1"]


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


def space(trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)


def test_the_recorder_still_knows_which_trials_were_pruned_after_a_restore(tmp_path: Path) -> None:
    """tuner.pkl holds the searcher and the scheduler in one pickle: the restored recorder asks the
    restored scheduler, whose replayed log says which trial it stopped before the driver died."""
    import optuna
    from ray import cloudpickle  # what Tuner() writes tuner.pkl with

    from sweep.recorder import RecordingOptunaSearch
    from sweep.study import OPTUNA_NUMBER_KEY, make_sampler, make_storage

    url = f"sqlite:///{tmp_path / 'study.db'}"
    scheduler = make(tmp_path / "rungs.jsonl")
    searcher = RecordingOptunaSearch(space=space, metric=["comet", "term_acc"], mode=["max", "max"],
                                     sampler=make_sampler("random", seed=0), study_name="p", storage=make_storage(url),
                                     scheduler=scheduler)  # fmt: skip
    tuner_pkl = cloudpickle.dumps({"search_alg": searcher, "scheduler": scheduler})  # built before any trial
    numbers = {t: searcher.suggest(t)[OPTUNA_NUMBER_KEY] for t in ("good", "bad")}
    trials = [SimpleNamespace(trial_id=t, config={"max_steps": 600, OPTUNA_NUMBER_KEY: n}) for t, n in numbers.items()]
    searcher.save(str(tmp_path / "searcher.pkl"))  # Ray's experiment snapshot
    good = {"step": 100, "comet": 0.8, "term_acc": 0.3, "len_ratio": 1.0}
    bad = {"step": 100, "comet": 0.5, "term_acc": 0.1, "len_ratio": 1.0}
    assert scheduler.on_trial_result(None, trials[0], good) == "CONTINUE"
    assert scheduler.on_trial_result(None, trials[1], bad) == "STOP"  # logged; the kill comes before tell
    del searcher, scheduler

    state = cloudpickle.loads(tuner_pkl)  # Tuner.restore
    restored, scheduler = state["search_alg"], state["scheduler"]
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored._scheduler is scheduler and scheduler.stopped_trials == {str(numbers["bad"]): 100}
    restored.on_trial_complete("bad", bad)
    frozen = {t.user_attrs["ray_trial_id"]: t for t in optuna.load_study(study_name="p", storage=url).trials}
    assert frozen["bad"].state.name == "PRUNED" and frozen["bad"].user_attrs["stop_cause"] == "pruned"


def test_a_scheduler_pickled_by_the_previous_version_still_resumes() -> None:
    """A sweep started before the rung log (no log_path, a core without constraints) can be resumed."""
    old = make(None)
    del old.__dict__["log_path"], old.__dict__["replayed"], old.core.__dict__["constraints"], old.core.__dict__["infeasible"]
    resumed = pickle.loads(pickle.dumps(old))
    trial = SimpleNamespace(trial_id="a", config={})
    assert resumed.log_path is None and resumed.on_trial_result(None, trial, {"step": 100, "comet": 0.5, "term_acc": 0.5}) == "CONTINUE"
