"""``SweepConfig``: one sweep (trial defaults, search space, objectives, sampler, budget, resources).

Load with :func:`load_sweep_config` (YAML + ``--set key=value`` overrides). Every error is a one-line
:class:`~trainable.base.errors.InputError` naming the file and the full key (``sweep.yaml: key 'sampler': ...``).
Relative paths in the YAML are resolved against the YAML's folder; those given by ``--set`` against the
current directory (Ray runs trials in their own folders, so every path is made absolute here).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweep.choices import WANDB_MODES, RetentionName, SamplerName, TieBreak, WandbMode
from trainable.base.errors import ConfigValueError, InputError
from trainable.base.metric_names import DEFAULT_OBJECTIVES, objective_modes
from trainable.base.yaml_config import apply_overrides, from_mapping, load_yaml, to_mapping

DEFAULT_TRAINABLE = "trainable.trial:tune_trainable"
SYNTHETIC_TRAINABLE = "trainable.testing.synthetic:synthetic_trainable"
# Trial keys that hold file paths (resolved to absolute paths at load time).
TRIAL_PATH_KEYS: tuple[str, ...] = ("train_path", "dev_path", "test_path", "glossary_path")
# Trial keys that hold a hub id *or* a local path (resolved only when they look like / exist as a path).
TRIAL_MODEL_KEYS: tuple[str, ...] = ("model", "comet_model")


@dataclass
class ResourcesConfig:
    """What one trial reserves on the Ray cluster."""

    cpus_per_trial: float = 1.0
    """CPUs reserved per trial (fractions allowed)."""
    gpus_per_trial: float = 0.0
    """GPUs reserved per trial; a fraction (e.g. 0.25) packs several trials onto one GPU."""

    def __post_init__(self) -> None:
        if not self.cpus_per_trial > 0:
            raise ConfigValueError("cpus_per_trial", f"must be > 0, got {self.cpus_per_trial}")
        if self.gpus_per_trial < 0:
            raise ConfigValueError("gpus_per_trial", f"must be >= 0, got {self.gpus_per_trial}")
        if self.gpus_per_trial > 1 and not float(self.gpus_per_trial).is_integer():
            raise ConfigValueError("gpus_per_trial", f"above 1 must be a whole number, got {self.gpus_per_trial}")


@dataclass
class SchedulerConfig:
    """Multi-objective early stopping (asynchronous successive halving on non-dominated rank)."""

    mo_asha: bool = True
    """Stop unpromising trials at rungs (``false``: every trial runs to its own end)."""
    grace_steps: int | None = None
    """First rung, in optimizer steps; None = the trial's ``eval_every``."""
    reduction_factor: float = 3.0
    """Keep the best 1/eta of the trials at each rung (eta > 1)."""
    tie_break: TieBreak = "crowding"
    """Order within a non-dominated rank: ``crowding`` distance or ``hv_contribution`` (hypervolume)."""

    def __post_init__(self) -> None:
        if self.grace_steps is not None and self.grace_steps < 1:
            raise ConfigValueError("grace_steps", f"must be >= 1 or null, got {self.grace_steps}")
        if not self.reduction_factor > 1:
            raise ConfigValueError("reduction_factor", f"must be > 1, got {self.reduction_factor}")


@dataclass
class WandbConfig:
    """Weights & Biases logging of every trial."""

    mode: WandbMode | bool = "off"
    """``online``, ``offline`` (sync later with ``wandb sync``), ``off`` (YAML's bare off/false too) or
    ``auto`` (online when an API key is configured, else offline; ``online`` without a key also logs
    offline). Files go to ``<results dir>/wandb``; see sweep/wandb_logging.py."""
    project: str = "mtsweep"
    """W&B project name."""

    def __post_init__(self) -> None:
        if isinstance(self.mode, bool):  # YAML 1.1 reads a bare `off` as false
            self.mode = "online" if self.mode else "off"
        if self.mode not in WANDB_MODES:
            raise ConfigValueError("mode", f"{self.mode!r} is not one of {', '.join(map(repr, WANDB_MODES))}")


