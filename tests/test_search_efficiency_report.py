"""The search benchmark's ratio lines carry a bootstrap interval over seeds (bench/search_efficiency.py
``ratio_interval``): checked on per-seed step counts of the size and spread real sweeps give."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bench():
    if str(REPO / "bench") not in sys.path:
        sys.path.insert(0, str(REPO / "bench"))
    return importlib.import_module("search_efficiency")


# Real-path steps to 80% of the best known hypervolume, synthetic landscape, seeds 0-14
# (bench/results/2026-11-30_search_efficiency_real_20seeds.txt): the default and random search.
DEFAULT = [7684, 4457, 11733, 6695, 11363, 2600, 6519, 9338, 4100, 5691, 5152, 8137, 8050, 9819, 6824]
RANDOM = [13500, 24284, 21094, 5831, 30385, 6506, 19982, 12583, 23439, 12732, 16900, 10600, 22397, 24899, 11696]


def test_interval_brackets_the_ratio_of_medians_and_is_deterministic() -> None:
    bench = _bench()
    lo, hi, faster = bench.ratio_interval(DEFAULT, RANDOM)
    point = sorted(DEFAULT)[7] / sorted(RANDOM)[7]
    assert lo < point < hi < 1.0
    assert faster > 0.99
    assert bench.ratio_interval(DEFAULT, RANDOM) == (lo, hi, faster)
    # 15 seeds cannot tell a method from itself: the interval straddles 1 and about half the draws favour each.
    lo_same, hi_same, faster_same = bench.ratio_interval(DEFAULT, list(DEFAULT), seed=1)
    assert lo_same < 1.0 < hi_same
    assert 0.4 < faster_same < 0.75


def test_never_reached_counts_for_the_method_that_reached() -> None:
    bench = _bench()
    never = [math.inf] * 10 + [20000.0] * 5  # most seeds never reach 90%
    lo, hi, faster = bench.ratio_interval(DEFAULT, never)
    assert lo == 0.0 and faster == 1.0
    lo, hi, faster = bench.ratio_interval(never, DEFAULT)
    assert hi == math.inf and faster == 0.0


def test_table_gives_no_ratio_where_a_median_is_never_reached() -> None:
    """A ratio line against a method whose median never reaches the fraction says so (it once printed an
    "interval" of 0.00-0.00)."""
    bench = _bench()

    def run(steps: float) -> object:
        r = bench.Run()
        r.curve = [(0, 0.0), (int(steps), 1.0)] if math.isfinite(steps) else [(0, 0.0), (50000, 0.5)]
        return r

    runs = {"default": [run(s) for s in DEFAULT], "random": [run(s) for s in RANDOM],
            "random+moasha": [run(math.inf)] * 15}  # fmt: skip
    text, medians = bench.table("synthetic", runs, best=1.0)
    lines = {line.split(":")[0]: line for line in text.splitlines() if line.startswith("default / ")}
    assert "0.40x (95% bootstrap interval" in lines["default / random, median steps to 80%"]
    assert lines["default / random+moasha, median steps to 80%"].endswith(
        "no ratio (median: default 6824, random+moasha never)")
    assert medians["random+moasha"][0.8] == math.inf
