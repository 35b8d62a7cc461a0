"""A storage error while recording a verdict (Optuna ``tell``) never ends the sweep: the write is
retried, a verdict the storage still refuses is kept in ``untold.jsonl`` and written when the sweep
ends. The error is real: another connection holds an exclusive lock on the SQLite study."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
from optuna.trial import TrialState

from sweep.study import make_sampler
from trainable.base.jsonl import read_records


def space(trial: optuna.Trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)


def test_a_refused_verdict_is_retried_kept_and_written_at_the_end(tmp_path: Path) -> None:
    from sweep.recorder import RecordingOptunaSearch, retell_untold

    db, untold = tmp_path / "study.db", tmp_path / "untold.jsonl"
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}", engine_kwargs={"connect_args": {"timeout": 0.2}})
    searcher = RecordingOptunaSearch(
        space=space, metric=["a", "b"], mode=["max", "min"], sampler=make_sampler("random", seed=0),
        study_name="locked", storage=storage, untold_path=untold,
    )
    searcher.TELL_RETRY_DELAYS_S = (0.05, 0.05)
    searcher.suggest("t1")
    searcher.suggest("t2")
    lock = sqlite3.connect(db)
    lock.execute("BEGIN EXCLUSIVE")  # e.g. a backup or another process writing the study file
    try:
        searcher.on_trial_complete("t1", {"step": 3, "a": 0.5, "b": 0.1})  # no exception reaches Ray
    finally:
        lock.rollback()
        lock.close()
    searcher.on_trial_complete("t2", {"step": 3, "a": 0.7, "b": 0.3})

    study = optuna.load_study(study_name="locked", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.RUNNING, TrialState.COMPLETE]
    (entry,) = read_records(untold)
    assert entry["number"] == 0 and entry["state"] == "COMPLETE" and "locked" in entry["error"]

    told, failed = retell_untold(study, untold)  # what the end of the sweep does
    assert (told, failed) == ([0], [])
    first = optuna.load_study(study_name="locked", storage=storage).trials[0]
    assert first.state == TrialState.COMPLETE and first.values == [0.5, 0.1]
    assert first.user_attrs["stop_cause"] == "completed"
    assert retell_untold(study, untold) == ([], [])  # once only
