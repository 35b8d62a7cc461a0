"""Exact hypervolume against known values and an exact brute force (coordinate-compressed grid)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.front import Point
from analysis.hypervolume import choose_reference, hypervolume_report
from trainable.base.pareto import hypervolume


def _grid_volume(vectors, ref, modes) -> float:
    """Exact volume by cutting space at every coordinate: a cell counts if some point dominates it."""
    k = len(ref)
    flip = [(-1.0 if m == "max" else 1.0) for m in modes]
    pts = [[f * x for f, x in zip(flip, v, strict=True)] for v in vectors]
    r = [f * x for f, x in zip(flip, ref, strict=True)]
    pts = [p for p in pts if all(a < b for a, b in zip(p, r, strict=True))]
    axes = [sorted({p[d] for p in pts} | {r[d]}) for d in range(k)]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        lo = [axes[d][cell[d]] for d in range(k)]
        if any(all(p[d] <= lo[d] for d in range(k)) for p in pts):
            vol = 1.0
            for d in range(k):
                vol *= axes[d][cell[d] + 1] - axes[d][cell[d]]
            total += vol
    return total


def test_known_values() -> None:
    assert hypervolume([[1.0, 1.0]], [0.0, 0.0], ["max", "max"]) == pytest.approx(1.0)
    assert hypervolume([[2.0, 1.0], [1.0, 2.0]], [0.0, 0.0], ["max", "max"]) == pytest.approx(3.0)
    assert hypervolume([[1.0, 1.0, 1.0], [2.0, 0.5, 1.0]], [0, 0, 0], ["max", "max", "max"]) == pytest.approx(1.5)
    # min objective: 0.8 quality at 100 ms vs reference (0.5 quality, 300 ms) -> 0.3 * 200
    assert hypervolume([[0.8, 100.0]], [0.5, 300.0], ["max", "min"]) == pytest.approx(60.0)
    # points no better than the reference (e.g. the S0 baseline) add nothing
    assert hypervolume([[0.4, 0.9]], [0.5, 0.5], ["max", "max"]) == 0.0


COORD = st.integers(0, 8).map(float)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 3).flatmap(lambda k: st.tuples(
    st.lists(st.sampled_from(["max", "min"]), min_size=k, max_size=k),
    st.lists(st.lists(COORD, min_size=k, max_size=k), max_size=8),
    st.lists(COORD, min_size=k, max_size=k))))
def test_hypervolume_equals_grid_brute_force(case) -> None:
    modes, vectors, ref = case
    assert hypervolume(vectors, ref, modes) == pytest.approx(_grid_volume(vectors, ref, modes), abs=1e-9)


def _p(tid: str, step: int, c: float | None, t: float | None) -> Point:
    return Point(tid, step, {"comet": c, "term_acc": t}, {}, {}, None)


def test_reference_choice_and_history() -> None:
    objs, modes = ("comet", "term_acc"), ("max", "max")
    trials = [_p("a", 200, 0.70, 0.20), _p("b", 200, 0.80, 0.10), _p("c", 100, None, None), _p("d", 200, 0.75, 0.25)]
    ref = choose_reference(objs, modes, trials)
    assert ref.source == "worst" and ref.values == (0.70, 0.10)
    base = choose_reference(objs, modes, trials, {"comet": 0.6, "term_acc": 0.05})
    assert base.source == "baseline" and "S0 baseline" in base.describe(objs)
    # a baseline without every objective falls back to the worst observed values
    assert choose_reference(objs, modes, trials, {"comet": 0.6}).source == "worst"
    checkpoints = [_p("a", 100, 0.65, 0.15), _p("b", 100, 0.7, 0.1), *trials[:2], trials[3]]
    rep = hypervolume_report(objs, modes, trials, checkpoints, {"comet": 0.6, "term_acc": 0.05})
    assert [n for n, _, _ in rep.by_trial] == [1, 2, 3, 4]
    hvs = [v for _, _, v in rep.by_trial]
    assert hvs == sorted(hvs) and hvs[-1] == pytest.approx(rep.value)
    assert rep.value == pytest.approx(hypervolume([[0.7, 0.2], [0.8, 0.1], [0.75, 0.25]], [0.6, 0.05], modes))
    # cumulative steps: a@100, b@100, a@200 (+100), b@200 (+100), d@200 (+200)
    assert [s for s, _ in rep.by_steps] == [100, 200, 300, 400, 600]
