"""`mtsweep run SWEEP.yaml`: run a multi-objective sweep (Ray Tune + Optuna) into a new results folder."""

from __future__ import annotations

import argparse

from sweep.choices import WANDB_MODES

HELP = "run a sweep: Ray Tune + Optuna (multi-objective), results in a new folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="SWEEP.yaml", help="sweep config (see sweep/configs/)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key, e.g. --set num_trials=8 --set trial.max_steps=200 (repeatable)",
    )
    parser.add_argument("--out", metavar="DIR", help="results folder (default: out_dir or sweeps/<name>); "
                        "never overwritten: a taken name gets a -2, -3, ... suffix")
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster to join (e.g. 127.0.0.1:6379 or auto); "
                        "default: start a local one")
    parser.add_argument("--trainable", metavar="MODULE:FUNCTION", help="Ray Tune function trainable to run "
                        "(overrides the config's 'trainable')")
    parser.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of a local Ray (default: all)")
    parser.add_argument("--num-gpus", type=int, metavar="N", help="GPUs of a local Ray (default: all)")
    parser.add_argument("--wandb", choices=WANDB_MODES,
                        help="W&B logging, one run per trial (overrides wandb.mode; 'auto' = online when an "
                        "API key is configured, else offline; files in <results>/wandb)")
    parser.add_argument("--live-every", type=float, default=2.0, metavar="S",
                        help="seconds between redraws of the live view on a terminal (default 2; when the "
                        "output is not a terminal, one line per trial event instead)")
    parser.add_argument("--allow-download", action="store_true",
                        help="accept hub model ids that are not in the local Hugging Face cache (each trial "
                        "downloads them); default: refuse them before starting")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path
    from typing import Any

    from sweep.config import load_sweep_config
    from sweep.driver import finish_sweep, ray_session, record_stop
    from sweep.interrupt import stop_on_signals
    from sweep.preflight import check_run_flags, preflight
    from sweep.results_dir import create_results_dir, write_sweep_yaml

    # Everything is checked before anything is written or Ray starts (one-line errors, exit 2).
    check_run_flags(args)
    wandb_override = [f"wandb.mode={args.wandb}"] if getattr(args, "wandb", None) else []
    cfg = load_sweep_config(args.config, [*args.overrides, *wandb_override], trainable=args.trainable)
    preflight(cfg, where=args.config, trainable_flag=args.trainable is not None,
              allow_download=args.allow_download, args=args)
    requested = Path(args.out or cfg.out_dir or Path("sweeps") / cfg.name)
    results_dir, note = create_results_dir(requested)
    if note:
        print(f"mtsweep run: {note}")
    write_sweep_yaml(results_dir, cfg)
    print(f"mtsweep run: results in {results_dir}", flush=True)
    with stop_on_signals() as stop, ray_session(address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus):
        from sweep.study import make_storage
        from sweep.tuner import build_tuner

        def build_and_fit() -> Any:
            return build_tuner(cfg, results_dir, live_every_s=args.live_every).tuner.fit()

        storage = make_storage(cfg.storage_url(results_dir))
        result_grid = stop.fit(build_and_fit, on_give_up=lambda: record_stop(cfg, results_dir, storage, stop))
        return finish_sweep(cfg, results_dir, result_grid, storage, stop)
