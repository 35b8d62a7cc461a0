"""Pareto dominance, the one implementation: dominance, non-dominated fronts (lazy, front by front) and
ranks, the non-dominated set update, exact hypervolume (1-3 objectives). Each objective is ``max`` or ``min``.

Used by the analysis (fronts, hypervolume history), the scheduler (``sweep/nondominated.py``: ranks on
minimisation vectors), a trial's own front (``trainable/training/early_stopping.py``) and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

Mode = Literal["max", "min"]


def dominates(a: Sequence[float], b: Sequence[float], modes: Sequence[Mode]) -> bool:
    """``a`` is at least as good as ``b`` in every objective and strictly better in one."""
    better = False
    for x, y, mode in zip(a, b, modes, strict=True):
        if mode == "min":
            x, y = -x, -y
        if x < y:
            return False
        if x > y:
            better = True
    return better


def iter_fronts(vectors: Sequence[Sequence[float]], modes: Sequence[Mode]) -> Iterator[list[int]]:
    """Indices of ``vectors`` front by front, best first (front 0 = the Pareto front), each in ascending
    order; lazy: a caller that needs only the first fronts stops early. Equal vectors share a front.

    Sorts the distinct vectors lexicographically once (a vector can then only be dominated by one
    before it) and peels one front per step with numpy: O(n) per front for 2 objectives (running
    minimum of the second), O(n * front size) for more.
    """
    import numpy as np

    n = len(vectors)
    if n == 0:
        return
    signs = np.array([-1.0 if m == "max" else 1.0 for m in modes])
    v = np.asarray(vectors, dtype=float).reshape(n, len(modes)) * signs  # all "smaller is better"
    unique, inverse = np.unique(v, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    remaining = np.arange(len(unique))
    while remaining.size:
        on_front = _front_mask(unique[remaining])
        members = np.isin(inverse, remaining[on_front])
        yield [int(i) for i in np.flatnonzero(members)]
        remaining = remaining[~on_front]


def _front_mask(lexsorted: Any) -> Any:
    """Which rows of distinct, lexicographically sorted minimisation vectors no other row dominates."""
    import numpy as np

    rows, k = lexsorted.shape
    if k == 1:
        mask = np.zeros(rows, dtype=bool)
        mask[0] = True
        return mask
    if k == 2:  # on the front iff its second value beats every earlier row's
        running_min = np.minimum.accumulate(lexsorted[:, 1])
        mask = np.ones(rows, dtype=bool)
        mask[1:] = lexsorted[1:, 1] < running_min[:-1]
        return mask
    mask = np.zeros(rows, dtype=bool)
    candidates = np.arange(rows)
    rest = lexsorted[:, 1:]  # the first column is sorted: an earlier row is never worse there
    while candidates.size:
        top = candidates[0]  # no earlier candidate dominates it
        mask[top] = True
        candidates = candidates[np.any(rest[candidates] < rest[top], axis=1)]
    return mask


def nondominated_ranks(vectors: Sequence[Sequence[float]], modes: Sequence[Mode]) -> list[int]:
    """Non-domination rank of each vector (0 = Pareto front): :func:`iter_fronts` to the end."""
    ranks = [0] * len(vectors)
    for rank, front in enumerate(iter_fronts(vectors, modes)):
        for i in front:
            ranks[i] = rank
    return ranks


def nondominated_fronts(vectors: Sequence[Sequence[float]], modes: Sequence[Mode]) -> list[list[int]]:
    """Every front of :func:`iter_fronts`."""
    return list(iter_fronts(vectors, modes))


def add_nondominated(front: list[list[float]], v: Sequence[float], modes: Sequence[Mode]) -> bool:
    """Add ``v`` to the non-dominated set ``front`` in place (dropping what it dominates); False (and no
    change) when a member dominates or equals it."""
    v = list(v)
    if any(dominates(f, v, modes) or list(f) == v for f in front):
        return False
    front[:] = [f for f in front if not dominates(v, f, modes)]
    front.append(v)
    return True


def _to_minimization(vectors: Iterable[Sequence[float]], ref: Sequence[float], modes: Sequence[Mode]):
    """Flip ``max`` objectives so smaller is better; keep only points strictly better than ``ref``."""
    signs = [-1.0 if m == "max" else 1.0 for m in modes]
    r = [s * x for s, x in zip(signs, ref, strict=True)]
    pts = [[s * x for s, x in zip(signs, v, strict=True)] for v in vectors]
    return [p for p in pts if all(a < b for a, b in zip(p, r, strict=True))], r


def _hv2d(pts: list[list[float]], r: Sequence[float]) -> float:
    area, best_y = 0.0, r[1]
    for x, y in sorted((p[0], p[1]) for p in pts):
        if y < best_y:
            area += (r[0] - x) * (best_y - y)
            best_y = y
    return area


def hypervolume(vectors: Sequence[Sequence[float]], reference: Sequence[float], modes: Sequence[Mode]) -> float:
    """Exact hypervolume dominated by ``vectors`` and bounded by ``reference`` (1-3 objectives)."""
    pts, r = _to_minimization(vectors, reference, modes)
    if not pts:
        return 0.0
    if len(r) == 1:
        return r[0] - min(p[0] for p in pts)
    if len(r) == 2:
        return _hv2d(pts, r)
    if len(r) == 3:
        pts.sort(key=lambda p: p[2])
        volume = 0.0
        for i, p in enumerate(pts):
            z_next = pts[i + 1][2] if i + 1 < len(pts) else r[2]
            if z_next > p[2]:
                volume += _hv2d(pts[: i + 1], r[:2]) * (z_next - p[2])
        return volume
    raise ValueError(f"hypervolume supports 1-3 objectives, got {len(r)}")
