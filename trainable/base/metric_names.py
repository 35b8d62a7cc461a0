"""Metric names and directions, defined once (``trainable/eval/metrics.py`` computes them; sweep config,
scheduler, W&B and analysis read them from here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from trainable.base.pareto import Mode

METRIC_DIRECTIONS: dict[str, Literal["max", "min"]] = {
    "comet": "max",
    "term_acc": "max",
    "bleu_char": "max",
    "chrf_pp": "max",
    "bleu_mecab": "max",
    "latency_ms": "min",
    "trunc_rate": "min",
    "runon_rate": "min",
}
"""Optimisation direction of every metric usable as an objective (or as a constraint)."""

METRIC_TARGETS: dict[str, float] = {"len_ratio": 1.0}
"""Metrics with an ideal value instead of a direction (not objectives by default)."""

OUTPUT_CHECKS: tuple[str, ...] = ("len_ratio", "trunc_rate", "runon_rate")
"""Metrics that say whether the outputs are well-formed translations (length, cut at the cap, run on);
reported by every eval and shown next to the objectives in every table."""

TABLE_METRICS: tuple[str, ...] = ("bleu_char", "chrf_pp", *OUTPUT_CHECKS)
"""Metrics shown next to the objectives in reports, W&B Pareto rows and the analysis tables."""

DEFAULT_OBJECTIVES: tuple[str, ...] = ("comet", "term_acc")
"""What a sweep or trial optimises unless its config says otherwise."""


def objective_modes(objectives: Sequence[str], *, min_count: int = 2, max_count: int = 3) -> tuple[Mode, ...]:
    """The direction of each objective; ``ValueError`` (one line) for a wrong count, a repeated or an
    unknown name. The one objective check (sweep config, trial config, analysis)."""
    names = list(objectives)
    if not min_count <= len(names) <= max_count:
        wanted = f"{min_count}" if min_count == max_count else f"{min_count} to {max_count}"
        if (min_count, max_count) == (2, 3):
            wanted = "2 or 3"
        raise ValueError(f"must name {wanted} metrics, got {len(names)}: {','.join(map(str, names))}")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate metric in {','.join(map(str, names))}")
    for name in names:
        if name not in METRIC_DIRECTIONS:
            raise ValueError(f"unknown objective '{name}' (known: {', '.join(sorted(METRIC_DIRECTIONS))})")
    return tuple(METRIC_DIRECTIONS[name] for name in names)
