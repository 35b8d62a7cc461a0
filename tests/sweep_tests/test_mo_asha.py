"""MOASHA decisions on hand-made rung results (no Ray, no cluster)."""

from __future__ import annotations

import math

import pytest

from sweep.mo_asha import MOASHA, Decision
from sweep.nondominated import crowding_distances, hv_contributions, hypervolume, nondominated_fronts

C, S = Decision.CONTINUE, Decision.STOP


def sched(**kw) -> MOASHA:
    args = dict(grace_steps=100, reduction_factor=3, max_steps=1000)
    args.update(kw)
    return MOASHA(["comet", "term_acc"], ["max", "max"], **args)


def m(comet, term):
    return {"comet": comet, "term_acc": term}


def test_rung_levels_are_grace_times_eta_powers_below_max():
    assert sched().rung_levels == [100, 300, 900]
    assert sched(reduction_factor=2, max_steps=400).rung_levels == [100, 200]


def test_first_trial_continues_and_dominated_later_trials_stop():
    s = sched()
    assert s.on_result("a", 100, m(0.80, 0.30)) is C  # alone at the rung
    assert s.on_result("b", 100, m(0.70, 0.20)) is S  # dominated by a; top ceil(2/3)=1
    assert s.on_result("c", 100, m(0.85, 0.35)) is C  # dominates all
    assert s.stopped == {"b": 100}
    assert s.ranking(100) == ["c", "a", "b"]


def test_top_fraction_grows_with_rung_population():
    s = sched()
    # A chain of six trials reported worst-first: each new one dominates all earlier ones.
    for i in range(6):
        assert s.on_result(f"t{i}", 100, m(0.7 + i / 100, 0.2 + i / 100)) is C
    # A seventh that is 4th best out of 7: ceil(7/3) = 3 continue, so it stops.
    assert s.on_result("x", 100, m(0.725, 0.225)) is S
    # An eighth that is 3rd best out of 8: ceil(8/3) = 3, it continues.
    assert s.on_result("y", 100, m(0.735, 0.235)) is C
    assert s.rank_in_rung(100, "y") == 2
    # A ninth that is 4th best of 9: ceil(9/3) = 3, it stops.
    assert s.on_result("z", 100, m(0.734, 0.234)) is S
    assert s.stopped == {"x": 100, "z": 100}


def test_trade_off_points_share_the_first_front():
    s = sched(reduction_factor=2)
    assert s.on_result("fluent", 100, m(0.90, 0.10)) is C
    # Neither dominates; both are boundary points (infinite crowding): arrival order decides, and
    # ceil(2/2) = 1 continues, so the second one stops even though it is on the front.
    assert s.on_result("terms", 100, m(0.60, 0.40)) is S
    # A third front point in between: extremes keep infinite crowding, so it ranks 3rd; ceil(3/2) = 2.
    assert s.on_result("middle", 100, m(0.75, 0.25)) is S
    assert s.ranking(100) == ["fluent", "terms", "middle"]
    fronts = nondominated_fronts([s.rungs[100]["fluent"], s.rungs[100]["terms"]])
    assert fronts == [[0, 1]]


def test_ties_in_a_front_broken_by_crowding_distance():
    s = sched(reduction_factor=2)
    # Five points on one front (a line); the two extremes have infinite crowding, the middle ones less.
    pts = {
        "e1": m(0.9, 0.1),
        "mid_dense": m(0.61, 0.39),
        "e2": m(0.6, 0.4),
        "mid": m(0.75, 0.25),
        "x": m(0.62, 0.38),
    }
    for tid, metrics in pts.items():
        s.rungs[100][tid] = s.vector(metrics)
    order = s.ranking(100)
    assert set(order[:2]) == {"e1", "e2"}
    assert order[2] == "mid"  # the most isolated interior point
    # A sixth front point inside the dense cluster near e2 ranks last; ceil(6/2) = 3 continue -> stop.
    assert s.on_result("crowded", 100, m(0.605, 0.395)) is S
    # One in the big gap between e1 and mid is among the 3 most isolated -> continue.
    assert s.on_result("isolated", 100, m(0.83, 0.17)) is C


def test_ties_broken_by_hypervolume_contribution():
    s = sched(reduction_factor=2, tie_break="hv_contribution")
    for tid, metrics in {
        "a": m(0.9, 0.1),
        "b": m(0.6, 0.4),
        "knee": m(0.85, 0.35),
        "weak": m(0.7, 0.3),
    }.items():
        s.rungs[100][tid] = s.vector(metrics)
    # 'weak' is dominated by 'knee'; 'knee' adds the most hypervolume of the first front.
    order = s.ranking(100)
    assert order[0] == "knee" and order[-1] == "weak"


