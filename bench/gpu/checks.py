"""Correctness checks: fast path vs plain training steps, merged vs unmerged LoRA logits."""

from __future__ import annotations

from typing import Any

from .model import step_batches
from .specs import Bench, TrainSpec
from .training import Trainer


def check_fast_vs_plain(bench: Bench, model: Any, examples: list[Any]) -> dict[str, Any]:
    """The same 5 optimizer steps (same examples, same LoRA start, dropout off) on the plain path
    (mb8x4, AdamW, full logits) and the fast path's step code (mb32x1, fused AdamW, chunked CE)."""
    import torch

    start = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    plain = TrainSpec("plain", quant="bf16", micro=8, accum=4)
    fast = TrainSpec("fast", quant="bf16", micro=32, accum=1, fused=True, chunked=True)
    curves = []
    model.eval()  # LoRA dropout off: both paths see identical functions
    for spec in (plain, fast):
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in start:
                    p.copy_(start[n])
        trainer = Trainer(model, spec, bench.device)
        curve = []
        for mb in step_batches(examples, spec)[:5]:
            trainer.step(mb)
            curve.append(trainer.last)
        curves.append(curve)
        del trainer
    model.train()
    loss_diff = max(abs(a[0] - b[0]) / abs(a[0]) for a, b in zip(*curves, strict=True))
    grad_diff = max(abs(a[1] - b[1]) / abs(a[1]) for a, b in zip(*curves, strict=True))
    return {"max rel diff loss": loss_diff, "max rel diff grad": grad_diff}


def check_merged_logits(bench: Bench, model: Any) -> dict[str, Any]:
    """Next-token logits of the merged copy vs the unmerged LoRA model on 64 prompts (bf16)."""
    import copy

    import torch

    model.eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, model.config.vocab_size, (64, bench.prompt_len), generator=g).to(bench.device)
    with torch.inference_mode():
        ref = model(input_ids=ids).logits[:, -1].float()
        merged = copy.deepcopy(model).merge_and_unload()
        out = merged(input_ids=ids).logits[:, -1].float()
    del merged
    model.train()
    return {"rel diff logits": float((out - ref).norm() / ref.norm()),
            "argmax agree": float((out.argmax(-1) == ref.argmax(-1)).float().mean())}
