"""Feasibility constraints on reported metrics: a band ``[min, max]`` per metric (pure).

A sweep config's ``constraints:`` maps a metric to ``[min, max]`` (``null`` for an open side) or to
``null`` (that constraint off). It is merged over :data:`DEFAULT_CONSTRAINTS`, so the default
``len_ratio`` band applies unless the config sets ``len_ratio: null``. A report is *feasible* when every
constrained metric is a finite number inside its band; a missing or non-finite value is a violation
(feasibility cannot be shown).

Optuna's convention (one value per bound, ``<= 0`` feasible) comes from :func:`violations`: ``(min - v)``
and ``(v - max)``, each divided by ``|bound|`` (1 when the bound is 0) so that bands on metrics of
different scales weigh alike; a missing value counts :data:`MISSING_VIOLATION` per bound. The recorder
stores them in the study as Optuna's own constraint attributes (what ``Trial.set_constraint`` writes) on
every COMPLETE and PRUNED trial before ``tell``; every Optuna 5 sampler reads them from
``FrozenTrial.constraints`` (so does a sampler of ours). Do not also pass a ``constraints_func`` (deprecated
in Optuna 5.0): Optuna would store a second, legacy copy and count each violation twice; MO-ASHA ranks an infeasible report behind every feasible one;
the analysis draws the front of feasible trials only. It lives in the base so that ``sweep/`` (config,
recording, MO-ASHA, samplers) and ``analysis/`` (fronts, tables, plots) share it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from trainable.base.finite import finite_or_none, is_finite_number

Band = tuple[float | None, float | None]
"""``(min, max)``; ``None`` = open side."""
Constraints = dict[str, Band | None]
"""Metric -> band, or None when that (default) constraint is switched off."""

DEFAULT_CONSTRAINTS: dict[str, Band | None] = {"len_ratio": (0.7, 1.5)}
"""On unless a config sets ``len_ratio: null``. Hypothesis/reference characters: empty output (0.0) and
run-on output (the reference's Run D: BLEU 22 -> 5) fall outside; a normal EN->JA translation does not."""
MISSING_VIOLATION = 1.0
"""Violation counted per bound when the metric is missing or not finite."""


class ConstraintError(ValueError):
    """A bad ``constraints`` entry; ``key`` is the metric name (the config prefixes ``constraints.``)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


def parse_constraints(raw: Mapping[str, Any] | None, *, known: Collection[str] | None = None) -> Constraints:
    """``raw`` merged over the defaults and validated; ``known``: allowed metric names (None = any).

    Raises :class:`ConstraintError` naming the metric for a non-mapping, an unknown metric, a band that
    is not ``[min, max]`` of numbers/nulls, with both sides null, or with ``min > max``.
    """
    if raw is not None and not isinstance(raw, Mapping):
        raise ConstraintError("", f"expected a mapping metric: [min, max], got {type(raw).__name__}")
    merged: dict[str, Any] = {**DEFAULT_CONSTRAINTS, **(raw or {})}
    out: Constraints = {}
    for name, band in merged.items():
        if not isinstance(name, str) or not name:
            raise ConstraintError(str(name), "a metric name must be a non-empty string")
        if known is not None and band is not None and name not in known:
            raise ConstraintError(name, f"unknown metric (known: {', '.join(sorted(known))})")
        out[name] = None if band is None else _band(name, band)
    return out


def _band(name: str, band: Any) -> Band:
    if not isinstance(band, list | tuple) or len(band) != 2:
        raise ConstraintError(name, f"expected [min, max] (null for an open side), got {band!r}")
    sides: list[float | None] = []
    for side in band:
        if side is None:
            sides.append(None)
            continue
        if not is_finite_number(side):
            raise ConstraintError(name, f"bounds must be finite numbers or null, got {band!r}")
        sides.append(float(side))
    low, high = sides
    if low is None and high is None:
        raise ConstraintError(name, "both sides are null (write `null` instead of the band to switch it off)")
    if low is not None and high is not None and low > high:
        raise ConstraintError(name, f"min {low:g} > max {high:g}")
    return low, high


def active(constraints: Mapping[str, Band | None] | None) -> dict[str, Band]:
    """The constraints that are on."""
    return {k: tuple(v) for k, v in (constraints or {}).items() if v is not None}  # type: ignore[misc]


def _value(metrics: Mapping[str, Any], name: str) -> float | None:
    return finite_or_none(metrics.get(name))


def bound_keys(constraints: Mapping[str, Band | None] | None) -> list[str]:
    """One key per active bound, e.g. ``len_ratio>=0.7``, ``len_ratio<=1.5`` (the keys of :func:`violations`)."""
    return list(violations(constraints, {}))


def violations(constraints: Mapping[str, Band | None] | None, metrics: Mapping[str, Any]) -> dict[str, float]:
    """Bound key -> scaled violation (``<= 0`` satisfied), in :func:`bound_keys` order."""
    out: dict[str, float] = {}
    for name, (low, high) in active(constraints).items():
        value = _value(metrics, name)
        for op, bound, sign in ((">=", low, -1.0), ("<=", high, 1.0)):
            if bound is None:
                continue
            key = f"{name}{op}{bound:g}"
            out[key] = MISSING_VIOLATION if value is None else sign * (value - bound) / (abs(bound) or 1.0)
    return out


def total_violation(constraints: Mapping[str, Band | None] | None, metrics: Mapping[str, Any]) -> float:
    """Sum of the positive violations (0.0 = feasible)."""
    return sum(v for v in violations(constraints, metrics).values() if v > 0)


def is_feasible(constraints: Mapping[str, Band | None] | None, metrics: Mapping[str, Any]) -> bool:
    return total_violation(constraints, metrics) == 0.0


def failed(constraints: Mapping[str, Band | None] | None, metrics: Mapping[str, Any]) -> list[str]:
    """Human-readable failed constraints, e.g. ``["len_ratio 0.000 < 0.7"]`` or ``["len_ratio missing"]``."""
    out = []
    for name, (low, high) in active(constraints).items():
        value = _value(metrics, name)
        if value is None:
            out.append(f"{name} missing")
        elif low is not None and value < low:
            out.append(f"{name} {value:.4g} < {low:g}")
        elif high is not None and value > high:
            out.append(f"{name} {value:.4g} > {high:g}")
    return out


def describe(constraints: Mapping[str, Band | None] | None) -> str:
    """One line, e.g. ``0.7 <= len_ratio <= 1.5, bleu_char >= 10`` (``none`` when all are off)."""
    parts = []
    for name, (low, high) in active(constraints).items():
        if low is not None and high is not None:
            parts.append(f"{low:g} <= {name} <= {high:g}")
        elif low is not None:
            parts.append(f"{name} >= {low:g}")
        else:
            parts.append(f"{name} <= {high:g}")
    return ", ".join(parts) or "none"
