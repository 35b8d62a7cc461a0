"""`mtsweep pareto DIR`: the command end to end on hand-made sweep dirs."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.exports import read_csv
from sweep.cli import main
from tests.analysis_tests.results_dir import write_results_dir


def test_pareto_command_writes_everything_and_never_overwrites(tmp_path: Path, capsys) -> None:
    root = write_results_dir(tmp_path / "sweep", n_trials=8)
    assert main(["pareto", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front, trial level:" in out and "Pareto front, checkpoint level:" in out
    assert "reference = S0 baseline" in out and "sweep still running: 1 trial(s)" in out
    first = root / "pareto"
    for name in ("pareto.csv", "pareto.md", "pareto.tex", "pareto.json", "trials.csv", "pareto.png",
                 "pareto.html", "curves.png", "hypervolume.csv", "importance.md", "summary.json",
                 "checkpoint_level/pareto.csv"):
        assert (first / name).exists(), name
    front = read_csv(first / "pareto.csv")
    assert all(f"| {r['trial_id']} |" in out for r in front)
    stamp = (first / "pareto.csv").stat().st_mtime_ns
    assert main(["pareto", str(root), "--level", "trial", "--no-plots"]) == 0
    second = root / "pareto-2"
    assert (second / "pareto.csv").exists() and not (second / "checkpoint_level").exists()
    assert not (second / "pareto.png").exists()
    assert (first / "pareto.csv").stat().st_mtime_ns == stamp
    summary = json.loads((second / "summary.json").read_text())
    assert summary["levels"]["trial"]["reference"]["source"] == "baseline"


def test_pareto_command_objectives_and_errors(tmp_path: Path, capsys) -> None:
    root = write_results_dir(tmp_path / "sweep", n_trials=6, baseline=False, study=False)
    out_dir = tmp_path / "elsewhere"
    assert main(["pareto", str(root), "--objectives", "bleu_char,term_acc", "--out", str(out_dir), "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "reference = worst observed values" in text and "| bleu_char |" in text
    assert "importance not computed: no Optuna study" in text
    assert main(["pareto", str(root), "--objectives", "comet,nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "mtsweep pareto: error: --objectives: unknown objective 'nope' " \
                  "(known: bleu_char, bleu_mecab, chrf_pp, comet, latency_ms, runon_rate, term_acc, trunc_rate)"
    assert main(["pareto", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
