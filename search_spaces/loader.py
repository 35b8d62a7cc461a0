"""Load a YAML search space (or a Python define-by-run function) into a :class:`SearchSpace`.

The YAML format is documented in ``search_spaces/README.md``. A :class:`SearchSpace` gives Ray Tune's
``OptunaSearch(space=space.define_by_run, points_to_evaluate=space.presets)`` everything it needs.
Optuna is imported lazily (only ``sample_random`` needs it).
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search_spaces.errors import SearchSpaceError
from trainable.base.finite import is_finite_number
from trainable.base.imports import import_function, is_function_spec
from trainable.base.yaml_config import load_yaml

KINDS = ("loguniform", "uniform", "int", "categorical", "fixed")
ALPHA_MULTIPLE = "lora_alpha_multiple"
"""YAML name of the helper parameter that derives ``lora_alpha = lora_alpha_multiple * lora_r``."""
ALPHA_MULTIPLE_OPTUNA = "_lora_alpha_multiple"
"""Its Optuna name: a leading ``_`` marks a sweep-only key that the trainable ignores."""
PRESET_NAME_KEY = "_preset"
"""Trial-config key that carries a preset's ``name`` (ignored by the trainable, handy in tables)."""
_TOP_KEYS = ("name", "description", "params", "presets", "define_by_run")
_PARAM_KEYS = {
    "loguniform": {"low", "high"},
    "uniform": {"low", "high", "step"},
    "int": {"low", "high", "step", "log"},
    "categorical": {"choices"},
    "fixed": {"value"},
}
_COMMON_KEYS = {"kind", "when", "otherwise"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Param:
    """One searched (or fixed) hyperparameter."""

    name: str
    """YAML name: a TrialConfig field, or ``lora_alpha_multiple``."""
    kind: str
    """One of :data:`KINDS`."""
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    value: Any = None
    """The constant of a ``fixed`` parameter."""
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """Condition: active only when every named (earlier) parameter has one of the listed values."""
    otherwise: Any = None
    """Value the trial gets while the condition is false (``has_otherwise``); else the trial default."""
    has_otherwise: bool = False

    @property
    def optuna_name(self) -> str:
        return ALPHA_MULTIPLE_OPTUNA if self.name == ALPHA_MULTIPLE else self.name

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this parameter."""
        if self.kind == "categorical":
            return any(value == c and type(value) is type(c) or _num_eq(value, c) for c in self.choices)
        if self.kind == "fixed":
            return value == self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        return self.low <= value <= self.high

    def active(self, values: Mapping[str, Any]) -> bool:
        """Whether the condition holds for the values chosen so far (keyed by YAML name)."""
        return all(name in values and values[name] in allowed for name, allowed in self.when)


def _num_eq(a: Any, b: Any) -> bool:
    num = (int, float)
    return (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and a == b
    )


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space. Picklable (Ray pickles the searcher, and with it ``define_by_run``)."""

    where: str
    """The file (or ``module:function``) it came from, for messages."""
    params: tuple[Param, ...] = ()
    presets: list[dict[str, Any]] = field(default_factory=list)
    """Points to enqueue first, keyed by Optuna names (``OptunaSearch(points_to_evaluate=...)``).
    Keys that are not searched parameters (e.g. ``max_steps``, ``_preset``) are handed to the trial as
    constants by :meth:`define_by_run`."""
    function: str | None = None
    """``module:function`` of a user define-by-run function (the Python escape hatch), or None."""
    name: str | None = None

    @property
    def param_names(self) -> tuple[str, ...]:
        """Optuna names of the searched parameters (not ``fixed`` ones); () for a Python space."""
        return tuple(p.optuna_name for p in self.params if p.kind != "fixed")

    def define_by_run(self, trial: Any) -> dict[str, Any] | None:
        """Suggest every active parameter on ``trial`` (an ``optuna.Trial``); return the constants.

        The returned dict holds what the trial config needs beyond the suggested values: fixed
        parameters, the derived ``lora_alpha``, ``otherwise`` values of inactive conditional
        parameters, and a preset's extra keys (``max_steps``, ``_preset``). Ray merges it over the
        suggested values.
        """
        if self.function is not None:
            return _import_function(self.function, self.where)(trial)
        values, out = self._walk(lambda p: _suggest(trial, p))
        out.update({p.name: p.value for p in self.params if p.kind == "fixed" and p.name in values})
        out.update(self._derived(values))
        out.update(self._preset_constants(trial))
        return out

    def _walk(self, sample: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """Visit the params in order: ``(values of the active ones, otherwise-values of inactive ones)``.

        Fixed params take their value; the others take ``sample(param)``. A condition sees the values
        chosen before it.
        """
        values: dict[str, Any] = {}
        inactive: dict[str, Any] = {}
        for p in self.params:
            if not p.active(values):
                if p.has_otherwise:
                    inactive[p.name] = p.otherwise
                continue
            values[p.name] = p.value if p.kind == "fixed" else sample(p)
        return values, inactive

    def sample_random(self, rng: random.Random) -> dict[str, Any]:
        """A random point as the trial config would get it (Optuna's ``RandomSampler`` through
        :meth:`define_by_run`, seeded from ``rng``): suggested values under their Optuna names plus the
        constants :meth:`define_by_run` returns."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=rng.randrange(2**31)))
        trial = study.ask()
        constants = self.define_by_run(trial) or {}
        return {**trial.params, **constants}

    def trial_keys(self) -> set[str]:
        """Trial-config keys this space can set (excluding ``_``-prefixed ones), for validation."""
        keys = {p.name for p in self.params if p.name != ALPHA_MULTIPLE}
        if any(p.name == ALPHA_MULTIPLE for p in self.params):
            keys.add("lora_alpha")
        for preset in self.presets:
            keys.update(k for k in preset if not k.startswith("_"))
        return keys

    # --- helpers ---------------------------------------------------------------------------
    def _derived(self, values: Mapping[str, Any]) -> dict[str, Any]:
        if ALPHA_MULTIPLE in values and "lora_r" in values:
            alpha = float(values[ALPHA_MULTIPLE]) * float(values["lora_r"])
            return {"lora_alpha": alpha}
        return {}

    def _preset_constants(self, trial: Any) -> dict[str, Any]:
        """Keys of an enqueued preset that are not searched parameters (Optuna keeps them unused).

        Optuna stores an enqueued point as the trial's ``fixed_params`` system attribute; it uses
        the entries that are suggested and ignores the rest, so we hand the rest to the trial here.
        """
        fixed = getattr(trial, "_fixed_params", None)  # optuna.Trial (Ray's captor forwards it)
        if not isinstance(fixed, Mapping):
            return {}
        searched = {p.optuna_name for p in self.params if p.kind != "fixed"}
        return {k: v for k, v in fixed.items() if k not in searched}


# --- suggesting and sampling ----------------------------------------------------------------
def _suggest(trial: Any, p: Param) -> Any:
    name = p.optuna_name
    if p.kind == "loguniform":
        return trial.suggest_float(name, p.low, p.high, log=True)
    if p.kind == "uniform":
        return trial.suggest_float(name, p.low, p.high, step=p.step)
    if p.kind == "int":
        return trial.suggest_int(name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    return trial.suggest_categorical(name, list(p.choices))


def _import_function(path: str, where: str) -> Callable[[Any], dict[str, Any] | None]:
    return import_function(path, where=where, key="define_by_run", error=SearchSpaceError)


# --- loading and validation -----------------------------------------------------------------
def load_search_space(source: str | Path | Mapping[str, Any], *, where: str | None = None) -> SearchSpace:
    """Load and validate a search space.

    ``source``: a YAML file path, an already-parsed mapping, or ``module:function`` naming a Python
    define-by-run function (the escape hatch). Raises :class:`SearchSpaceError` naming file and key.
    """
    if isinstance(source, Mapping):
        return _from_mapping(source, where or "search space")
    text = str(source)
    if is_function_spec(text) and not Path(text).exists():
        where = where or text
        _import_function(text, where)
        return SearchSpace(where=where, function=text, name=text)
    path = Path(text)
    where = where or str(path)
    if not path.is_file():
        raise SearchSpaceError(where, "file not found (expected a YAML search space or module:function)")
    return _from_mapping(load_yaml(path, where=where, error=SearchSpaceError), where)


def _from_mapping(data: Any, where: str) -> SearchSpace:
    if not isinstance(data, Mapping):
        raise SearchSpaceError(where, "expected a mapping at the top level")
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise SearchSpaceError(where, f"unknown key '{unknown[0]}' (known: {', '.join(_TOP_KEYS)})")
    name = data.get("name")
    function = data.get("define_by_run")
    if function is not None:
        if not isinstance(function, str) or not is_function_spec(function):
            raise SearchSpaceError(
                where, f"key 'define_by_run': expected 'module:function', got {function!r}"
            )
        if data.get("params"):
            raise SearchSpaceError(where, "key 'params': give either 'params' or 'define_by_run', not both")
        _import_function(function, where)
        presets = _parse_presets(data.get("presets"), (), where)
        return SearchSpace(where=where, presets=presets, function=function, name=name)
    raw_params = data.get("params")
    if not isinstance(raw_params, Mapping) or not raw_params:
        raise SearchSpaceError(where, "key 'params': expected a non-empty mapping of name -> spec")
    params: list[Param] = []
    for pname, spec in raw_params.items():
        params.append(_parse_param(str(pname), spec, params, where))
    names = {p.name for p in params}
    if ALPHA_MULTIPLE in names:
        if "lora_alpha" in names:
            raise SearchSpaceError(
                where, f"key 'params.{ALPHA_MULTIPLE}': give lora_alpha or {ALPHA_MULTIPLE}, not both"
            )
        if "lora_r" not in names:
            raise SearchSpaceError(where, f"key 'params.{ALPHA_MULTIPLE}': needs a 'lora_r' parameter")
    presets = _parse_presets(data.get("presets"), tuple(params), where)
    return SearchSpace(where=where, params=tuple(params), presets=presets, name=name)


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)  # YAML 1.1 reads 5e-6 (no dot) as a string
    if not is_finite_number(value):
        raise SearchSpaceError(where, f"key '{key}': expected a finite number, got {value!r}")
    return value


def _parse_param(name: str, spec: Any, earlier: list[Param], where: str) -> Param:
    key = f"params.{name}"
    if not _IDENT.match(name) or name.startswith("_"):
        raise SearchSpaceError(
            where, f"key '{key}': a parameter name is a trial-config field (letters, digits, _)"
        )
    if not isinstance(spec, Mapping):
        raise SearchSpaceError(where, f"key '{key}': expected a mapping with 'kind'")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise SearchSpaceError(where, f"key '{key}.kind': unknown kind {kind!r} (known: {', '.join(KINDS)})")
    allowed = _PARAM_KEYS[kind] | _COMMON_KEYS
    extra = [k for k in spec if k not in allowed]
    if extra:
        raise SearchSpaceError(
            where, f"key '{key}.{extra[0]}': not valid for kind {kind} (valid: {', '.join(sorted(allowed))})"
        )
    for needed in sorted(_PARAM_KEYS[kind] - {"step", "log"}):
        if needed not in spec:
            raise SearchSpaceError(where, f"key '{key}.{needed}': required for kind {kind}")
    fields: dict[str, Any] = {"name": name, "kind": kind}
    if kind in ("loguniform", "uniform", "int"):
        low, high = _number(spec["low"], f"{key}.low", where), _number(spec["high"], f"{key}.high", where)
        if low >= high:
            raise SearchSpaceError(where, f"key '{key}.low': low ({low}) must be < high ({high})")
        log = kind == "loguniform" or bool(spec.get("log", False))
        if not isinstance(spec.get("log", False), bool):
            raise SearchSpaceError(where, f"key '{key}.log': expected true/false")
        if log and low <= 0:
            raise SearchSpaceError(where, f"key '{key}.low': a log scale needs low > 0, got {low}")
        step = spec.get("step")
        if step is not None:
            step = _number(step, f"{key}.step", where)
            if step <= 0 or step > high - low:
                raise SearchSpaceError(where, f"key '{key}.step': must be in (0, high - low], got {step}")
        if kind == "int":
            for k, v in (("low", low), ("high", high), ("step", step or 1)):
                if not float(v).is_integer():
                    raise SearchSpaceError(where, f"key '{key}.{k}': expected an integer, got {v!r}")
            if log and step not in (None, 1):
                raise SearchSpaceError(where, f"key '{key}.step': a log-scale int allows only step 1")
        fields.update(low=low, high=high, step=step, log=log)
    elif kind == "categorical":
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SearchSpaceError(where, f"key '{key}.choices': expected a non-empty list")
        for c in choices:
            if c is not None and not isinstance(c, bool | int | float | str):
                raise SearchSpaceError(
                    where, f"key '{key}.choices': {c!r} is not a number, string, bool or null"
                )
        if len(set(map(repr, choices))) != len(choices):
            raise SearchSpaceError(where, f"key '{key}.choices': duplicate choice")
        if name == ALPHA_MULTIPLE:
            for c in choices:
                if isinstance(c, bool) or not isinstance(c, int | float) or c <= 0:
                    raise SearchSpaceError(
                        where, f"key '{key}.choices': multiples of lora_r must be numbers > 0, got {c!r}"
                    )
        fields["choices"] = tuple(choices)
    else:
        fields["value"] = spec["value"]
    if name == ALPHA_MULTIPLE and kind not in ("categorical", "fixed", "uniform", "loguniform"):
        raise SearchSpaceError(where, f"key '{key}.kind': {kind} is not allowed for {ALPHA_MULTIPLE}")
    fields["when"] = _parse_when(spec.get("when"), key, earlier, where)
    if "otherwise" in spec:
        if not fields["when"]:
            raise SearchSpaceError(where, f"key '{key}.otherwise': only meaningful together with 'when'")
        fields.update(otherwise=spec["otherwise"], has_otherwise=True)
    if any(p.name == name for p in earlier):
        raise SearchSpaceError(where, f"key '{key}': defined twice")
    return Param(**fields)


def _parse_when(
    when: Any, key: str, earlier: list[Param], where: str
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if when is None:
        return ()
    if not isinstance(when, Mapping) or not when:
        raise SearchSpaceError(where, f"key '{key}.when': expected a mapping param -> value or [values]")
    by_name = {p.name: p for p in earlier}
    out = []
    for cond_name, allowed in when.items():
        ckey = f"{key}.when.{cond_name}"
        if cond_name not in by_name:
            raise SearchSpaceError(
                where, f"key '{ckey}': condition on an unknown parameter (it must be defined above this one)"
            )
        values = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        if not values:
            raise SearchSpaceError(where, f"key '{ckey}': expected at least one value")
        for v in values:
            if not by_name[cond_name].contains(v):
                raise SearchSpaceError(where, f"key '{ckey}': {v!r} is not a possible value of {cond_name}")
        out.append((str(cond_name), values))
    return tuple(out)


def _parse_presets(raw: Any, params: tuple[Param, ...], where: str) -> list[dict[str, Any]]:
    """Presets in YAML names -> points keyed by Optuna names (``lora_alpha`` -> the multiple)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SearchSpaceError(where, "key 'presets': expected a list of mappings")
    by_name = {p.name: p for p in params}
    out = []
    for i, preset in enumerate(raw):
        key = f"presets[{i}]"
        if not isinstance(preset, Mapping) or not preset:
            raise SearchSpaceError(where, f"key '{key}': expected a non-empty mapping of param -> value")
        point: dict[str, Any] = {}
        chosen: dict[str, Any] = {}
        for k, v in preset.items():
            k = str(k)
            if k == "name":
                point[PRESET_NAME_KEY] = str(v)
                continue
            if not _IDENT.match(k):
                raise SearchSpaceError(where, f"key '{key}.{k}': not a trial-config field name")
            p = by_name.get(k)
            if p is not None and p.kind in ("loguniform", "uniform", "int"):
                v = _number(v, f"{key}.{k}", where)
            if p is not None and p.kind != "fixed":
                if not p.contains(v):
                    raise SearchSpaceError(
                        where, f"key '{key}.{k}': {v!r} is outside the search space of {k}"
                    )
                chosen[k] = v
                point[p.optuna_name] = v
            else:
                point[k] = v  # a constant for the trial (e.g. max_steps) or a fixed param
        if ALPHA_MULTIPLE in by_name and "lora_alpha" in point:
            alpha = _number(point.pop("lora_alpha"), f"{key}.lora_alpha", where)
            rank = chosen.get("lora_r")
            if rank is None:
                raise SearchSpaceError(
                    where,
                    f"key '{key}.lora_alpha': needs lora_r in the same preset (alpha is a multiple of rank)",
                )
            multiple = alpha / rank
            mp = by_name[ALPHA_MULTIPLE]
            match = (
                next((c for c in mp.choices if _num_eq(c, multiple)), multiple)
                if mp.kind == "categorical"
                else multiple
            )
            if not mp.contains(match):
                raise SearchSpaceError(
                    where,
                    f"key '{key}.lora_alpha': {alpha}/{rank} = {multiple} is not a {ALPHA_MULTIPLE} of the space",
                )
            point[ALPHA_MULTIPLE_OPTUNA] = match
            chosen[ALPHA_MULTIPLE] = match
        context = {p.name: p.value for p in params if p.kind == "fixed"} | chosen
        for k in chosen:
            if not by_name[k].active(context):
                raise SearchSpaceError(
                    where, f"key '{key}.{k}': set, but its condition ('when') is false in this preset"
                )
        out.append(point)
    return out
