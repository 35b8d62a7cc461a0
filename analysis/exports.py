"""Front tables: pareto.csv / .md / .tex / .json (front members) and trials.csv (the rest), plus readers.

One row per point: trial id, step, the objectives, bleu_char, chrf_pp, len_ratio, diverged flag, state,
stop cause, the feasibility constraints it fails (``infeasible``; empty when feasible), rank, every
hyperparameter (``param.<name>``) and the checkpoint path, relative to the results folder. CSV and JSON keep full
precision; Markdown and LaTeX round for reading (:func:`format_cell`), and their readers parse the
rounded cells back (:func:`display_rows` gives what they must equal).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.front import ParetoFront, Point
from analysis.hypervolume import HypervolumeReport
from analysis.loading import EXTRA_METRICS

STRING_COLUMNS = frozenset({"trial_id", "state", "stop_cause", "infeasible", "checkpoint"})
PARAM_PREFIX = "param."


def columns(front: ParetoFront, points: Sequence[Point]) -> list[str]:
    """Column order: ids, objectives, extra metrics, status, hyperparameters, checkpoint."""
    cols = ["trial_id", "step", *front.objectives]
    cols += [m for m in EXTRA_METRICS if m not in cols]
    cols += ["diverged", "state", "stop_cause", "infeasible", "rank"]
    params = sorted({k for p in points for k in p.params})
    return [*cols, *(PARAM_PREFIX + k for k in params), "checkpoint"]


def relative_checkpoint(path: str | None, root: Path | None) -> str | None:
    """``path`` relative to the results folder ``root`` (``ray/<trial>/checkpoint_000001``): inside it, or,
    for a folder copied from elsewhere, from the Ray experiment folder ``ray/`` on; else unchanged."""
    if not path or root is None:
        return path
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path(root).resolve()))
    except ValueError:
        pass
    parts = p.parts
    if "ray" in parts[:-1]:
        last = len(parts) - 1 - parts[::-1].index("ray")
        return str(Path(*parts[last:]))
    return path


def point_row(
    front: ParetoFront, point: Point, cols: Sequence[str], rank: int | None, root: Path | None = None
) -> dict[str, Any]:
    """One table row for ``point``; ``root``: the results folder the checkpoint path is shown relative to."""
    row: dict[str, Any] = {}
    for c in cols:
        if c == "trial_id":
            row[c] = point.trial_id
        elif c == "step":
            row[c] = point.step
        elif c in front.objectives:
            row[c] = point.values.get(c)
        elif c in EXTRA_METRICS:
            row[c] = point.metrics.get(c)
        elif c == "diverged":
            row[c] = point.diverged
        elif c == "state":
            row[c] = point.state
        elif c == "stop_cause":
            row[c] = point.stop_cause
        elif c == "infeasible":
            row[c] = "; ".join(point.failed_constraints) or None
        elif c == "rank":
            row[c] = rank
        elif c == "checkpoint":
            row[c] = relative_checkpoint(point.checkpoint, root)
        else:
            row[c] = point.params.get(c.removeprefix(PARAM_PREFIX))
    return row


def front_rows(front: ParetoFront, root: Path | None = None) -> list[dict[str, Any]]:
    """Rows of the front members, best first in the first objective (checkpoints relative to ``root``)."""
    cols = columns(front, front.points)
    return [point_row(front, p, cols, 0, root) for p in front.front]


def other_rows(front: ParetoFront, root: Path | None = None) -> list[dict[str, Any]]:
    """Rows of the dominated points (by rank), then the infeasible and the excluded ones (rank empty)."""
    cols = columns(front, [*front.points, *front.infeasible, *front.excluded])
    rows = [point_row(front, p, cols, front.rank_of(p), root) for p in front.dominated]
    return rows + [point_row(front, p, cols, None, root) for p in [*front.infeasible, *front.excluded]]


# ---- cell formatting / parsing -------------------------------------------------------------------


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_cell(key: str, value: Any) -> str:
    """Human formatting (Markdown, LaTeX, console): 4 decimals for scores, 2 for BLEU/chrF, 3 digits else."""
    if isinstance(value, float) and not isinstance(value, bool):
        if key in ("bleu_char", "chrf_pp", "bleu_mecab", "latency_ms"):
            return f"{value:.2f}"
        if key.startswith(PARAM_PREFIX):
            return f"{value:.3g}"
        return f"{value:.4f}"
    return _to_text(value)


_INT = re.compile(r"^[+-]?\d+$")


def parse_cell(key: str, text: str) -> Any:
    """Inverse of :func:`_to_text` / :func:`format_cell` (strings stay strings in STRING_COLUMNS)."""
    if text == "":
        return None
    if key in STRING_COLUMNS:
        return text
    if text in ("true", "false"):
        return text == "true"
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def display_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` as the Markdown/LaTeX readers give them back (rounded by :func:`format_cell`)."""
    return [{k: parse_cell(k, format_cell(k, v)) for k, v in r.items()} for r in rows]


# ---- writers ---------------------------------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[dict[str, Any]], cols: Sequence[str] | None = None) -> Path:
    cols = list(cols or (rows[0].keys() if rows else []))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([_to_text(r.get(c)) for c in cols])
    return path


