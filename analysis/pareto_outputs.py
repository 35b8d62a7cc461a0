"""Everything ``mtsweep pareto`` writes, from a loaded sweep: fronts, hypervolume, tables, plots, importance.

Layout of the output dir (trial level at the top; with ``level="both"`` the checkpoint level in
``checkpoint_level/``): pareto.csv/.md/.tex/.json, trials.csv, pareto.png, pareto.html, plus at the top
curves.png, hypervolume.csv/.png, importance.csv/.md/.png and summary.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from analysis.exports import summary_dict, write_exports, write_hypervolume_csv
from analysis.front import FRONT_LEVELS, ParetoFront, pareto_front
from analysis.hypervolume import HypervolumeReport, hypervolume_report
from analysis.loading import SweepResults

LEVELS: tuple[str, ...] = (*FRONT_LEVELS, "both")
"""``mtsweep pareto --level``: one front level, or both."""


@dataclass
class ParetoOutputs:
    """What was computed and where it went."""

    out_dir: Path
    fronts: dict[str, ParetoFront]
    """level ('trial' / 'checkpoint') -> front."""
    hypervolume: HypervolumeReport
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def unique_out_dir(path: Path) -> Path:
    """``path`` if it does not exist yet, else ``path-2``, ``path-3``, ... (never overwrite an export)."""
    if not path.exists():
        return path
    k = 2
    while (cand := path.with_name(f"{path.name}-{k}")).exists():
        k += 1
    return cand


def write_pareto_outputs(
    results: SweepResults, out_dir: Path, *, level: str = "both", plots: bool = True, importance: bool = True
) -> ParetoOutputs:
    """Compute fronts + hypervolume and write every export/plot into ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=False)
    objs, modes = results.objectives, results.modes
    baseline_metrics = (results.baseline or {}).get("metrics")
    fronts: dict[str, ParetoFront] = {}
    if level in ("trial", "both"):
        fronts["trial"] = pareto_front(results.trial_points, objs, modes, level="trial")
    if level in ("checkpoint", "both"):
        fronts["checkpoint"] = pareto_front(results.checkpoint_points, objs, modes, level="checkpoint")
    hv = hypervolume_report(objs, modes, results.trial_points, results.checkpoint_points, baseline_metrics)
    out = ParetoOutputs(out_dir, fronts, hv)
    for lvl, front in fronts.items():
        sub = out_dir / "checkpoint_level" if (lvl == "checkpoint" and level == "both") else out_dir
        level_hv = hv if lvl == "trial" else _checkpoint_hv(hv, front)
        out.files += write_exports(front, sub, level_hv, root=results.root)
        if plots:
            from analysis.plot_html import write_pareto_html
            from analysis.plot_info import pareto_plot_info
            from analysis.plot_static import draw_pareto

            info = pareto_plot_info(front, level_hv, baseline_metrics, sweep_name=results.root.name)
            out.files += [draw_pareto(info, sub / "pareto.png"), write_pareto_html(info, sub / "pareto.html")]
    out.files.append(write_hypervolume_csv(out_dir / "hypervolume.csv", hv))
    if plots:
        from analysis.plot_info import curves_info
        from analysis.plot_static import draw_curves, draw_hypervolume

        any_front = fronts.get("trial") or fronts["checkpoint"]
        out.files.append(draw_curves(curves_info(results.checkpoint_points, any_front), out_dir / "curves.png"))
        title = f"Hypervolume history ({hv.reference.describe(objs)})"
        out.files.append(draw_hypervolume(hv.by_trial, hv.by_steps, title, out_dir / "hypervolume.png"))
    if importance:
        from analysis.importance import param_importances, write_importance
        from analysis.loading import open_study_readonly

        try:
            study = open_study_readonly(results.root, results.study_name)
        except Exception as err:  # an unreadable/locked study must not stop the tables and plots
            study = None
            out.notes.append(f"study.db not readable ({type(err).__name__}: {err}); importance skipped")
        imp = param_importances(study, objs, modes, _config_objectives(results))
        if imp.skipped:
            out.notes.append(f"importance not computed: {imp.skipped}")
        out.files += write_importance(imp, out_dir)
    if results.torn_lines:
        out.notes.append(f"{results.torn_lines} torn line(s) in trials.jsonl/reports.jsonl skipped (a writer was "
                         "killed mid-line)")
    if results.running_trials:
        out.notes.append(f"sweep still running: {len(results.running_trials)} trial(s) without a final result yet")
    summary = {lvl: summary_dict(f, hv if lvl == "trial" else _checkpoint_hv(hv, f)) for lvl, f in fronts.items()}
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps({"sweep": str(results.root), "levels": summary,
                                        "running_trials": results.running_trials,
                                        "partial_lines_skipped": results.partial_lines, "notes": out.notes}, indent=2),
                            encoding="utf-8")
    out.files.append(summary_path)
    return out


def _config_objectives(results: SweepResults) -> tuple[str, ...]:
    from analysis.loading import objectives_from_config

    return objectives_from_config(results.config)


def _checkpoint_hv(hv: HypervolumeReport, front: ParetoFront) -> HypervolumeReport:
    """The checkpoint-level hypervolume (same reference as the trial level)."""
    from trainable.base.pareto import hypervolume

    value = hypervolume([front.vector(p) for p in front.front], hv.reference.values, hv.modes)
    return HypervolumeReport(hv.objectives, hv.modes, hv.reference, value, hv.by_trial, hv.by_steps)
