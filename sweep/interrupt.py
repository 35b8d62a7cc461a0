"""Stop a sweep cleanly on SIGINT (Ctrl-C) or SIGTERM (``ray job stop``, a batch scheduler, ``kill``).

Ray 2.60 catches the first SIGINT itself (ray/tune/tune.py ``_setup_signal_catching``): ``fit()`` ends
its loop, snapshots the experiment (running trials still RUNNING in the snapshot, so a restore resumes
them from their last checkpoint), then its cleanup marks them TERMINATED without telling the searcher,
and ``fit()`` returns as if the sweep had finished. SIGTERM it does not catch at all (the driver dies).

:class:`StopRequest` replaces both paths with one: the first SIGINT or SIGTERM is remembered and handed
to Ray's own interrupt (the handler Ray keeps on SIGUSR1 during ``fit()``), so the loop stops and the
snapshot is written; the driver then knows the sweep was interrupted (not finished) and leaves the
running trials RUNNING in the study, marked ``interrupted``, for ``mtsweep resume``. A second signal
stops the driver at once (default action, exit by signal). Before ``fit()`` runs, a signal ends the
command at once (nothing of the sweep is running yet); after it, the sweep record is finished first.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RAY_INTERRUPT_HANDLER = "signal_interrupt_tune_run"
STOP_GRACE_S = 20.0
"""How long ``fit()`` may take to stop after the first signal. A SIGTERM sent to the whole process group
(a batch scheduler, ``kill -TERM -PGID``) also ends the local Ray this driver started, and Ray's cleanup
then waits on its dead GCS: past the grace the driver records the stop and exits itself."""
"""Name of the function Ray 2.60 installs on SIGUSR1 (and SIGINT) while ``fit()`` runs."""


class SweepInterrupted(KeyboardInterrupt):
    """A stop signal arrived before the sweep's ``fit()`` started (the CLI exits ``128 + signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopRequest:
    """Which stop signal arrived first (``signum``), and the handlers that act on it."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.in_fit = False
        self.fit_done = False
        self._on_give_up: Callable[[], None] | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """130 after SIGINT, 143 after SIGTERM (the shell's 128 + signal number)."""
        return 128 + (self.signum or 0)

    def handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:  # second signal: stop now, as the default action would
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.signum = signum
        if self.fit_done:  # the sweep is being written up: finish that (a second signal still stops)
            print(f"\nmtsweep: {self.name} received: finishing the sweep record first", flush=True)
            return
        if not self.in_fit:
            raise SweepInterrupted(signum)
        print(f"\nmtsweep: {self.name} received: stopping the sweep (running trials keep their last "
              "checkpoint); send it again to stop at once", flush=True)
        threading.Thread(target=self._give_up_after_grace, daemon=True).start()
        if _ray_is_catching():
            signal.getsignal(signal.SIGUSR1)(signal.SIGUSR1, frame)
        else:  # fit() has not reached its loop yet: interrupt it as soon as Ray listens
            threading.Thread(target=self._interrupt_when_ray_listens, daemon=True).start()

    def _give_up_after_grace(self) -> None:
        deadline = time.monotonic() + STOP_GRACE_S
        while self.in_fit and time.monotonic() < deadline:
            time.sleep(0.2)
        if not self.in_fit:
            return
        print(f"mtsweep: Ray did not stop within {STOP_GRACE_S:.0f} s (its processes got the signal too?); "
              "leaving now, from its last snapshot", flush=True)
        try:
            if self._on_give_up is not None:
                self._on_give_up()
        finally:
            os._exit(self.exit_code)

    def _interrupt_when_ray_listens(self) -> None:
        while self.in_fit:
            if _ray_is_catching():
                os.kill(os.getpid(), signal.SIGUSR1)
                return
            time.sleep(0.05)

    def fit(self, fit: Callable[[], Any], *, on_give_up: Callable[[], None] | None = None) -> Any:
        """Run ``fit`` (building or restoring the Tuner, then ``Tuner.fit``) with stop signals handed to
        Ray's interrupt (deferred until Ray listens); ``on_give_up`` records the stop when ``fit`` does
        not return within :data:`STOP_GRACE_S` of it (the driver then exits)."""
        self._on_give_up = on_give_up
        quiet = _RayInterruptNoise(self)
        loggers = [logging.getLogger(name) for name in _RAY_NOISY_LOGGERS]
        for log in loggers:
            log.addFilter(quiet)
        for s in STOP_SIGNALS:  # ours, whatever was installed since (ray.init: an aborting SIGTERM handler)
            signal.signal(s, self.handle)
        self.in_fit = True
        try:
            return fit()
        finally:
            self.in_fit, self.fit_done = False, True
            for log in loggers:
                log.removeFilter(quiet)


_RAY_NOISY_LOGGERS = ("ray.tune.tune", "ray.tune.analysis.experiment_analysis")
_RAY_INTERRUPT_MESSAGES = ("Stop signal received", "Experiment has been interrupted", "Trials did not complete",
                           "Failed to fetch metrics")


class _RayInterruptNoise(logging.Filter):
    """Drops Ray's own lines about an interrupt we asked for (they say ``Tuner.restore``, not
    ``mtsweep resume``, and list unfinished trials as errors)."""

    def __init__(self, request: StopRequest) -> None:
        super().__init__()
        self.request = request

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.request.requested and str(record.msg).startswith(_RAY_INTERRUPT_MESSAGES))


def _ray_is_catching() -> bool:
    handler = signal.getsignal(signal.SIGUSR1)
    return callable(handler) and getattr(handler, "__name__", "") == RAY_INTERRUPT_HANDLER


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Install the SIGINT/SIGTERM handlers for the body (restored after); Ray's own SIGINT handler off."""
    previous_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # read by Ray at fit() time
    request = StopRequest()
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, request.handle)
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if previous_env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous_env