def test_nonfinite_or_missing_objectives_rank_last_and_stop():
    s = sched()
    assert s.on_result("a", 100, m(0.5, 0.1)) is C
    assert s.on_result("nan", 100, m(float("nan"), 0.9)) is S
    assert s.on_result("missing", 100, {"comet": 0.99}) is S
    assert s.on_result("inf", 100, m(math.inf, 0.9)) is S
    assert s.ranking(100)[0] == "a"
    assert s.rungs[100]["nan"] is None


def test_min_mode_objectives():
    s = MOASHA(["comet", "latency_ms"], ["max", "min"], grace_steps=10, max_steps=100)
    assert s.on_result("slow", 10, {"comet": 0.8, "latency_ms": 200}) is C
    assert s.on_result("fast", 10, {"comet": 0.8, "latency_ms": 100}) is C  # dominates slow
    assert s.on_result("slower", 10, {"comet": 0.8, "latency_ms": 300}) is S


def test_reports_between_rungs_continue_and_stopped_trials_stay_stopped():
    s = sched()
    s.on_result("a", 100, m(0.9, 0.9))
    assert s.on_result("b", 100, m(0.1, 0.1)) is S
    assert s.on_result("b", 200, m(0.99, 0.99)) is S  # stays stopped
    assert s.on_result("a", 200, m(0.9, 0.9)) is C  # no rung at 200
    assert s.on_result("a", 300, m(0.9, 0.9)) is C  # alone at rung 300
    assert s.on_result("a", 1000, m(0.9, 0.9)) is C  # max_steps: no rung, trial ends itself
    assert set(s.rungs[300]) == {"a"}


def test_a_report_past_several_rungs_records_only_the_highest():
    s = sched()
    assert s.on_result("late", 350, m(0.5, 0.5)) is C
    assert "late" in s.rungs[300] and "late" not in s.rungs[100]
    assert s.on_result("late", 360, m(0.5, 0.5)) is C  # already recorded at 300
    assert len(s.rungs[300]) == 1


