"""Per-trial overhead of the sweep machinery, measured with a zero-work SYNTHETIC trainable.

    python bench/sweep_overhead.py                       # 40 trials, 2 at a time, local Ray on 2 CPUs
    python bench/sweep_overhead.py --trials 100 --reuse both

Each trial of ``trainable.testing.synthetic:synthetic_trainable`` with ``work_s: 0`` and ``max_steps ==
eval_every`` does no work: one report with a checkpoint, then it ends. Everything the wall clock shows
is therefore overhead: Ray actor start and teardown, result and checkpoint handling, Optuna ask/tell
on SQLite with the NaN-safe recorder, the results files and the MO-ASHA scheduler. Reported:

- ``wall/trial``: sweep wall time (``Tuner.fit``, Ray already started) divided by the trial count;
- ``slot-s/trial``: the same times the concurrency, i.e. how long one trial holds a slot.

Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(trials: int, concurrent: int, reuse: bool, cpus: int) -> dict[str, float]:
    """One sweep in a fresh temporary results folder; returns timings in seconds."""
    from sweep.config import load_sweep_config
    from sweep.results_dir import create_results_dir, write_sweep_yaml
    from sweep.tuner import build_tuner

    overrides = [
        f"num_trials={trials}", f"max_concurrent={concurrent}", f"reuse_actors={str(reuse).lower()}",
        "trial.max_steps=100", "trial.eval_every=100", "trial.work_s=0", "scheduler.mo_asha=true",
        f"resources.cpus_per_trial={cpus / concurrent}",
    ]  # fmt: skip
    cfg = load_sweep_config(REPO / "sweep" / "configs" / "synthetic.yaml", overrides)
    with tempfile.TemporaryDirectory(prefix="mtsweep_bench_") as tmp:
        out, _ = create_results_dir(Path(tmp) / "overhead")
        write_sweep_yaml(out, cfg)
        parts = build_tuner(cfg, out, live_every_s=1e9)
        start = time.perf_counter()
        parts.tuner.fit()
        wall = time.perf_counter() - start
    return {"wall_s": wall, "per_trial_s": wall / trials, "slot_s": wall * concurrent / trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--reuse", choices=["off", "on", "both"], default="both", help="reuse_actors setting(s)")
    args = parser.parse_args()

    import os

    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "auto")  # as sweep.driver.ray_session
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray
    import torch  # noqa: F401  (before ray.init: DESIGN.md)

    t0 = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t0
    rows = []
    try:
        for reuse in {"off": [False], "on": [True], "both": [False, True]}[args.reuse]:
            rows.append((reuse, measure(args.trials, args.concurrent, reuse, args.cpus)))
    finally:
        ray.shutdown()
    print(f"\nzero-work synthetic trials: {args.trials}, {args.concurrent} concurrent, local Ray on "
          f"{args.cpus} CPUs (ray.init {ray_start:.1f} s, not counted)")
    print(f"{'reuse_actors':>12}  {'sweep wall s':>12}  {'wall/trial s':>12}  {'slot-s/trial':>12}")
    for reuse, r in rows:
        print(f"{str(reuse):>12}  {r['wall_s']:12.1f}  {r['per_trial_s']:12.2f}  {r['slot_s']:12.2f}")


if __name__ == "__main__":
    main()
