"""`mtsweep demo`: the whole system on a laptop CPU in minutes, with a TOY model.

Four stages, each the Python function of an existing command (no shelling out):
1. the toy assets (`mtsweep make-tiny-model`: tiny Qwen2 LM + BPE tokenizer, tiny COMET), or reused ones;
2. a small real sweep (`mtsweep run sweep/configs/demo.yaml`) on a local Ray: the QLoRA trainable,
   Optuna NSGA-II, MO-ASHA, 2 trials at a time, a preset whose learning rate makes it diverge;
3. the S0 baseline (`mtsweep baseline`): the base model, no adapter, same prompt and decoding;
4. the Pareto outputs (`mtsweep pareto`): tables, pareto.png, pareto.html, curves.png, hypervolume.

Layout: ``<out>/assets/`` (toy model + COMET) and ``<out>/sweeps/demo/`` (a sweep results folder,
docs/architecture.md, with ``baseline.json`` and ``pareto/`` inside). ``<out>`` is never overwritten.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HELP = "run the whole system in minutes on CPU with a TOY model: tiny model -> real sweep -> S0 -> Pareto plots"
DEFAULT_OUT = "demo_out"
QUICK_TRIALS = 4
QUICK_MAX_STEPS = 30
CONFIG_NAME = "demo.yaml"
REAL_CONFIG_NAME = "qwen_gpu.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                        help=f"demo folder (default ./{DEFAULT_OUT}); never overwritten: a taken name gets "
                        "a -2, -3, ... suffix (and its toy model is reused)")
    parser.add_argument("--trials", type=int, metavar="N", default=None,
                        help="trials in the sweep (default: num_trials of sweep/configs/demo.yaml, "
                        f"{QUICK_TRIALS} with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smaller demo (about a minute): {QUICK_TRIALS} trials of {QUICK_MAX_STEPS} steps")
    parser.add_argument("--assets", metavar="DIR", default=None,
                        help="reuse toy assets built by `mtsweep make-tiny-model DIR` (DIR/model, DIR/comet)")
    parser.add_argument("--live-every", type=float, default=15.0, metavar="S",
                        help="seconds between redraws of the live view on a terminal (default 15)")


def config_path() -> Path:
    """The demo's sweep config, shipped with the package."""
    import sweep

    return Path(sweep.__file__).resolve().parent / "configs" / CONFIG_NAME


def run(args: argparse.Namespace) -> int:
    import warnings

    from sweep.results_dir import create_results_dir
    from trainable.base.errors import InputError

    if args.trials is not None and args.trials < 1:
        raise InputError("--trials", f"must be >= 1, got {args.trials}")
    warnings.filterwarnings("ignore", message=".*pkg_resources is deprecated.*")  # comet's imports, not ours
    t0 = time.perf_counter()
    requested = Path(args.out).expanduser().resolve()
    earlier_assets = requested / "assets"
    demo_dir, note = create_results_dir(requested)
    print(f"mtsweep demo: a small REAL sweep on a TOY model, CPU only; everything goes to {_show(demo_dir)}")
    if note:
        print(f"mtsweep demo: {note}")

    _stage(1, "toy model + tiny COMET", t0)
    if args.assets:
        model_dir, comet_ckpt = toy_assets(demo_dir / "assets", Path(args.assets), required=True)
    else:  # an earlier demo in the requested folder: reuse its toy model
        earlier = earlier_assets if demo_dir != requested else None
        model_dir, comet_ckpt = toy_assets(demo_dir / "assets", earlier, required=False)

    _stage(2, "the sweep (local Ray, Optuna NSGA-II, MO-ASHA early stopping, 2 trials at a time)", t0)
    sweep_dir = demo_dir / "sweeps" / "demo"  # like `mtsweep run`'s default sweeps/<name>
    code = run_sweep(sweep_dir, model_dir, comet_ckpt, trials=args.trials, quick=args.quick,
                     live_every=args.live_every)
    if code != 0:
        print(f"mtsweep demo: the sweep did not finish (exit {code}); results so far in {_show(sweep_dir)}")
        return code

    _stage(3, "S0 baseline (the base model, no adapter)", t0)
    from sweep.commands import baseline

    baseline.run(command_args(baseline, [str(sweep_dir)]))

    _stage(4, "Pareto front, tables and plots", t0)
    from sweep.commands import pareto

    pareto.run(command_args(pareto, [str(sweep_dir)]))

    print_closing(demo_dir, sweep_dir, time.perf_counter() - t0)
    return 0


