"""``RungTPESampler`` (``sampler: rung_tpe``): multi-objective TPE that learns from every trial at the
fidelity it reached, PRUNED trials included.

Optuna's NSGA-II breeds only from COMPLETE trials and its multi-objective TPE ranks PRUNED trials
after every complete one, so when MO-ASHA prunes most trials neither learns much from them (NSGA-II
never leaves generation 0). This sampler hands Optuna's TPE a read-only view of the study in which
every finished trial is COMPLETE with a "tiered" objective vector built the way MO-ASHA ranks trials:

1. tiers, best first: the trials that reported a point of the observed front (the non-dominated set of
   every eval report of every feasible, not diverged trial, pruned ones included: what the sweep's
   Pareto front is made of; :class:`ObservedFront`), each with that point (of several, the one with the
   smallest sum); then feasible before infeasible (Optuna constraints, ``<= 0`` feasible), then the
   highest step at which the trial reported finite objectives (further through the rungs = better);
   diverged trials (``diverged`` user attr, or FAIL with no good eval) form the last tier;
2. within a tier, the trial's objective vector at that step; tiers are shifted so that every trial of a
   better tier dominates every trial of a worse one.

TPE's non-dominated split (hypervolume subset selection within the last front it needs) then takes
the good trials from the best tiers and spreads them along the front there. Ranking by rung alone put a
trial that completed early (few rung peers) ahead of one pruned at a later rung whose report is on the
front. Running trials that have reported are in the view too, at the step they reached so far (read
again at every ask); only those without a report are left to TPE's constant liar, which counts a
running trial as a bad one. With 2 trials in flight the other one is most often a long, promising
trial (pruned ones end early), so the liar steered the next proposal away from the best region
(``bench/search_efficiency.py``, bench/README.md round 4). The study itself is untouched: a pruned
trial stays PRUNED.

What it reads is in the study, so a resumed sweep learns the same: the recorder
(``sweep/recorder.py``) writes each trial's objective vector per eval step into the user attr
``objective_curve``. Each trial it samples gets system attrs saying what it learned from
(``rung_tpe:observed``, ``rung_tpe:pruned_observed``, ``rung_tpe:model``).

Exploration against categorical lock-in: every ``explore_every``-th trial takes TPE's proposal with
ONE categorical parameter (each in turn) set to the value the study has tried least in the proposal's
company (system attr ``rung_tpe:explored``; :meth:`RungTPESampler._least_tried`). Multivariate TPE
otherwise settles on one LoRA rank or one masking early, and a fully random exploration trial rarely
pairs the neglected value with a usable learning rate; here the other parameters stay the model's
(``bench/search_efficiency.py``, bench/README.md: faster to 80% of the best hypervolume and no seed
short of 90% on both landscapes). "In the proposal's company" (since round 6): TPE keeps each value
with the company it was first found in (weighted masking with rank 16, answer-only with rank 64), so
the value least tried over the whole study can be one that is common elsewhere yet never tried next
to the proposal's other values (rank 64 with weighted masking: the middle of a front).

Long sweeps: the model sees at most :data:`HISTORY` (300) finished trials, the best half by quality and
the most recent others (:func:`bounded`); a sweep of up to 300 trials is unaffected. TPE's work per ask
is O(trials it sees): without the bound a 1,000-trial sweep's driver spent ~45 ms more per trial at its
end than at trial 100 (``bench/driver_scale.py --profile-at``).
"""

from __future__ import annotations

import copy
import math
import random
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from sweep.study import CONSTRAINTS_ATTR_PREFIX, CURVE_ATTR
from trainable.base.finite import is_finite_number

CONSTRAINTS_KEY = CONSTRAINTS_ATTR_PREFIX.rstrip(":")
"""Optuna's older constraints system attr (one list)."""

OBSERVED_ATTR = "rung_tpe:observed"
PRUNED_OBSERVED_ATTR = "rung_tpe:pruned_observed"
MODEL_ATTR = "rung_tpe:model"
EXPLORED_ATTR = "rung_tpe:explored"
"""System attrs of a sampled trial: how many finished trials (and PRUNED ones among them) the model
saw, whether TPE's model (True) or a random draw (False) chose its parameters, and (exploration
trials only) the categorical parameter set to its least-tried value."""


