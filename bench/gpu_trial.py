"""Wall time of whole mtsweep trials on a GPU: TrialConfig's defaults vs the reference configuration.

Run on the GPU machine in one call (no hub access needed; see ``bench/gpu_throughput.py`` for the
bitsandbytes wheel the NF4 rows need)::

    python bench/gpu_trial.py --json $OUT/trial.json   # Qwen2.5-0.5B-shaped model, random weights
    python bench/gpu_trial.py --cpu-smoke              # tiny model on CPU, in seconds

Each row is one real ``trainable.trial.run_trial`` (setup -> train -> evals -> checkpoints) on a
Qwen2.5-0.5B-shaped model with random weights and a byte-level BPE tokenizer trained on the bundled
sample data (the model never emits end-of-turn, so every eval generates the full ``--new-tokens``: the
worst case). Data: the bundled training pairs; a dev set of ``--dev-pairs`` (2,668 like the seed
experiment's) cycled from the bundled pairs; the bundled glossary. COMET is off (no unbabel-comet or
checkpoint on the GPU machine): ``bench/gpu_throughput.py`` measures a COMET-sized encoder separately,
and the table adds that estimate per eval.

Rows, in priority order, each time-boxed against ``--budget-s``:

- ``defaults bf16``: TrialConfig's defaults (micro-batch auto, chunked CE, fused AdamW, compile auto =
  the whole step as CUDA graphs at fixed shapes, merged eval at batch 1024) with bf16 LoRA: a
  seed-equivalent trial (600 steps x 32 pairs, a full dev eval every 100 steps); then the same with
  ``compile: false`` (the eager path: its loss curve is the reference the graph rows are compared with)
  and with per-layer CUDA graphs (``compile: reduce-overhead``, also at fixed shapes);
- ``reference slice``: the reference configuration (NF4, micro-batch 8 x 4, plain loss, no compile,
  unmerged eval at batch 64) for a slice (``--ref-steps`` steps, one eval on ``--ref-eval-pairs`` pairs),
  extrapolated to the seed-equivalent trial;
- ``defaults nf4 slice``: the defaults with NF4 (dequantized-merged eval), ``--ref-steps`` x 3 steps,
  ``compile: step-graph``.

Besides the table, each row prints its training seconds per eval interval (the first holds the compile /
capture warm-up, the later ones are the steady state), its compilations (dynamo frames compiled + CUDA
graphs captured; fixed shapes make that one per width bucket, plus the optimizer update's graph) and, for
the compiled rows, the largest relative difference of its reported losses from the ``compile: false`` row.
``--cpu-smoke`` runs the first row with ``compile: step-graph`` (on a CPU: its fixed-shape code, no capture).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SEED_STEPS, SEED_EVALS, SEED_EVAL_EVERY = 600, 6, 100
REFERENCE = {"quantization": "nf4", "micro_batch_size": None, "chunked_loss": False, "compile": False,
             "eval_merge_nf4": False, "eval_batch_size": 64, "fused_adamw": False}


def write_data(out: Path, dev_pairs: int) -> dict[str, str]:
    """Bundled train pairs, a ``dev_pairs``-long dev set cycled from every bundled pair, the glossary."""
    from trainable.data.pairs import load_pairs, sample_data_dir

    sample = sample_data_dir()
    every = [p for split in ("dev", "test", "train") for p in load_pairs(sample / f"{split}.jsonl")]
    dev = out / "dev.jsonl"
    with dev.open("w", encoding="utf-8") as f:
        for i in range(dev_pairs):
            p = every[i % len(every)]
            f.write(json.dumps({"en": p.src, "ja": p.ref}, ensure_ascii=False) + "\n")
    return {"train_path": str(sample / "train.jsonl"), "dev_path": str(dev),
            "glossary_path": str(sample / "glossary.tsv")}


def build_model(out: Path, config_values: dict[str, Any], device: str) -> int:
    """Random-weight Qwen2 (bf16) + a BPE tokenizer (with the chat template) trained on the sample data."""
    from gpu.model import build_model_dir

    from trainable.data.pairs import load_pairs, sample_data_dir

    texts = [t for p in load_pairs(sample_data_dir() / "train.jsonl") for t in (p.src, p.ref)]
    return build_model_dir(out, config_values, device, texts=texts,
                           vocab_size=min(4000, config_values["vocab_size"]))


def run_row(name: str, base: dict[str, Any], overrides: dict[str, Any], limit: float) -> dict[str, Any]:
    """One real trial; its reports summarised (wall, setup, train, eval seconds, tokens/s, loss)."""
    from gpu.guard import time_box

    from trainable.config import TrialConfig
    from trainable.training.reporting import ListReporter
    from trainable.trial import run_trial

    cfg = TrialConfig.from_dict({**base, **overrides}, where=name)
    reporter = ListReporter()
    t0 = time.perf_counter()
    try:
        with time_box(limit):
            run_trial(cfg, reporter)
        error = None
    except TimeoutError:
        error = f"not done within its {limit:.0f} s time box"
    except Exception as err:  # one broken row must not cost the others
        error = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
    wall = time.perf_counter() - t0
    row: dict[str, Any] = {"name": name, "wall s": wall, "error": error, "evals": len(reporter.reports)}
    if reporter.reports:
        last = reporter.reports[-1]
        setup_s, eval_s = last.get("setup_s") or 0.0, last.get("eval_s") or 0.0
        train_s = last["wall_s"] - setup_s - eval_s
        row.update({"steps": last["step"], "setup s": setup_s, "train s": train_s, "eval s": eval_s,
                    "eval s each": eval_s / len(reporter.reports), "train tok/s": last["tokens_seen"] / train_s,
                    "loss": last.get("loss"), "bleu_char": last.get("bleu_char"),
                    "losses": [r.get("loss") for r in reporter.reports],
                    "compile": last.get("compile_mode"), "compiles": last.get("compilations"),
                    "shapes": last.get("train_shapes"),
                    "train s per interval": interval_train_seconds(reporter.reports)})
        intervals = row["train s per interval"]
        row["warm-up interval s"] = intervals[0]
        row["steady interval s"] = sorted(intervals[1:])[len(intervals[1:]) // 2] if len(intervals) > 1 else None
    return row


def loss_gap(row: dict[str, Any], plain: dict[str, Any]) -> float | None:
    """Largest relative difference between two rows' reported losses (same steps), None if not comparable."""
    a, b = row.get("losses") or [], plain.get("losses") or []
    if not a or len(a) != len(b) or any(x is None for x in a + b):
        return None
    return max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b, strict=True))


