"""The sweep results folder (layout in docs/architecture.md): created fresh, never overwritten.

``sweep.yaml`` (the resolved config, loadable by :func:`sweep.config.load_sweep_config`) is written
first, before Ray starts, so a folder always says what it holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sweep.config import SweepConfig

SWEEP_YAML = "sweep.yaml"
STUDY_DB = "study.db"
REPORTS_JSONL = "reports.jsonl"
TRIALS_JSONL = "trials.jsonl"
UNTOLD_JSONL = "untold.jsonl"
"""Verdicts the Optuna storage refused during the sweep (written to it when the sweep ends)."""
RAY_DIR = "ray"
RUNGS_JSONL = "rungs.jsonl"
"""MO-ASHA's rung log: every report recorded in a rung, with its decision (replayed on resume)."""
RETENTION_JSONL = "retention.jsonl"
"""Checkpoints (or their optimizer state) deleted by the retention policy (sweep/retention.py)."""
PINS_DIR = "pins"
"""Live pins of checkpoints that a command is reading (sweep/checkpoint_pins.py)."""


def create_results_dir(requested: str | Path) -> tuple[Path, str | None]:
    """Create ``requested``, or ``requested-2``, ``-3``, ... if taken; returns (path, note or None).

    The note says which name was taken; the existing folder is never touched.
    """
    requested = Path(requested).expanduser().resolve()
    requested.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = requested, 1
    while True:
        try:
            candidate.mkdir()
        except FileExistsError:
            n += 1
            candidate = requested.with_name(f"{requested.name}-{n}")
            continue
        break
    note = None if n == 1 else f"{requested} exists; writing to {candidate} instead"
    return candidate, note


def write_sweep_yaml(results_dir: Path, cfg: SweepConfig) -> Path:
    """Write the resolved config (storage URL, study name and results dir filled in)."""
    import yaml

    resolved = cfg.replace(
        storage=cfg.storage_url(results_dir),
        study_name=cfg.resolved_study_name,
        population_size=cfg.resolved_population_size,
        out_dir=str(results_dir),
    )
    header = (
        "# Resolved sweep config written by `mtsweep run` (do not edit: `mtsweep resume` reads it).\n"
        f"# Objectives: {', '.join(f'{o} ({m})' for o, m in zip(cfg.objectives, cfg.modes, strict=True))}\n"
    )
    path = results_dir / SWEEP_YAML
    path.write_text(header + yaml.safe_dump(resolved.to_dict(), sort_keys=False, allow_unicode=True))
    return path


def read_resolved_config(results_dir: str | Path, *, check_inputs: bool = True) -> SweepConfig:
    """The resolved ``SweepConfig`` of an existing sweep folder (InputError when it is not one).

    ``check_inputs``: also load the search space and check the trial section against it (what resuming
    needs); without, only the config's own values are checked, so a folder copied from a cluster (whose
    search-space path is not here) reads on an analyst's machine."""
    from sweep.config import SweepConfig, load_sweep_config
    from trainable.base.errors import InputError
    from trainable.base.yaml_config import from_mapping, load_yaml

    path = Path(results_dir) / SWEEP_YAML
    if not path.is_file():
        raise InputError(str(results_dir), f"not a sweep results folder (no {SWEEP_YAML})")
    if check_inputs:
        return load_sweep_config(path)
    return from_mapping(SweepConfig, load_yaml(path), where=str(path))


def study_storage_url(cfg: SweepConfig, results_dir: Path) -> str:
    """The study's storage URL for reading: a folder that holds its own ``study.db`` reads that one when
    the sweep recorded a SQLite study (a copy of the results folder reads the copy, even while the
    original still exists); else the recorded URL."""
    url = cfg.storage_url(results_dir)
    local = Path(results_dir) / "study.db"
    if url.startswith("sqlite:///") and local.is_file():
        return f"sqlite:///{local.resolve()}"
    return url
