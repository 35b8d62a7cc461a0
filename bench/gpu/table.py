"""The printed output: the table of rows, and the projected seed-equivalent trial per path."""

from __future__ import annotations

import time
from typing import Any

from .specs import METRICS_ROW, SEED_EVALS, SEED_STEPS, Bench, Row, eval_specs

COLUMNS = ("tok/s", "step ms", "peak GiB", "% peak (6N)", "warm-up s", "new tok/s", "segments/s", "full-dev s",
           "GPU busy %", "kernels/step")


def format_table(bench: Bench, rows: list[Row]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
        return str(v)

    head = ["item", *COLUMNS, "note"]
    body = [[r.name, *(cell(r.values.get(c)) for c in COLUMNS), r.note] for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    line = lambda cols: "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |"  # noqa: E731
    peak = f"{bench.peak_tflops} TFLOP/s bf16 dense" if bench.peak_tflops else "n/a (no known peak for this device)"
    out = [f"device: {bench.device_name}; model: {'tiny Qwen2 (smoke)' if bench.smoke else 'Qwen2.5-0.5B-shaped'} "
           f"({bench.n_params / 1e6:.1f}M params, random weights), LoRA r{bench.lora_r} all linear, seq <= {bench.seq}; "
           f"assumed peak: {peak}; total {time.perf_counter() - bench.t0:.0f} s",
           line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


PROJECTED = (  # (path, training row, generation row, COMET row)
    ("reference", "reference NF4 mb8x4 AdamW", "eval: NF4 unmerged b256", "score: COMET-shaped fp32 b64"),
    ("mtsweep defaults", "mtsweep TrialConfig defaults", None, "score: COMET-shaped fp32 b64"),
    ("mtsweep fast path", "mtsweep fast path", "eval: bf16 merged fp32 b1024", "score: COMET-shaped bf16 b256"),
)


def projections(rows: list[Row]) -> list[dict[str, Any]]:
    """A seed-equivalent trial (600 steps x 32 pairs, 6 full dev evals) per path, from the measured rows."""
    by_name = {r.name: r.values for r in rows}
    metrics_s = by_name.get(METRICS_ROW, {}).get("full-dev s")
    out = []
    for path, train, gen, comet in PROJECTED:
        gen = gen or eval_specs()[0][0]
        step_ms = by_name.get(train, {}).get("step ms")
        gen_s, comet_s = by_name.get(gen, {}).get("full-dev s"), by_name.get(comet, {}).get("full-dev s")
        if None in (step_ms, gen_s, comet_s, metrics_s):
            out.append({"path": path, "note": "a row it needs is missing"})
            continue
        eval_s = gen_s + comet_s + metrics_s
        train_s = SEED_STEPS * step_ms / 1000
        out.append({"path": path, "train s": train_s, "eval s": eval_s, "trial s": train_s + SEED_EVALS * eval_s,
                    "note": f"{train} + ({gen} + {comet} + metrics)"})
    return out


def format_projections(projected: list[dict[str, Any]]) -> str:
    lines = [f"projected seed-equivalent trial ({SEED_STEPS} steps x 32 pairs + {SEED_EVALS} full dev evals; "
             "model load and checkpoints not counted):"]
    for p in projected:
        if "trial s" not in p:
            lines.append(f"  {p['path']}: n/a ({p['note']})")
            continue
        lines.append(f"  {p['path']}: train {p['train s']:.1f} s + {SEED_EVALS} x eval {p['eval s']:.1f} s "
                     f"= {p['trial s']:.0f} s   [{p['note']}]")
    return "\n".join(lines)
