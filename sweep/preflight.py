"""Checks `mtsweep run` makes after loading the config and before it writes anything or starts Ray.

:func:`sweep.config.load_sweep_config` checks what the config says (keys, values, the search space inside
the trial's domain); this module checks what it points at: the command-line flags, the trainable (import),
the trial's data and glossary files (loaded with the trial's own loaders) and its models (local folder,
Hugging Face cache, or an allowed download). Every failure is a one-line InputError naming the file (or
flag) and the key. Imports no Ray and no torch.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweep.config import DEFAULT_TRAINABLE, SweepConfig, base_trial_config
from trainable.base.errors import InputError
from trainable.base.imports import import_function


def check_ray_flags(args: argparse.Namespace) -> None:
    """``--address`` and ``--num-cpus``/``--num-gpus`` of a local Ray (shared by run and resume)."""
    if args.num_cpus is not None and args.num_cpus < 1:
        raise InputError("--num-cpus", f"must be >= 1, got {args.num_cpus}")
    if args.num_gpus is not None and args.num_gpus < 0:
        raise InputError("--num-gpus", f"must be >= 0, got {args.num_gpus}")
    if args.address is not None and not _is_ray_address(args.address):
        raise InputError("--address", f"expected auto, HOST:PORT or ray://HOST:PORT, got {args.address!r}")


def _is_ray_address(address: str) -> bool:
    if address in ("auto", "local"):
        return True
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def check_run_flags(args: argparse.Namespace) -> None:
    """The flags of `mtsweep run` that the parser cannot check alone."""
    check_ray_flags(args)
    if not args.live_every >= 0:
        raise InputError("--live-every", f"must be >= 0 seconds, got {args.live_every}")
    if args.out is not None:
        check_out_dir(Path(args.out), "--out")


def check_out_dir(path: Path, where: str) -> None:
    """The results folder can be created: its nearest existing ancestor is a writable folder."""
    ancestor = path.expanduser().absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if ancestor == path.expanduser().absolute() and ancestor.is_dir():
        return  # taken: create_results_dir picks a suffixed name next to it
    if not ancestor.is_dir():
        raise InputError(where, f"{ancestor} is a file, so {path} cannot be created")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(where, f"cannot create {path}: {ancestor} is not writable")


def preflight(
    cfg: SweepConfig, *, where: str, trainable_flag: bool = False, allow_download: bool = False,
    args: argparse.Namespace | None = None,
) -> None:
    """Everything the sweep points at exists and loads; the trainable is imported last (it runs user code).

    ``args`` (`mtsweep run`'s flags): when they start a local Ray, a trial must fit in it."""
    if cfg.storage is not None:
        check_storage(cfg.storage, where=where)
    if args is not None and args.address is None and not os.environ.get("RAY_ADDRESS"):
        check_fits_local_ray(cfg, where=where, num_cpus=args.num_cpus, num_gpus=args.num_gpus)
    if cfg.trainable == DEFAULT_TRAINABLE:
        check_trial_inputs(base_trial_config(cfg), where=where, allow_download=allow_download)
        device = str(cfg.trial.get("device", "auto"))
        if device.startswith("cuda") and not cfg.resources.gpus_per_trial > 0:
            raise InputError(where, f"key 'trial.device': {device!r} needs resources.gpus_per_trial > 0 "
                                    "(Ray hides the GPUs from a trial that reserves none)")
    if trainable_flag:
        import_function(cfg.trainable, where="--trainable")
    else:
        import_function(cfg.trainable, where=where, key="trainable")


def check_trial_inputs(trial: dict[str, Any], *, where: str, allow_download: bool = False) -> None:
    """The data, glossary and models of the default trainable's trial section (``trial.*`` keys)."""
    from trainable.config import TrialConfig
    from trainable.eval.evaluate import load_split, load_terms
    from trainable.model.sources import base_model_source, comet_model_source

    cfg = TrialConfig.from_dict(trial, where=where)
    checks: list[tuple[str, Callable[[], Any]]] = [
        (f"{split}_path", lambda split=split: load_split(cfg, split)) for split in ("train", "dev", "test")
    ]
    checks += [
        ("glossary_path", lambda: load_terms(cfg)),
        ("model", lambda: base_model_source(cfg.model, allow_download=allow_download)),
        ("comet_model", lambda: comet_model_source(cfg.comet_model, allow_download=allow_download)),
    ]
    for key, check in checks:
        if key.endswith("_path") and getattr(cfg, key) is None:
            continue  # the bundled sample data
        try:
            check()
        except InputError as err:
            detail = err.message if err.where == key else str(err)
            raise InputError(where, f"key 'trial.{key}': {detail}") from None


def check_storage(url: str, *, where: str) -> None:
    """The storage URL parses and its database driver imports (no connection is made)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        engine = create_engine(url)
    except ImportError as err:
        raise InputError(where, f"key 'storage': the database driver is not installed ({err})") from None
    except (ArgumentError, NoSuchModuleError, ValueError) as err:
        raise InputError(where, f"key 'storage': not a usable SQLAlchemy URL ({err})") from None
    database = engine.url.database
    engine.dispose()
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        folder = Path(database).expanduser().absolute().parent
        if not folder.is_dir():
            raise InputError(where, f"key 'storage': folder {folder} of the SQLite file does not exist")


def check_fits_local_ray(cfg: SweepConfig, *, where: str, num_cpus: int | None, num_gpus: int | None) -> None:
    """One trial's reservation fits the local Ray `mtsweep run` starts (else every trial waits forever)."""
    cpus = num_cpus or os.cpu_count() or 1
    if cfg.resources.cpus_per_trial > cpus:
        raise InputError(where, f"key 'resources.cpus_per_trial': {cfg.resources.cpus_per_trial:g} CPUs per trial, "
                                f"but the local Ray has {cpus} (lower it, or join a cluster with --address)")
    if cfg.resources.gpus_per_trial > 0:
        gpus = num_gpus if num_gpus is not None else visible_gpu_count()
        if cfg.resources.gpus_per_trial > gpus:
            raise InputError(where, f"key 'resources.gpus_per_trial': {cfg.resources.gpus_per_trial:g} GPUs per "
                                    f"trial, but the local Ray has {gpus} (set it to 0 on a machine without a "
                                    "GPU, or join a cluster with --address)")


def visible_gpu_count() -> int:
    """CUDA GPUs this process can see (``CUDA_VISIBLE_DEVICES`` first; torch when it is installed)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()
