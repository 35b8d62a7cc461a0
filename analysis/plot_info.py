"""What to draw, computed once for every renderer (matplotlib ``plot_static``, plotly ``plot_html``).

Renderers only draw these info objects; every decision (labels, which points are on the front, hover
text, where a NaN stop happened, the title naming objectives and reference point) is made here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.front import Mode, ParetoFront, Point
from analysis.hypervolume import HypervolumeReport
from analysis.loading import EXTRA_METRICS

METRIC_LABELS: dict[str, str] = {
    "comet": "COMET",
    "term_acc": "terminology accuracy",
    "bleu_char": "BLEU (char)",
    "bleu_mecab": "BLEU (MeCab)",
    "chrf_pp": "chrF++",
    "latency_ms": "latency (ms/segment)",
    "len_ratio": "length ratio",
    "trunc_rate": "share cut at max_new_tokens",
    "runon_rate": "share of run-on segments",
}


def axis_label(name: str, mode: Mode) -> str:
    """E.g. ``COMET (higher is better)``."""
    return f"{METRIC_LABELS.get(name, name)} ({'higher' if mode == 'max' else 'lower'} is better)"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def hover_text(point: Point, objectives: Sequence[str]) -> str:
    """Multi-line description of a point: id, step, objectives, extra metrics, config, checkpoint."""
    lines = [f"{point.trial_id} @ step {point.step}" + ("  [DIVERGED]" if point.diverged else "")]
    if point.failed_constraints:
        lines.append("INFEASIBLE: " + "; ".join(point.failed_constraints))
    lines += [f"{o} = {_fmt(point.values.get(o))}" for o in objectives]
    for m in EXTRA_METRICS:
        if m not in objectives and point.metrics.get(m) is not None:
            lines.append(f"{m} = {_fmt(point.metrics[m])}")
    lines += [f"{k}: {_fmt(v)}" for k, v in sorted(point.params.items())]
    lines.append(f"state: {point.state}" + (f" ({point.stop_cause})" if point.stop_cause else ""))
    if point.checkpoint:
        lines.append(f"checkpoint: {point.checkpoint}")
    return "\n".join(lines)


@dataclass
class PointInfo:
    """One drawable point."""

    label: str
    values: tuple[float, ...]
    on_front: bool
    diverged: bool
    hover: str
    infeasible: bool = False


@dataclass
class ParetoPlotInfo:
    """Everything a Pareto scatter needs."""

    objectives: tuple[str, ...]
    modes: tuple[Mode, ...]
    axis_labels: tuple[str, ...]
    title: str
    subtitle: str
    front: list[PointInfo]
    """Front members, sorted by the first objective (the order the front line connects them)."""
    dominated: list[PointInfo]
    infeasible: list[PointInfo]
    """Points that fail a feasibility constraint: drawn apart, never on the front."""
    infeasible_label: str
    """Legend text of the infeasible marker (names the constraints)."""
    baseline: tuple[float, ...] | None
    """S0 baseline values (one per objective), drawn as a reference marker."""
    reference: tuple[float, ...] | None
    reference_source: str | None
    pairs: list[tuple[int, int]] = field(default_factory=list)
    """Objective index pairs to draw as 2-D panels (one for 2 objectives, three for 3)."""
    diverged_label: str = "diverged (NaN/spike stop)"
    """Legend text of the diverged marker."""

    @property
    def diverged(self) -> list[PointInfo]:
        return [p for p in [*self.front, *self.dominated, *self.infeasible] if p.diverged]


def pareto_plot_info(
    front: ParetoFront,
    hv: HypervolumeReport | None = None,
    baseline_metrics: Mapping[str, Any] | None = None,
    *,
    sweep_name: str = "",
) -> ParetoPlotInfo:
    """Build the scatter info for ``front`` (trial or checkpoint level)."""
    objs = front.objectives

    def info(p: Point, on_front: bool) -> PointInfo:
        return PointInfo(p.label, front.vector(p), on_front, p.diverged, hover_text(p, objs), not p.feasible)

    baseline = None
    if baseline_metrics and all(isinstance(baseline_metrics.get(o), int | float) for o in objs):
        baseline = tuple(float(baseline_metrics[o]) for o in objs)
    unit = "trials (final results)" if front.level == "trial" else "checkpoints (every eval)"
    names = " vs ".join(METRIC_LABELS.get(o, o) for o in objs)
    title = f"Pareto front: {names} - {unit}"
    n_div = sum(p.diverged for p in front.points)
    parts = [f"{len(front.front)} on the front of {len(front.points)}" + (" feasible" if front.infeasible else "")]
    if front.infeasible:
        parts.append(f"{len(front.infeasible)} infeasible (drawn apart, never on the front)")
    if n_div:
        parts.append(f"{n_div} diverged (last good values)" if front.level == "trial"
                     else f"{n_div} last good checkpoints of diverged trials")
    if front.excluded:
        parts.append(f"{len(front.excluded)} without values (excluded)")
    if hv is not None:
        parts.append(f"hypervolume {hv.value:.4g}, {hv.reference.describe(objs)}")
    pairs = [(0, 1)] if len(objs) == 2 else [(0, 1), (0, 2), (1, 2)]
    return ParetoPlotInfo(
        objectives=objs,
        modes=front.modes,
        axis_labels=tuple(axis_label(o, m) for o, m in zip(objs, front.modes, strict=True)),
        title=title + (f" [{sweep_name}]" if sweep_name else ""),
        subtitle="; ".join(parts),
        front=[info(p, True) for p in front.front],
        dominated=[info(p, False) for p in front.dominated],
        infeasible=[info(p, False) for p in front.infeasible],
        infeasible_label="infeasible: " + infeasible_reasons(front.infeasible),
        baseline=baseline,
        reference=hv.reference.values if hv else None,
        reference_source=hv.reference.source if hv else None,
        pairs=pairs,
        diverged_label="diverged trial: NaN/spike stop, last good values" if front.level == "trial"
        else "last good checkpoint before a NaN/spike stop",
    )


def infeasible_reasons(points: Sequence[Point], most: int = 2) -> str:
    """The most common failed constraints, e.g. ``len_ratio > 1.5 (3), len_ratio < 0.7 (1)``."""
    counts: dict[str, int] = {}
    for p in points:
        for reason in p.failed_constraints:
            name, _, rest = reason.partition(" ")
            key = f"{name} {rest.split(' ', 1)[-1]}" if " " in rest else reason  # drop the value: "len_ratio > 1.5"
            counts[key] = counts.get(key, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:most]
    return ", ".join(f"{k} ({n})" for k, n in top) + (", ..." if len(counts) > most else "")


@dataclass
class Curve:
    """One trial's objective against step."""

    trial_id: str
    steps: list[int]
    values: list[float]
    on_front: bool
    stop_step: int | None
    """Step at which a NaN/spike stopped the trial (None when it did not diverge)."""
    stop_cause: str | None


