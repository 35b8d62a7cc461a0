"""YAML config files and config dataclasses, with errors that name the file:line or the key.

:func:`load_yaml` reads every YAML the project reads (trial and sweep configs, search spaces, a results
folder's ``sweep.yaml``). :func:`from_mapping` builds ``trainable.config.TrialConfig`` and
``sweep.config.SweepConfig``: fields are documented with an attribute docstring (litgpt style);
``__post_init__`` raises :class:`ConfigValueError` naming the field, which :func:`from_mapping` turns into
an :class:`InputError` naming file and full key. ``--set a.b=value`` flags: :func:`apply_overrides`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from trainable.base.errors import ConfigValueError, InputError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check/convert ``value`` to the annotated type ``tp`` (a small, strict subset of typing)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, where)
            except InputError as err:
                errors.append(err.message)
        named = next((e for e in errors if "is not one of" in e), None) if isinstance(value, str) else None
        raise InputError(where, named or (errors[0] if errors else f"key '{key}': bad value"))  # errors name the key
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise InputError(where, f"key '{key}': {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise InputError(where, f"key '{key}': expected a list, got {type(value).__name__}")
        (item_tp, *_) = get_args(tp) or (Any,)
        items = [_coerce(v, item_tp, f"{key}[{i}]", where) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(where, f"key '{key}': expected a mapping, got {type(value).__name__}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_mapping(tp, value, where=where, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise InputError(where, f"key '{key}': expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise InputError(where, f"key '{key}': expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(value, str):
                try:
                    return float(value)  # YAML reads "5e-6" as a string
                except ValueError:
                    pass
            raise InputError(where, f"key '{key}': expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(where, f"key '{key}': expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str | Path):
            raise InputError(where, f"key '{key}': expected a path, got {value!r}")
        return Path(value)
    raise InputError(where, f"key '{key}': unsupported type {_type_name(tp)}")


def from_mapping(cls: type[T], data: Any, *, where: str = "config", prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys, bad types and bad values name the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(where, f"key '{prefix.rstrip('.') or '<root>'}': expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise InputError(
            where, f"unknown key '{prefix}{unknown[0]}' (known: {', '.join(sorted(fields))})"
        )
    kwargs = {k: _coerce(v, hints[k], f"{prefix}{k}", where) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigValueError as err:
        raise InputError(where, f"key '{prefix}{err.key}': {err.message}") from None


def to_mapping(obj: Any) -> dict[str, Any]:
    """Plain-dict form of a config dataclass (paths as strings), e.g. for YAML/JSON dumps."""

    def plain(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(obj).items()}


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one ``--set a.b=value`` flag; the value is read as YAML (``5e-6``, ``true``, ``[a, b]``)."""
    import yaml

    if "=" not in text:
        raise InputError("--set", f"{text!r} is not key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise InputError("--set", f"{text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key.path=value`` override set (creating mappings)."""
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise InputError("--set", f"key '{'.'.join(path)}': '{part}' is not a mapping")
            node = nxt
        node[path[-1]] = value
    return out


def load_yaml(
    path: str | Path, *, where: str | None = None, error: type[InputError] = InputError,
    not_found: str = "file not found",
) -> dict[str, Any]:
    """Read a YAML mapping (an empty file is ``{}``); a missing file, bad UTF-8 or bad YAML is a one-line
    ``error(where[:line], ...)`` (``where`` defaults to the path)."""
    import yaml

    p = Path(path)
    where = where or str(p)
    if not p.is_file():
        raise error(where, not_found)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise error(where, f"not valid UTF-8 (byte {err.start})") from None
    except OSError as err:
        raise error(where, f"cannot read ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise error(f"{where}{line}", f"invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(where, "expected a YAML mapping at the top level")
    return data
