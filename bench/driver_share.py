"""mtsweep's own share of the driver's work per trial, without Ray's controller (companion of
``bench/driver_scale.py``, which measures the whole driver).

    python bench/driver_share.py                                  # 1,000 trials, sampler rung_tpe
    python bench/driver_share.py --trials 300 --at 100 300 --sampler random
    python bench/driver_share.py --trials 400 --at 100 400 --memory   # + traced memory growth by allocation site

The objects ``mtsweep run`` hands Ray are built exactly as ``sweep/tuner.py`` builds them for
``sweep/configs/synthetic.yaml`` (``RecordingOptunaSearch`` with the configured sampler on a real Optuna
SQLite study, the MO-ASHA adapter with its rung log, ``ResultsFileCallback``, the live view) and fed, one
trial after another in this process, the synthetic trainable's own reports with the calls Ray makes:
``suggest``, ``on_trial_result`` (searcher, callbacks, scheduler decision), ``on_trial_complete``. No Ray
controller, no actors, no experiment snapshots: what is left is what mtsweep does per trial. Printed per
checkpoint N: process CPU and wall seconds per trial over ``--window`` trials around N, and the process's
resident memory when trial N finished; with ``--memory``, Python's traced memory and where it grew.
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build(trials: int, sampler: str, folder: Path) -> tuple[Any, Any, list[Any], dict[str, Any]]:
    """(searcher, scheduler, callbacks, base trial config) as ``sweep/tuner.py`` builds them."""
    from search_spaces.loader import load_search_space
    from sweep.config import base_trial_config, load_sweep_config
    from sweep.live_view import LiveView
    from sweep.recorder import RecordingOptunaSearch, ResultsFileCallback
    from sweep.results_dir import UNTOLD_JSONL
    from sweep.study import make_sampler, make_storage
    from sweep.tuner import make_scheduler, param_keys

    cfg = load_sweep_config(REPO / "sweep" / "configs" / "synthetic.yaml",
                            [f"num_trials={trials}", f"sampler={sampler}", "trial.work_s=0"])
    space = load_search_space(cfg.search_space)
    url = cfg.storage_url(folder)
    scheduler = make_scheduler(cfg, folder)
    searcher = RecordingOptunaSearch(
        space=space.define_by_run, metric=list(cfg.objectives), mode=cfg.modes,
        points_to_evaluate=[dict(p) for p in space.presets[: cfg.num_trials]] or None,
        sampler=make_sampler(cfg.sampler, seed=cfg.seed, num_trials=cfg.num_trials),
        study_name=cfg.resolved_study_name, storage=make_storage(url), scheduler=scheduler,
        constraints=cfg.constraints, untold_path=folder / UNTOLD_JSONL,
    )  # fmt: skip
    callbacks = [
        ResultsFileCallback(folder, storage_url=url, study_name=cfg.resolved_study_name,
                            objectives=list(cfg.objectives), param_keys=param_keys(space)),
        LiveView(list(cfg.objectives), total=cfg.num_trials, scheduler=scheduler, stream=io.StringIO(), tty=False),
    ]  # fmt: skip
    return searcher, scheduler, callbacks, base_trial_config(cfg)


def run_trial(i: int, searcher: Any, scheduler: Any, callbacks: list[Any], base: dict[str, Any]) -> None:
    """One trial through the calls Ray makes, with the synthetic trainable's reports."""
    from trainable.testing.synthetic import divergence_step, synthetic_metrics

    trial_id = f"trial_{i:05d}"
    suggested = searcher.suggest(trial_id)
    config = {**base, **suggested}
    trial = SimpleNamespace(trial_id=trial_id, config=config, evaluated_params=suggested, last_result={})
    for cb in callbacks:
        cb.on_trial_start(0, [], trial)
    params = {k: v for k, v in config.items() if not str(k).startswith("_")}
    diverges_at = divergence_step(params)
    max_steps, every = int(params["max_steps"]), int(params["eval_every"])
    for step in range(every, max_steps + 1, every):
        result = synthetic_metrics(params, step)
        result.update(step=step, training_iteration=step // every, is_final=step >= max_steps, diverged=False,
                      stop_cause=None)  # fmt: skip
        if diverges_at is not None and step >= diverges_at:
            result.update(is_final=True, diverged=True, stop_cause="diverged")
        searcher.on_trial_result(trial_id, result)
        for cb in callbacks:
            cb.on_trial_result(0, [], trial, result)
        trial.last_result = result
        if result["is_final"] or (scheduler is not None and scheduler.on_trial_result(None, trial, result) == "STOP"):
            break
    searcher.on_trial_complete(trial_id, trial.last_result)
    for cb in callbacks:
        cb.on_trial_complete(0, [], trial)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--at", type=int, nargs="+", default=[100, 500, 1000], help="checkpoints (trial counts)")
    parser.add_argument("--window", type=int, default=100, help="trials averaged around each checkpoint")
    parser.add_argument("--sampler", default="rung_tpe")
    parser.add_argument("--memory", action="store_true", help="trace Python allocations (slower)")
    args = parser.parse_args()
    import logging
    import tracemalloc
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("sweep").setLevel(logging.WARNING)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="mtsweep_share_") as tmp:
        searcher, scheduler, callbacks, base = build(args.trials, args.sampler, Path(tmp))
        if args.memory:
            tracemalloc.start(6)
        marks: list[tuple[float, float]] = []  # (cpu s, wall s) after each trial
        memory: dict[int, tuple[float, Any]] = {}
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(args.trials):
            run_trial(i, searcher, scheduler, callbacks, base)
            marks.append((time.process_time() - cpu0, time.perf_counter() - wall0))
            if i + 1 in args.at:
                gc.collect()
                memory[i + 1] = (rss_mb(), tracemalloc.take_snapshot() if args.memory else None)
    print(f"\n{args.trials} trials, sampler {args.sampler}, no Ray controller: CPU {marks[-1][0]:.0f} s, "
          f"wall {marks[-1][1]:.0f} s")
    half = args.window // 2
    print(f"{'trial':>6}  {'RSS MB':>7}  {f'CPU s/trial +-{half}':>18}  {f'wall s/trial +-{half}':>19}")
    for n in args.at:
        lo, hi = max(1, n - half), min(args.trials, n + half)
        cpu = (marks[hi - 1][0] - marks[lo - 1][0]) / (hi - lo)
        wall = (marks[hi - 1][1] - marks[lo - 1][1]) / (hi - lo)
        print(f"{n:>6}  {memory.get(n, (float('nan'),))[0]:7.0f}  {cpu:18.4f}  {wall:19.4f}")
    first, last = args.at[0], args.at[-1]
    if args.memory and first in memory and last in memory:
        grown = memory[last][1].compare_to(memory[first][1], "filename")
        total = sum(s.size_diff for s in grown)
        print(f"traced Python memory growth trial {first} -> {last}: {total / 2**20:+.1f} MB; largest sites:")
        for stat in grown[:8]:
            print(f"  {stat.size_diff / 2**20:+6.2f} MB  {stat.traceback[0].filename}")


if __name__ == "__main__":
    main()