def command_args(module: Any, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` with a command's own parser (its defaults stay the command's)."""
    parser = argparse.ArgumentParser(prog=f"mtsweep {module.__name__.rsplit('.', 1)[-1]}")
    module.add_arguments(parser)
    return parser.parse_args(argv)


def toy_assets(out: Path, reuse: Path | None, *, required: bool) -> tuple[Path, Path]:
    """(model dir, COMET checkpoint): ``reuse``'s when it holds both, else built into ``out``."""
    from trainable.base.errors import InputError

    if reuse is not None:
        model_dir, comet_ckpt = reuse / "model", reuse / "comet" / "checkpoints" / "model.ckpt"
        if (model_dir / "config.json").is_file() and comet_ckpt.is_file():
            print(f"reusing the toy model and tiny COMET in {_show(reuse)}")
            return model_dir.resolve(), comet_ckpt.resolve()
        if required:
            raise InputError("--assets", f"{reuse} holds no toy assets (model/ and comet/checkpoints/model.ckpt)")
    from sweep.commands import make_tiny_model

    make_tiny_model.run(command_args(make_tiny_model, [str(out)]))
    return out / "model", out / "comet" / "checkpoints" / "model.ckpt"


def run_sweep(sweep_dir: Path, model_dir: Path, comet_ckpt: Path, *, trials: int | None, quick: bool,
              live_every: float) -> int:
    """`mtsweep run sweep/configs/demo.yaml` with the toy assets filled in, on a quiet local Ray."""
    from sweep.commands import run as run_command

    overrides = [f"trial.model={model_dir}", f"trial.comet_model={comet_ckpt}"]
    if trials is not None or quick:
        overrides.append(f"num_trials={trials or QUICK_TRIALS}")
    if quick:
        overrides.append(f"trial.max_steps={QUICK_MAX_STEPS}")
    argv = [str(config_path()), "--out", str(sweep_dir), "--live-every", str(live_every)]
    for item in overrides:
        argv += ["--set", item]
    with quiet_local_ray():
        return int(run_command.run(command_args(run_command, argv)) or 0)


@contextmanager
def quiet_local_ray() -> Iterator[None]:
    """A local Ray whose workers' log lines stay in Ray's log files (the live table shows progress);
    one the caller already started is used as it is."""
    import os

    import torch  # noqa: F401  (before ray.init: DESIGN.md trap)

    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    import ray

    if ray.is_initialized():
        yield
        return
    ray.init(include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


def trial_summary(sweep_dir: Path) -> list[str]:
    """One line per finished trial: number, preset, lr, how it ended."""
    from trainable.base.jsonl import read_records

    lines = []
    for t in sorted(read_records(sweep_dir / "trials.jsonl"), key=lambda r: r.get("optuna_number") or 0):
        params = t.get("params") or {}
        lr = params.get("lr")
        head = f"  #{t.get('optuna_number')}" + (f" ({params['_preset']})" if params.get("_preset") else "")
        head += f" lr={lr:.3g}" if isinstance(lr, float) else ""
        steps, cause = t.get("steps"), t.get("stop_cause")
        if t.get("diverged"):
            at = f" at step {t['diverged_step']}" if t.get("diverged_step") else ""
            how = f"DIVERGED{at} ({cause}): stopped by the NaN/spike guard, step-{steps} result kept"
        elif t.get("state") == "PRUNED":
            how = f"stopped early by MO-ASHA at step {steps}"
        else:
            how = f"{t.get('state')}, {cause} after {steps} steps"
        lines.append(f"{head}: {how}")
    return lines


def print_closing(demo_dir: Path, sweep_dir: Path, wall_s: float) -> None:
    pareto_dir = sweep_dir / "pareto"
    files = [
        ("Pareto front plot", pareto_dir / "pareto.png"),
        ("interactive plot (hover = config)", pareto_dir / "pareto.html"),
        ("learning curves", pareto_dir / "curves.png"),
        ("front table (also .csv .tex .json)", pareto_dir / "pareto.md"),
        ("checkpoint-level front", pareto_dir / "checkpoint_level"),
        ("S0 baseline", sweep_dir / "baseline.json"),
        ("sweep results (study.db, reports.jsonl, trials.jsonl, ray/)", sweep_dir),
    ]
    print(f"\n=== mtsweep demo: done in {wall_s / 60:.1f} min ===")
    print("Trials:")
    print("\n".join(trial_summary(sweep_dir)))
    print("Files:")
    for label, path in files:
        print(f"  {label + ':':62} {_show(path)}")
    real = _show(config_path().with_name(REAL_CONFIG_NAME))
    print(
        "\nThis demo used a TOY model: a tiny Qwen2-shaped LM trained for seconds on the bundled sample data, "
        "and a tiny untrained COMET.\nThe code paths are the real ones; the translations and scores mean "
        "nothing, so do not read the front as a result (fine-tuning this toy rarely beats its own S0 on both\n"
        "objectives, so a hypervolume of 0 against the S0 reference is normal here).\n"
        "\nThe real thing (a GPU; Qwen/Qwen2.5-0.5B-Instruct and Unbabel/wmt22-comet-da in the local "
        "Hugging Face cache; your EN-JA data):\n"
        f"  mtsweep run {real} --set trial.train_path=train.jsonl --set trial.dev_path=dev.jsonl "
        "--set trial.glossary_path=glossary.tsv\n"
        "  mtsweep baseline sweeps/qwen-enja && mtsweep pareto sweeps/qwen-enja && mtsweep finalize sweeps/qwen-enja\n"
        "  (on a Ray cluster add --address auto to `mtsweep run`; see ray_cluster.yaml)"
    )


def _stage(n: int, what: str, t0: float) -> None:
    print(f"\n=== [{n}/4] {what}  (t={time.perf_counter() - t0:.0f}s) ===", flush=True)


def _show(path: Path) -> str:
    """``path`` relative to the current directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