def interval_train_seconds(reports: list[dict[str, Any]]) -> list[float]:
    """Training seconds between consecutive evals (wall minus eval time): the first holds the compile
    warm-up, the later ones the steady state."""
    out, wall, evals = [], reports[0].get("setup_s") or 0.0, 0.0
    for r in reports:
        out.append(round(r["wall_s"] - wall - (r["eval_s"] - evals), 2))
        wall, evals = r["wall_s"], r["eval_s"]
    return out


def project(row: dict[str, Any], eval_pairs: int, dev_pairs: int, comet_s: float) -> float | None:
    """Seconds of a seed-equivalent trial from a (slice) row: steps and evals scaled, COMET estimate added."""
    if "steps" not in row:
        return None
    train = row["train s"] * SEED_STEPS / row["steps"]
    each_eval = row["eval s each"] * dev_pairs / eval_pairs + comet_s
    return row["setup s"] + train + SEED_EVALS * each_eval


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU, every row, in seconds")
    p.add_argument("--budget-s", type=float, default=250.0, help="time box of the whole run")
    p.add_argument("--dev-pairs", type=int, default=2668)
    p.add_argument("--new-tokens", type=int, default=60)
    p.add_argument("--ref-steps", type=int, default=24, help="optimizer steps of the reference slice")
    p.add_argument("--ref-eval-pairs", type=int, default=256, help="dev pairs of the reference slice's eval")
    p.add_argument("--comet-s", type=float, default=5.6,
                   help="COMET seconds per full dev eval to add (gpu_throughput's fp32 COMET-shaped row, H100)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    import torch
    from gpu.configs import QWEN25_05B, TINY

    smoke = args.cpu_smoke
    device = "cpu" if smoke else "cuda"
    if not smoke and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu-smoke on a machine without a GPU", file=sys.stderr)
        return 2
    if smoke:
        torch.set_num_threads(1)
    steps, every = (6, 3) if smoke else (SEED_STEPS, SEED_EVAL_EVERY)
    dev_pairs = 24 if smoke else args.dev_pairs
    ref_steps, ref_pairs = (4, 8) if smoke else (args.ref_steps, args.ref_eval_pairs)
    nf4_steps = ref_steps if smoke else 3 * ref_steps
    t_start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mtsweep-gpu-trial-") as tmp:
        root = Path(tmp)
        (root / "model").mkdir()
        n_params = build_model(root / "model", TINY if smoke else QWEN25_05B, device)
        base = {"model": str(root / "model"), **write_data(root, dev_pairs), "device": device,
                "comet_model": "none", "objectives": ["chrf_pp", "term_acc"], "lr": 1e-4, "max_new_tokens": args.new_tokens, "early_stop_rule": "none",
                "eval_samples": None, "max_seq_len": 128 if smoke else 256, "max_steps": steps, "eval_every": every,
                "epochs": 100,
                "spike_zscore_loss": None, "spike_zscore_grad": None,
                **({"batch_size": 4, "grad_accum": 2} if smoke else {})}  # smoke: a quarter of the tokens per step
        first = {"quantization": "bf16", **({"compile": "step-graph"} if smoke else {})}
        plan = [
            ("defaults bf16 (seed-equivalent)", first, dev_pairs),
            ("defaults bf16, compile: false", {"quantization": "bf16", "compile": False}, dev_pairs),
            ("defaults bf16 + per-layer CUDA graphs (compile: reduce-overhead)",
             {"quantization": "bf16", "compile": "reduce-overhead"}, dev_pairs),
            ("reference slice (NF4 mb8x4, unmerged eval b64)",
             {**REFERENCE, "max_steps": ref_steps, "eval_every": ref_steps, "eval_samples": ref_pairs,
              "final_full_eval": False}, ref_pairs),
            ("defaults nf4 slice (step graph)", {"quantization": "nf4", "max_steps": nf4_steps,
                                                 "eval_every": nf4_steps, "compile": "step-graph"}, dev_pairs),
        ]
        for name, overrides, eval_pairs in plan:
            left = args.budget_s - (time.perf_counter() - t_start)
            if left < 20:
                rows.append({"name": name, "error": "skipped: over the time budget"})
                continue
            row = run_row(name, base, overrides, left - 5)
            row["projected seed trial s"] = project(row, eval_pairs, dev_pairs, 0.0 if smoke else args.comet_s)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if device == "cuda":
                torch.cuda.empty_cache()
    plain = next((r for r in rows if r["name"].endswith("compile: false")), {})
    for row in rows[:3]:
        if row is not plain:
            row["loss gap vs compile off"] = loss_gap(row, plain)
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (1 thread)"
    print(format_table(name, n_params, rows, args, smoke))
    if args.json:
        args.json.write_text(json.dumps({"device": name, "rows": rows}, indent=1))
    return 0


def format_table(device: str, n_params: int, rows: list[dict[str, Any]], args: Any, smoke: bool) -> str:
    cols = ("steps", "evals", "wall s", "setup s", "train s", "train tok/s", "eval s each", "projected seed trial s",
            "compile", "compiles", "shapes", "warm-up interval s", "steady interval s", "loss gap vs compile off")

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float) and 0 < abs(v) < 0.01:
            return f"{v:.1e}"
        return f"{v:,.0f}" if isinstance(v, float) and abs(v) >= 100 else f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = [f"device: {device}; model: {n_params / 1e6:.1f}M params (random weights); dev {args.dev_pairs if not smoke else 24}"
             f" pairs, {args.new_tokens} new tokens per segment; COMET off (+{args.comet_s} s per full eval in the"
             " projection)",
             "| row | " + " | ".join(cols) + " | error |", "|" + "---|" * (len(cols) + 2)]
    for r in rows:
        lines.append(f"| {r['name']} | " + " | ".join(cell(r.get(c)) for c in cols) + f" | {r.get('error') or ''} |")
    lines.append("training seconds per eval interval (the first holds the warm-up):")
    lines += [f"  {r['name']}: {r['train s per interval']}" for r in rows if r.get("train s per interval")]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
