"""User-input errors: one line, naming the file:line or the config key at fault."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input (data, glossary, config, flag). The CLI prints ``str(err)`` and exits 2.

    The message is one line and starts with where the problem is, e.g.
    ``data/train.jsonl:12: field 'ja' is empty`` or ``config key 'trial.lr': must be > 0``.
    """

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}".replace("\n", " "))


class ConfigValueError(ValueError):
    """Raised inside a config dataclass's ``__post_init__``: ``key`` is the field name, relative to the
    dataclass; :func:`trainable.base.yaml_config.from_mapping` turns it into an :class:`InputError`."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")
