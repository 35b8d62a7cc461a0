"""The "S0 vs S1" table of the reference report: metric rows, an S0 column, one column per front member
(each followed by its delta to S0). Pure formatting: the numbers come from ``mtsweep finalize``.

Reference shape (reference/s0_s1_finetuning_report.txt, "S0 vs S1 Benchmark"):
``Metric | S0 | S1 | Delta`` with rows Avg Latency (ms), BLEU (char), chrF++, COMET, Terminology Accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE_METRICS: tuple[tuple[str, str, int], ...] = (
    ("latency_ms", "Avg Latency (ms)", 1),
    ("bleu_char", "BLEU (char)", 2),
    ("chrf_pp", "chrF++", 2),
    ("comet", "COMET", 4),
    ("term_acc", "Terminology Accuracy", 4),
    ("len_ratio", "Length ratio (hyp/ref)", 3),
    ("trunc_rate", "Cut at max_new_tokens", 3),
    ("runon_rate", "Run-on segments", 3),
)
"""(metric key, row label as in the reference report, decimals)."""


@dataclass
class Member:
    """One evaluated front member (an S1 candidate)."""

    label: str
    """Column name, e.g. ``trial_003@300``."""
    metrics: dict[str, Any]
    params: dict[str, Any]
    checkpoint: str | None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def table_rows(s0: Mapping[str, Any], members: Sequence[Member]) -> list[dict[str, Any]]:
    """One row per metric present in S0 or any member: {metric, label, S0, <member>, Δ <member>, ...}."""
    rows = []
    for key, label, _ in TABLE_METRICS:
        if _num(s0.get(key)) is None and all(_num(m.metrics.get(key)) is None for m in members):
            continue
        row: dict[str, Any] = {"metric": key, "Metric": label, "S0": _num(s0.get(key))}
        for m in members:
            v = _num(m.metrics.get(key))
            row[m.label] = v
            row[f"Delta {m.label}"] = None if v is None or row["S0"] is None else v - row["S0"]
        rows.append(row)
    return rows


def _fmt(v: float | None, decimals: int, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.{decimals}f}" if signed else f"{v:.{decimals}f}"


def markdown(rows: Sequence[dict[str, Any]], members: Sequence[Member], title: str) -> str:
    decimals = {k: d for k, _, d in TABLE_METRICS}
    cols = ["Metric", "S0"] + [c for m in members for c in (m.label, f"Delta {m.label}")]
    lines = [f"# {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        d = decimals[r["metric"]]
        cells = [r["Metric"], _fmt(r["S0"], d)]
        for m in members:
            cells += [_fmt(r[m.label], d), _fmt(r[f"Delta {m.label}"], d, signed=True)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Front members (hyperparameters, checkpoint):", ""]
    for m in members:
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(m.params.items()))
        lines.append(f"- **{m.label}**: {params}; checkpoint `{m.checkpoint}`")
    return "\n".join(lines) + "\n"


def write_s0_vs_s1(out_dir: Path, s0: Mapping[str, Any], members: Sequence[Member], *, split: str,
                   title: str, extra: Mapping[str, Any] | None = None) -> list[Path]:
    """Write s0_vs_s1.md / .csv / .json into ``out_dir``."""
    from analysis.exports import write_csv

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = table_rows(s0, members)
    cols = ["metric", "Metric", "S0"] + [c for m in members for c in (m.label, f"Delta {m.label}")]
    md = out_dir / "s0_vs_s1.md"
    md.write_text(markdown(rows, members, title), encoding="utf-8")
    js = out_dir / "s0_vs_s1.json"
    js.write_text(json.dumps({
        "split": split, "title": title, "s0": dict(s0), "rows": rows,
        "members": [{"label": m.label, "metrics": m.metrics, "params": m.params, "checkpoint": m.checkpoint}
                    for m in members],
        **dict(extra or {}),
    }, indent=2, default=str), encoding="utf-8")
    return [md, write_csv(out_dir / "s0_vs_s1.csv", rows, cols), js]
