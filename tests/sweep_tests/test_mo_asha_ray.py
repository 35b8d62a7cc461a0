"""MultiObjectiveASHAScheduler in a real local Ray Tuner running the SYNTHETIC trainable."""

from __future__ import annotations

import pytest

from search_spaces.loader import load_search_space
from trainable.testing.synthetic import synthetic_trainable

pytestmark = pytest.mark.integration


def test_scheduler_stops_trials_at_rungs_in_a_real_tuner(tmp_path):
    import optuna
    import ray
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    from sweep.mo_asha_ray import MultiObjectiveASHAScheduler, make_ray_scheduler

    space = load_search_space("search_spaces/default.yaml")
    scheduler = make_ray_scheduler(
        ["comet", "term_acc"], ["max", "max"], grace_steps=10, reduction_factor=3, max_steps=90
    )
    searcher = OptunaSearch(
        space=space.define_by_run,
        metric=["comet", "term_acc"],
        mode=["max", "max"],
        sampler=optuna.samplers.RandomSampler(seed=3),
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(synthetic_trainable, {"cpu": 1}),
            param_space={"eval_every": 10, "max_steps": 90, "work_s": 0.0},
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=scheduler, num_samples=10, max_concurrent_trials=2
            ),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name="ray", verbose=0),
        )
        results = tuner.fit()
    finally:
        ray.shutdown()

    assert isinstance(scheduler, MultiObjectiveASHAScheduler)
    assert len(results) == 10 and not results.errors
    stopped = scheduler.stopped_trials
    assert stopped, "with eta=3 and 10 trials at least one trial falls out of a rung's top third"
    for result in results:
        trial_id = result.metrics["trial_id"]
        steps = result.metrics["step"]
        if trial_id in stopped:
            # Stopped right at its rung, before max_steps; the recorder can read why.
            assert steps == stopped[trial_id] < 90
            assert scheduler.stop_info(trial_id) == {"stop_cause": "pruned", "rung": stopped[trial_id]}
            assert result.metrics["is_final"] is False
        else:
            assert scheduler.stop_info(trial_id) is None
            assert result.metrics["is_final"] is True
            assert result.metrics["stop_cause"] in ("completed", "nonfinite_loss", "no_good_eval")
    assert sum(len(r) for r in scheduler.core.rungs.values()) >= len(stopped)


def test_next_trial_to_run_is_fifo_over_the_live_trials_only():
    """Ray's FIFO choice (earliest added PENDING, then PAUSED) read from the live trials, not every trial."""
    import pickle

    from sweep.mo_asha_ray import make_ray_scheduler

    class Trial:
        def __init__(self, trial_id: str, status: str) -> None:
            self.trial_id, self.status = trial_id, status

    class Controller:
        def __init__(self, *live: Trial) -> None:
            self.live = set(live)

        def get_live_trials(self) -> set[Trial]:
            return self.live

        def get_trials(self) -> list[Trial]:
            raise AssertionError("scanned every trial")

    scheduler = make_ray_scheduler(["comet", "term_acc"], ["max", "max"], grace_steps=10, reduction_factor=3, max_steps=90)
    a, b, c, d = Trial("a", "RUNNING"), Trial("b", "PENDING"), Trial("c", "PENDING"), Trial("d", "PAUSED")
    for t in (a, b, c, d):
        scheduler.on_trial_add(None, t)
    assert scheduler.choose_trial_to_run(Controller(d, c, b, a)) is b
    b.status = "RUNNING"
    assert scheduler.choose_trial_to_run(Controller(d, c, b, a)) is c
    c.status = "PAUSED"
    assert scheduler.choose_trial_to_run(Controller(d, c, b, a)) is c  # PAUSED: earliest added first
    c.status = "TERMINATED"
    scheduler.on_trial_complete(None, c, {})
    assert scheduler.choose_trial_to_run(Controller(d, b, a)) is d
    d.status = "RUNNING"
    assert scheduler.choose_trial_to_run(Controller(d, b, a)) is None
    restored = pickle.loads(pickle.dumps(scheduler))  # a resumed sweep re-adds its trials
    e = Trial("e", "PENDING")
    assert restored.choose_trial_to_run(Controller(a, e)) is e
