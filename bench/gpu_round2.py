"""Speed, round 2 (issue #14) on one GPU in one call: the reference configuration and the new levers, one table.

Run on the GPU machine (< 10 min on an H100/H200; carry ``build/gpu_wheels`` for the NF4 reference row as
in ``bench/gpu_throughput.py``'s docstring)::

    python3 bench/gpu_round2.py --json $OUT/round2.json     # Qwen2.5-0.5B-shaped model, random weights
    python3 bench/gpu_round2.py --cpu-smoke                 # tiny model on CPU: every part runs

Rows, in order, each time-boxed against ``--budget-s``:

- ``reference``: the reference configuration (NF4, micro-batch 8 x 4, AdamW, unmerged eval at batch 64) for
  ``--ref-steps`` steps and one eval on 256 pairs, extrapolated to a seed-equivalent trial (600 steps x 32
  pairs, 6 full-dev evals), measured in this same run;
- ``trial``: a seed-equivalent trial with TrialConfig's defaults (bf16; ``compile: auto`` = the whole step
  as CUDA graphs at fixed shapes): wall, training seconds per eval interval (warm-up vs steady), compilations,
  and the seed-trial seconds with COMET added (the COMET row's precision and overlap below);
- ``check``: the step graph vs the eager fast path, same LoRA start, same steps, dropout off (losses and
  pre-clip norms the guard reads);
- ``train``: the step graph at micro-batch 32 and 128 (tok/s, capture warm-up);
- ``share``: 1/4/8 trials on one GPU as processes (eager, time-sliced), as processes running the step graph,
  the same under CUDA MPS (a daemon started and stopped by this script), and k trials fused in one process
  over one frozen base (``bench/gpu/fused_trials.py``: one batched pass of the base matmuls for all k);
- ``comet``: a COMET-sized scorer (XLM-R large, random weights, COMET-spread scores) in fp32 vs bf16: the
  system-level score difference (bf16 is accepted only at <= 0.001) and full-dev seconds;
- ``eval``: a full-dev eval (merged bf16 model, batch 1024, 60 new tokens) with COMET-sized scoring after
  generation vs overlapped with it (COMET of chunk i on a second stream while chunk i+1 generates).

The targets of the issue follow the table, each with the row that decides it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU, every part")
    p.add_argument("--budget-s", type=float, default=540.0, help="time box of the whole run")
    p.add_argument("--ref-steps", type=int, default=16)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    import torch

    smoke = args.cpu_smoke
    if not smoke and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu-smoke on a machine without a GPU", file=sys.stderr)
        return 2
    rows = run(args, smoke)
    device = "CPU (1 thread)" if smoke else torch.cuda.get_device_name(0)
    table = format_table(device, rows)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"device": device, "rows": [r.__dict__ for r in rows]}, indent=1, default=str))
    return 0


def run(args: Any, smoke: bool) -> list[Any]:
    import tempfile

    import gpu_trial
    from gpu.configs import QWEN25_05B, TINY
    from gpu.device import free, setup_device
    from gpu.guard import add, checked, guarded
    from gpu.model import synthetic_examples
    from gpu.round2 import (
        check_step_graph,
        comet_precision,
        eval_overlap,
        measure_fused,
        measure_step_graph,
        mps_daemon,
    )
    from gpu.sharing import run_sharing
    from gpu.specs import Bench, Row

    device = "cpu" if smoke else "cuda"
    bench = Bench(smoke=smoke, seq=32 if smoke else 128, budget_s=args.budget_s, device=device)
    setup_device(bench)
    s = 0.1 if smoke else 1.0  # time boxes scale
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mtsweep-round2-") as tmp:
        root = Path(tmp)
        (root / "model").mkdir()
        config = TINY if smoke else QWEN25_05B
        bench.n_params = gpu_trial.build_model(root / "model", config, device)
        bench.model_dir = root / "model"
        dev_pairs = 24 if smoke else 2668
        base = {"model": str(root / "model"), **gpu_trial.write_data(root, dev_pairs), "device": device,
                "comet_model": "none", "objectives": ["chrf_pp", "term_acc"], "lr": 1e-4, "max_new_tokens": 60,
                "early_stop_rule": "none", "eval_samples": None, "max_seq_len": 256, "epochs": 100,
                "spike_zscore_loss": None, "spike_zscore_grad": None}
        ref_steps, ref_pairs = (4, 8) if smoke else (args.ref_steps, 256)
        steps, every = (12, 4) if smoke else (600, 100)

        def trial_row(name: str, overrides: dict[str, Any], eval_pairs: int, limit: float) -> Row:
            got = gpu_trial.run_row(name, base, overrides, min(limit, bench.left() - 5))
            got["projected seed trial s (no COMET)"] = gpu_trial.project(got, eval_pairs, dev_pairs, 0.0)
            note = got.pop("error") or ""
            return Row(name, {k: v for k, v in got.items() if k not in ("name",)}, note)

        rows.append(add(bench, trial_row("reference: NF4 mb8x4 AdamW, unmerged eval b64 (slice)", {
            **gpu_trial.REFERENCE, "max_steps": ref_steps, "eval_every": ref_steps, "eval_samples": ref_pairs,
            "final_full_eval": False}, ref_pairs, 90 * s + 60)))
        free()
        trial = {"quantization": "bf16", "max_steps": steps, "eval_every": every}
        if smoke:
            trial["compile"] = "step-graph"  # compile: auto is off on a CPU
        rows.append(add(bench, trial_row("trial: defaults bf16, seed-equivalent (compile auto)", trial, dev_pairs,
                                         160 * s + 60)))
        free()
        examples = synthetic_examples(64 * 64, bench.seq, config["vocab_size"])
        rows.append(add(bench, checked(bench, "check: step graph vs eager fast path (dropout off)",
                                       lambda: check_step_graph(bench, examples, 4 if smoke else 20))))
        free()
        for micro in (32, 128):
            name = f"train: step graph mb{micro}"
            rows.append(add(bench, guarded(bench, name, lambda m=micro, n=name: Row(
                n, measure_step_graph(bench, examples, m, 2.0 if smoke else 8.0)), limit=60 * s + 30)))
            free()
        counts = (1, 2) if smoke else (1, 4, 8)
        phase = 2.0 if smoke else 8.0
        for mode, label in (("eager", " (processes, eager)"), ("graph", " (processes, step graph)")):
            if bench.left() < 60 * s + 20:
                rows.append(Row(f"share{label}", {}, "skipped: over the time budget"))
                continue
            rows += [add(bench, r) for r in run_sharing(bench, counts, phase, 120.0, mode=mode, label=label)]
        with mps_daemon() as mps_env:
            if smoke or mps_env is None:
                rows.append(Row("share (processes, step graph, CUDA MPS)", {},
                                "skipped: " + ("--cpu-smoke" if smoke else "nvidia-cuda-mps-control not available")))
            elif bench.left() > 60:
                rows += [add(bench, r) for r in run_sharing(bench, counts[1:], phase, 120.0, mode="graph",
                                                            label=" (processes, step graph, CUDA MPS)", env=mps_env)]
        for k in counts[1:]:
            name = f"share: {k} trials fused in one process (one base)"
            rows.append(add(bench, guarded(bench, name, lambda k=k, n=name: Row(
                n, measure_fused(bench, examples, k, 8 if smoke else 32, phase)), limit=60 * s + 30)))
            free()
        comet_pairs = 96 if smoke else 2668
        rows.append(add(bench, guarded(bench, "comet: COMET-sized scorer, bf16 vs fp32", lambda: Row(
            "comet: COMET-sized scorer, bf16 vs fp32", comet_precision(bench, comet_pairs)), limit=60 * s + 30)))
        free()
        comet_ok = _bf16_comet_ok(rows)
        for dtype in ("bfloat16",) if comet_ok else ("float32",):
            name = f"eval: full dev, generation + COMET-sized ({dtype}), sequential vs overlapped"
            rows.append(add(bench, guarded(bench, name, lambda d=dtype, n=name: Row(
                n, eval_overlap(bench, comet_pairs, 32 if smoke else 1024, d)), limit=90 * s + 30)))
            free()
        _add_projection(rows)
    return rows


def _bf16_comet_ok(rows: list[Any]) -> bool:
    comet = next((r for r in rows if r.name.startswith("comet:")), None)
    return bool(comet and comet.values and comet.values["system diff"] <= 0.001)


def _add_projection(rows: list[Any]) -> None:
    """The seed trial with COMET: its measured wall (its projection if the time box cut it) + 6 x the COMET
    seconds per full-dev eval (the overlapped eval's extra over the trial's own eval, if smaller)."""
    trial = next((r for r in rows if r.name.startswith("trial:")), None)
    ev = next((r for r in rows if r.name.startswith("eval:") and r.values), None)
    comet = next((r for r in rows if r.name.startswith("comet:") and r.values), None)
    if not (trial and trial.values.get("wall s") and comet):
        return
    measured = trial.values["wall s"] if not trial.note else trial.values.get("projected seed trial s (no COMET)")
    if measured is None:
        return
    per_eval = comet.values["bf16 full-dev s" if _bf16_comet_ok(rows) else "fp32 full-dev s"]
    if ev:
        per_eval = min(per_eval, max(ev.values["overlapped full-dev s"] - trial.values.get("eval s each", 0.0), 0.0))
    trial.values["seed trial s with COMET"] = measured + 6 * per_eval  # a cut-short trial: its projection


def format_table(device: str, rows: list[Any]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.1e}" if 0 < abs(v) < 0.01 else f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
        return str(v)

    keep = ("tok/s", "step ms", "warm-up s", "peak GiB", "per trial GiB", "wall s", "setup s", "train s",
            "train tok/s", "eval s each", "compile", "compiles", "shapes", "warm-up interval s", "steady interval s",
            "projected seed trial s (no COMET)", "seed trial s with COMET", "max rel diff loss", "max rel diff grad",
            "graphs captured", "system diff", "max segment diff", "fp32 full-dev s", "bf16 full-dev s",
            "sequential full-dev s", "overlapped full-dev s")
    lines = [f"device: {device}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "| row | values | note |",
             "|---|---|---|"]
    for r in rows:
        shown = "; ".join(f"{k} {cell(v)}" for k, v in r.values.items() if k in keep and v is not None)
        lines.append(f"| {r.name} | {shown} | {r.note} |")
    for r in rows:
        if r.values.get("train s per interval"):
            lines.append(f"train s per eval interval, {r.name}: {r.values['train s per interval']}")
    lines += ["", "targets (issue #14):", *targets(rows)]
    return "\n".join(lines)


def targets(rows: list[Any]) -> list[str]:
    """Each target with the number that decides it (or why it is not decided)."""
    by = {r.name: r for r in rows}
    trial = next((r.values for r in rows if r.name.startswith("trial:")), {})
    out = []
    seed = trial.get("seed trial s with COMET")
    out.append(f"- seed-equivalent trial <= 60 s incl. COMET: {_verdict(seed, 60, below=True)}")
    share = [(r.name, r.values.get("tok/s"), r.values.get("peak GiB") or r.values.get("per trial GiB"))
             for r in rows if r.name.startswith("share") and r.values and not r.name.startswith("share: 1 ")]
    best = max((s for s in share if s[1]), key=lambda s: s[1], default=None)
    out.append("- >= 100k tok/s over >= 4 trials sharing the GPU, each <= 16 GiB: "
               + (f"{_verdict(best[1], 100_000, below=False)} ({best[0]}; {best[2] or 0:.1f} GiB)" if best else "not measured"))
    warm, compiles, shapes = trial.get("warm-up interval s"), trial.get("compiles"), trial.get("shapes")
    steady = trial.get("steady interval s")
    extra = warm - steady if warm is not None and steady is not None else None
    out.append(f"- warm-up <= 10 s per trial: {_verdict(extra, 10, below=True)} (first interval minus a steady one);"
               f" compilations {compiles} for {shapes} shape bucket(s) (+1 update graph with the step graph)")
    ev = next((r.values for r in rows if r.name.startswith("eval:") and r.values), {})
    out.append(f"- full-dev eval incl. COMET <= 5 s: {_verdict(ev.get('overlapped full-dev s'), 5, below=True)}")
    check = by.get("check: step graph vs eager fast path (dropout off)")
    if check and check.values:
        out.append(f"- step graph == eager (loss within 2e-3 rel): max rel diff {check.values['max rel diff loss']:.1e}")
    return out


def _verdict(value: float | None, bound: float, *, below: bool) -> str:
    if value is None:
        return "not measured"
    met = value <= bound if below else value >= bound
    return f"{'MET' if met else 'NOT met'} ({value:,.1f})"


if __name__ == "__main__":
    raise SystemExit(main())
