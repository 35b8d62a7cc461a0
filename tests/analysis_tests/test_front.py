"""The Pareto front equals a brute-force computation on random point sets (hypothesis)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.front import Point, pareto_front
from trainable.base.pareto import dominates, nondominated_ranks

MODES = st.sampled_from(["max", "min"])
VALUE = st.one_of(st.integers(0, 6).map(float), st.floats(0, 1, allow_nan=False), st.just(None), st.just(math.nan))


def _point(i: int, vals: list[float | None], objs: list[str]) -> Point:
    return Point(f"t{i}", 100 * i, dict(zip(objs, vals, strict=True)), {}, {}, None)


def _brute_dominates(a, b, modes) -> bool:
    ge = all((x >= y) if m == "max" else (x <= y) for x, y, m in zip(a, b, modes, strict=True))
    gt = any((x > y) if m == "max" else (x < y) for x, y, m in zip(a, b, modes, strict=True))
    return ge and gt


def _brute_ranks(vectors, modes) -> list[int]:
    ranks, remaining, r = [None] * len(vectors), set(range(len(vectors))), 0
    while remaining:
        layer = {i for i in remaining if not any(_brute_dominates(vectors[j], vectors[i], modes) for j in remaining)}
        for i in layer:
            ranks[i] = r
        remaining -= layer
        r += 1
    return ranks


@st.composite
def point_sets(draw):
    k = draw(st.integers(2, 3))
    modes = draw(st.lists(MODES, min_size=k, max_size=k))
    rows = draw(st.lists(st.lists(VALUE, min_size=k, max_size=k), max_size=25))
    return k, modes, rows


@settings(max_examples=300, deadline=None)
@given(point_sets())
def test_front_equals_brute_force(case) -> None:
    k, modes, rows = case
    objs = ["comet", "term_acc", "bleu_char"][:k]
    points = [_point(i, r, objs) for i, r in enumerate(rows)]
    front = pareto_front(points, objs, modes)
    valid = [p for p, r in zip(points, rows, strict=True) if all(v is not None and not math.isnan(v) for v in r)]
    assert len(front.excluded) == len(points) - len(valid)
    vectors = [[p.values[o] for o in objs] for p in valid]
    brute_front = {p.trial_id for p, v in zip(valid, vectors, strict=True)
                   if not any(_brute_dominates(w, v, modes) for w in vectors)}
    assert {p.trial_id for p in front.front} == brute_front
    assert front.ranks == _brute_ranks(vectors, modes)
    assert {p.trial_id for p in front.dominated} == {p.trial_id for p in valid} - brute_front
    # sorted best-first in the first objective
    firsts = [p.values[objs[0]] for p in front.front]
    assert firsts == sorted(firsts, reverse=modes[0] == "max")


def test_modes_flip_the_front() -> None:
    objs = ["comet", "latency_ms"]
    pts = [_point(0, [0.8, 200.0], objs), _point(1, [0.7, 100.0], objs), _point(2, [0.7, 300.0], objs)]
    assert [p.trial_id for p in pareto_front(pts, objs, ["max", "min"]).front] == ["t0", "t1"]
    assert [p.trial_id for p in pareto_front(pts, objs, ["max", "max"]).front] == ["t0", "t2"]
    assert [p.trial_id for p in pareto_front(pts, objs, ["min", "min"]).front] == ["t1"]


def test_duplicates_are_both_on_the_front_and_ranks_match_numpy() -> None:
    objs = ["comet", "term_acc"]
    pts = [_point(0, [0.5, 0.5], objs), _point(1, [0.5, 0.5], objs), _point(2, [0.4, 0.4], objs)]
    front = pareto_front(pts, objs, ["max", "max"])
    assert [p.trial_id for p in front.front] == ["t0", "t1"] and front.ranks == [0, 0, 1]
    assert nondominated_ranks([[0.5, 0.5], [0.4, 0.4]], ["max", "max"]) == [0, 1]
    assert dominates([0.5, 0.5], [0.4, 0.5], ["max", "max"]) and not dominates([0.5, 0.5], [0.5, 0.5], ["max", "max"])
