"""MOASHA: asynchronous successive halving on non-dominated rank (pure Python, no Ray).

Syne Tune style: a small object with explicit state (:attr:`MOASHA.rungs`, :attr:`MOASHA.infeasible`,
:attr:`MOASHA.stopped`) and one pure decision method, :meth:`MOASHA.on_result`. Rung levels are
``grace_steps * eta**k``; a trial meets only the levels below its OWN ``max_steps`` (a preset with a
shorter run has fewer rungs), and a report at or past its ``max_steps``, a final report (``is_final``) or
a diverged one is never recorded: the trial ends itself, never "pruned" after it finished. When a
trial first reports at or past a rung level, its objective vector is recorded in that rung and the trial
continues iff it is among the top ``ceil(n / eta)`` of the ``n`` trials recorded there so far, ranked:

1. feasible reports (every :mod:`trainable.base.constraints` band met) by non-dominated sorting, ties within a
   front broken by crowding distance (NSGA-II) or hypervolume contribution (larger is better);
2. infeasible reports, by total constraint violation (smallest first);
3. reports with a missing or non-finite objective.

The first trial at a rung always continues (as in ASHA: it cannot yet be compared). The decisions are a
function of the reports fed in order, so replaying the same reports into a fresh MOASHA rebuilds the
same state: ``sweep/mo_asha_ray.py`` (the Ray Tune adapter) logs each rung report to the results folder
and replays it on ``mtsweep resume``; the benchmark in ``bench/`` drives this class directly.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from sweep.choices import TIE_BREAKS
from sweep.nondominated import crowding_distances, hv_contributions, iter_fronts
from trainable.base.constraints import Band, total_violation
from trainable.base.finite import is_finite_number


class Decision(Enum):
    """What the scheduler tells a trial after a report."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"


