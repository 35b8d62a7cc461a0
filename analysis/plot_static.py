"""Matplotlib (Agg) renderers: draw :mod:`analysis.plot_info` objects into PNG files; no computing here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.plot_info import CurvesInfo, ParetoPlotInfo

FRONT_COLOR = "#1f77b4"
DOMINATED_COLOR = "#b0b0b0"
DIVERGED_COLOR = "#d62728"
INFEASIBLE_COLOR = "#ff7f0e"
BASELINE_COLOR = "#000000"
MAX_LABELLED_FRONT = 12


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _short(label: str) -> str:
    return label.replace("trial_", "t")


def draw_pareto(info: ParetoPlotInfo, path: Path) -> Path:
    """pareto.png: dominated grey, front highlighted and connected, infeasible as hollow orange triangles,
    diverged marked, S0 as a star."""
    plt = _pyplot()
    n = len(info.pairs)
    fig, axes = plt.subplots(1, n, figsize=(8.5 if n == 1 else 6.0 * n, 6.4), squeeze=False)
    for ax, (i, j) in zip(axes[0], info.pairs, strict=True):
        _pareto_panel(ax, info, i, j, connect=len(info.objectives) == 2)
    handles, labels = axes[0][0].get_legend_handles_labels()
    axes[0][0].legend(handles, labels, loc="best", fontsize=9, framealpha=0.9)
    fig.suptitle(info.title, fontsize=13, fontweight="bold", y=0.985)
    subtitle = _wrap(info.subtitle, 120 if n == 1 else 220)
    fig.text(0.5, 0.935, subtitle, ha="center", va="top", fontsize=9)
    fig.tight_layout()
    fig.subplots_adjust(top=0.915 - 0.03 * (subtitle.count("\n") + 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _pareto_panel(ax: Any, info: ParetoPlotInfo, i: int, j: int, *, connect: bool) -> None:
    dom = info.dominated
    if dom:
        ax.scatter([p.values[i] for p in dom], [p.values[j] for p in dom], s=28, c=DOMINATED_COLOR,
                   alpha=0.7, edgecolors="none", label=f"dominated ({len(dom)})", zorder=2)
    bad = info.infeasible
    if bad:
        ax.scatter([p.values[i] for p in bad], [p.values[j] for p in bad], s=46, marker="^", facecolors="none",
                   edgecolors=INFEASIBLE_COLOR, linewidths=1.3, label=f"{info.infeasible_label} ({len(bad)})", zorder=2)
    fr = info.front
    if connect and fr:
        xs, ys = _staircase([p.values[i] for p in fr], [p.values[j] for p in fr], info.modes[i], info.modes[j])
        ax.plot(xs, ys, color=FRONT_COLOR, lw=1.5, alpha=0.8, zorder=3)
    if fr:
        ax.scatter([p.values[i] for p in fr], [p.values[j] for p in fr], s=70, c=FRONT_COLOR,
                   edgecolors="white", linewidths=0.8, label=f"Pareto front ({len(fr)})", zorder=4)
        if len(fr) <= MAX_LABELLED_FRONT:
            for p in fr:
                ax.annotate(_short(p.label), (p.values[i], p.values[j]), textcoords="offset points",
                            xytext=(5, 5), fontsize=8, color=FRONT_COLOR)
    div = info.diverged
    if div:
        ax.scatter([p.values[i] for p in div], [p.values[j] for p in div], s=90, marker="x", c=DIVERGED_COLOR,
                   linewidths=1.8, label=f"{info.diverged_label} ({len(div)})", zorder=5)
    if info.baseline is not None:
        ax.scatter([info.baseline[i]], [info.baseline[j]], s=220, marker="*", c=BASELINE_COLOR,
                   label="S0 baseline (no adapter)", zorder=6)
    if info.reference is not None and info.reference_source == "worst":
        ax.scatter([info.reference[i]], [info.reference[j]], s=60, marker="+", c="#555555",
                   label="HV reference (worst observed)", zorder=6)
    ax.set_xlabel(info.axis_labels[i], fontsize=11)
    ax.set_ylabel(info.axis_labels[j], fontsize=11)
    ax.grid(True, alpha=0.3)


def _staircase(xs: Sequence[float], ys: Sequence[float], mx: str, my: str) -> tuple[list[float], list[float]]:
    """The boundary of the region the front dominates, through its members sorted by x.

    For a ``max`` x objective, a member's box extends to smaller x, so the step turns at (x_prev, y);
    for ``min`` x it extends to larger x and turns at (x, y_prev). ``my`` only flips the y order.
    """
    del my
    pts = sorted(zip(xs, ys, strict=True))
    out_x, out_y = [pts[0][0]], [pts[0][1]]
    for x, y in pts[1:]:
        if mx == "max":
            out_x.append(out_x[-1])
            out_y.append(y)
        else:
            out_x.append(x)
            out_y.append(out_y[-1])
        out_x.append(x)
        out_y.append(y)
    return out_x, out_y


def draw_curves(info: CurvesInfo, path: Path) -> Path:
    """curves.png: one panel per objective; front trials coloured and labelled, others grey; NaN stops as red x."""
    plt = _pyplot()
    n = len(info.objectives)
    fig, axes = plt.subplots(1, n, figsize=(6.2 * n, 5.0), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, obj, label in zip(axes[0], info.objectives, info.axis_labels, strict=True):
        curves = info.curves[obj]
        front_ids = sorted({c.trial_id for c in curves if c.on_front})
        colors = {t: cmap(k % 10) for k, t in enumerate(front_ids)}
        stop_labelled = False
        for c in sorted(curves, key=lambda c: c.on_front):
            if c.on_front:
                ax.plot(c.steps, c.values, "-o", color=colors[c.trial_id], lw=2, ms=4, label=_short(c.trial_id) + " (front)", zorder=3)
            else:
                ax.plot(c.steps, c.values, "-o", color=DOMINATED_COLOR, lw=1, ms=3, alpha=0.8, zorder=2)
            if c.stop_step is not None and c.values:
                ax.plot([c.steps[-1], c.stop_step], [c.values[-1], c.values[-1]], ":", color=DIVERGED_COLOR, lw=1, zorder=4)
                ax.scatter([c.stop_step], [c.values[-1]], marker="x", s=70, c=DIVERGED_COLOR, linewidths=2, zorder=5,
                           label=None if stop_labelled else "NaN/spike stop (at the step it diverged)")
                stop_labelled = True
        if any(not c.on_front for c in curves):
            ax.plot([], [], "-o", color=DOMINATED_COLOR, ms=3, label="other trials")
        ax.set_xlabel("optimizer step", fontsize=11)
        ax.set_ylabel(label, fontsize=11)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best", ncol=2 if len(front_ids) > 6 else 1)
    title = info.title
    if info.n_no_good_eval:
        title += f"\n({info.n_no_good_eval} trial(s) diverged before their first eval: nothing to draw)"
    fig.suptitle(title, fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.93 if info.n_no_good_eval else 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_bars(values: dict[str, dict[str, float]], title: str, path: Path) -> Path:
    """Horizontal bar panels: ``values[panel][name] = value`` (hyperparameter importance per objective)."""
    plt = _pyplot()
    n = max(1, len(values))
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.2), squeeze=False)
    for ax, (panel, vals) in zip(axes[0], values.items(), strict=False):
        names = list(vals)[::-1]
        ax.barh(names, [vals[k] for k in names], color=FRONT_COLOR)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("importance (sums to 1)", fontsize=9)
        ax.set_xlim(0, 1)
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=11, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_hypervolume(by_trial: Sequence[tuple[int, str, float]], by_steps: Sequence[tuple[int, float]],
                     title: str, path: Path) -> Path:
    """hypervolume.png: the hypervolume after each finished trial and against cumulative steps."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].step([n for n, _, _ in by_trial], [v for _, _, v in by_trial], where="post", color=FRONT_COLOR)
    axes[0].set_xlabel("trials finished (completion order)")
    axes[1].step([s for s, _ in by_steps], [v for _, v in by_steps], where="post", color=FRONT_COLOR)
    axes[1].set_xlabel("cumulative optimizer steps (all trials, every checkpoint)")
    for ax in axes:
        ax.set_ylabel("hypervolume")
        ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=11, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
