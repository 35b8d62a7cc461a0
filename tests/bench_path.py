"""Tests import the benchmark scripts of ``bench/`` (plain scripts, not an installed package) with it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


@contextmanager
def bench_on_path() -> Iterator[None]:
    """``bench/`` first on ``sys.path`` inside the block (imports of its modules), removed after."""
    sys.path.insert(0, str(BENCH))
    try:
        yield
    finally:
        sys.path.remove(str(BENCH))
