"""Pareto helpers on MINIMISATION vectors for the scheduler (``sweep/mo_asha.py``) and ``bench/``.

Dominance, non-dominated sorting and hypervolume are the base's (``trainable/base/pareto.py``, one
implementation); crowding distance and hypervolume contributions, which only the scheduler's tie-breaks
need, live here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from trainable.base import pareto

Vector = Sequence[float]


def _min_modes(n: int) -> list[pareto.Mode]:
    return ["min"] * n


def dominates(a: Vector, b: Vector) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (minimisation)."""
    return pareto.dominates(a, b, _min_modes(len(a)))


def iter_fronts(points: Sequence[Vector]) -> Iterator[list[int]]:
    """Indices of ``points`` front by front (front 0 non-dominated, front 1 after removing it, ...), each
    in ascending order; lazy: stop when the fronts you need are out."""
    return pareto.iter_fronts(points, _min_modes(len(points[0]))) if points else iter(())


def nondominated_fronts(points: Sequence[Vector]) -> list[list[int]]:
    """Every front of :func:`iter_fronts`."""
    return list(iter_fronts(points))


def crowding_distances(points: Sequence[Vector]) -> list[float]:
    """NSGA-II crowding distance of each point within ``points`` (one front); boundary points: inf."""
    n = len(points)
    if n <= 2:
        return [float("inf")] * n
    dist = [0.0] * n
    for k in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][k])
        lo, hi = points[order[0]][k], points[order[-1]][k]
        dist[order[0]] = dist[order[-1]] = float("inf")
        if hi == lo:
            continue
        for pos in range(1, n - 1):
            dist[order[pos]] += (points[order[pos + 1]][k] - points[order[pos - 1]][k]) / (hi - lo)
    return dist


def hypervolume(points: Sequence[Vector], ref: Vector) -> float:
    """Exact volume dominated by ``points`` and bounded by the reference point ``ref`` (minimisation)."""
    return pareto.hypervolume(points, ref, _min_modes(len(ref)))


def hv_contributions(points: Sequence[Vector], ref: Vector) -> list[float]:
    """Exclusive hypervolume contribution of each point: HV(all) - HV(all but it)."""
    total = hypervolume(points, ref)
    return [total - hypervolume([q for j, q in enumerate(points) if j != i], ref) for i in range(len(points))]
