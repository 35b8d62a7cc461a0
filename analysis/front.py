"""Pareto fronts as plain data: non-dominated sorting of sweep points for 2-3 objectives.

Pure computation (numpy only, no plotting): :func:`pareto_front` takes :class:`Point`s (one per trial, or one
per eval checkpoint) and returns a :class:`ParetoFront` that exports and renderers read. A point that fails a
feasibility constraint (``Point.failed_constraints``, trainable/base/constraints.py) is never ranked: it is kept in
``ParetoFront.infeasible`` so tables list it with the constraint it failed and plots draw it apart.
Dominance and ranking are the base's (``trainable/base/pareto.py``). Points with a missing/NaN objective are left
out of the sorting and kept in ``ParetoFront.excluded`` so callers can count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trainable.base.finite import is_finite_number
from trainable.base.pareto import Mode, nondominated_ranks

FRONT_LEVELS: tuple[str, ...] = ("trial", "checkpoint")
"""What a front ranks: each trial's final result, or every eval (checkpoint). The one list (CLI flags too)."""


@dataclass(frozen=True)
class Point:
    """One result of a sweep: a trial's final result (trial level) or one eval report (checkpoint level)."""

    trial_id: str
    """Ray Tune trial id."""
    step: int | None
    """Optimizer step of the eval that produced ``values``."""
    values: dict[str, float | None]
    """Objective name -> value (None when missing or not finite)."""
    metrics: dict[str, Any]
    """Every metric of that eval report (bleu_char, chrf_pp, len_ratio, loss, ...)."""
    params: dict[str, Any]
    """The trial's sampled hyperparameters."""
    checkpoint: str | None
    """Checkpoint (adapter) directory of that eval, or None when none was kept."""
    diverged: bool = False
    """True when the trial was stopped by a NaN/spike (values are its last good ones)."""
    state: str = "RUNNING"
    """COMPLETE, PRUNED, FAIL, or RUNNING for a trial that has not finished yet."""
    optuna_number: int | None = None
    """The Optuna trial number, when known."""
    stop_cause: str | None = None
    """Why the trial stopped (trainable.base.report_keys.STOP_CAUSES), None while running."""
    failed_constraints: tuple[str, ...] = ()
    """The sweep's feasibility constraints this result fails (e.g. ``len_ratio 2.4 > 1.5``); empty = feasible."""

    @property
    def feasible(self) -> bool:
        return not self.failed_constraints

    @property
    def label(self) -> str:
        """Short human label: ``trial_id@step``."""
        return f"{self.trial_id}@{self.step}" if self.step is not None else self.trial_id


@dataclass
class ParetoFront:
    """The result of non-dominated sorting over ``points`` (all with finite values)."""

    objectives: tuple[str, ...]
    """Objective names, in order."""
    modes: tuple[Mode, ...]
    """``max`` or ``min`` per objective."""
    points: list[Point]
    """Every feasible point with finite values for all objectives, in input order."""
    front: list[Point]
    """The non-dominated points (rank 0), sorted by the first objective, best first."""
    dominated: list[Point]
    """The other points, by rank then input order."""
    ranks: list[int]
    """Non-domination rank of ``points[i]`` (0 = on the front)."""
    excluded: list[Point] = field(default_factory=list)
    """Points left out because an objective was missing/NaN (counted, never plotted as results)."""
    level: str = "trial"
    """``trial`` (one point per trial) or ``checkpoint`` (one point per eval)."""
    infeasible: list[Point] = field(default_factory=list)
    """Points with values that fail a feasibility constraint (never on the front, never ranked)."""

    def vector(self, point: Point) -> tuple[float, ...]:
        """The objective values of ``point`` in objective order."""
        return tuple(float(point.values[o]) for o in self.objectives)  # type: ignore[arg-type]

    def rank_of(self, point: Point) -> int:
        """Non-domination rank of one of ``points``."""
        return self.ranks[self.points.index(point)]


def pareto_front(
    points: Sequence[Point],
    objectives: Sequence[str],
    modes: Sequence[Mode],
    *,
    level: str = "trial",
) -> ParetoFront:
    """Sort the feasible ``points`` by non-domination on ``objectives``; points missing a value go to
    ``excluded``, infeasible ones (with values) to ``infeasible``."""
    objectives = tuple(objectives)
    modes = tuple(modes)
    if not 1 <= len(objectives) <= 3 or len(objectives) != len(modes):
        raise ValueError(f"need 1-3 objectives with one mode each, got {objectives} / {modes}")
    for mode in modes:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    with_values = [p for p in points if all(is_finite_number(p.values.get(o)) for o in objectives)]
    excluded = [p for p in points if not all(is_finite_number(p.values.get(o)) for o in objectives)]
    valid = [p for p in with_values if p.feasible]
    infeasible = [p for p in with_values if not p.feasible]
    ranks = nondominated_ranks([[float(p.values[o]) for o in objectives] for p in valid], modes)  # type: ignore[arg-type]
    sign = 1.0 if modes[0] == "max" else -1.0
    front = sorted((p for p, r in zip(valid, ranks, strict=True) if r == 0), key=lambda p: -sign * p.values[objectives[0]])  # type: ignore[operator]
    order = sorted(range(len(valid)), key=lambda i: ranks[i])
    dominated = [valid[i] for i in order if ranks[i] > 0]
    return ParetoFront(objectives, modes, list(valid), front, dominated, ranks, excluded, level, infeasible)
