"""GPU throughput of one mtsweep trial: training levers, eval generation, trials sharing the GPU.

Run on the GPU machine in one call (< 5 minutes, no hub access needed)::

    python bench/gpu_throughput.py                  # Qwen2.5-0.5B-shaped model, random weights
    python bench/gpu_throughput.py --cpu-smoke      # the same items on a tiny model on CPU, in seconds

The lent H100/H200 image has torch/transformers/peft but no bitsandbytes (NF4 rows): carry the wheel
kept, git-ignored, in ``build/gpu_wheels/`` (``pip download --no-deps --only-binary=:all: --python-version
3.12 --platform manylinux_2_24_x86_64 -d build/gpu_wheels bitsandbytes==0.50.2``; 43 MB), i.e. one
device call with ``carry=["build/gpu_wheels"]``, ``timeout_s=420`` and the command::

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site build/gpu_wheels/*.whl \
      && export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 && set -o pipefail \
      && python3 bench/gpu_throughput.py --json $OUT/bench.json 2>&1 | tee $OUT/bench.txt

It builds a Qwen2.5-0.5B-shaped model from its public config values with random weights, saves it to a
temporary directory and loads it through the trial's own loader (``trainable.model.loading``: NF4 or
bf16, then LoRA r16 on all linear layers), feeds synthetic token-id examples (lengths drawn around 60%
of ``--seq``, full-sequence loss) and runs the trial's own step code (``trainable.training.train_step``). It
prints ONE table:

- training rows: real (non-padding) tokens/s, ms per optimizer step, peak GPU memory, and % of the
  chip's bf16 dense peak counted as ``6 * N * tokens / time`` (N = all base parameters; a frozen-base LoRA
  step does ~4N, so ~67% is the practical ceiling of this measure). The reference configuration (NF4,
  micro-batch 8 x accumulation 4, plain AdamW), TrialConfig's defaults and the fast path run side by side,
  then one lever at a time against the row before it;
- eval rows: greedy generation new-tokens/s (60 new tokens each, no early stop) and the projected
  seconds of a full dev eval (2,668 pairs) for unmerged LoRA vs the merged copy the trial's eval uses
  (``trainable.model.nf4_merge.dequantized_merged_copy``: dequantized base + LoRA in one model) in fp32 (exact,
  the default ``eval_dtype``) and bf16 (faster, rounds small LoRA updates away), at batch 256 / 1024;
- scoring rows: a COMET-sized encoder (XLM-R large, random weights) over src + mt + ref of a full dev
  set (fp32 as the trial runs it, and bf16), and the trial's BLEU(char) / chrF++ / term acc on 2,668 pairs;
- check rows: the fast path's step code vs the plain path (same 5 steps); the merged eval copy (fp32 and
  bf16) vs the unmerged fp32 model's logits, as a share of the adapter's own effect;
- sharing rows: aggregate training tokens/s of 1, 2, 4, 8 trial processes (fast path) on one GPU;
- then a projected seed-equivalent trial (600 steps, 6 full dev evals) per path.

``--only PREFIXES`` runs just the named training rows and probes (a torch.profiler step, micro-batch
128/256, per-layer CUDA graphs, no padding mask, the whole step as one CUDA graph). Results of the H100
run: ``bench/README.md``.

Every item is time-boxed against ``--budget-s``; an item that would not fit is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gpu.configs import QWEN25_05B, TINY
from gpu.device import setup_device
from gpu.runner import run, run_probe
from gpu.sharing import worker_main
from gpu.specs import (
    CHECK_EVAL_ROW,
    CHECK_TRAIN_ROW,
    SEED_EVALS,
    SEED_STEPS,
    SHARE_COUNTS,
    Bench,
    Row,
    eval_specs,
    row_order,
    train_specs,
)
from gpu.table import PROJECTED, format_projections, format_table, projections

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

__all__ = ["CHECK_EVAL_ROW", "CHECK_TRAIN_ROW", "PROJECTED", "QWEN25_05B", "SEED_EVALS", "SEED_STEPS", "SHARE_COUNTS",
           "TINY", "Bench", "Row", "eval_specs", "main", "row_order", "train_specs"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU, every item, in seconds")
    p.add_argument("--seq", type=int, default=None, help="longest synthetic example (tokens; 128, smoke 32)")
    p.add_argument("--budget-s", type=float, default=280.0, help="time box of the whole run")
    p.add_argument("--steps", type=int, default=6, help="timed optimizer steps per training row (at most)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    p.add_argument("--only", help="comma-separated name prefixes: run just those training/probe/profile items")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--device", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker-mode", default="eager", choices=("eager", "graph"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker_main(args)
    import torch

    device = args.device or ("cpu" if args.cpu_smoke else "cuda:0")
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu-smoke on a machine without a GPU", file=sys.stderr)
        return 2
    seq = args.seq or (32 if args.cpu_smoke else 128)
    bench = Bench(smoke=args.cpu_smoke, seq=seq, budget_s=args.budget_s, steps=args.steps, device=device)
    if args.cpu_smoke:
        bench.steps, bench.new_tokens, bench.prompt_len = 2, 8, 16
    setup_device(bench)
    if args.only:
        rows = run_probe(bench, [o.strip() for o in args.only.split(",") if o.strip()])
        print(format_table(bench, rows), flush=True)
        if args.json:
            args.json.write_text(json.dumps({"device": bench.device_name, "rows": [r.__dict__ for r in rows]}, indent=1))
        return 0
    rows = run(bench)
    projected = projections(rows)
    print(format_table(bench, rows) + "\n" + format_projections(projected), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": bench.device_name, "peak_tflops": bench.peak_tflops,
                                         "rows": [r.__dict__ for r in rows], "projected": projected}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
