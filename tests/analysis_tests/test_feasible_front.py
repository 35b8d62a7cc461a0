"""Analysis of a sweep with feasibility constraints: the front holds feasible results only, infeasible
ones are listed with the constraint they fail and drawn apart, and they add no hypervolume."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from analysis.exports import read_csv
from analysis.front import pareto_front
from analysis.loading import load_sweep
from analysis.plot_info import pareto_plot_info
from sweep.cli import main
from tests.analysis_tests.results_dir import write_results_dir
from trainable.base.pareto import hypervolume


def constrained_sweep(tmp_path: Path, constraints: dict) -> Path:
    root = write_results_dir(tmp_path / "sweep", n_trials=12, seed=3)
    config = yaml.safe_load((root / "sweep.yaml").read_text()) or {}
    (root / "sweep.yaml").write_text(yaml.safe_dump({**config, "constraints": constraints}))
    return root


@pytest.mark.integration
def test_front_excludes_infeasible_results_and_says_why(tmp_path: Path, capsys) -> None:
    # answer_only / low-weight trials grow len_ratio towards 1.3 (run-on output in this hand-made sweep)
    root = constrained_sweep(tmp_path, {"len_ratio": [0.9, 1.15]})
    res = load_sweep(root)
    assert res.constraints == {"len_ratio": (0.9, 1.15)}
    bad = [p for p in res.trial_points if not p.feasible]
    good = [p for p in res.trial_points if p.feasible and all(v is not None for v in p.values.values())]
    assert bad and good, "the hand-made sweep must hold both kinds"
    assert all(r.startswith("len_ratio ") and r.endswith("> 1.15") for p in bad for r in p.failed_constraints)
    assert all(p.metrics["len_ratio"] > 1.15 for p in bad) and all(p.metrics["len_ratio"] <= 1.15 for p in good)

    front = pareto_front(res.trial_points, res.objectives, res.modes)
    assert {p.trial_id for p in front.infeasible} == {p.trial_id for p in bad}
    assert not {p.trial_id for p in front.front} & {p.trial_id for p in bad}
    unconstrained = pareto_front([dataclasses.replace(p, failed_constraints=()) for p in res.trial_points],
                                 res.objectives, res.modes)  # fmt: skip
    assert {p.trial_id for p in unconstrained.front} & {p.trial_id for p in bad}, "an infeasible trial would sit on the front"

    info = pareto_plot_info(front)
    assert len(info.infeasible) == len(bad) and "len_ratio > 1.15" in info.infeasible_label
    assert all("INFEASIBLE: len_ratio" in p.hover for p in info.infeasible)

    assert main(["pareto", str(root), "--level", "trial"]) == 0
    assert f"{len(bad)} infeasible left out (0.9 <= len_ratio <= 1.15)" in capsys.readouterr().out
    on_front = read_csv(root / "pareto" / "pareto.csv")
    assert {r["trial_id"] for r in on_front} == {p.trial_id for p in front.front}
    assert all(r["infeasible"] is None for r in on_front)
    others = {r["trial_id"]: r for r in read_csv(root / "pareto" / "trials.csv")}
    for p in bad:
        assert others[p.trial_id]["infeasible"] == "; ".join(p.failed_constraints) and others[p.trial_id]["rank"] is None
    summary = json.loads((root / "pareto" / "summary.json").read_text())
    assert summary["levels"]["trial"]["n_infeasible"] == len(bad)
    # Hypervolume of the feasible front only (the reference is chosen from feasible points as well).
    ref = summary["levels"]["trial"]["reference"]["values"]
    expected = hypervolume([front.vector(p) for p in front.front], [ref[o] for o in res.objectives], res.modes)
    assert summary["levels"]["trial"]["hypervolume"] == expected


def test_a_sweep_without_constraints_in_its_yaml_is_judged_as_it_ran(tmp_path: Path) -> None:
    root = write_results_dir(tmp_path / "sweep", n_trials=6)
    res = load_sweep(root)
    assert res.constraints == {} and all(p.feasible for p in res.trial_points)
    off = load_sweep(constrained_sweep(tmp_path / "off", {"len_ratio": None}))
    assert off.constraints == {} and all(p.feasible for p in off.checkpoint_points)