@dataclass
class CurvesInfo:
    """Learning curves: one panel per objective, one line per trial; NaN stops marked."""

    objectives: tuple[str, ...]
    axis_labels: tuple[str, ...]
    title: str
    curves: dict[str, list[Curve]]
    n_no_good_eval: int
    """Trials that diverged before their first eval (no point to draw)."""


def curves_info(checkpoint_points: Sequence[Point], front: ParetoFront) -> CurvesInfo:
    """Per objective, per trial: (step, value) of every eval; front trials highlighted."""
    front_ids = {p.trial_id for p in front.front}
    by_trial: dict[str, list[Point]] = {}
    for p in checkpoint_points:
        by_trial.setdefault(p.trial_id, []).append(p)
    curves: dict[str, list[Curve]] = {o: [] for o in front.objectives}
    n_no_good = 0
    for tid, pts in by_trial.items():
        pts = sorted((p for p in pts if p.step is not None), key=lambda p: p.step)  # type: ignore[arg-type, return-value]
        stop = next((p.metrics.get("diverged_step") for p in reversed(pts) if p.metrics.get("diverged_step") is not None), None)
        cause = next((p.stop_cause for p in reversed(pts) if p.stop_cause), None)
        if not any(all(p.values.get(o) is not None for o in front.objectives) for p in pts):
            n_no_good += 1
            continue
        for o in front.objectives:
            good = [(p.step, p.values[o]) for p in pts if p.values.get(o) is not None]
            curves[o].append(Curve(tid, [s for s, _ in good], [float(v) for _, v in good],  # type: ignore[misc, arg-type]
                                   tid in front_ids, int(stop) if stop is not None else None, cause))
    labels = tuple(axis_label(o, m) for o, m in zip(front.objectives, front.modes, strict=True))
    title = "Learning curves: " + ", ".join(METRIC_LABELS.get(o, o) for o in front.objectives) + " vs step per trial"
    return CurvesInfo(front.objectives, labels, title, curves, n_no_good)
