"""Search-space errors: a one-line :class:`~trainable.base.errors.InputError` naming file and key."""

from __future__ import annotations

from trainable.base.errors import InputError


class SearchSpaceError(InputError):
    """A bad search space; one line naming the file and key, e.g. ``space.yaml: key 'lr.low': ...``."""
