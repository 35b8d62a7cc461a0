"""Finite-number checks, the one definition (reports, records, fronts, W&B, the scheduler use it).

A *number* is a real int/float (numpy scalars included); bools, None and strings are not numbers.
A report never carries NaN/inf: :func:`nonfinite_to_none` replaces such a value by None (it does not
drop the key), so "missing" and "was NaN" read the same everywhere.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def is_number(value: Any) -> bool:
    """A real number (int, float, numpy scalar); bools are not numbers here."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """A real number that is neither NaN nor infinite."""
    return is_number(value) and math.isfinite(value)


def is_nonfinite(value: Any) -> bool:
    """A real number that is NaN or infinite (None, bools and strings are not)."""
    return is_number(value) and not math.isfinite(value)


def finite_or_none(value: Any) -> float | None:
    """``float(value)`` for a finite number, else None."""
    return float(value) if is_finite_number(value) else None


def nonfinite_to_none(value: Any) -> Any:
    """A copy of ``value`` with every NaN/inf replaced by None (recursively in dicts, lists, tuples)."""
    if isinstance(value, dict):
        return {k: nonfinite_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nonfinite_to_none(v) for v in value]
    return None if is_nonfinite(value) else value
