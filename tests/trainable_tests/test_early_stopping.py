"""EarlyStopping patience rule on hand-made eval sequences."""

from __future__ import annotations

import json

import pytest

from trainable.training.early_stopping import EarlyStopping


def run(es: EarlyStopping, evals: list[dict]) -> list[bool]:
    return [es.update(m) for m in evals]


def test_default_stops_when_no_objective_improved():
    es = EarlyStopping(["comet", "term_acc"])
    evals = [{"comet": 0.5, "term_acc": 0.2}, {"comet": 0.6, "term_acc": 0.1}, {"comet": 0.55, "term_acc": 0.15}]
    assert run(es, evals) == [False, False, True]
    assert es.best == {"comet": 0.6, "term_acc": 0.2}


def test_one_objective_improving_is_enough():
    es = EarlyStopping(["comet", "term_acc"])
    evals = [{"comet": 0.5, "term_acc": 0.2}, {"comet": 0.4, "term_acc": 0.3}, {"comet": 0.45, "term_acc": 0.31}]
    assert run(es, evals) == [False, False, False]


def test_equal_is_not_an_improvement():
    es = EarlyStopping(["comet"])
    assert run(es, [{"comet": 0.5}, {"comet": 0.5}]) == [False, True]


def test_patience_counts_consecutive_bad_evals():
    es = EarlyStopping(["comet"], patience=2)
    assert run(es, [{"comet": 0.5}, {"comet": 0.4}, {"comet": 0.6}, {"comet": 0.3}, {"comet": 0.3}]) == [
        False, False, False, False, True]


def test_min_direction():
    es = EarlyStopping(["latency_ms"])
    assert run(es, [{"latency_ms": 100.0}, {"latency_ms": 90.0}, {"latency_ms": 95.0}]) == [False, False, True]


def test_none_values_are_ignored_and_all_none_is_not_judged():
    es = EarlyStopping(["comet", "term_acc"])
    assert run(es, [{"comet": 0.5, "term_acc": None}, {"comet": None, "term_acc": None}]) == [False, False]
    assert es.bad_evals == 0
    assert es.update({"comet": 0.4, "term_acc": None}) is True


def test_rule_none_never_stops_but_tracks_best():
    es = EarlyStopping(["comet"], rule="none")
    assert run(es, [{"comet": 0.5}, {"comet": 0.4}, {"comet": 0.3}]) == [False, False, False]
    assert es.best == {"comet": 0.5} and es.bad_evals == 2


def test_state_round_trip_and_unknown_objective():
    es = EarlyStopping(["comet"])
    es.update({"comet": 0.7})
    clone = EarlyStopping(["comet"])
    clone.load_state_dict(es.state_dict())
    assert clone.update({"comet": 0.69}) is True
    with pytest.raises(ValueError, match="direction"):
        EarlyStopping(["len_ratio"])


def test_final_step_is_the_newest_eval_on_the_trials_own_front():
    es = EarlyStopping(["comet", "term_acc"], patience=2)
    evals = [{"comet": 0.70, "term_acc": 0.20}, {"comet": 0.74, "term_acc": 0.25},  # 200 dominates 100
             {"comet": 0.72, "term_acc": 0.26}, {"comet": 0.71, "term_acc": 0.24},  # 300 on the front; 400 not
             {"comet": 0.60, "term_acc": 0.10}]
    stops = [es.update(m, step=100 * (i + 1)) for i, m in enumerate(evals)]
    assert stops == [False, False, False, False, True]
    assert es.front_steps() == [200, 300] and es.final_step() == 300
    clone = EarlyStopping(["comet", "term_acc"], patience=2)
    clone.load_state_dict(json.loads(json.dumps(es.state_dict())))  # plain data, as in the trainer checkpoint
    assert clone.final_step() == 300


def test_final_step_respects_directions_and_missing_values():
    es = EarlyStopping(["latency_ms", "term_acc"])
    es.update({"latency_ms": 10.0, "term_acc": None}, step=1)
    es.update({"latency_ms": 12.0, "term_acc": None}, step=2)  # slower, nothing else to compare: dominated
    assert es.final_step() == 1
    assert EarlyStopping(["comet"]).final_step() is None
