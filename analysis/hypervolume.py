"""Hypervolume of a sweep and its history (the exact computation is ``trainable/base/pareto.py``).

The reference point is the S0 baseline (``baseline.json``) when it has every objective, else the worst
observed value of each objective; :class:`Reference` says which. Only the part of the objective space
that is strictly better than the reference counts, so a sweep that never beats S0 has hypervolume 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.front import Point
from trainable.base.finite import is_finite_number
from trainable.base.pareto import Mode, add_nondominated, hypervolume


@dataclass(frozen=True)
class Reference:
    """The hypervolume reference point and where it came from."""

    values: tuple[float, ...]
    """One value per objective."""
    source: str
    """``baseline`` (S0, from baseline.json) or ``worst`` (worst observed value per objective)."""

    def describe(self, objectives: Sequence[str]) -> str:
        """E.g. ``reference = S0 baseline (comet=0.78, term_acc=0.21)``."""
        what = "S0 baseline" if self.source == "baseline" else "worst observed values"
        pairs = ", ".join(f"{o}={v:.4g}" for o, v in zip(objectives, self.values, strict=True))
        return f"reference = {what} ({pairs})"


@dataclass
class HypervolumeReport:
    """Hypervolume of a set of points plus its history as the sweep progressed."""

    objectives: tuple[str, ...]
    modes: tuple[Mode, ...]
    reference: Reference
    value: float
    """Hypervolume of all points given."""
    by_trial: list[tuple[int, str, float]] = field(default_factory=list)
    """(number of finished trials, trial id, hypervolume of their final results), completion order."""
    by_steps: list[tuple[int, float]] = field(default_factory=list)
    """(cumulative optimizer steps over all trials, hypervolume of every checkpoint seen so far)."""


def choose_reference(
    objectives: Sequence[str],
    modes: Sequence[Mode],
    points: Sequence[Point],
    baseline_metrics: Mapping[str, Any] | None = None,
) -> Reference:
    """S0 baseline values when it has every objective, else the worst observed value per objective."""
    if baseline_metrics and all(is_finite_number(baseline_metrics.get(o)) for o in objectives):
        return Reference(tuple(float(baseline_metrics[o]) for o in objectives), "baseline")
    worst = []
    for o, m in zip(objectives, modes, strict=True):
        vals = [float(p.values[o]) for p in points if is_finite_number(p.values.get(o))]  # type: ignore[arg-type]
        if not vals:
            worst.append(0.0)
        else:
            worst.append(min(vals) if m == "max" else max(vals))
    return Reference(tuple(worst), "worst")


def _vec(p: Point, objectives: Sequence[str]) -> list[float] | None:
    """The point's objective vector; None when a value is missing or the point is infeasible."""
    if not p.feasible:
        return None
    vals = [p.values.get(o) for o in objectives]
    return [float(v) for v in vals] if all(is_finite_number(v) for v in vals) else None  # type: ignore[arg-type]


def hypervolume_report(
    objectives: Sequence[str],
    modes: Sequence[Mode],
    trial_points: Sequence[Point],
    checkpoint_points: Sequence[Point] = (),
    baseline_metrics: Mapping[str, Any] | None = None,
) -> HypervolumeReport:
    """Hypervolume of the trial-level points, its history over trials and over cumulative steps.

    ``trial_points`` are in completion order; ``checkpoint_points`` in report order (the order the
    sweep wrote them). The reference is chosen from all feasible points so the history uses one fixed
    reference; infeasible points add no hypervolume.
    """
    objectives, modes = tuple(objectives), tuple(modes)
    feasible = [p for p in [*trial_points, *checkpoint_points] if p.feasible]
    ref = choose_reference(objectives, modes, feasible, baseline_metrics)
    seen: list[list[float]] = []
    by_trial = []
    for i, p in enumerate(trial_points, start=1):
        v = _vec(p, objectives)
        if v is not None:
            add_nondominated(seen, v, modes)
        by_trial.append((i, p.trial_id, hypervolume(seen, ref.values, modes)))
    by_steps = []
    last_step: dict[str, int] = {}
    total, seen_ck = 0, []  # type: ignore[var-annotated]
    for p in checkpoint_points:
        step = int(p.step or 0)
        total += max(0, step - last_step.get(p.trial_id, 0))
        last_step[p.trial_id] = max(step, last_step.get(p.trial_id, 0))
        v = _vec(p, objectives)
        if v is not None:
            add_nondominated(seen_ck, v, modes)
        by_steps.append((total, hypervolume(seen_ck, ref.values, modes)))
    value = hypervolume(seen, ref.values, modes)
    return HypervolumeReport(objectives, modes, ref, value, by_trial, by_steps)