def test_rungs_are_independent():
    s = sched()
    assert s.on_result("a", 100, m(0.9, 0.9)) is C
    s.rungs[100]["b"] = s.vector(m(0.95, 0.95))  # b beat a at rung 100
    assert s.on_result("b", 300, m(0.7, 0.7)) is C  # alone at 300
    # At rung 300 only rung-300 values count: a is now ahead of b.
    assert s.on_result("a", 300, m(0.8, 0.8)) is C
    assert s.on_result("c", 300, m(0.75, 0.75)) is S  # 2nd of 3, ceil(3/3) = 1
    assert s.ranking(300) == ["a", "c", "b"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(grace_steps=0, max_steps=10),
        dict(grace_steps=100, max_steps=10),
        dict(grace_steps=10, max_steps=100, reduction_factor=1),
        dict(grace_steps=10, max_steps=100, tie_break="random"),
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        MOASHA(["comet"], ["max"], **kwargs)
    with pytest.raises(ValueError):
        MOASHA(["comet", "term_acc"], ["max"], grace_steps=1, max_steps=10)


def test_nondominated_helpers():
    pts = [(1, 5), (2, 2), (5, 1), (3, 3), (6, 6)]
    assert nondominated_fronts(pts) == [[0, 1, 2], [3], [4]]
    assert crowding_distances([(1, 5), (2, 2), (5, 1)])[1] == pytest.approx((5 - 1) / 4 + (5 - 1) / 4)
    assert hypervolume([(1, 1)], (2, 2)) == pytest.approx(1.0)
    assert hypervolume([(0, 1), (1, 0)], (2, 2)) == pytest.approx(3.0)
    assert hypervolume([(0, 0, 0)], (1, 2, 3)) == pytest.approx(6.0)
    assert hypervolume([(0, 1, 0), (1, 0, 0)], (2, 2, 1)) == pytest.approx(3.0)
    assert hv_contributions([(0, 1), (1, 0)], (2, 2)) == pytest.approx([1.0, 1.0])


# --- feasibility, per-trial length, replay -----------------------------------------------------
def test_an_infeasible_report_ranks_behind_every_feasible_one():
    s = sched(constraints={"len_ratio": (0.7, 1.5)})
    assert s.on_result("weak", 100, {**m(0.70, 0.20), "len_ratio": 1.0}) is C
    # Dominates "weak" in both objectives, but runs on: ranks behind it, ceil(2/3) = 1 -> stop.
    assert s.on_result("runon", 100, {**m(0.90, 0.50), "len_ratio": 2.5}) is S
    assert s.on_result("empty", 100, {**m(0.95, 0.60), "len_ratio": 0.0}) is S
    assert s.ranking(100) == ["weak", "runon", "empty"]  # infeasible by total violation (1.0 vs 0.67)
    assert s.infeasible[100] == {"runon": pytest.approx(2 / 3), "empty": pytest.approx(1.0)}
    # A report with a missing objective still ranks after every infeasible one.
    assert s.on_result("nan", 100, {**m(float("nan"), 0.9), "len_ratio": 1.0}) is S
    assert s.ranking(100)[-1] == "nan"


def test_rungs_come_from_each_trials_own_max_steps():
    s = sched(max_steps=600)  # the base trial: rungs 100, 300
    assert s.levels_below(600) == [100, 300] and s.levels_below(300) == [100] and s.levels_below(1000) == [100, 300, 900]
    s.on_result("long_a", 300, m(0.9, 0.9))
    s.on_result("long_b", 300, m(0.8, 0.8))
    # A 300-step preset (reference run D): step 300 is its end, not a rung: its last report is never a prune.
    assert s.rung_for("short", 300, m(0.1, 0.1), max_steps=300) is None
    assert s.on_result("short", 300, m(0.1, 0.1), max_steps=300) is C
    assert "short" not in s.rungs[300] and "short" not in s.stopped
    # A 1000-step trial meets a rung at 900 that the base trial does not have.
    assert s.on_result("longer", 900, m(0.5, 0.5), max_steps=1000) is C and s.rungs[900] == {"longer": s.vector(m(0.5, 0.5))}


def test_final_or_diverged_reports_are_never_pruned():
    s = sched()
    s.on_result("a", 100, m(0.9, 0.9))
    # The trainable stopped itself at a rung step (early stop / divergence): it ends as it reported.
    assert s.on_result("b", 100, {**m(0.1, 0.1), "is_final": True}) is C
    assert s.on_result("c", 100, {**m(0.1, 0.1), "diverged": True}) is C
    assert set(s.rungs[100]) == {"a"} and s.stopped == {}


def test_replaying_the_same_reports_rebuilds_the_same_state():
    import random

    rng = random.Random(0)
    reports = [(f"t{rng.randrange(12)}", rng.choice([100, 300, 350, 600]), {**m(rng.random(), rng.random()),
                "len_ratio": rng.uniform(0.5, 2.0)}, rng.choice([None, 300, 600])) for _ in range(80)]  # fmt: skip
    live = sched(max_steps=600, constraints={"len_ratio": (0.7, 1.5)})
    decisions = [live.on_result(*r) for r in reports]
    replay = sched(max_steps=600, constraints={"len_ratio": (0.7, 1.5)})
    assert [replay.on_result(*r) for r in reports] == decisions
    assert (replay.rungs, replay.infeasible, replay.stopped) == (live.rungs, live.infeasible, live.stopped)
    live.reset()
    assert live.stopped == {} and all(not r for r in live.rungs.values())


@pytest.mark.parametrize("objectives", [2, 3])
@pytest.mark.parametrize("tie_break", ["crowding", "hv_contribution"])
def test_a_decision_reads_only_the_fronts_it_needs_and_agrees_with_the_full_ranking(objectives, tie_break):
    """rank_in_rung(within=k) stops peeling fronts once k trials rank ahead; every decision and every
    exact position below k is the one the full ranking gives (ties, duplicates, infeasible, NaN)."""
    import random

    rng = random.Random(objectives * 10 + len(tie_break))
    names = ["comet", "term_acc", "bleu_char"][:objectives]
    s = MOASHA(names, ["max"] * objectives, grace_steps=100, max_steps=1000, tie_break=tie_break,
               constraints={"len_ratio": (0.7, 1.5)})
    for i in range(60):
        metrics = {n: rng.choice([0.5, 0.6, 0.7]) if i % 7 == 0 else rng.random() for n in names}  # ties
        metrics["len_ratio"] = 2.0 + rng.random() if i % 11 == 0 else 1.0
        if i % 13 == 0:
            metrics["comet"] = float("nan")
        trial = f"t{i}"
        decision = s.on_result(trial, 100, metrics)
        full = s.ranking(100)
        keep = math.ceil(len(full) / 3)
        assert (decision is C) == (full.index(trial) < keep)
        for other in rng.sample(full, min(3, len(full))):
            position = s.rank_in_rung(100, other, within=keep)
            exact = full.index(other)
            assert position == exact if exact < keep else position >= keep
            assert s.rank_in_rung(100, other) == exact
