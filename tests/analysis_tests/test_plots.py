"""Plots are written from a sweep dir; pareto.html is self-contained and opens in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analysis.front import pareto_front
from analysis.loading import load_sweep
from analysis.pareto_outputs import write_pareto_outputs
from analysis.plot_info import curves_info, pareto_plot_info
from tests.analysis_tests.results_dir import write_results_dir


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory):
    root = write_results_dir(tmp_path_factory.mktemp("plots") / "sweep", n_trials=10, diverge=(2, 6))
    return write_pareto_outputs(load_sweep(root), root / "pareto", level="both")


def _png_shape(path: Path) -> tuple[int, ...]:
    import matplotlib.image

    return matplotlib.image.imread(path).shape


def test_all_plot_files_written(outputs) -> None:
    out = outputs.out_dir
    for name in ("pareto.png", "curves.png", "hypervolume.png", "importance.png",
                 "checkpoint_level/pareto.png", "pareto.html", "checkpoint_level/pareto.html"):
        assert (out / name).stat().st_size > 10_000, name
    h, w, _ = _png_shape(out / "pareto.png")
    assert w > 800 and h > 600
    imp = (out / "importance.csv").read_text()
    assert "comet,lr," in imp and "term_acc,prompt_loss_weight," in imp


def test_html_is_self_contained_with_config_hover(outputs) -> None:
    html = (outputs.out_dir / "pareto.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js inline: works offline
    assert "trial_000 @ step" in html and "lr: " in html and "masking: " in html and "checkpoint: " in html
    assert "S0 baseline (no adapter)" in html


def test_plot_info_marks_front_diverged_and_baseline(outputs) -> None:
    res = load_sweep(outputs.out_dir.parent)
    front = pareto_front(res.trial_points, res.objectives, res.modes)
    info = pareto_plot_info(front, outputs.hypervolume, res.baseline["metrics"])
    assert len(info.front) == len(front.front) and len(info.dominated) == len(front.dominated)
    assert {p.label.split("@")[0] for p in info.diverged} == {"trial_002", "trial_006"}
    assert info.baseline == (0.705, 0.185) and info.reference_source == "baseline"
    assert "COMET" in info.title and "S0 baseline" in info.subtitle and "(higher is better)" in info.axis_labels[0]
    curves = curves_info(res.checkpoint_points, front)
    stops = {c.trial_id: c.stop_step for c in curves.curves["comet"] if c.stop_step is not None}
    assert stops == {"trial_002": 260, "trial_006": 260} and curves.n_no_good_eval == 1


def test_three_objectives(tmp_path: Path) -> None:
    root = write_results_dir(tmp_path / "sweep", n_trials=8, study=False)
    out = write_pareto_outputs(load_sweep(root, ["comet", "term_acc", "latency_ms"]), tmp_path / "out", level="trial")
    assert out.fronts["trial"].objectives == ("comet", "term_acc", "latency_ms")
    assert out.hypervolume.reference.source == "baseline"
    w = _png_shape(tmp_path / "out" / "pareto.png")[1]
    assert w > 1500  # three projection panels
    assert "scatter3d" in (tmp_path / "out" / "pareto.html").read_text(encoding="utf-8")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_pareto_html_opens_in_headless_chromium_without_js_errors(outputs, tmp_path: Path) -> None:
    page = outputs.out_dir / "pareto.html"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert not [ln for ln in console if "Uncaught" in ln or "Error" in ln], console
    assert 'class="main-svg"' in proc.stdout  # plotly drew the figure
    n_points = len(outputs.fronts["trial"].points) + 1  # + the S0 baseline marker
    assert proc.stdout.count('class="point"') >= n_points
