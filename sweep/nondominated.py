"""Pure-Python Pareto helpers on MINIMISATION vectors: non-dominated sort, crowding, hypervolume.

Small and dependency-free (a rung of a sweep holds tens of points), used by the multi-objective
scheduler (``sweep/mo_asha.py``) and the search-efficiency benchmark (``bench/``).
"""

from __future__ import annotations

from collections.abc import Sequence

Vector = Sequence[float]


def dominates(a: Vector, b: Vector) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (minimisation)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def nondominated_fronts(points: Sequence[Vector]) -> list[list[int]]:
    """Indices of ``points`` grouped into fronts: front 0 is non-dominated, front 1 after removing it..."""
    n = len(points)
    dominated_by_count = [0] * n
    dominating: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominating[i].append(j)
                dominated_by_count[j] += 1
            elif dominates(points[j], points[i]):
                dominating[j].append(i)
                dominated_by_count[i] += 1
    fronts: list[list[int]] = []
    current = [i for i in range(n) if dominated_by_count[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in dominating[i]:
                dominated_by_count[j] -= 1
                if dominated_by_count[j] == 0:
                    nxt.append(j)
        current = sorted(nxt)
    return fronts


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
    """Volume dominated by ``points`` and bounded by the reference point ``ref`` (minimisation).

    Exact; recursive slicing over the last objective (fine for the few points of a rung or a sweep).
    """
    pts = [tuple(p) for p in points if all(x < r for x, r in zip(p, ref, strict=True))]
    if not pts:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in pts)
    if len(ref) == 2:
        pts.sort()
        volume, best_y = 0.0, ref[1]
        for x, y in pts:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    pts.sort(key=lambda p: p[-1])
    volume = 0.0
    for i, p in enumerate(pts):
        upper = pts[i + 1][-1] if i + 1 < len(pts) else ref[-1]
        if upper > p[-1]:
            volume += hypervolume([q[:-1] for q in pts[: i + 1]], ref[:-1]) * (upper - p[-1])
    return volume


def hv_contributions(points: Sequence[Vector], ref: Vector) -> list[float]:
    """Exclusive hypervolume contribution of each point: HV(all) - HV(all but it)."""
    total = hypervolume(points, ref)
    return [total - hypervolume([q for j, q in enumerate(points) if j != i], ref) for i in range(len(points))]
