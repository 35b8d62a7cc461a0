"""Feasibility constraints: the pure bands (trainable/base/constraints.py)."""

from __future__ import annotations

import pytest

from trainable.base.constraints import (
    DEFAULT_CONSTRAINTS,
    MISSING_VIOLATION,
    describe,
    failed,
    is_feasible,
    parse_constraints,
    total_violation,
    violations,
)

BANDS = {"len_ratio": (0.7, 1.5), "bleu_char": (10.0, None), "comet": None}


def test_violations_follow_optunas_convention_scaled_by_the_bound() -> None:
    ok = {"len_ratio": 1.0, "bleu_char": 22.0}
    assert violations(BANDS, ok) == {"len_ratio>=0.7": pytest.approx(-0.3 / 0.7), "len_ratio<=1.5": pytest.approx(-1 / 3),
                                     "bleu_char>=10": pytest.approx(-1.2)}  # fmt: skip
    assert is_feasible(BANDS, ok) and failed(BANDS, ok) == [] and total_violation(BANDS, ok) == 0.0
    empty = {"len_ratio": 0.0, "bleu_char": 0.0}  # the demo's front trial: no output at all
    assert total_violation(BANDS, empty) == pytest.approx(1.0 + 1.0)
    assert failed(BANDS, empty) == ["len_ratio 0 < 0.7", "bleu_char 0 < 10"]
    runon = {"len_ratio": 3.0, "bleu_char": 5.26}  # the reference's Run D shape: BLEU 22 -> 5, run-on output
    assert failed(BANDS, runon) == ["len_ratio 3 > 1.5", "bleu_char 5.26 < 10"]
    assert violations(BANDS, runon)["len_ratio<=1.5"] == pytest.approx(1.0)
    missing = {"len_ratio": float("nan")}
    assert failed(BANDS, missing) == ["len_ratio missing", "bleu_char missing"]
    assert total_violation(BANDS, missing) == 3 * MISSING_VIOLATION
    assert describe(BANDS) == "0.7 <= len_ratio <= 1.5, bleu_char >= 10" and describe({"x": None}) == "none"


def test_parse_merges_over_the_defaults() -> None:
    assert parse_constraints(None) == DEFAULT_CONSTRAINTS
    assert parse_constraints({"len_ratio": None}) == {"len_ratio": None}  # switched off
    assert parse_constraints({"bleu_char": [10, None]}) == {**DEFAULT_CONSTRAINTS, "bleu_char": (10.0, None)}
    assert parse_constraints({"len_ratio": [0.8, 1.25]}) == {"len_ratio": (0.8, 1.25)}
