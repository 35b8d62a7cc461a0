"""What the table measures: training and eval specs, row names and order, a row, one run's settings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEV_PAIRS = 2668
SEED_STEPS, SEED_EVALS = 600, 6  # the seed experiment: 600 optimizer steps of 32 pairs, 6 full dev evals


@dataclass(frozen=True)
class TrainSpec:
    """One training row: the levers it turns on."""

    name: str
    quant: str = "nf4"
    micro: int = 8
    accum: int = 4
    fused: bool = False
    grouped: bool = False
    packed: bool = False
    chunked: bool = False
    compile: bool = False
    compile_mode: str | None = None
    width: int = 16
    """Padded widths are rounded up to a multiple of this when compiling (``--seq``: one fixed shape)."""
    padding_mask: bool = True
    """False: right-padded micro-batches go in without an attention mask (``StepOptions.padding_mask``)."""
    graph: bool = False
    """The whole step (forward, backward, clip, fused AdamW) captured once as one CUDA graph."""
    note: str = ""


def train_specs() -> list[TrainSpec]:
    """Reference, TrialConfig defaults, fast path, then one lever at a time (each vs the row before)."""
    from trainable.config import TrialConfig

    d = TrialConfig()
    micro = d.resolved_micro_batch_size() or d.batch_size
    mode = d.resolved_compile("cuda", SEED_STEPS)
    default = TrainSpec(
        "mtsweep TrialConfig defaults", quant=d.quantization, micro=micro, accum=(d.batch_size * d.grad_accum) // micro,
        fused=d.fused_adamw in ("auto", True), grouped=d.length_grouped, chunked=d.chunked_loss,
        compile=mode is not None, compile_mode=None if mode == "default" else mode,
        width=64 if mode == "reduce-overhead" else 16, note="what a seed-equivalent trial runs without overrides",
    )
    fast = TrainSpec("mtsweep fast path", quant="bf16", micro=32, accum=1, fused=True, grouped=True, chunked=True,
                     note="bf16, mb32x1, fused, grouped, chunked CE")
    return [
        TrainSpec("reference NF4 mb8x4 AdamW", note="the reference configuration"),
        default,
        fast,
        TrainSpec("lever: + fused AdamW", fused=True, note="vs reference"),
        TrainSpec("lever: bf16 LoRA (not NF4)", quant="bf16", fused=True, note="vs + fused AdamW"),
        TrainSpec("lever: mb32x1 (no accumulation)", quant="bf16", micro=32, accum=1, fused=True, note="vs bf16"),
        TrainSpec("lever: mb64x1 (effective 64)", quant="bf16", micro=64, accum=1, fused=True, note="vs mb32x1"),
        TrainSpec("lever: NF4 mb32x1 fused", micro=32, accum=1, fused=True, note="vs + fused AdamW"),
        TrainSpec("lever: + length-grouped", quant="bf16", micro=32, accum=1, fused=True, grouped=True,
                  note="vs mb32x1"),
        TrainSpec("lever: + packed (padding-free)", quant="bf16", micro=32, accum=1, fused=True, packed=True,
                  note="vs mb32x1"),
        TrainSpec("lever: + chunked CE", quant="bf16", micro=32, accum=1, fused=True, grouped=True, chunked=True,
                  note="vs + length-grouped"),
        TrainSpec("lever: + torch.compile", quant="bf16", micro=32, accum=1, fused=True, grouped=True,
                  chunked=True, compile=True, note="vs + chunked CE (= fast path)"),
    ]


def probe_specs(seq: int) -> list[TrainSpec]:
    """Items beyond the table's first run (``--only``): larger micro-batches and CUDA graphs."""
    fast = dict(quant="bf16", accum=1, fused=True, grouped=True, chunked=True)
    return [
        TrainSpec("probe: fast path mb128x1", micro=128, note="vs fast path (effective batch 128)", **fast),
        TrainSpec("probe: fast path mb256x1", micro=256, note="vs fast path (effective batch 256)", **fast),
        TrainSpec("probe: compile reduce-overhead mb32", micro=32, compile=True, compile_mode="reduce-overhead",
                  width=seq, note="CUDA graphs per decoder layer, fixed width", **fast),
        TrainSpec("probe: compile reduce-overhead mb128", micro=128, compile=True, compile_mode="reduce-overhead",
                  width=seq, note="CUDA graphs per decoder layer, fixed width", **fast),
        TrainSpec("probe: fast path without padding mask", micro=32, padding_mask=False,
                  note="vs fast path: causal attention alone (SDPA fast path)", **fast),
        TrainSpec("probe: whole-step CUDA graph mb32", quant="bf16", micro=32, accum=1, fused=True, graph=True,
                  width=seq, note="fwd + bwd + clip + fused AdamW replayed as one graph; full logits"),
        TrainSpec("probe: whole-step CUDA graph mb128", quant="bf16", micro=128, accum=1, fused=True, graph=True,
                  width=seq, note="fwd + bwd + clip + fused AdamW replayed as one graph; full logits"),
    ]


