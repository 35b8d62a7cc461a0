"""Every set of allowed names of a sweep, defined once (stdlib only: the CLI imports it for ``--help``).

The config (``sweep/config.py``) validates against these types; the implementations dispatch on the same
names (``sweep.study.make_sampler``, ``sweep.mo_asha.MOASHA``, ``sweep.wandb_logging``), and a test checks
that each implementation accepts every name here. Add a name here and in its implementation, nowhere else.
Objective names are the metrics of ``trainable.base.metric_names.METRIC_DIRECTIONS`` (defined once, in the base).
"""

from __future__ import annotations

from typing import Literal, get_args

SamplerName = Literal["rung_tpe", "nsga2", "tpe", "gp", "random"]
"""Optuna samplers (``sweep.study.make_sampler`` builds each)."""
SAMPLERS: tuple[str, ...] = get_args(SamplerName)

TieBreak = Literal["crowding", "hv_contribution"]
"""Order within a non-dominated rank at an MO-ASHA rung: crowding distance or hypervolume contribution."""
TIE_BREAKS: tuple[str, ...] = get_args(TieBreak)

WandbMode = Literal["online", "offline", "off", "auto"]
"""W&B logging modes (``sweep.wandb_logging.resolve_mode``)."""
WANDB_MODES: tuple[str, ...] = get_args(WandbMode)

RetentionName = Literal["front", "all"]
"""Checkpoint retention (``sweep/retention.py``): ``front`` keeps each trial's newest checkpoint and those on
its own non-dominated set (optimizer state only in the newest one of a running trial); ``all`` keeps every
checkpoint whole."""
RETENTIONS: tuple[str, ...] = get_args(RetentionName)