def markdown_table(rows: Sequence[dict[str, Any]], cols: Sequence[str]) -> str:
    """A GitHub Markdown table (cells rounded by :func:`format_cell`, ``|`` escaped)."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(esc(format_cell(c, r.get(c))) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(s: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in s)


_TEX_UNESCAPE = {esc: ch for ch, esc in _TEX_ESCAPES.items()}
_TEX_UNESCAPE_RE = re.compile("|".join(re.escape(e) for e in sorted(_TEX_UNESCAPE, key=len, reverse=True)))


def tex_unescape(s: str) -> str:
    return _TEX_UNESCAPE_RE.sub(lambda m: _TEX_UNESCAPE[m.group(0)], s)


def latex_table(rows: Sequence[dict[str, Any]], cols: Sequence[str], caption: str) -> str:
    """A booktabs ``table`` with a ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    out = [r"\begin{table}[ht]", r"\centering", r"\small", rf"\caption{{{tex_escape(caption)}}}",
           r"\begin{tabular}{" + "l" * len(cols) + "}", r"\toprule",
           " & ".join(tex_escape(c) for c in cols) + r" \\", r"\midrule"]
    out += [" & ".join(tex_escape(format_cell(c, r.get(c))) for c in cols) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def summary_dict(front: ParetoFront, hv: HypervolumeReport | None) -> dict[str, Any]:
    """Header facts shared by pareto.json and pareto.md."""
    out: dict[str, Any] = {
        "level": front.level,
        "objectives": list(front.objectives),
        "modes": list(front.modes),
        "n_points": len(front.points),
        "n_front": len(front.front),
        "n_excluded": len(front.excluded),
        "n_infeasible": len(front.infeasible),
    }
    if hv is not None:
        out["hypervolume"] = hv.value
        out["reference"] = {"source": hv.reference.source, "values": dict(zip(front.objectives, hv.reference.values, strict=True))}
    return out


def write_exports(
    front: ParetoFront, out_dir: Path, hv: HypervolumeReport | None = None, *, root: Path | None = None
) -> list[Path]:
    """Write pareto.csv/.md/.tex/.json and trials.csv into ``out_dir``; returns the paths. ``root``: the
    results folder; checkpoint paths are written relative to it (pareto.json names it as ``results_dir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cols = columns(front, [*front.points, *front.infeasible, *front.excluded])
    rows = [point_row(front, p, cols, 0, root) for p in front.front]
    summary = summary_dict(front, hv)
    what = "trials (final results)" if front.level == "trial" else "checkpoints (every eval)"
    ref = f"; hypervolume {hv.value:.6g}, {hv.reference.describe(front.objectives)}" if hv else ""
    caption = (f"Pareto front over {what}: {', '.join(f'{o} ({m})' for o, m in zip(front.objectives, front.modes, strict=True))}; "
               f"{len(front.front)} of {len(front.points)} feasible points, {len(front.infeasible)} infeasible, "
               f"{len(front.excluded)} without values{ref}")
    paths = [write_csv(out_dir / "pareto.csv", rows, cols)]
    md = out_dir / "pareto.md"
    md.write_text(f"# Pareto front ({front.level} level)\n\n{caption}\n\n" + markdown_table(rows, cols), encoding="utf-8")
    tex = out_dir / "pareto.tex"
    tex.write_text(latex_table(rows, cols, caption), encoding="utf-8")
    js = out_dir / "pareto.json"
    where = {"results_dir": str(Path(root).resolve())} if root is not None else {}
    js.write_text(json.dumps({**summary, **where, "columns": cols, "rows": rows}, indent=2), encoding="utf-8")
    paths += [md, tex, js, write_csv(out_dir / "trials.csv", other_rows(front, root), cols)]
    return paths


def write_hypervolume_csv(path: Path, hv: HypervolumeReport) -> Path:
    """History of the hypervolume: per finished trial, and per cumulative step (checkpoint level)."""
    rows = [{"axis": "trials", "x": n, "trial_id": t, "hypervolume": v} for n, t, v in hv.by_trial]
    rows += [{"axis": "steps", "x": s, "trial_id": None, "hypervolume": v} for s, v in hv.by_steps]
    return write_csv(path, rows, ["axis", "x", "trial_id", "hypervolume"])


# ---- readers ---------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        return [{k: parse_cell(k, v) for k, v in zip(header, row, strict=True)} for row in reader]


def read_json(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(Path(path).read_text(encoding="utf-8"))["rows"])


def _split_unescaped(line: str, sep: str) -> list[str]:
    cells, cur, i = [], "", 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur += line[i : i + 2]
            i += 2
            continue
        if ch == sep:
            cells.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    cells.append(cur)
    return cells


def read_markdown(path: Path) -> list[dict[str, Any]]:
    """Rows of the (first) Markdown table in ``path``."""
    lines = [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.startswith("|")]

    def cells(line: str) -> list[str]:
        parts = _split_unescaped(line.strip()[1:-1], "|")
        return [p.strip().replace("\\|", "|").replace("\\\\", "\\") for p in parts]

    header = cells(lines[0])
    return [{k: parse_cell(k, v) for k, v in zip(header, cells(ln), strict=True)} for ln in lines[2:]]


def read_latex(path: Path) -> list[dict[str, Any]]:
    """Rows of the tabular in ``path`` (header row before ``\\midrule``)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    start, mid, end = lines.index(r"\toprule"), lines.index(r"\midrule"), lines.index(r"\bottomrule")

    def cells(line: str) -> list[str]:
        body = line.rstrip()
        body = body[: -len(r"\\")].rstrip() if body.endswith(r"\\") else body
        return [tex_unescape(c.strip()) for c in _split_unescaped(body, "&")]

    if mid != start + 2:
        raise ValueError(f"{path}: expected one header line between \\toprule and \\midrule")
    header = cells(lines[start + 1])
    return [{k: parse_cell(k, v) for k, v in zip(header, cells(ln), strict=True)} for ln in lines[mid + 1 : end]]