def objective_curve(trial: FrozenTrial) -> dict[int, tuple[float, ...]]:
    """Step -> objective vector from the recorder's user attr; a COMPLETE trial without it (a study
    not written by the recorder) counts its final values at its ``steps`` (or step 0)."""
    raw = trial.user_attrs.get(CURVE_ATTR) or {}
    curve: dict[int, tuple[float, ...]] = {}
    for step, values in raw.items():
        if isinstance(values, list) and all(is_finite_number(v) for v in values):
            curve[int(step)] = tuple(float(v) for v in values)
    if not curve and trial.state == TrialState.COMPLETE and trial.values is not None:
        curve[int(trial.user_attrs.get("steps") or 0)] = tuple(trial.values)
    return curve


def _violation(trial: FrozenTrial) -> float:
    return sum(v for v in trial.constraints.values() if v > 0)


Tier = tuple[float, int]
"""(constraint violation, -highest step with finite objectives): smaller is better."""
FRONT_TIER: Tier = (-1.0, 0)
"""The tier of the trials that reported a point of the observed front (:class:`ObservedFront`): ahead
of every rung tier."""


def observe(trial: FrozenTrial, signs: Sequence[float]) -> tuple[Tier | None, tuple[float, ...] | None] | None:
    """What the model sees of a finished trial: (tier, objective vector in minimisation form at the
    step it reached), (None, None) for a diverged/failed trial (the last tier), or None for a trial
    that errored (left out). A finished trial never changes, so this is computed once per trial."""
    if trial.user_attrs.get("stop_cause") == "error":
        return None
    curve = objective_curve(trial)
    if not curve or trial.user_attrs.get("diverged") or trial.state == TrialState.FAIL:
        return None, None
    step = max(curve)
    return (_violation(trial), -step), tuple(s * v for s, v in zip(signs, curve[step], strict=True))


def reported_points(trial: FrozenTrial, signs: Sequence[float],
                    seen: tuple[Tier | None, tuple[float, ...] | None] | None) -> list[tuple[int, tuple[float, ...]]]:  # fmt: skip
    """(step, objective vector in minimisation form) of every eval a feasible, finished, not diverged
    trial reported (its candidates for the observed front); none for any other trial. ``seen``: what
    :func:`observe` gave for the trial."""
    if seen is None or seen[0] is None or seen[0][0] > 0:
        return []
    return [(step, tuple(s * v for s, v in zip(signs, values, strict=True)))
            for step, values in sorted(objective_curve(trial).items())]  # fmt: skip


def _view_copy(trial: FrozenTrial, constraints: bool) -> FrozenTrial:
    """A shallow copy of ``trial`` marked COMPLETE for the view, with only its constraint system attrs
    (``constraints``; TPE scans them at every ask) or none (a running trial: evaluated when it finishes)."""
    view = copy.copy(trial)
    view.state = TrialState.COMPLETE
    view._system_attrs = {k: v for k, v in trial.system_attrs.items()
                          if k == CONSTRAINTS_KEY or k.startswith(CONSTRAINTS_ATTR_PREFIX)} if constraints else {}  # fmt: skip
    return view


class ObservedFront:
    """The non-dominated set of every point the finished feasible trials reported (each eval of each
    trial, pruned ones included: what a sweep's Pareto front is made of), kept as trials finish, with
    the trial that reported each point."""

    def __init__(self) -> None:
        self._points: list[tuple[tuple[float, ...], int, int]] = []  # (vector, trial number, step)

    def add(self, number: int, points: Sequence[tuple[int, tuple[float, ...]]]) -> None:
        for step, v in points:
            if any(all(a <= b for a, b in zip(p, v, strict=True)) for p, _, _ in self._points):
                continue  # dominated by (or equal to) a point already there
            self._points = [q for q in self._points if not all(a <= b for a, b in zip(v, q[0], strict=True))]
            self._points.append((v, number, step))

    def with_points(self, number: int, points: Sequence[tuple[int, tuple[float, ...]]]) -> ObservedFront:
        """A copy with ``points`` (of a trial still running) added."""
        front = ObservedFront()
        front._points = list(self._points)
        front.add(number, points)
        return front

    def owners(self) -> dict[int, tuple[float, ...]]:
        """Trial number -> its point on the front (of its points there, the one with the smallest sum)."""
        best: dict[int, tuple[float, ...]] = {}
        for v, number, _ in self._points:
            if number not in best or sum(v) < sum(best[number]):
                best[number] = v
        return best


