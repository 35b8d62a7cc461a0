"""The runs: every item in priority order (the table), or the items ``--only`` names (probes)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .checks import check_fast_vs_plain, check_merged_logits
from .configs import QWEN25_05B, TINY
from .device import free
from .evaluation import eval_rows, measure_comet_shaped, measure_generation, measure_metrics
from .guard import add, checked, guarded, progress
from .model import build_model_dir, load_lora_model, synthetic_examples
from .sharing import run_sharing
from .specs import (
    CHECK_EVAL_ROW,
    CHECK_TRAIN_ROW,
    DEV_PAIRS,
    METRICS_ROW,
    PROFILE_ROW,
    SCORE_SPECS,
    SHARE_COUNTS,
    STATIC_ROW,
    Bench,
    Row,
    eval_specs,
    probe_specs,
    row_order,
    train_specs,
)
from .training import measure_profile, measure_training


def run(bench: Bench) -> list[Row]:
    """Every item in priority order (the compile row last: it alone can take long), each time-boxed."""
    rows: list[Row] = []
    tmp = tempfile.TemporaryDirectory(prefix="mtsweep-bench-")
    bench.model_dir = Path(tmp.name)
    config_values = TINY if bench.smoke else QWEN25_05B
    bench.n_params = build_model_dir(bench.model_dir, config_values, bench.device)
    progress(bench, f"model saved ({bench.n_params / 1e6:.1f}M params)")
    examples = synthetic_examples(64 * 64, bench.seq, config_values["vocab_size"])
    specs = train_specs()
    scale = 0.05 if bench.smoke else 1.0
    reserve = 0.0 if bench.smoke else 100.0  # kept for the sharing rows
    try:
        for quant in ("nf4", "bf16"):
            try:
                model = load_lora_model(bench, quant)
            except Exception as err:
                why = f"error loading the {quant} model: {type(err).__name__}: {str(err)[:160]}"
                rows += [add(bench, Row(s.name, {}, why)) for s in specs if s.quant == quant and not s.compile]
                rows += [add(bench, Row(e[0], {}, why)) for e in eval_specs() if e[1] == quant]
                continue
            for spec in [s for s in specs if s.quant == quant and not s.compile]:
                if bench.left() < 10 * scale + reserve + 20 * scale:
                    rows.append(add(bench, Row(spec.name, {}, "skipped: over the time budget")))
                    continue
                rows.append(add(bench, guarded(bench, spec.name, lambda s=spec, m=model: measure_training(
                    bench, m, s, examples, 2.0 if bench.smoke else 6.0))))
            if quant == "bf16":
                rows += [add(bench, checked(bench, CHECK_TRAIN_ROW, lambda m=model: check_fast_vs_plain(
                             bench, m, examples))),
                         add(bench, checked(bench, CHECK_EVAL_ROW, lambda m=model: check_merged_logits(bench, m)))]
            for row in eval_rows(bench, model, quant, reserve):
                rows.append(add(bench, row))
            del model
            free()
        for name, dtype, batch in SCORE_SPECS:
            rows.append(add(bench, guarded(bench, name, lambda d=dtype, b=batch, n=name: Row(
                n, measure_comet_shaped(bench, d, b), f"XLM-R large, random weights, 3 x {DEV_PAIRS:,} segments"))))
            free()
        rows.append(add(bench, guarded(bench, METRICS_ROW, lambda: Row(
            METRICS_ROW, measure_metrics(bench), f"trainable.eval.metrics.score_all on {DEV_PAIRS:,} pairs, CPU"))))
        counts = (1, 2) if bench.smoke else SHARE_COUNTS
        if bench.left() > 60 * scale:
            rows += [add(bench, r) for r in run_sharing(bench, counts, phase_s=2.0 if bench.smoke else 8.0,
                                                         startup_box=120.0)]
        else:
            rows += [Row(f"share: {k} trial(s) on one GPU", {}, "skipped: over the time budget") for k in counts]
        if bench.smoke:
            rows += [Row(f"share: {k} trial(s) on one GPU", {}, "skipped in --cpu-smoke (2 workers at most)")
                     for k in SHARE_COUNTS if k not in counts]
        for spec in [s for s in specs if s.compile]:
            if bench.left() < 30 * scale:
                rows.append(add(bench, Row(spec.name, {}, "skipped: over the time budget")))
                continue
            rows.append(add(bench, guarded(bench, spec.name, lambda s=spec: measure_training(
                bench, load_lora_model(bench, s.quant), s, examples, 2.0 if bench.smoke else 6.0),
                limit=bench.left() - 5)))
            free()
        if bench.left() < 30 * scale:
            rows.append(add(bench, Row(STATIC_ROW, {}, "skipped: over the time budget")))
        else:
            rows.append(add(bench, guarded(bench, STATIC_ROW, lambda: Row(STATIC_ROW, measure_generation(
                bench, load_lora_model(bench, "bf16"), "bfloat16", 32 if bench.smoke else 1024, static=True),
                "merged, transformers' static cache"), limit=min(90.0, bench.left() - 5))))
            free()
    finally:
        tmp.cleanup()
    _note_compile_break_even(rows)
    order = row_order()
    return sorted(rows, key=lambda r: order.index(r.name) if r.name in order else len(order))


def _note_compile_break_even(rows: list[Row]) -> None:
    """Add to the compile row after how many steps its extra warm-up is paid back (vs chunked CE)."""
    by_name = {r.name: r for r in rows}
    comp, base = by_name.get("lever: + torch.compile"), by_name.get("lever: + chunked CE")
    if not (comp and base and comp.values and base.values):
        return
    saved_ms = base.values["step ms"] - comp.values["step ms"]
    extra_s = comp.values["warm-up s"] - base.values["warm-up s"]
    if saved_ms <= 0:
        comp.note += "; never pays back (not faster per step)"
    else:
        comp.note += f"; warm-up paid back after {max(extra_s, 0) * 1000 / saved_ms:,.0f} steps"


def run_probe(bench: Bench, only: list[str]) -> list[Row]:
    """The items whose names start with one of ``only`` (training rows, probe rows, the profile), in order."""
    wanted = [s for s in train_specs() + probe_specs(bench.seq) if any(s.name.startswith(o) for o in only)]
    rows: list[Row] = []
    tmp = tempfile.TemporaryDirectory(prefix="mtsweep-bench-")
    bench.model_dir = Path(tmp.name)
    config_values = TINY if bench.smoke else QWEN25_05B
    try:
        bench.n_params = build_model_dir(bench.model_dir, config_values, bench.device)
        examples = synthetic_examples(64 * 64, bench.seq, config_values["vocab_size"])
        if any(PROFILE_ROW.startswith(o) for o in only):
            model = load_lora_model(bench, "bf16")
            rows.append(add(bench, guarded(bench, PROFILE_ROW, lambda: measure_profile(bench, model, examples),
                                           limit=60)))
            del model
            free()
        for spec in wanted:
            if bench.left() < 15:
                rows.append(add(bench, Row(spec.name, {}, "skipped: over the time budget")))
                continue
            rows.append(add(bench, guarded(bench, spec.name, lambda s=spec: measure_training(
                bench, load_lora_model(bench, s.quant), s, examples, 2.0 if bench.smoke else 8.0),
                limit=min(150.0, bench.left() - 5))))
            free()
    finally:
        tmp.cleanup()
    return rows