@dataclass
class SweepConfig:
    """One multi-objective sweep."""

    name: str = "sweep"
    """Sweep name: the default results folder (``sweeps/<name>``) and Optuna study name."""
    trial: dict[str, Any] = field(default_factory=dict)
    """Base trial config: ``TrialConfig`` field overrides shared by every trial (model, data paths,
    glossary, max_steps, eval_every, ...). Searched hyperparameters override these per trial."""
    search_space: str = "default"
    """Search-space YAML: a path (relative to this file) or a bare name from ``search_spaces/``."""
    objectives: list[str] = field(default_factory=lambda: list(DEFAULT_OBJECTIVES))
    """2 or 3 metric names; directions come from ``trainable.base.metric_names.METRIC_DIRECTIONS``."""
    sampler: SamplerName = "rung_tpe"
    """Optuna sampler: ``rung_tpe`` (TPE that learns from every trial at the rung it reached, pruned ones
    included), NSGA-II, TPE (multi-objective, complete trials first), GP (Bayesian) or random."""
    population_size: int | None = None
    """NSGA-II generation size; None = ``max(4, min(50, num_trials // 3))``."""
    seed: int = 0
    """Seed of the Optuna sampler (a trial's own ``seed`` is set under ``trial``)."""
    num_trials: int = 16
    """Trials in the sweep (presets from the search space count and run first)."""
    max_concurrent: int = 2
    """Trials running at the same time."""
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    """Resources per trial."""
    storage: str | None = None
    """Optuna storage: any SQLAlchemy URL; None = ``sqlite:///<results dir>/study.db``."""
    study_name: str | None = None
    """Optuna study name; None = ``name``."""
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    """Multi-objective early stopping."""
    constraints: dict[str, Any] | None = None
    """Feasibility bands ``metric: [min, max]`` (null for an open side) on any reported metric, merged
    over the defaults (``len_ratio: [0.7, 1.5]``); ``metric: null`` switches one off. Infeasible trials
    stay in the study but never sit on the front (trainable/base/constraints.py)."""
    trainable: str = DEFAULT_TRAINABLE
    """Ray Tune function trainable as ``module:function`` (any function following the report contract)."""
    max_failures: int = 1
    """Ray retries of a trial whose worker process died or raised (it restarts from its last checkpoint;
    0 = record it as FAIL at once)."""
    reuse_actors: bool = False
    """Run the next trial in the finished trial's worker process (faster start, see
    bench/sweep_overhead.py). Off by default: a trial that ends in its own process hands back all of its
    GPU memory; turn it on only with a trainable proven to release everything it allocated."""
    wandb: WandbConfig = field(default_factory=WandbConfig)
    """W&B logging."""
    out_dir: str | None = None
    """Results folder; None = ``sweeps/<name>``. Never overwritten: a taken name gets a ``-2`` suffix."""
    retention: RetentionName = "front"
    """Which checkpoints stay on disk (sweep/retention.py): ``front`` keeps each trial's newest checkpoint
    and the ones on its own non-dominated set (same objectives and constraints as the sweep), optimizer
    state only in a running trial's newest one; ``all`` keeps every checkpoint whole."""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ConfigValueError("name", f"must be a plain folder-safe name, got {self.name!r}")
        self._check_objectives()
        if self.num_trials < 1:
            raise ConfigValueError("num_trials", f"must be >= 1, got {self.num_trials}")
        if self.max_concurrent < 1:
            raise ConfigValueError("max_concurrent", f"must be >= 1, got {self.max_concurrent}")
        if self.population_size is not None and self.population_size < 2:
            raise ConfigValueError("population_size", f"must be >= 2 or null, got {self.population_size}")
        if self.max_failures < 0:
            raise ConfigValueError("max_failures", f"must be >= 0, got {self.max_failures}")
        module, sep, function = self.trainable.partition(":")
        if not sep or not module or not function.isidentifier():
            raise ConfigValueError("trainable", f"must be 'module:function', got {self.trainable!r}")
        if self.storage is not None and "://" not in self.storage:
            raise ConfigValueError("storage", f"must be a SQLAlchemy URL like sqlite:///x.db, got {self.storage!r}")
        if self.study_name is not None and not self.study_name.strip():
            raise ConfigValueError("study_name", "must not be empty")
        self._check_constraints()

    def _check_constraints(self) -> None:
        """Merge over the defaults and validate; stored as plain lists (the resolved sweep.yaml)."""
        from trainable.base.constraints import ConstraintError, parse_constraints

        known = constraint_metrics() if self.trainable in (DEFAULT_TRAINABLE, SYNTHETIC_TRAINABLE) else None
        try:
            parsed = parse_constraints(self.constraints, known=known)
        except ConstraintError as err:
            raise ConfigValueError(f"constraints.{err.key}".rstrip("."), err.message) from None
        self.constraints = {k: None if v is None else list(v) for k, v in parsed.items()}

    def _check_objectives(self) -> None:
        try:
            objective_modes(self.objectives)
        except ValueError as err:
            raise ConfigValueError("objectives", str(err)) from None

    # --- derived values ----------------------------------------------------------------------
    @property
    def modes(self) -> list[str]:
        """``max``/``min`` per objective, in order."""
        return list(objective_modes(self.objectives))

    @property
    def resolved_study_name(self) -> str:
        return self.study_name or self.name

    @property
    def resolved_population_size(self) -> int:
        return self.population_size or max(4, min(50, self.num_trials // 3))

    def storage_url(self, results_dir: Path) -> str:
        return self.storage or f"sqlite:///{Path(results_dir).resolve() / 'study.db'}"

    def to_dict(self) -> dict[str, Any]:
        return to_mapping(self)

    def replace(self, **changes: Any) -> SweepConfig:
        return dataclasses.replace(self, **changes)


def constraint_metrics() -> set[str]:
    """Metrics the project's trainables report, usable in ``constraints`` (a user trainable: any name)."""
    from trainable.base.metric_names import METRIC_DIRECTIONS, METRIC_TARGETS
    from trainable.base.report_keys import REQUIRED_KEYS

    return set(METRIC_DIRECTIONS) | set(METRIC_TARGETS) | set(REQUIRED_KEYS) - {"step"}


def resolve_search_space(value: str, base: Path) -> Path:
    """A bare name (``default``) -> ``search_spaces/<name>.yaml``; a path -> absolute, relative to ``base``."""
    import search_spaces

    looks_like_path = "/" in value or value.endswith((".yaml", ".yml"))
    if not looks_like_path:
        return (Path(search_spaces.__file__).parent / f"{value}.yaml").resolve()
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _resolve_path(value: Any, base: Path, *, only_if_pathlike: bool) -> Any:
    if not isinstance(value, str) or not value or value.lower() == "none":
        return value
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    if only_if_pathlike and not (value.startswith((".", "~")) or (base / path).exists()):
        return value  # a hub id like "Qwen/Qwen2.5-0.5B-Instruct"
    return str((base / path).resolve())


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the path-valued keys of a raw sweep mapping absolute against ``base`` (in place, returned)."""
    if isinstance(data.get("search_space"), str):
        data["search_space"] = str(resolve_search_space(data["search_space"], base))
    trial = data.get("trial")
    if isinstance(trial, dict):
        for key in TRIAL_PATH_KEYS:
            trial[key] = _resolve_path(trial.get(key), base, only_if_pathlike=False) if key in trial else None
            if trial[key] is None:
                del trial[key]
        for key in TRIAL_MODEL_KEYS:
            if key in trial:
                trial[key] = _resolve_path(trial[key], base, only_if_pathlike=True)
    if isinstance(data.get("out_dir"), str):
        data["out_dir"] = _resolve_path(data["out_dir"], base, only_if_pathlike=False)
    return data


def load_sweep_config(
    path: str | Path, overrides: list[str] | None = None, *, trainable: str | None = None
) -> SweepConfig:
    """Load, resolve and validate a sweep YAML; ``overrides`` are ``--set a.b=value`` flags.

    The ``trial`` section is validated against ``TrialConfig`` when the default trainable runs it, and
    the search space is loaded and its parameter names checked, so a bad sweep fails before Ray starts.
    """
    path = Path(path)
    where = str(path)
    raw = load_yaml(path)
    if not raw:
        raise InputError(where, "empty sweep config (expected a mapping with at least 'trainable' or 'trial'; "
                                "see sweep/configs/)")
    raw.setdefault("search_space", SweepConfig.search_space)
    # Paths in the file are relative to the file; paths given with --set are relative to the cwd.
    _resolve_paths(raw, path.resolve().parent)
    overridden = apply_overrides(raw, list(overrides or []))
    changed_keys = {o.split("=", 1)[0].strip() for o in overrides or []}
    if changed_keys:
        cwd = Path.cwd()
        patch: dict[str, Any] = {}
        for key in changed_keys:
            top, _, sub = key.partition(".")
            if top in ("search_space", "out_dir") and not sub:
                patch[top] = overridden.get(top)
            elif top == "trial" and sub in TRIAL_PATH_KEYS + TRIAL_MODEL_KEYS:
                patch.setdefault("trial", {})[sub] = overridden.get("trial", {}).get(sub)
        _resolve_paths(patch, cwd)
        for key, value in patch.items():
            if key == "trial":
                overridden.setdefault("trial", {}).update(value)
            else:
                overridden[key] = value
    if trainable is not None:
        overridden["trainable"] = trainable
    cfg = from_mapping(SweepConfig, overridden, where=where)
    validate_trial_section(cfg, where=where)
    validate_scheduler(cfg, where=where)
    return cfg


def validate_trial_section(cfg: SweepConfig, *, where: str) -> None:
    """Check the search space loads, and (default trainable) that trial + space fit ``TrialConfig``."""
    from search_spaces.loader import load_search_space

    space_path = Path(cfg.search_space)
    if not space_path.is_file():
        raise InputError(where, f"key 'search_space': file not found: {space_path}")
    space = load_search_space(space_path)
    if cfg.trainable != DEFAULT_TRAINABLE:
        return
    from trainable.config import TrialConfig

    trial = {k: v for k, v in cfg.trial.items() if not str(k).startswith("_")}
    if "comet" in cfg.objectives and str(trial.get("comet_model", "")).lower() == "none":
        raise InputError(where, "key 'objectives': 'comet' is an objective but trial.comet_model is 'none'")
    trial.setdefault("objectives", list(cfg.objectives))
    from_mapping(TrialConfig, trial, where=where, prefix="trial.")
    known = {f.name for f in dataclasses.fields(TrialConfig)}
    unknown = sorted(name for name in space.trial_keys() if name not in known)
    if unknown:
        raise InputError(
            where, f"key 'search_space': parameter {unknown[0]!r} of {space_path.name} is not a trial config field"
        )
    from sweep.space_check import check_space_domain

    check_space_domain(space, trial, lambda point: from_mapping(TrialConfig, point, where=where))


DEFAULT_EVAL_EVERY = 100
DEFAULT_MAX_STEPS = 400
"""Steps MO-ASHA assumes when the trial section leaves ``eval_every`` / ``max_steps`` unset (the
``TrialConfig`` defaults)."""


def scheduler_steps(cfg: SweepConfig) -> tuple[int, int]:
    """``(grace_steps, max_steps)`` of MO-ASHA: the first rung defaults to the trial's ``eval_every``."""
    trial = base_trial_config(cfg)
    eval_every = int(trial.get("eval_every") or DEFAULT_EVAL_EVERY)
    return cfg.scheduler.grace_steps or eval_every, int(trial.get("max_steps") or DEFAULT_MAX_STEPS)


def validate_scheduler(cfg: SweepConfig, *, where: str) -> None:
    """MO-ASHA's first rung lies within a trial (``grace_steps`` <= ``trial.max_steps``)."""
    if not cfg.scheduler.mo_asha:
        return
    grace, max_steps = scheduler_steps(cfg)
    if grace > max_steps:
        key = "scheduler.grace_steps" if cfg.scheduler.grace_steps else "trial.eval_every"
        raise InputError(where, f"key '{key}': the first MO-ASHA rung ({grace}) is past trial.max_steps "
                                f"({max_steps}); lower it or turn scheduler.mo_asha off")


def base_trial_config(cfg: SweepConfig) -> dict[str, Any]:
    """The flat dict every trial starts from (sweep objectives and seed filled in when unset)."""
    trial = dict(cfg.trial)
    trial.setdefault("objectives", list(cfg.objectives))
    return trial
