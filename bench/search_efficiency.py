"""Search-efficiency benchmark (NOT a test): random search vs NSGA-II vs NSGA-II + MOASHA.

Runs on the SYNTHETIC curves (``trainable.synthetic.synthetic_metrics``) through a simulated backend:
no Ray, trials run one after another, a trial "costs" the optimizer steps it ran. Every eval report
counts as an observed point (each has a checkpoint the user could keep).

All methods are compared on the same budget B of trial-steps; the target is 95% of the best
hypervolume (comet x term_acc, both maximised) any method found within B. Each method then has its
own cap (a multiple of B, ``--cap``): cheap methods run past B, so that the steps they need to reach
the same target are measured instead of censored. Prints hypervolume against cumulative steps, the
steps to the target per seed and their median per method, and the ratios of the medians.

    python bench/search_efficiency.py                        # 5 seeds, B = 100 trials x 400 steps
    python bench/search_efficiency.py --budget-trials 200    # the long run
    python bench/search_efficiency.py --cap random=20 nsga2=10 nsga2+moasha=2
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search_spaces.loader import load_search_space  # noqa: E402
from sweep.mo_asha import MOASHA, Decision  # noqa: E402
from sweep.nondominated import dominates, hypervolume  # noqa: E402
from trainable.synthetic import divergence_step, synthetic_metrics  # noqa: E402

OBJECTIVES = ("comet", "term_acc")
REF = (-0.70, -0.18)
"""Hypervolume reference point in minimisation form: comet 0.70, term_acc 0.18 (below the base model)."""
METHODS = ("random", "nsga2", "nsga2+moasha")
DEFAULT_CAPS = {"random": 10.0, "nsga2": 10.0, "nsga2+moasha": 1.0}
"""Per-method cap as a multiple of the common budget. MOASHA re-ranks a whole rung on every report
(cost grows with the square of the trials), so it is the one method that is slow to run long."""
INF = math.inf


class Run:
    """One method on one seed: observed points against cumulative trial-steps."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.steps = 0
        self.points: list[tuple[float, float]] = []
        self.curve: list[tuple[int, float]] = [(0, 0.0)]  # (cumulative steps, hypervolume)
        self.trial_starts: list[int] = []

    def observe(self, steps_now: int, metrics: dict[str, Any]) -> None:
        self.steps = steps_now
        values = [metrics.get(k) for k in OBJECTIVES]
        hv = self.curve[-1][1]
        if all(isinstance(v, float) and math.isfinite(v) for v in values):
            p = (-values[0], -values[1])
            if not any(dominates(q, p) or q == p for q in self.points):  # keep only the Pareto archive
                self.points = [q for q in self.points if not dominates(p, q)] + [p]
                hv = hypervolume(self.points, REF)
        self.curve.append((self.steps, hv))

    def hv_at(self, steps: int) -> float:
        return max((hv for s, hv in self.curve if s <= steps), default=0.0)

    def steps_to(self, target: float) -> float:
        """Cumulative steps at the first observation reaching ``target``; inf if not within the cap."""
        return next((s for s, hv in self.curve if hv >= target), INF)

    def trials_within(self, steps: int) -> int:
        return sum(s < steps for s in self.trial_starts)


def run_trial(params: dict[str, Any], run: Run, *, eval_every: int, max_steps: int,
              scheduler: MOASHA | None = None, trial_id: str = "") -> tuple[dict[str, Any] | None, bool]:  # fmt: skip
    """Run one simulated trial (cut at the run's cap); returns (last good metrics or None, pruned)."""
    div = divergence_step(params)
    start, last = run.steps, None
    run.trial_starts.append(start)
    for step in range(eval_every, max_steps + 1, eval_every):
        if div is not None and div <= step:
            run.observe(min(run.cap, start + div), {})  # diverged: the steps up to the bad one are spent
            return last, False
        if start + step > run.cap:
            run.observe(run.cap, {})
            return last, False
        metrics = synthetic_metrics(params, step)
        run.observe(start + step, metrics)
        last = metrics
        if scheduler is not None and scheduler.on_result(trial_id, step, metrics) is Decision.STOP:
            return last, True
    return last, False


def bench_seed(seed: int, method: str, *, space_path: Path, cap: int, eval_every: int, max_steps: int,
               eta: float, population: int) -> Run:  # fmt: skip
    """One method on one seed, run until ``cap`` trial-steps are spent.

    The sequence of trials does not depend on the cap, so the first B steps of a longer run are
    exactly the run with budget B.
    """
    import optuna

    space = load_search_space(space_path)
    run = Run(cap)
    rng = random.Random(seed)
    study = None
    if method != "random":
        sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
        study = optuna.create_study(directions=["maximize", "maximize"], sampler=sampler)
    scheduler = (
        MOASHA(
            list(OBJECTIVES),
            ["max", "max"],
            grace_steps=eval_every,
            reduction_factor=eta,
            max_steps=max_steps,
        )
        if method == "nsga2+moasha"
        else None
    )
    while run.steps < cap:
        if study is None:
            params = {**space.sample_random(rng), "seed": seed}
            run_trial(params, run, eval_every=eval_every, max_steps=max_steps)
            continue
        trial = study.ask()
        constants = space.define_by_run(trial) or {}
        params = {**trial.params, **constants, "seed": seed}
        last, pruned = run_trial(params, run, eval_every=eval_every, max_steps=max_steps,
                                 scheduler=scheduler, trial_id=str(trial.number))  # fmt: skip
        if last is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        elif pruned:  # what the sweep records for a scheduler-stopped trial
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, [last[k] for k in OBJECTIVES])
    return run


