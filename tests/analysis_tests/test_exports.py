"""Every export is written and parses back to the same rows."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.exports import (
    display_rows,
    front_rows,
    other_rows,
    read_csv,
    read_json,
    read_latex,
    read_markdown,
    tex_escape,
    tex_unescape,
    write_exports,
)
from analysis.front import Point, pareto_front
from analysis.hypervolume import hypervolume_report
from analysis.loading import load_sweep
from tests.analysis_tests.results_dir import write_results_dir


def test_exports_round_trip_on_a_sweep(tmp_path: Path) -> None:
    results = load_sweep(write_results_dir(tmp_path / "sweep", n_trials=9, study=False))
    front = pareto_front(results.trial_points, results.objectives, results.modes)
    hv = hypervolume_report(results.objectives, results.modes, results.trial_points, results.checkpoint_points,
                            results.baseline["metrics"])
    paths = write_exports(front, tmp_path / "out", hv)
    assert sorted(p.name for p in paths) == ["pareto.csv", "pareto.json", "pareto.md", "pareto.tex", "trials.csv"]
    rows = front_rows(front)
    assert len(rows) == len(front.front) >= 2
    assert {"trial_id", "step", "comet", "term_acc", "bleu_char", "chrf_pp", "len_ratio", "trunc_rate",
            "runon_rate", "diverged", "param.lr", "param.masking", "checkpoint"} <= set(rows[0])
    assert all(isinstance(r["trunc_rate"], float) and isinstance(r["runon_rate"], float) for r in rows)
    assert read_csv(tmp_path / "out" / "pareto.csv") == rows
    assert read_json(tmp_path / "out" / "pareto.json") == rows
    assert read_markdown(tmp_path / "out" / "pareto.md") == display_rows(rows)
    assert read_latex(tmp_path / "out" / "pareto.tex") == display_rows(rows)
    assert read_csv(tmp_path / "out" / "trials.csv") == other_rows(front)
    # trials.csv: every non-front trial, the one without values (no_good_eval) included with no rank
    dominated = read_csv(tmp_path / "out" / "trials.csv")
    assert len(dominated) == len(results.trial_points) - len(rows)
    assert any(r["rank"] is None and r["stop_cause"] == "no_good_eval" for r in dominated)
    meta = json.loads((tmp_path / "out" / "pareto.json").read_text())
    assert meta["reference"]["source"] == "baseline" and meta["hypervolume"] == hv.value


def test_awkward_cells_round_trip(tmp_path: Path) -> None:
    """Pipes, ampersands, underscores, backslashes and numeric-looking ids survive every format."""
    objs = ("comet", "term_acc")
    pts = [
        Point("0042", 100, {"comet": 0.81234567, "term_acc": 0.1}, {"bleu_char": 23.456, "len_ratio": 1.01},
              {"masking": "a|b & c_%$#{}~^\\d", "lr": 1.234e-05}, "/runs/x y/ck_1", diverged=True, state="COMPLETE"),
        Point("t_2", None, {"comet": 0.7, "term_acc": 0.3}, {}, {"masking": "full"}, None),
    ]
    front = pareto_front(pts, objs, ("max", "max"))
    write_exports(front, tmp_path)
    rows = front_rows(front)
    assert rows[0]["trial_id"] == "0042" and rows[0]["param.lr"] == 1.234e-05
    assert read_csv(tmp_path / "pareto.csv") == rows
    assert read_json(tmp_path / "pareto.json") == rows
    assert read_markdown(tmp_path / "pareto.md") == display_rows(rows)
    assert read_latex(tmp_path / "pareto.tex") == display_rows(rows)
    text = "a|b & c_%$#{}~^\\d \\textbackslash{}"
    assert tex_unescape(tex_escape(text)) == text
