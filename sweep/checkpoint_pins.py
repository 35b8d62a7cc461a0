"""Pins: checkpoints a command is reading (``mtsweep export``, ``mtsweep finalize``), which the retention
policy (sweep/retention.py) of a sweep still running must not delete meanwhile.

A pin is one small JSON file ``<results>/pins/<host>-<pid>-<n>.json`` {"paths", "host", "pid", "time"},
removed when the command ends. A pin left by a process that died is ignored: on the same host when that
pid is gone, from another host after :data:`STALE_AFTER_S`. Writing a pin and a retention pass (reading the
pins, then deleting) each hold :func:`pins_lock`, so a checkpoint is never deleted after a pin naming it was
written: the reader checks the folder is still there once its pin is in place. Standard library only.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sweep.results_dir import PINS_DIR

STALE_AFTER_S = 24 * 3600.0
"""A pin from another host counts for this long (its process cannot be checked from here)."""
_counter = itertools.count()
LOCK_FILE = ".lock"
"""In ``<results>/pins/``: the lock a pin's writer and a retention pass hold (``fcntl.flock``)."""


@contextmanager
def pins_lock(results_dir: str | Path) -> Iterator[None]:
    """Hold the results folder's pin lock (exclusive) for the ``with`` block. A folder where the lock file
    cannot be made (a read-only copy) has no retention running either: no lock needed."""
    import fcntl

    folder = Path(results_dir) / PINS_DIR
    try:
        folder.mkdir(exist_ok=True)
        handle = (folder / LOCK_FILE).open("a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def pin_checkpoints(results_dir: str | Path, paths: Iterable[str]) -> Iterator[Path | None]:
    """Pin ``paths`` (checkpoint folders) for the duration of the ``with`` block. A results folder that
    cannot be written (read-only copy) gets no pin: nothing there deletes checkpoints either."""
    folder = Path(results_dir) / PINS_DIR
    pin = folder / f"{socket.gethostname()}-{os.getpid()}-{next(_counter)}.json"
    record = {"paths": [str(Path(p).resolve()) for p in paths], "host": socket.gethostname(), "pid": os.getpid(),
              "time": time.time()}
    try:
        with pins_lock(results_dir):  # not in the middle of a retention pass
            folder.mkdir(exist_ok=True)
            partial = pin.with_suffix(".tmp")
            partial.write_text(json.dumps(record), encoding="utf-8")
            os.replace(partial, pin)  # a reader never sees half a pin
    except OSError:
        pin = None  # type: ignore[assignment]
    try:
        yield pin
    finally:
        if pin is not None:
            pin.unlink(missing_ok=True)


def pinned_paths(results_dir: str | Path) -> set[str]:
    """Every checkpoint path named by a live pin of ``results_dir``."""
    folder = Path(results_dir) / PINS_DIR
    if not folder.is_dir():
        return set()
    host, now = socket.gethostname(), time.time()
    out: set[str] = set()
    for path in folder.glob("*.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being written or removed right now: its checkpoints are checked next time
        if not isinstance(record, dict) or not _alive(record, host, now):
            continue
        out.update(str(p) for p in record.get("paths") or [])
    return out


def _alive(record: dict, host: str, now: float) -> bool:
    if record.get("host") != host:
        return now - float(record.get("time") or 0) < STALE_AFTER_S
    try:
        pid = int(record.get("pid") or 0)
        if pid <= 0:
            return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OSError):
        return True
    return True
