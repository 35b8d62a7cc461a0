"""Search-space errors (kept here: search_spaces imports none of the other packages)."""

from __future__ import annotations


class SearchSpaceError(ValueError):
    """A bad search space; one line naming the file and key, e.g. ``space.yaml: key 'lr.low': ...``."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}".replace("\n", " "))
