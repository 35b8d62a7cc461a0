"""`mtsweep export` flag checks that need no sweep (no Ray, no model): one-line errors, nothing written."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sweep.commands.export import add_arguments, check_flags
from trainable.base.errors import InputError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_an_out_folder_that_cannot_be_created_is_refused_up_front(tmp_path: Path) -> None:
    results = tmp_path / "sweep"
    results.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"^OUT: .*a_file is a file"):
        check_flags(_args(str(results), str(blocker / "sub" / "out"), "--trial", "0"))
    check_flags(_args(str(results), str(tmp_path / "new" / "out"), "--trial", "0"))  # creatable: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "sweep"]  # the check wrote nothing
