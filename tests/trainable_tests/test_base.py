"""The base (trainable/base/): finite checks, JSONL, Pareto dominance, imports, objective names, YAML."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trainable.base.errors import InputError
from trainable.base.finite import finite_or_none, is_finite_number, is_nonfinite, nonfinite_to_none
from trainable.base.imports import import_function
from trainable.base.jsonl import append_jsonl, json_safe, read_jsonl
from trainable.base.metric_names import objective_modes
from trainable.base.pareto import add_nondominated, dominates, nondominated_fronts
from trainable.base.yaml_config import load_yaml

NAN = float("nan")


def test_nonfinite_values_become_none_never_dropped() -> None:
    """One behaviour everywhere (reports, recorder, analysis): NaN/inf -> None, the key stays."""
    import numpy as np

    raw = {"comet": NAN, "term_acc": float("inf"), "bleu": np.float64("nan"), "step": 3, "ok": 0.5,
           "nested": {"x": float("-inf"), "y": 1.0}, "cause": "nonfinite_loss", "flag": True, "none": None,
           "curve": [1.0, NAN]}  # fmt: skip
    assert nonfinite_to_none(raw) == {"comet": None, "term_acc": None, "bleu": None, "step": 3, "ok": 0.5,
                                      "nested": {"x": None, "y": 1.0}, "cause": "nonfinite_loss", "flag": True,
                                      "none": None, "curve": [1.0, None]}  # fmt: skip


@pytest.mark.parametrize(("value", "finite", "nonfinite"), [
    (1, True, False), (0.5, True, False), (NAN, False, True), (float("-inf"), False, True), (True, False, False),
    (None, False, False), ("1.0", False, False), ("nan", False, False),
])  # fmt: skip
def test_finite_checks(value, finite, nonfinite) -> None:
    assert is_finite_number(value) is finite and is_nonfinite(value) is nonfinite
    assert finite_or_none(value) == (float(value) if finite else None)


def test_numpy_scalars_are_numbers() -> None:
    import numpy as np

    assert is_finite_number(np.float32(0.25)) and is_finite_number(np.int64(3)) and is_nonfinite(np.float32("inf"))
    assert json_safe({"a": np.int64(3), "b": np.float32(0.5), "c": NAN}) == {"a": 3, "b": 0.5, "c": None}


def test_jsonl_partial_last_line_and_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    assert read_jsonl(path).records == []
    append_jsonl(path, {"a": 1, "x": NAN})
    with path.open("a") as f:
        f.write('{"a": 2, "trunc')  # a writer died mid-line
    read = read_jsonl(path)
    assert read.records == [{"a": 1, "x": None}] and read.partial_last_line and read.bad_lines == 0
    append_jsonl(path, {"a": 3})  # the next writer starts on a fresh line: only the torn line is lost
    read = read_jsonl(path)
    assert [r["a"] for r in read.records] == [1, 3] and not read.partial_last_line and read.bad_lines == 1
    assert all(json.loads(line) for line in path.read_text().splitlines()[::2])


def test_pareto_dominance_fronts_and_update() -> None:
    assert dominates([1, 1], [0, 1], ["max", "max"]) and not dominates([1, 1], [1, 1], ["max", "max"])
    assert dominates([0, 1], [1, 1], ["min", "max"])
    assert nondominated_fronts([[1, 0], [0, 1], [0, 0], [1, 1]], ["max", "max"]) == [[3], [0, 1], [2]]
    front: list[list[float]] = []
    assert add_nondominated(front, [1, 0], ["max", "max"]) and add_nondominated(front, [0, 1], ["max", "max"])
    assert not add_nondominated(front, [0, 1], ["max", "max"])  # equal: not added twice
    assert add_nondominated(front, [2, 2], ["max", "max"]) and front == [[2, 2]]


def test_objective_modes_one_check() -> None:
    assert objective_modes(["comet", "latency_ms"]) == ("max", "min")
    with pytest.raises(ValueError, match=r"unknown objective 'fluency' \(known: bleu_char, "):
        objective_modes(["comet", "fluency"])
    with pytest.raises(ValueError, match="must name 2 or 3 metrics, got 1"):
        objective_modes(["comet"])
    with pytest.raises(ValueError, match="duplicate metric"):
        objective_modes(["comet", "comet"])
    assert objective_modes(["comet"], min_count=1) == ("max",)


def test_import_function_errors_name_where(tmp_path: Path) -> None:
    assert import_function("math:sqrt", where="x") is math.sqrt
    with pytest.raises(InputError, match=r"^cfg.yaml: key 'trainable': cannot import module 'no_such_mod_x' "):
        import_function("no_such_mod_x:f", where="cfg.yaml", key="trainable")
    with pytest.raises(InputError, match="module 'math' has no function 'nope'"):
        import_function("math:nope", where="x")


def test_load_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\nb: [1\n")
    with pytest.raises(InputError, match=rf"^{bad}:\d+: invalid YAML"):
        load_yaml(bad)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(InputError, match="expected a YAML mapping at the top level"):
        load_yaml(tmp_path / "list.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_yaml(tmp_path / "empty.yaml") == {}
    with pytest.raises(InputError, match="file not found"):
        load_yaml(tmp_path / "missing.yaml")


def test_jsonl_skips_and_counts_a_line_that_is_no_object(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n{"a": 3}\n')
    got = read_jsonl(path)
    assert got.bad_lines == 1 and got.records == [{"a": 1}, {"a": 3}]
