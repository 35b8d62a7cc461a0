"""Is every value a search space can give a trial inside the trial's own domain?

The search-space loader checks the space's form (kinds, ranges, choices); only the trial knows what a
field accepts (``lora_dropout`` in [0, 1), ``masking`` one of three names). This module builds one trial
config per edge of the space (both ends of every range, every choice, every fixed and ``otherwise`` value,
every preset), each on top of the sweep's base trial config, and runs the trial's own validator on it, so
a value the trial would refuse fails before the sweep starts instead of inside every trial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from search_spaces.errors import SearchSpaceError
from search_spaces.loader import ALPHA_MULTIPLE, ALPHA_MULTIPLE_OPTUNA, Param, SearchSpace
from trainable.base.errors import InputError


def check_space_domain(space: SearchSpace, base: dict[str, Any], validate: Callable[[dict[str, Any]], Any]) -> None:
    """Run ``validate`` (raising InputError) on ``base`` + each edge point; SearchSpaceError naming the
    space file and key on the first refusal."""
    for key, value, point in edge_points(space):
        try:
            validate({**base, **point})
        except InputError as err:
            raise SearchSpaceError(
                space.where, f"key '{key}': {value!r} is outside the trial's domain ({err.message})"
            ) from None


def edge_points(space: SearchSpace) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """``(space key, value, trial-config values)`` for each edge value of the space."""
    by_name = {p.name: p for p in space.params}
    for p in space.params:
        context = {name: allowed[0] for name, allowed in p.when}  # make the condition true
        for label, value in _edges(p):
            for extra in _alpha_partners(p, by_name):
                yield f"params.{p.name}.{label}", value, _trial_values({**context, **extra, p.name: value})
        if p.has_otherwise:
            yield f"params.{p.name}.otherwise", p.otherwise, {p.name: p.otherwise}
    for i, preset in enumerate(space.presets):
        point = {k: v for k, v in preset.items() if not k.startswith("_") or k == ALPHA_MULTIPLE_OPTUNA}
        if ALPHA_MULTIPLE_OPTUNA in point:
            point[ALPHA_MULTIPLE] = point.pop(ALPHA_MULTIPLE_OPTUNA)
        yield f"presets[{i}]", {k: v for k, v in preset.items() if k != "_preset"}, _trial_values(point)


def _edges(p: Param) -> list[tuple[str, Any]]:
    if p.kind == "categorical":
        return [("choices", c) for c in p.choices]
    if p.kind == "fixed":
        return [("value", p.value)]
    if p.kind == "int":
        low, high, step = int(p.low), int(p.high), int(p.step or 1)
        return [("low", low), ("high", low + (high - low) // step * step)]
    if p.step:  # a stepped float reaches low + k * step only
        return [("low", p.low), ("high", p.low + int(round((p.high - p.low) / p.step, 9)) * p.step)]
    return [("low", p.low), ("high", p.high)]


def _alpha_partners(p: Param, by_name: dict[str, Param]) -> list[dict[str, Any]]:
    """``lora_alpha = lora_alpha_multiple * lora_r``: each edge of the multiple goes with each of lora_r."""
    if p.name != ALPHA_MULTIPLE or "lora_r" not in by_name:
        return [{}]
    return [{"lora_r": v} for _, v in _edges(by_name["lora_r"])]


def _trial_values(point: dict[str, Any]) -> dict[str, Any]:
    """Space values -> trial-config values (the alpha multiple becomes ``lora_alpha``)."""
    out = dict(point)
    multiple = out.pop(ALPHA_MULTIPLE, None)
    if multiple is not None and isinstance(out.get("lora_r"), int | float):
        out["lora_alpha"] = float(multiple) * float(out["lora_r"])
    return out