def _signs(directions: Sequence[StudyDirection]) -> list[float]:
    return [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions]


def _group(
    observed: Sequence[tuple[FrozenTrial, tuple[Tier | None, tuple[float, ...] | None] | None]],
    front: dict[int, tuple[float, ...]] | None = None,
) -> tuple[list[list[tuple[FrozenTrial, tuple[float, ...]]]], list[FrozenTrial]]:
    """Finished trials grouped in tiers, best tier first: the trials that reported a point of the
    observed front (``front``: trial number -> that point; none: rung tiers only), then (constraint violation, -reached step),
    each trial with its objective vector (minimisation form); and the diverged/failed trials (worst of
    all). Trials that errored (``stop_cause == "error"``, seen None) are left out."""
    tiers: dict[Tier, list[tuple[FrozenTrial, tuple[float, ...]]]] = {}
    last: list[FrozenTrial] = []
    front = front or {}
    for t, seen in observed:
        if seen is None:
            continue
        tier, vector = seen
        if t.number in front:
            tiers.setdefault(FRONT_TIER, []).append((t, front[t.number]))
        elif tier is None or vector is None:
            last.append(t)
        else:
            tiers.setdefault(tier, []).append((t, vector))
    return [tiers[k] for k in sorted(tiers)], sorted(last, key=lambda t: t.number)


HISTORY = 300
"""The most finished trials TPE's model sees (see :func:`bounded`): TPE's work per ask grows with them."""


