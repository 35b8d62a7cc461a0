"""Plotly renderer: pareto.html, offline and self-contained (plotly.js inline); hover shows the config."""

from __future__ import annotations

from pathlib import Path

from analysis.plot_info import ParetoPlotInfo
from analysis.plot_static import (
    BASELINE_COLOR,
    DIVERGED_COLOR,
    DOMINATED_COLOR,
    FRONT_COLOR,
    INFEASIBLE_COLOR,
    _staircase,
)


def _hover(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


def build_figure(info: ParetoPlotInfo):
    """A plotly Figure for ``info``: 2-D scatter for 2 objectives, 3-D scatter for 3."""
    import plotly.graph_objects as go

    three_d = len(info.objectives) == 3
    fig = go.Figure()

    def scatter(points, name, **marker):
        coords = {ax: [p.values[k] for p in points] for k, ax in enumerate("xyz"[: len(info.objectives)])}
        cls = go.Scatter3d if three_d else go.Scatter
        return cls(**coords, mode="markers", name=name, marker=marker,
                   text=[_hover(p.hover) for p in points], hovertemplate="%{text}<extra></extra>")

    if info.dominated:
        fig.add_trace(scatter(info.dominated, f"dominated ({len(info.dominated)})", color=DOMINATED_COLOR, size=7,
                              opacity=0.7))
    if info.infeasible:
        fig.add_trace(scatter(info.infeasible, f"{info.infeasible_label} ({len(info.infeasible)})",
                              color=INFEASIBLE_COLOR, size=9, symbol="triangle-up-open" if not three_d else "diamond-open"))
    if info.front:
        if not three_d:
            xs, ys = _staircase([p.values[0] for p in info.front], [p.values[1] for p in info.front],
                                info.modes[0], info.modes[1])
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": FRONT_COLOR, "width": 1.5},
                                     hoverinfo="skip", showlegend=False))
        fig.add_trace(scatter(info.front, f"Pareto front ({len(info.front)})", color=FRONT_COLOR, size=11,
                              line={"color": "white", "width": 1}))
    if info.diverged:
        fig.add_trace(scatter(info.diverged, f"{info.diverged_label} ({len(info.diverged)})",
                              color=DIVERGED_COLOR, size=12, symbol="x"))
    if info.baseline is not None:
        coords = {ax: [info.baseline[k]] for k, ax in enumerate("xyz"[: len(info.objectives)])}
        text = "S0 baseline (no adapter)<br>" + "<br>".join(
            f"{o} = {v:.4g}" for o, v in zip(info.objectives, info.baseline, strict=True))
        cls = go.Scatter3d if three_d else go.Scatter
        fig.add_trace(cls(**coords, mode="markers", name="S0 baseline (no adapter)",
                          marker={"color": BASELINE_COLOR, "size": 16 if not three_d else 8,
                                  "symbol": "star" if not three_d else "diamond"},
                          text=[text], hovertemplate="%{text}<extra></extra>"))
    title = f"{info.title}<br><sup>{_hover(info.subtitle)}</sup>"
    if three_d:
        fig.update_layout(scene={"xaxis_title": info.axis_labels[0], "yaxis_title": info.axis_labels[1],
                                 "zaxis_title": info.axis_labels[2]})
    else:
        fig.update_layout(xaxis_title=info.axis_labels[0], yaxis_title=info.axis_labels[1])
    fig.update_layout(title=title, template="plotly_white", height=650, hoverlabel={"align": "left"},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.12})
    return fig


def write_pareto_html(info: ParetoPlotInfo, path: Path) -> Path:
    """Write a self-contained HTML file (plotly.js embedded, works offline)."""
    build_figure(info).write_html(str(path), include_plotlyjs=True, full_html=True)
    return path
