"""Search-efficiency benchmark (NOT a test): random search vs NSGA-II vs NSGA-II + MOASHA.

Runs on the SYNTHETIC curves (``trainable.synthetic.synthetic_metrics``) through a simulated backend:
no Ray, trials run one after another, a trial "costs" the optimizer steps it ran. Every method gets
the same budget of trial-steps; every eval report counts as an observed point (each has a checkpoint
the user could keep). Prints hypervolume (comet x term_acc, both maximised) against cumulative steps
and the steps each method needs to reach 95% of the best hypervolume any method found.

    python bench/search_efficiency.py                  # 5 seeds, default budget
    python bench/search_efficiency.py --seeds 10 --budget-trials 80
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
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


class Run:
    """One method on one seed: observed points against cumulative trial-steps."""

    def __init__(self) -> None:
        self.steps = 0
        self.points: list[tuple[float, float]] = []
        self.curve: list[tuple[int, float]] = [(0, 0.0)]  # (cumulative steps, hypervolume)
        self.trials = 0

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

    def steps_to(self, target: float) -> int | None:
        return next((s for s, hv in self.curve if hv >= target), None)


def run_trial(params: dict[str, Any], run: Run, *, eval_every: int, max_steps: int, budget: int,
              scheduler: MOASHA | None = None, trial_id: str = "") -> tuple[dict[str, Any] | None, bool]:  # fmt: skip
    """Run one simulated trial; returns (last good metrics or None, pruned)."""
    div = divergence_step(params)
    start, last = run.steps, None
    for step in range(eval_every, max_steps + 1, eval_every):
        if div is not None and div <= step:
            run.observe(min(budget, start + div), {})  # diverged: the steps up to the bad one are spent
            return last, False
        if start + step > budget:
            run.observe(budget, {})
            return last, False
        metrics = synthetic_metrics(params, step)
        run.observe(start + step, metrics)
        last = metrics
        if scheduler is not None and scheduler.on_result(trial_id, step, metrics) is Decision.STOP:
            return last, True
    return last, False


def bench_seed(seed: int, method: str, *, space_path: Path, budget: int, eval_every: int, max_steps: int,
               eta: float, population: int) -> Run:  # fmt: skip
    import optuna

    space = load_search_space(space_path)
    run = Run()
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
    while run.steps < budget:
        run.trials += 1
        if study is None:
            params = {**space.sample_random(rng), "seed": seed}
            run_trial(params, run, eval_every=eval_every, max_steps=max_steps, budget=budget)
            continue
        trial = study.ask()
        constants = space.define_by_run(trial) or {}
        params = {**trial.params, **constants, "seed": seed}
        last, pruned = run_trial(params, run, eval_every=eval_every, max_steps=max_steps, budget=budget,
                                 scheduler=scheduler, trial_id=str(trial.number))  # fmt: skip
        if last is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        elif pruned:  # what the sweep records for a scheduler-stopped trial
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, [last[k] for k in OBJECTIVES])
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget-trials", type=int, default=60, help="budget in full trials (x max_steps)")
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
    budget = args.budget_trials * args.max_steps
    runs = {
        m: [bench_seed(s, m, space_path=args.space, budget=budget, eval_every=args.eval_every,
                       max_steps=args.max_steps, eta=args.eta, population=args.population)
            for s in range(args.seeds)]
        for m in METHODS
    }  # fmt: skip
    best = max(r.curve[-1][1] for rs in runs.values() for r in rs)
    target = 0.95 * best
    print(f"budget {budget} trial-steps ({args.budget_trials} x {args.max_steps}), eval every {args.eval_every}, "
          f"eta {args.eta}, NSGA-II population {args.population}, {args.seeds} seeds; "
          f"HV ref comet {-REF[0]}, term_acc {-REF[1]}; best HV {best:.6f}, target 95% = {target:.6f}\n")  # fmt: skip
    fractions = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    print("mean hypervolume vs cumulative training steps")
    print(f"{'method':<14}" + "".join(f"{int(f * budget):>10}" for f in fractions) + f"{'trials':>9}")
    for m, rs in runs.items():
        row = "".join(f"{statistics.mean(r.hv_at(int(f * budget)) for r in rs):>10.5f}" for f in fractions)
        print(f"{m:<14}{row}{statistics.mean(r.trials for r in rs):>9.1f}")
    print("\nsteps to reach 95% of the best hypervolume (per seed; '-' = not within budget)")
    medians = {}
    for m, rs in runs.items():
        reached = [r.steps_to(target) for r in rs]
        censored = [s if s is not None else budget for s in reached]
        medians[m] = statistics.median(censored)
        cells = " ".join(f"{s:>6}" if s is not None else f"{'-':>6}" for s in reached)
        print(
            f"{m:<14}{cells}   median {medians[m]:>8.0f}   reached {sum(s is not None for s in reached)}/{len(rs)}"
        )
    ratio = medians["nsga2+moasha"] / medians["random"]
    print(
        f"\nNSGA-II + MOASHA needs {ratio:.0%} of random search's steps (median; target <= 40%); "
        f"NSGA-II alone {medians['nsga2'] / medians['random']:.0%}. Unreached seeds count as the full budget."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