def bounded(tiers: list[list[tuple[FrozenTrial, tuple[float, ...]]]], last: list[FrozenTrial], lo: Sequence[float],
            hi: Sequence[float], history: int = HISTORY,
            keys: dict[tuple[float, ...], float] | None = None) -> tuple[list[list[tuple[FrozenTrial, tuple[float, ...]]]], list[FrozenTrial]]:
    """At most ``history`` of the grouped trials, unchanged when there are not more: the best half by
    quality (best tiers first; within a tier by the sum of the min-max scaled objectives, the trials
    TPE's good group is drawn from) and the most recent of the others (what the model has tried lately).
    TPE's work per ask is O(trials it sees), so a sweep past ``history`` trials keeps a near-constant cost
    per trial (``bench/driver_scale.py``). ``keys``: the scaled sums by objective vector from earlier
    calls with the same ``lo`` / ``hi`` (filled in here)."""
    if sum(len(m) for m in tiers) + len(last) <= history:
        return tiers, last
    keys = {} if keys is None else keys
    scale = [1.0 / (h - low) if h > low else 0.0 for low, h in zip(lo, hi, strict=True)]
    ranked = []
    for k, members in enumerate(tiers):
        for t, v in members:
            key = keys.get(v)
            if key is None:
                key = keys[v] = sum((x - low) * c for x, low, c in zip(v, lo, scale, strict=True))
            ranked.append((k, key, t.number))
    ranked.sort()
    keep = {number for _, _, number in ranked[: history // 2]}
    rest = sorted([n for _, _, n in ranked[history // 2 :]] + [t.number for t in last], reverse=True)
    keep.update(rest[: history - len(keep)])
    kept_tiers = [[(t, v) for t, v in members if t.number in keep] for members in tiers]
    return [m for m in kept_tiers if m], [t for t in last if t.number in keep]


def tiered_values(trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> list[tuple[FrozenTrial, list[float]]]:
    """Each finished trial (of one study) with a minimisation vector in which every trial of a better
    tier dominates every trial of a worse one (tier k is shifted by k times the span of all vectors), so
    that multi-objective TPE's non-dominated split sees the tiers in order and the front within each."""
    by_number = {t.number: t for t in trials}
    return [(by_number[v.number], values) for v, values in ObservedTrials().tiered(trials, directions)]


def _shifted(tiers: list[list[tuple[FrozenTrial, tuple[float, ...]]]], last: list[FrozenTrial], lo: Sequence[float],
             hi: Sequence[float], n_objectives: int) -> list[tuple[FrozenTrial, list[float]]]:
    """:func:`tiered_values` from grouped tiers and the per-objective min (``lo``) / max (``hi``) of every
    vector a trial reported."""
    if not tiers:
        return [(t, [0.0] * n_objectives) for t in last]
    span = 1.0 + max(h - low for h, low in zip(hi, lo, strict=True))
    out = []
    for k, members in enumerate(tiers):
        offsets = [k * span - low for low in lo]
        out += [(t, [a + b for a, b in zip(v, offsets, strict=True)]) for t, v in members]
    return out + [(t, [(len(tiers) + 1) * span] * n_objectives) for t in last]


class _QualityView:
    """A read-only stand-in for the study that a TPE sampler reads: each finished trial COMPLETE with
    the values of its quality; running trials as they are."""

    def __init__(self, study: Study, trials: list[FrozenTrial], directions: list[StudyDirection]) -> None:
        self._study = study
        self._trials = trials
        self.directions = directions
        self.direction = directions[0]

    def _is_multi_objective(self) -> bool:
        return len(self.directions) > 1

    def _get_trials(self, deepcopy: bool = False, states: Any = None, use_cache: bool = False) -> list[FrozenTrial]:
        return [t for t in self._trials if states is None or t.state in states]

    def get_trials(self, deepcopy: bool = False, states: Any = None) -> list[FrozenTrial]:
        return self._get_trials(states=states)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


class ObservedTrials:
    """The finished trials of one study (keyed by number) as :func:`quality_view` shows them, each read once: a finished
    trial never changes, so its tier, vector, reported points and view copy are kept and each ask only
    adds the trials finished since (an ask stays O(trials) in cheap arithmetic, not in parsing every
    trial's curve)."""

    def __init__(self, front_tier: bool = True) -> None:
        self._seen: dict[int, tuple[FrozenTrial, tuple[Tier | None, tuple[float, ...] | None] | None]] = {}
        self._front = ObservedFront()
        self._front_tier = front_tier  # False: rung tiers only (the sampler before 2026-11-30 round 4)
        self._lo: list[float] = []
        self._hi: list[float] = []
        self._keys: dict[tuple[float, ...], float] = {}  # scaled sums :func:`bounded` sorts by (for this lo / hi)

    def tiered(self, finished: Sequence[FrozenTrial], directions: Sequence[StudyDirection],
               in_flight: Sequence[FrozenTrial] = ()) -> list[tuple[FrozenTrial, list[float]]]:  # fmt: skip
        """:func:`tiered_values` of ``finished`` and of the ``in_flight`` trials (running, at the step
        they reported last; read again at every ask), at most :data:`HISTORY` of them (:func:`bounded`),
        with view copies in place of the trials."""
        signs = _signs(directions)
        observed = []
        front = self._front
        for t in in_flight:
            seen = observe(t, signs)
            points = reported_points(t, signs, seen)
            front = front.with_points(t.number, points)
            self._widen([v for _, v in points])
            observed.append((_view_copy(t, constraints=False), seen))
        for t in finished:
            entry = self._seen.get(t.number)
            if entry is None:
                seen = observe(t, signs)
                entry = self._seen[t.number] = (_view_copy(t, constraints=True), seen)
                points = reported_points(t, signs, seen)
                self._front.add(t.number, points)
                self._widen([v for _, v in points] + ([seen[1]] if seen is not None and seen[1] is not None else []))
            observed.append(entry)
        owners = front.owners() if self._front_tier else {}
        tiers, last = bounded(*_group(observed, owners), self._lo, self._hi, keys=self._keys)
        return _shifted(tiers, last, self._lo, self._hi, len(directions))

    def _widen(self, vectors: Sequence[tuple[float, ...]]) -> None:
        """Widen the per-objective min / max (what the tiers are shifted by) to ``vectors``."""
        before = (self._lo, self._hi)
        for vector in vectors:
            self._lo = [min(a, b) for a, b in zip(self._lo, vector, strict=True)] if self._lo else list(vector)
            self._hi = [max(a, b) for a, b in zip(self._hi, vector, strict=True)] if self._hi else list(vector)
        if (self._lo, self._hi) != before:
            self._keys = {}


def quality_view(study: Study, observed: ObservedTrials | None = None,
                 in_flight: bool = True) -> tuple[_QualityView, int, int]:  # fmt: skip
    """(view, trials observed, PRUNED trials among them): every finished trial COMPLETE with its
    :func:`tiered_values` (minimised); with ``in_flight``, so is every running trial that has reported
    (at the step it reached so far); the other running trials as they are (TPE's constant liar).
    ``observed``: the trials read at earlier asks of the same study (a sampler keeps one)."""
    trials = study._get_trials(deepcopy=False, use_cache=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    states = {t._trial_id: t.state for t in finished}
    running = [t for t in trials if t.state == TrialState.RUNNING]
    reporting = [t for t in running if in_flight and t.user_attrs.get(CURVE_ATTR)]
    valued = (observed or ObservedTrials()).tiered(finished, study.directions, reporting)
    view_trials: list[FrozenTrial] = []
    for v, values in valued:
        v._values = values
        view_trials.append(v)
    reported = {t.number for t in reporting}
    view_trials += [t for t in running if t.number not in reported]
    pruned = sum(states.get(v._trial_id) == TrialState.PRUNED for v, _ in valued)
    return _QualityView(study, view_trials, [StudyDirection.MINIMIZE] * len(study.directions)), len(valued), pruned


class _Fraction:
    """TPE's ``gamma``: how many of ``n`` ordered trials are good (picklable, unlike a lambda)."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def __call__(self, n: int) -> int:
        return max(1, math.ceil(self.fraction * n))


class RungTPESampler(BaseSampler):
    """TPE on the rung-level quality of every finished trial (see the module docstring).

    ``n_startup_trials`` finished trials are sampled at random first; ``gamma`` is the fraction of the
    ordered trials TPE treats as good; ``prior_weight``: the weight of TPE's flat prior next to each
    observation (higher: wider kernels, categorical values kept mixed); TPE picks the best of
    ``n_ei_candidates`` draws (few: less greedy); every ``explore_every``-th trial explores (0: never):
    TPE's proposal with one categorical parameter, each in turn, set to its value least tried in the
    proposal's company (a search space without categoricals: a random trial). ``front_tier``: the trials
    that reported a point of the observed front rank first; ``in_flight``: running trials that have
    reported are observed at their step (both False: the sampler before 2026-11-30 round 4). Defaults chosen by
    ``bench/search_efficiency.py`` on two landscapes (gamma 0.10 and prior weight 2 since 2026-11-30
    round 5; round 4: 0.15 and 1). ``constraints_func`` follows Optuna's convention (a sequence of
    floats per trial, ``<= 0`` feasible), evaluated when a trial finishes, PRUNED ones included.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int = 5,
        gamma: float = 0.10,
        prior_weight: float = 2.0,
        n_ei_candidates: int = 8,
        explore_every: int = 4,
        front_tier: bool = True,
        in_flight: bool = True,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
    ) -> None:
        self._explore_every = explore_every
        self._front_tier = front_tier
        self._in_flight = in_flight
        self._constraints_func = constraints_func
        self._n_startup_trials = n_startup_trials
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)  # TPE's gamma: deprecated, kept to 6.0
            self._tpe = TPESampler(
                seed=seed, n_startup_trials=n_startup_trials, n_ei_candidates=n_ei_candidates,
                gamma=_Fraction(gamma), prior_weight=prior_weight, multivariate=True, constant_liar=True,
            )  # fmt: skip
        self._rng = random.Random(seed)
        self._view_for: tuple[int, _QualityView] | None = None
        self._observed: tuple[int, ObservedTrials] | None = None  # (study id, its finished trials as seen)
        self._random_trial: int | None = None  # id of a random exploration trial (no categorical to stratify)

    def __getstate__(self) -> dict[str, Any]:
        # The view holds the study (and its storage); the observed trials are read again after a restore.
        return {**self.__dict__, "_view_for": None, "_observed": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a sampler pickled before the cache / stratified exploration existed
        self.__dict__.update({"_observed": None, "_random_trial": None, "_rng": random.Random(), "_front_tier": False,
                              "_in_flight": False, **state})  # fmt: skip

    def reseed_rng(self) -> None:
        self._tpe.reseed_rng()
        self._rng = random.Random()

    def _view(self, study: Study, trial: FrozenTrial) -> _QualityView:
        """One view per sampled trial (built at its first question, reused for its other params)."""
        if self._view_for is None or self._view_for[0] != trial._trial_id:
            if self._observed is None or self._observed[0] != study._study_id:
                self._observed = (study._study_id, ObservedTrials(self._front_tier))
            view, observed, pruned = quality_view(study, self._observed[1], self._in_flight)
            self._view_for = (trial._trial_id, view)
            storage = study._storage
            storage.set_trial_system_attr(trial._trial_id, OBSERVED_ATTR, observed)
            storage.set_trial_system_attr(trial._trial_id, PRUNED_OBSERVED_ATTR, pruned)
            storage.set_trial_system_attr(trial._trial_id, MODEL_ATTR, observed >= self._n_startup_trials)
            self._random_trial = None
        return self._view_for[1]

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._tpe.infer_relative_search_space(self._view(study, trial), trial)  # type: ignore[arg-type]

    def _explores(self, trial: FrozenTrial) -> bool:
        """Every ``explore_every``-th trial explores (keeps the front wide, see the module docstring)."""
        return self._explore_every > 0 and trial.number % self._explore_every == self._explore_every - 1

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        view = self._view(study, trial)
        params = self._tpe.sample_relative(view, trial, search_space)  # type: ignore[arg-type]
        if not params or not self._explores(trial):
            return params
        names = sorted(n for n, d in search_space.items() if isinstance(d, CategoricalDistribution))
        if not names:  # nothing categorical to stratify: a random trial
            self._random_trial = trial._trial_id
            study._storage.set_trial_system_attr(trial._trial_id, MODEL_ATTR, False)
            return {}
        name = names[(trial.number // self._explore_every) % len(names)]
        study._storage.set_trial_system_attr(trial._trial_id, EXPLORED_ATTR, name)
        return {**params, name: self._least_tried(view, trial, name, search_space[name], params, names)}

    def _least_tried(self, view: _QualityView, trial: FrozenTrial, name: str, dist: CategoricalDistribution,
                     params: dict[str, Any], categoricals: Sequence[str]) -> Any:  # fmt: skip
        """The value of ``name`` the study's other trials hold least often in the company of TPE's proposal
        ``params`` (ties drawn at random), never the one TPE proposed: a trial counts 2**k, k = how many of
        the other ``categoricals`` it shares with the proposal."""
        others = [n for n in categoricals if n != name and n in params]
        counts = {c: 0.0 for c in dist.choices if c != params[name]}
        for t in view.get_trials():
            value = t.params.get(name)
            if t.number != trial.number and value in counts:
                counts[value] += 2.0 ** sum(t.params.get(n) == params[n] for n in others)
        fewest = min(counts.values())
        return self._rng.choice([c for c, n in counts.items() if n == fewest])

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        view = self._view(study, trial)
        if self._random_trial == trial._trial_id:
            return self._tpe._random_sampler.sample_independent(view, trial, param_name, param_distribution)  # type: ignore[arg-type]
        return self._tpe.sample_independent(view, trial, param_name, param_distribution)  # type: ignore[arg-type]

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._tpe.before_trial(study, trial)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        if self._constraints_func is not None:
            _process_constraints_after_trial(self._constraints_func, study, trial, state)
        self._tpe.after_trial(study, trial, state, values)
