"""`mtsweep resume DIR`: continue a sweep whose driver died (kill -9, crash, Ctrl-C).

Ray restores its experiment (trials, searcher state) with ``Tuner.restore``; the Optuna study is the
same one. Trials Ray had finished stay finished; unfinished ones continue from their last checkpoint;
errored ones stay errored (they are already FAIL in the study, and Optuna cannot reopen a finished
trial). Study trials the dead driver asked for after Ray's last snapshot are adopted by the new Ray
trials, so the sweep ends with exactly ``num_trials`` trials, Ray and Optuna agreeing one to one.
Trials a stop signal interrupted are RUNNING in both and continue from their last checkpoint. A sweep
whose study is already complete is left as it is (Ray is not started).
"""

from __future__ import annotations

import argparse

HELP = "continue a sweep whose driver died, from its results folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="DIR", help="results folder of the sweep (holds sweep.yaml)")
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster to join; default: start a local one")
    parser.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of a local Ray (default: all)")
    parser.add_argument("--num-gpus", type=int, metavar="N", help="GPUs of a local Ray (default: all)")
    parser.add_argument("--allow-download", action="store_true",
                        help="accept hub model ids that are not in the local Hugging Face cache (as for `mtsweep run`)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path
    from typing import Any

    from sweep.driver import finish_sweep, ray_session, record_stop
    from sweep.interrupt import stop_on_signals
    from sweep.preflight import check_ray_flags, preflight
    from sweep.results_dir import RAY_DIR, SWEEP_YAML, read_resolved_config
    from trainable.base.errors import InputError

    check_ray_flags(args)
    results_dir = Path(args.results_dir).resolve()
    cfg = read_resolved_config(results_dir)
    check_not_moved(cfg, results_dir)
    if finished_already(cfg, results_dir):
        return 0
    # What `mtsweep run` checked may have changed since (data moved, a model gone from the cache): the
    # same checks, before Ray starts.
    preflight(cfg, where=str(results_dir / SWEEP_YAML), allow_download=args.allow_download, args=args)
    experiment = results_dir / RAY_DIR
    with stop_on_signals() as stop, ray_session(address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus):
        from ray import tune

        from sweep.study import make_storage
        from sweep.tuner import with_resources
        from trainable.base.imports import import_function

        if not tune.Tuner.can_restore(str(experiment)):
            raise InputError(str(results_dir), f"no Ray experiment to resume in {experiment}")
        trainable = with_resources(import_function(cfg.trainable, where="trainable"), cfg)

        def restore_and_fit() -> Any:
            tuner = tune.Tuner.restore(
                str(experiment), trainable=trainable, resume_unfinished=True, resume_errored=False
            )
            print(f"mtsweep resume: continuing {results_dir}", flush=True)
            return tuner.fit()

        storage = make_storage(cfg.storage_url(results_dir))
        result_grid = stop.fit(restore_and_fit, on_give_up=lambda: record_stop(cfg, results_dir, storage, stop))
        return finish_sweep(cfg, results_dir, result_grid, storage, stop)


def check_not_moved(cfg, results_dir) -> None:  # noqa: ANN001 (lazy types)
    """InputError when ``results_dir`` is not the folder the sweep was written as (moved or copied): Ray's
    saved state and the results writers name the original folder (and, by default, its study.db), so a
    resume here would write into the original sweep's files, or into nothing."""
    from pathlib import Path

    from sweep.results_dir import SWEEP_YAML
    from trainable.base.errors import InputError

    if cfg.out_dir and Path(cfg.out_dir).resolve() != Path(results_dir).resolve():
        raise InputError(str(Path(results_dir) / SWEEP_YAML), f"out_dir: this sweep was written as {cfg.out_dir} "
                         "and its saved Ray state and study name that folder; resume it there (a copy serves "
                         "pareto, status, finalize and export)")


def finished_already(cfg, results_dir) -> bool:  # noqa: ANN001 (lazy types)
    """True (after saying so) when the study already holds ``num_trials`` finished trials and none
    running: nothing to resume. Only ``trials.jsonl`` lines a killed driver never wrote are added."""
    import optuna

    from sweep.results_dir import STUDY_DB
    from sweep.study import append_missing_trial_records, make_storage

    url = cfg.storage_url(results_dir)
    if url.startswith("sqlite") and not (results_dir / STUDY_DB).is_file():
        return False
    storage = make_storage(url)
    try:
        study = optuna.load_study(study_name=cfg.resolved_study_name, storage=storage)
    except KeyError:  # the driver died before it created the study
        return False
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]
    if len(trials) < cfg.num_trials or not all(t.state.is_finished() for t in trials):
        return False
    added = append_missing_trial_records(results_dir, storage, cfg.resolved_study_name, list(cfg.objectives))
    note = f"; added {len(added)} missing trials.jsonl line(s): {added}" if added else ""
    print(f"mtsweep resume: the sweep in {results_dir} is already finished ({len(trials)} trials); "
          f"nothing to resume{note}")
    return True