def parse_caps(items: list[str]) -> dict[str, float]:
    """``["random=10", "nsga2=5"]`` -> per-method cap factors (others keep their default)."""
    caps = dict(DEFAULT_CAPS)
    for item in items:
        name, _, value = item.partition("=")
        if name not in METHODS or not value:
            raise SystemExit(f"--cap {item!r}: expected METHOD=FACTOR with METHOD in {METHODS}")
        caps[name] = float(value)
        if caps[name] < 1:
            raise SystemExit(f"--cap {item!r}: a cap below the common budget (1) makes no comparison")
    return caps


def median_steps(steps: list[float]) -> float:
    """Median with unreached seeds as +inf (exact as long as more than half the seeds reached)."""
    return statistics.median(sorted(steps))


def fmt_steps(s: float, cap: int) -> str:
    return f"{s:.0f}" if math.isfinite(s) else f">{cap}"


def ratio_text(num: float, num_cap: int, den: float, den_cap: int) -> str:
    """``num / den`` where either median may be censored (inf: beyond its cap)."""
    if math.isfinite(num) and math.isfinite(den):
        return f"{num / den:.1%}"
    if math.isfinite(num):
        return f"< {num / den_cap:.1%} (bound: the denominator is beyond its cap)"
    if math.isfinite(den):
        return f"> {num_cap / den:.1%} (bound: the numerator is beyond its cap)"
    return "undetermined (both beyond their caps)"


def report_target(runs: dict[str, list[Run]], caps: dict[str, int], target: float, title: str) -> None:
    print(f"\n{title}")
    print("(per seed; '>N' = not reached within the method's cap N; median counts those as +inf)")
    medians = {}
    for m, rs in runs.items():
        reached = [r.steps_to(target) for r in rs]
        medians[m] = median_steps(reached)
        cells = " ".join(f"{fmt_steps(s, caps[m]):>8}" for s in reached)
        print(
            f"{m:<14}{cells}   median {fmt_steps(medians[m], caps[m]):>8}"
            f"   reached {sum(math.isfinite(s) for s in reached)}/{len(rs)}"
        )
    for m in ("nsga2+moasha", "nsga2"):
        text = ratio_text(medians[m], caps[m], medians["random"], caps["random"])
        print(f"{m} / random (median steps): {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--budget-trials", type=int, default=100, help="common budget B in full trials (x max_steps)"
    )
    parser.add_argument(
        "--cap",
        nargs="*",
        default=[],
        metavar="METHOD=FACTOR",
        help=f"per-method cap as a multiple of B (default {DEFAULT_CAPS})",
    )
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--eta", type=float, default=3)
    parser.add_argument("--population", type=int, default=12, help="NSGA-II population size")
    parser.add_argument(
        "--space", type=Path, default=Path(__file__).resolve().parents[1] / "search_spaces/default.yaml"
    )
    args = parser.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    started = time.monotonic()
    budget = args.budget_trials * args.max_steps
    caps = {m: int(f * budget) for m, f in parse_caps(args.cap).items()}
    runs = {
        m: [bench_seed(s, m, space_path=args.space, cap=caps[m], eval_every=args.eval_every,
                       max_steps=args.max_steps, eta=args.eta, population=args.population)
            for s in range(args.seeds)]
        for m in METHODS
    }  # fmt: skip
    best = max(r.hv_at(budget) for rs in runs.values() for r in rs)
    target = 0.95 * best
    print(f"common budget B = {budget} trial-steps ({args.budget_trials} x {args.max_steps}), eval every "
          f"{args.eval_every}, eta {args.eta}, NSGA-II population {args.population}, {args.seeds} seeds; caps "
          + ", ".join(f"{m} {caps[m]} ({caps[m] / budget:g}B)" for m in METHODS)
          + f"\nHV ref comet {-REF[0]}, term_acc {-REF[1]}; best HV within B {best:.6f}, "
          f"target 95% = {target:.6f}\n")  # fmt: skip

    fractions = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 3.0, 5.0, 10.0)
    cols = [int(f * budget) for f in fractions if f * budget <= max(caps.values())]
    print("mean hypervolume vs cumulative training steps ('-' = past the method's cap)")
    print(f"{'method':<14}" + "".join(f"{c:>9}" for c in cols) + f"{'trials<=B':>11}")
    for m, rs in runs.items():
        row = "".join(
            f"{statistics.mean(r.hv_at(c) for r in rs):>9.5f}" if c <= caps[m] else f"{'-':>9}" for c in cols
        )
        print(f"{m:<14}{row}{statistics.mean(r.trials_within(budget) for r in rs):>11.1f}")

    report_target(runs, caps, target, "steps to reach 95% of the best hypervolume any method found within B")
    overall = max(r.curve[-1][1] for rs in runs.values() for r in rs)
    if overall > best:
        who = max(((r.curve[-1][1], m) for m, rs in runs.items() for r in rs))[1]
        report_target(
            runs,
            caps,
            0.95 * overall,
            f"sensitivity: target from the best HV of any run up to its cap ({overall:.6f}, {who}; "
            f"95% = {0.95 * overall:.6f}); a method with a smaller cap had fewer steps to find it",
        )
    print(f"\ntarget: nsga2+moasha <= 40% of random's steps; wall time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
