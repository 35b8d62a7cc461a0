"""``module:function`` specs (a user trainable, a define-by-run search space): parse and import."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from trainable.base.errors import InputError

FUNCTION_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
"""``package.module:function``."""


def is_function_spec(text: str) -> bool:
    """``text`` has the form ``module:function``."""
    return bool(FUNCTION_SPEC.match(text))


def import_function(
    spec: str, *, where: str, key: str = "", error: type[InputError] = InputError
) -> Callable[..., Any]:
    """``module:function`` -> the function; ``error(where, "[key 'K': ]cannot import ...")`` when the
    module fails to import (whatever it raises) or has no such callable."""
    prefix = f"key '{key}': " if key else ""
    module_name, _, func_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or whatever the module raises while importing
        raise error(where, f"{prefix}cannot import module {module_name!r} ({type(err).__name__}: {err})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise error(where, f"{prefix}module {module_name!r} has no function {func_name!r}")
    return func
