"""`mtsweep baseline` and `mtsweep finalize`: the S0 vs S1 table, on a real (small) sweep.

The synthetic sweep runs the real `mtsweep run` (local Ray, Optuna SQLite) with the SYNTHETIC
trainable; the tiny-model test runs the real evaluate_adapter path (toy model, tiny COMET).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.exports import read_csv
from analysis.s0_table import Member, table_rows
from sweep.cli import main


def test_table_rows_have_the_reference_shape() -> None:
    s0 = {"latency_ms": 169.8, "bleu_char": 16.29, "chrf_pp": 12.76, "comet": 0.7291, "term_acc": 0.1463}
    s1 = Member("t1@400", {"latency_ms": 258.6, "bleu_char": 17.64, "chrf_pp": 12.91, "comet": 0.7303,
                           "term_acc": 0.1454}, {"lr": 5e-6}, "/ck")
    rows = table_rows(s0, [s1])
    assert [r["Metric"] for r in rows] == ["Avg Latency (ms)", "BLEU (char)", "chrF++", "COMET", "Terminology Accuracy"]
    assert rows[0]["Delta t1@400"] == pytest.approx(88.8)
    assert rows[4]["Delta t1@400"] == pytest.approx(-0.0009)


@pytest.fixture
def synthetic_sweep(synthetic_results: Path, tmp_path: Path) -> Path:
    """A copy of the session's real synthetic sweep (tests/conftest.py), free to write into."""
    out = tmp_path / "sweep"
    shutil.copytree(synthetic_results, out)
    return out


@pytest.mark.integration
def test_real_synthetic_sweep_baseline_pareto_finalize(synthetic_sweep: Path, capsys) -> None:
    root = synthetic_sweep
    assert main(["baseline", str(root)]) == 0
    base = json.loads((root / "baseline.json").read_text())
    assert base["split"] == "dev" and 0 < base["metrics"]["comet"] < 1
    assert main(["baseline", str(root)]) == 2  # never replaced silently
    assert "exists (use --force" in capsys.readouterr().err
    assert main(["pareto", str(root)]) == 0
    out = capsys.readouterr().out
    assert "reference = S0 baseline" in out
    front = read_csv(root / "pareto" / "pareto.csv")
    assert front and all(r["checkpoint"] and (root / r["checkpoint"]).is_dir() for r in front)  # relative
    assert not any(k.startswith("param._") for k in front[0])  # sweep-internal keys are not hyperparameters
    for name in ("pareto.png", "curves.png", "pareto.html", "importance.md", "checkpoint_level/pareto.csv"):
        assert (root / "pareto" / name).exists(), name
    assert main(["finalize", str(root)]) == 0
    table = json.loads((root / "final" / "s0_vs_s1.json").read_text())
    assert table["split"] == "test" and len(table["members"]) == len(front)
    assert [r["Metric"] for r in table["rows"]][:2] == ["BLEU (char)", "chrF++"]
    md = (root / "final" / "s0_vs_s1.md").read_text()
    assert "| Metric | S0 |" in md and "SYNTHETIC" in md


@pytest.mark.integration
def test_baseline_on_the_tiny_model(tiny_assets, tmp_path: Path) -> None:
    """The real evaluate_adapter path: S0 of the toy model (base model, no adapter) on 6 dev pairs."""
    cfg = tmp_path / "tiny.yaml"
    text = Path("sweep/configs/tiny.yaml").read_text()
    text = text.replace("TINY_DIR/model", str(tiny_assets.model_dir)).replace(
        "TINY_DIR/comet/checkpoints/model.ckpt", str(tiny_assets.comet_ckpt))
    cfg.write_text(text)
    out = tmp_path / "results"
    assert main(["baseline", str(cfg), "--out", str(out), "--samples", "6"]) == 0
    base = json.loads((out / "baseline.json").read_text())
    assert base["samples"] == 6 and base["metrics"]["n"] == 6
    assert {"comet", "term_acc", "bleu_char", "chrf_pp", "len_ratio", "latency_ms"} <= set(base["metrics"])
