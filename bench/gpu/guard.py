"""Running one item as a row: progress log lines, and the time box / OOM / error guard."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .device import reset_peak
from .specs import Bench, Row


def progress(bench: Bench, message: str) -> None:
    print(f"[{time.perf_counter() - bench.t0:5.0f} s] {message}", file=sys.stderr, flush=True)


def add(bench: Bench, row: Row) -> Row:
    """Log a finished row at once (the table comes at the end; a killed run still shows its rows)."""
    shown = ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.values.items())
    progress(bench, f"{row.name}: {shown} {row.note}".rstrip())
    return row


@contextmanager
def time_box(limit: float | None) -> Iterator[None]:
    """Raise ``TimeoutError`` in the block after ``limit`` seconds (SIGALRM, main thread); None = no limit."""
    import signal

    if not limit:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(limit)))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def guarded(bench: Bench, name: str, measure: Any, *, limit: float | None = None) -> Row:
    """``measure()``, or a row saying OOM / over its time limit instead."""
    import torch

    try:
        with time_box(limit):
            return measure()
    except torch.OutOfMemoryError:
        return Row(name, {}, "OOM")
    except TimeoutError:
        return Row(name, {}, f"skipped: not done within its {limit:.0f} s time box")
    except Exception as err:  # one broken item must not cost the rest of the run
        return Row(name, {}, f"error: {type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}")
    finally:
        reset_peak(bench.device)


def checked(bench: Bench, name: str, measure: Any) -> Row:
    """A correctness check as a row: its numbers in the values and, readable, in the note."""
    row = guarded(bench, name, lambda: Row(name, measure()))
    row.note = row.note or ", ".join(f"{k} {v:.2e}" if v < 0.01 else f"{k} {v:.3f}" for k, v in row.values.items())
    return row