EVAL_SPECS = (  # (name, quant, merged copy's dtype or None = unmerged, batch)
    ("eval: NF4 unmerged b256", "nf4", None, 256),
    ("eval: NF4 dequant-merged fp32 b1024", "nf4", "float32", 1024),
    ("eval: NF4 dequant-merged bf16 b1024", "nf4", "bfloat16", 1024),
    ("eval: bf16 unmerged b256", "bf16", None, 256),
    ("eval: bf16 merged fp32 b1024", "bf16", "float32", 1024),
    ("eval: bf16 merged bf16 b256", "bf16", "bfloat16", 256),
    ("eval: bf16 merged bf16 b1024", "bf16", "bfloat16", 1024),
)
SCORE_SPECS = (  # (name, dtype, batch): COMET runs fp32 (Lightning's default precision) in the trial
    ("score: COMET-shaped fp32 b64", "float32", 64),
    ("score: COMET-shaped bf16 b256", "bfloat16", 256),
)
METRICS_ROW = "score: BLEU(char) + chrF++ + term acc"
STATIC_ROW = "eval: bf16 merged bf16 b1024 static KV cache"
CHECK_TRAIN_ROW = "check: fast path vs plain bf16 (same 5 steps)"
CHECK_EVAL_ROW = "check: merged eval copy vs unmerged fp32 logits"
PROFILE_ROW = "profile: fast path step"
SHARE_COUNTS = (1, 2, 4, 8)


def eval_specs() -> list[tuple[str, str, str | None, int]]:
    """(name, quantization, merged copy's dtype or None, batch): the eval a trial runs by default, then
    the levers (fp32 keeps the whole LoRA update; bf16 is faster and rounds small updates away)."""
    from trainable.config import TrialConfig

    d = TrialConfig()
    merged = d.eval_dtype if d.quantization == "bf16" or d.eval_merge_nf4 else None
    default = (f"eval: TrialConfig defaults ({d.quantization}, {d.eval_dtype} copy, b{d.eval_batch_size})",
               d.quantization, merged, d.eval_batch_size)
    return [default, *EVAL_SPECS]


def row_order() -> list[str]:
    """Every row name, in table order."""
    order = [s.name for s in train_specs()] + [CHECK_TRAIN_ROW] + [e[0] for e in eval_specs()]
    order += [STATIC_ROW, CHECK_EVAL_ROW, *(n for n, _, _ in SCORE_SPECS), METRICS_ROW]
    return order + [f"share: {k} trial(s) on one GPU" for k in SHARE_COUNTS]


@dataclass
class Row:
    """One table row."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass
class Bench:
    """Settings and shared state of one run."""

    smoke: bool
    seq: int
    budget_s: float
    lora_r: int = 16
    new_tokens: int = 60
    prompt_len: int = 48
    steps: int = 6
    device: str = "cuda"
    t0: float = field(default_factory=time.perf_counter)
    model_dir: Path | None = None
    n_params: int = 0
    peak_tflops: float | None = None
    device_name: str = ""

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)
