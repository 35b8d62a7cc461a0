"""The default sampler (``rung_tpe``) learns from every trial at the rung it reached, PRUNED ones included."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

from sweep.cli import main
from sweep.config import SweepConfig
from sweep.nondominated import dominates
from sweep.rung_sampler import (
    EXPLORED_ATTR,
    MODEL_ATTR,
    OBSERVED_ATTR,
    PRUNED_OBSERVED_ATTR,
    ObservedTrials,
    RungTPESampler,
    quality_view,
    tiered_values,
)
from sweep.study import CURVE_ATTR
from trainable.base.jsonl import read_records

REPO = Path(__file__).resolve().parents[2]
MAX2 = [StudyDirection.MAXIMIZE, StudyDirection.MAXIMIZE]
X = {"x": FloatDistribution(0.0, 1.0)}


def _trial(number: int, state: TrialState, curve: dict[str, list[float]], **attrs: object) -> optuna.trial.FrozenTrial:
    values = list(curve[max(curve, key=int)]) if state == TrialState.COMPLETE else None
    t = create_trial(state=state, values=values, params={"x": number / 10}, distributions=X,
                     user_attrs={CURVE_ATTR: curve, **attrs})  # fmt: skip
    t.number = number
    return t


def _better(trials: list[optuna.trial.FrozenTrial]) -> set[tuple[int, int]]:
    """(a, b) for every pair where a's tiered vector dominates b's."""
    valued = [(t.number, v) for t, v in tiered_values(trials, MAX2)]
    return {(a, b) for a, va in valued for b, vb in valued if dominates(va, vb)}


def test_tiers_rank_front_reporters_first_then_by_rung_reached_with_diverged_last() -> None:
    """Trials that reported a point of the observed front (any eval, pruned ones included) come first;
    the others rank by the rung they reached, then by their front there; diverged/failed last."""
    trials = [
        _trial(0, TrialState.PRUNED, {"100": [0.90, 0.30]}),  # stopped at rung 100, but on the front
        _trial(1, TrialState.COMPLETE, {"100": [0.1, 0.1], "300": [0.5, 0.2]}),  # dominated by #0's point
        _trial(2, TrialState.COMPLETE, {"100": [0.1, 0.1], "300": [0.2, 0.5]}),  # on the front
        _trial(3, TrialState.COMPLETE, {"100": [0.1, 0.1], "300": [0.1, 0.1]}),  # dominated at 300
        _trial(4, TrialState.PRUNED, {"100": [0.3, 0.3]}),  # better than #3 at 100, but stopped there
        _trial(5, TrialState.COMPLETE, {"100": [0.99, 0.99]}, diverged=True),  # a diverged trial's points: no front
        _trial(6, TrialState.FAIL, {}),
    ]
    better = _better(trials)
    assert {(a, b) for a in (0, 2) for b in (1, 3, 4)} <= better  # front reporters first
    assert (0, 2) not in better and (2, 0) not in better  # and spread along the front
    assert {(1, 4), (3, 4), (1, 3)} <= better  # further through the rungs, then the front there
    assert all((a, b) in better for a in range(5) for b in (5, 6))  # diverged / failed: last
    assert (5, 6) not in better and (6, 5) not in better


def test_constraints_func_is_stored_for_pruned_trials_and_infeasible_rank_last() -> None:
    def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [float(trial.user_attrs["violation"])]

    study = optuna.create_study(directions=["maximize", "maximize"],
                                sampler=RungTPESampler(seed=0, n_startup_trials=2, constraints_func=constraints))
    for i, (violation, state) in enumerate([(0.0, TrialState.PRUNED), (0.5, TrialState.PRUNED), (0.0, TrialState.PRUNED)]):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        study._storage.set_trial_user_attr(trial._trial_id, CURVE_ATTR, {"100": [0.9 - i / 10, 0.5]})
        study._storage.set_trial_user_attr(trial._trial_id, "violation", violation)
        study.tell(trial, state=state)
    trials = study.get_trials()
    assert [list(t.constraints.values()) for t in trials] == [[0.0], [0.5], [0.0]]
    assert {(0, 1), (2, 1)} <= _better(trials)  # infeasible #1 after both feasible ones
    nxt = study.ask()
    nxt.suggest_float("x", 0.0, 1.0)
    assert study._storage.get_trial(nxt._trial_id).system_attrs[PRUNED_OBSERVED_ATTR] == 3


def test_the_sampler_reads_each_finished_trial_once_and_asks_as_a_fresh_one_would() -> None:
    """The per-trial cache (each finished trial read once) builds the view a fresh sampler builds, and
    two samplers with the same seed, one reusing its cache over 40 asks, suggest the same values."""
    import random

    rng = random.Random(0)
    studies = []
    for _ in range(2):
        studies.append(optuna.create_study(directions=["maximize", "maximize"], sampler=RungTPESampler(seed=3, n_startup_trials=4)))
    states = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.PRUNED, TrialState.FAIL]
    observed = ObservedTrials()
    for i in range(40):
        suggested = []
        steps = ["100", "300"][: 1 + i % 2]
        curve = {s: [rng.random(), rng.random()] for s in steps}
        state = states[i % 4]
        for k, study in enumerate(studies):
            if k == 1:
                study.sampler._observed = None  # the second sampler starts from nothing at every ask
            trial = study.ask()
            suggested.append(trial.suggest_float("x", 0.0, 1.0))
            study._storage.set_trial_user_attr(trial._trial_id, CURVE_ATTR, curve)
            study._storage.set_trial_user_attr(trial._trial_id, "stop_cause", "error" if i % 9 == 8 else "pruned")
            study._storage.set_trial_system_attr(trial._trial_id, "constraints:len_ratio>=0.7", float(i % 5 == 0))
            study.tell(trial, curve[steps[-1]] if state == TrialState.COMPLETE else None, state=state)
        assert suggested[0] == suggested[1]
        cached, fresh = quality_view(studies[0], observed), quality_view(studies[0])
        assert [(t.number, t.values) for t in cached[0].get_trials()] == [(t.number, t.values) for t in fresh[0].get_trials()]
        assert cached[1:] == fresh[1:]


def _locked_study(space: dict[str, object], params: object, explore_every: int = 4) -> optuna.Study:
    """A study whose 11 finished trials (numbers 0-10, rung-level curves, most PRUNED) all hold the
    same rank: the next trial (number 11) is an exploration trial for ``explore_every`` 4."""
    study = optuna.create_study(directions=["maximize", "maximize"],
                                sampler=RungTPESampler(seed=0, n_startup_trials=4, explore_every=explore_every))  # fmt: skip
    for i in range(11):
        curve = {"100": [0.5 + i / 100, 0.6 - i / 100]}
        study.add_trial(create_trial(state=TrialState.PRUNED if i % 3 else TrialState.COMPLETE,
                                     values=None if i % 3 else curve["100"], params=params(i),  # type: ignore[operator]
                                     distributions=space, user_attrs={CURVE_ATTR: curve}))  # type: ignore[arg-type]  # fmt: skip
    return study


def test_exploration_trial_sets_a_locked_categorical_to_an_untried_value_and_keeps_the_model() -> None:
    """Against categorical lock-in: when every trial so far holds rank 32, the exploration trial is
    TPE's proposal with the rank set to a value never tried (not a random trial); the next one is the
    model's own proposal again (not forced)."""
    space = {"r": CategoricalDistribution([8, 16, 32, 64]), "x": FloatDistribution(0.0, 1.0)}
    study = _locked_study(space, lambda i: {"r": 32, "x": 0.40 + i / 100})
    for number in (11, 12):
        trial = study.ask()
        r = trial.suggest_categorical("r", [8, 16, 32, 64])
        trial.suggest_float("x", 0.0, 1.0)
        attrs = study._storage.get_trial(trial._trial_id).system_attrs
        assert trial.number == number and attrs[MODEL_ATTR] is True
        if number == 11:
            assert attrs[EXPLORED_ATTR] == "r" and r in (8, 16, 64)
        else:
            assert EXPLORED_ATTR not in attrs
        study.tell(trial, state=TrialState.PRUNED)


