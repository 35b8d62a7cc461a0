"""Where a trial's reports go: the :class:`Reporter` protocol (implementations: trainable/reporters.py).

A trainable (ours, the synthetic one, or a user's ``module:function``) calls a :class:`Reporter` once per
evaluation; the keys a report carries are in :mod:`trainable.base.report_keys`.
"""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    """Where a trial's reports go: Ray Tune, a local directory, or a test list."""

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        """Record one report; ``checkpoint_dir`` (if given) holds adapter + trainer state."""
        ...

    def restore_dir(self) -> str | None:
        """A checkpoint directory to resume from (Ray restarts a trial), or None."""
        ...