class MOASHA:
    """Multi-objective asynchronous successive halving (stopping variant)."""

    def __init__(
        self,
        objectives: list[str],
        modes: list[str],
        *,
        grace_steps: int,
        reduction_factor: float = 3,
        max_steps: int,
        tie_break: str = "crowding",
        step_key: str = "step",
        constraints: dict[str, Band | None] | None = None,
    ) -> None:
        if not objectives or len(objectives) != len(modes):
            raise ValueError(
                f"objectives {objectives} and modes {modes} must be non-empty and of equal length"
            )
        if any(m not in ("min", "max") for m in modes):
            raise ValueError(f"modes must be 'min' or 'max', got {modes}")
        if grace_steps < 1 or max_steps < grace_steps:
            raise ValueError(f"need 1 <= grace_steps ({grace_steps}) <= max_steps ({max_steps})")
        if reduction_factor <= 1:
            raise ValueError(f"reduction_factor (eta) must be > 1, got {reduction_factor}")
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
        self.objectives = list(objectives)
        self.modes = list(modes)
        self.grace_steps = int(grace_steps)
        self.eta = reduction_factor
        self.max_steps = int(max_steps)
        """Length of a trial that does not say its own (``on_result(max_steps=None)``)."""
        self.tie_break = tie_break
        self.step_key = step_key
        self.constraints = dict(constraints or {})
        """Feasibility bands (trainable/base/constraints.py); an infeasible report ranks behind every feasible one."""
        self.rung_levels: list[int] = self.levels_below(self.max_steps)
        """Rung levels of a trial of the default length."""
        self.rungs: dict[int, dict[str, tuple[float, ...] | None]] = {}
        """Rung level -> {trial_id: objective vector (minimisation form) or None when not finite}."""
        self.infeasible: dict[int, dict[str, float]] = {}
        """Rung level -> {trial_id: total constraint violation (> 0)} for the infeasible reports."""
        self.stopped: dict[str, int] = {}
        """Trials this scheduler stopped -> the rung level where it happened."""
        self.reset()

    def reset(self) -> None:
        """Forget every report (the state of a scheduler that has seen none)."""
        self.rungs = {r: {} for r in self.rung_levels}
        self.infeasible = {r: {} for r in self.rung_levels}
        self.stopped = {}

    def levels_below(self, max_steps: int) -> list[int]:
        """Rung levels ``grace_steps * eta**k`` below ``max_steps``."""
        levels: list[int] = []
        level = float(self.grace_steps)
        while level < max_steps:
            if not levels or int(level) > levels[-1]:
                levels.append(int(level))
            level *= self.eta
        return levels

    # --- the decision ----------------------------------------------------------------------
    def on_result(self, trial_id: str, step: int, metrics: dict[str, Any], max_steps: int | None = None) -> Decision:
        """Record a report and decide; ``max_steps``: the trial's own length (None = the default).

        Reports between rungs, past the trial's last rung, final or diverged ones just continue.
        """
        if trial_id in self.stopped:
            return Decision.STOP
        rung = self.rung_for(trial_id, step, metrics, max_steps)
        if rung is None:
            return Decision.CONTINUE
        self.rungs.setdefault(rung, {})[trial_id] = self.vector(metrics)
        violation = total_violation(self.constraints, metrics)
        if violation > 0:
            self.infeasible.setdefault(rung, {})[trial_id] = violation
        keep = math.ceil(len(self.rungs[rung]) / self.eta)
        if self.rank_in_rung(rung, trial_id, within=keep) < keep:
            return Decision.CONTINUE
        self.stopped[trial_id] = rung
        return Decision.STOP

    def rung_for(self, trial_id: str, step: int, metrics: dict[str, Any], max_steps: int | None = None) -> int | None:
        """The rung this report is recorded in, or None: the highest level <= step below the trial's own
        ``max_steps`` where it is not yet recorded (ASHA's rule); never for a final or diverged report."""
        length = self.max_steps if max_steps is None else int(max_steps)
        if step >= length or metrics.get("is_final") or metrics.get("diverged"):
            return None
        for level in reversed(self.levels_below(length)):
            if step >= level:
                return None if trial_id in self.rungs.get(level, {}) else level
        return None

    # --- ranking ---------------------------------------------------------------------------
    def vector(self, metrics: dict[str, Any]) -> tuple[float, ...] | None:
        """Objectives in minimisation form, or None if any is missing or not a finite number."""
        out = []
        for name, mode in zip(self.objectives, self.modes, strict=True):
            value = metrics.get(name)
            if not is_finite_number(value):
                return None
            out.append(-float(value) if mode == "max" else float(value))
        return tuple(out)

    def _groups(self, rung: int) -> tuple[list[str], list[str], list[str]]:
        """A rung's trial ids in ranking groups, each in arrival order: feasible with finite objectives,
        infeasible (by total violation, smallest first), missing/non-finite objectives."""
        entries = self.rungs[rung]
        violation = self.infeasible.get(rung, {})
        good = [t for t, v in entries.items() if v is not None and t not in violation]
        infeasible = sorted((t for t, v in entries.items() if v is not None and t in violation), key=violation.get)
        bad = [t for t, v in entries.items() if v is None]
        return good, infeasible, bad

    def _front_order(self, front: list[int], vectors: list[tuple[float, ...]]) -> list[int]:
        """One front's indices (into ``vectors``, the rung's feasible vectors), best first: larger
        tie-break score first, arrival order among equal scores."""
        pts = [vectors[i] for i in front]
        scores = crowding_distances(pts) if self.tie_break == "crowding" else hv_contributions(pts, self._ref(vectors))
        return [front[k] for k in sorted(range(len(front)), key=lambda k: -scores[k])]

    def ranking(self, rung: int) -> list[str]:
        """Trial ids of a rung, best first."""
        good, infeasible, bad = self._groups(rung)
        vectors = [self.rungs[rung][t] for t in good]
        order = [good[i] for front in iter_fronts(vectors) for i in self._front_order(front, vectors)]
        return order + infeasible + bad

    def rank_in_rung(self, rung: int, trial_id: str, *, within: int | None = None) -> int:
        """0-based position of the trial in :meth:`ranking`. With ``within``, exact only when it is below
        ``within`` (else some number >= ``within``): the fronts after the trial's, and those when ``within``
        trials are ranked before it, are never computed (a decision reads one rung per report: with every
        trial in the first rung, ranking it whole made each report O(trials^2))."""
        good, infeasible, bad = self._groups(rung)
        if trial_id not in good:
            return len(good) + (infeasible + bad).index(trial_id)
        vectors = [self.rungs[rung][t] for t in good]
        target, ahead = good.index(trial_id), 0
        for front in iter_fronts(vectors):
            if target in front:
                return ahead + self._front_order(front, vectors).index(target)
            ahead += len(front)
            if within is not None and ahead >= within:
                return ahead
        raise AssertionError("unreachable: every feasible trial is on some front")

    @staticmethod
    def _ref(vectors: list[tuple[float, ...]]) -> tuple[float, ...]:
        """Reference point: the rung's worst value per objective plus 10% of its range (or 1)."""
        ref = []
        for k in range(len(vectors[0])):
            col = [v[k] for v in vectors]
            span = max(col) - min(col)
            ref.append(max(col) + (0.1 * span if span > 0 else 1.0))
        return tuple(ref)

    def debug_string(self) -> str:
        rungs = ", ".join(f"{r}: {len(self.rungs[r])}" for r in sorted(self.rungs))
        return f"MOASHA(eta={self.eta}, stopped={len(self.stopped)}, recorded per rung {{{rungs}}})"