def test_exploration_trial_without_categoricals_is_random() -> None:
    space = {"x": FloatDistribution(0.0, 1.0)}
    study = _locked_study(space, lambda i: {"x": 0.40 + i / 100})
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    attrs = study._storage.get_trial(trial._trial_id).system_attrs
    assert trial.number == 11 and attrs[MODEL_ATTR] is False and EXPLORED_ATTR not in attrs


@pytest.mark.integration
def test_default_sampler_learns_from_pruned_trials_in_a_real_sweep(tmp_path: Path) -> None:
    assert SweepConfig().sampler == "rung_tpe"
    out = tmp_path / "learn"
    args = ["run", str(REPO / "sweep/configs/synthetic.yaml"), "--out", str(out), "--num-cpus", "2",
            "--set", "num_trials=30", "--set", "sampler=rung_tpe", "--set", "trial.work_s=0", "--live-every", "600"]  # fmt: skip
    assert main(args) == 0
    study = optuna.load_study(study_name="synthetic", storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials()
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert len(trials) == 30 and len(pruned) >= 10  # MO-ASHA prunes; the study keeps them PRUNED
    assert all(t.user_attrs.get(CURVE_ATTR) for t in pruned)  # what was learned from them is in the study
    assert {r["state"] for r in read_records(out / "trials.jsonl")} >= {"PRUNED", "COMPLETE"}
    modelled = [t for t in trials if t.system_attrs.get(MODEL_ATTR)]
    # Past its random start the model chose the trials (not a generation 0 that never ends) ...
    assert len(modelled) >= 15 and trials[-1] in modelled
    # ... from observation sets that held PRUNED trials, and more of them as the sweep went on.
    seen = [t.system_attrs[PRUNED_OBSERVED_ATTR] for t in modelled]
    assert min(seen) >= 1 and max(seen) >= 10
    assert all(t.system_attrs[OBSERVED_ATTR] >= t.system_attrs[PRUNED_OBSERVED_ATTR] for t in modelled)


def test_past_its_history_the_model_sees_the_best_half_and_the_most_recent_trials() -> None:
    """``bounded``: unchanged up to ``history`` trials; past it the best tiers (and within a tier the best
    scaled objective sum) fill half, the most recent of the others the rest; a sampler on a long study
    records that it saw ``history`` trials."""
    rng = __import__("random").Random(1)
    trials = []
    for i in range(30):  # every 10th trial reached step 300 (the best tier); one diverged (number 29)
        curve = {"100": [rng.random(), rng.random()], **({"300": [rng.random(), rng.random()]} if i % 10 == 0 else {})}
        t = create_trial(state=TrialState.PRUNED, params={"x": i / 100}, distributions=X,
                         user_attrs={CURVE_ATTR: curve, **({"diverged": True} if i == 29 else {})})  # fmt: skip
        t.number = i
        trials.append(t)
    full = tiered_values(trials, MAX2)
    assert len(full) == 30
    from sweep.rung_sampler import _group, bounded, observe

    grouped = _group([(t, observe(t, [-1.0, -1.0])) for t in trials])  # minimisation form
    vectors = [v for members in grouped[0] for _, v in members]
    lo, hi = [min(c) for c in zip(*vectors, strict=True)], [max(c) for c in zip(*vectors, strict=True)]
    assert bounded(*grouped, lo, hi, history=30) == grouped
    tiers, last = bounded(*grouped, lo, hi, history=10)
    kept = [t.number for members in tiers for t, _ in members] + [t.number for t in last]
    assert len(kept) == 10
    assert {0, 10, 20} <= set(kept)  # the step-300 tier is best: all of it kept
    scaled = sorted((sum((x - a) / (b - a) for x, a, b in zip(v, lo, hi, strict=True)), t.number) for t, v in grouped[0][1])
    best = {n for _, n in scaled[:2]}  # then the best two at step 100 (3 + 2 = half of 10) ...
    rest = sorted(set(range(30)) - {0, 10, 20} - best, reverse=True)
    assert set(kept) == {0, 10, 20} | best | set(rest[:5])  # ... and the 5 most recent others

    study = optuna.create_study(directions=["maximize", "maximize"], sampler=RungTPESampler(seed=0, n_startup_trials=2))
    study.add_trials([create_trial(state=TrialState.PRUNED, params={"x": i / 400}, distributions=X,
                                   user_attrs={CURVE_ATTR: {"100": [i / 400, 1 - i / 400]}}) for i in range(320)])  # fmt: skip
    nxt = study.ask()
    nxt.suggest_float("x", 0.0, 1.0)
    assert study._storage.get_trial(nxt._trial_id).system_attrs[OBSERVED_ATTR] == 300  # HISTORY


def test_a_running_trial_that_reported_is_observed_at_its_step_not_as_a_liar() -> None:
    """With 2 trials in flight the other one is most often a long, promising trial (pruned ones end
    early): it is observed at the step it reached so far (here on the front, so among the best), not
    counted as a bad trial the way TPE's constant liar counts a running trial. A running trial with no
    report yet stays RUNNING (the liar)."""
    study = optuna.create_study(directions=["maximize", "maximize"])
    for i, curve in enumerate([{"100": [0.2, 0.2]}, {"100": [0.3, 0.1]}]):
        study.add_trial(create_trial(state=TrialState.PRUNED, params={"x": i / 10}, distributions=X,
                                     user_attrs={CURVE_ATTR: curve}))  # fmt: skip
    reporting, silent = study.ask(), study.ask()
    for trial in (reporting, silent):
        trial.suggest_float("x", 0.0, 1.0)
    study._storage.set_trial_user_attr(reporting._trial_id, CURVE_ATTR, {"100": [0.5, 0.5], "200": [0.6, 0.6]})
    view, observed, pruned = quality_view(study)
    by_number = {t.number: t for t in view.get_trials()}
    assert (observed, pruned) == (3, 2) and by_number[3].state == TrialState.RUNNING
    assert by_number[2].state == TrialState.COMPLETE
    assert all(dominates(by_number[2].values, by_number[k].values) for k in (0, 1))
    view, observed, _ = quality_view(study, in_flight=False)
    assert observed == 2 and {t.number: t.state for t in view.get_trials()}[2] == TrialState.RUNNING


def test_tpe_gets_the_good_fraction_and_prior_weight() -> None:
    """The knobs reach Optuna's TPE; the defaults are round 5's (bench/README.md: good fraction 0.10, prior 2)."""
    tuned = RungTPESampler(seed=0, gamma=0.2, prior_weight=3.0)
    assert tuned._tpe._gamma(20) == 4 and tuned._tpe._parzen_estimator_parameters.prior_weight == 3.0
    default = RungTPESampler(seed=0)
    assert default._tpe._gamma(20) == 2 and default._tpe._parzen_estimator_parameters.prior_weight == 2.0
    assert default._tpe._gamma(5) == 1  # never an empty good set


def test_exploration_value_is_the_least_tried_in_the_proposals_company() -> None:
    """Against pairing lock-in: weighted masking was tried only with rank 16 and full masking only with rank 64,
    so for a rank-64 proposal weighted is the untried company (the middle of a front), although full is the
    rarer value over the whole study."""
    space = {"r": CategoricalDistribution([16, 64]), "m": CategoricalDistribution(["full", "answer_only", "weighted"])}
    pairs = [(64, "full")] * 4 + [(16, "weighted")] * 6 + [(64, "answer_only")] * 5
    study = optuna.create_study(directions=["maximize", "maximize"], sampler=RungTPESampler(seed=0))
    for r, m in pairs:
        study.add_trial(create_trial(state=TrialState.COMPLETE, values=[0.5, 0.5], params={"r": r, "m": m},
                                     distributions=space, user_attrs={CURVE_ATTR: {"100": [0.5, 0.5]}}))  # fmt: skip
    view, _, _ = quality_view(study)
    asking = create_trial(state=TrialState.RUNNING, params={}, distributions={})
    asking.number = len(pairs)
    sampler = study.sampler
    proposal = {"r": 64, "m": "answer_only"}
    assert sampler._least_tried(view, asking, "m", space["m"], proposal, ["m", "r"]) == "weighted"
    # with rank 16 proposed, full is the one never tried next to it
    assert sampler._least_tried(view, asking, "m", space["m"], {"r": 16, "m": "answer_only"}, ["m", "r"]) == "full"
