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
    """Logits of the eval's merged copy (fp32, the default, and bf16) vs the unmerged LoRA model in fp32
    on 16 prompts, as a share of the adapter's own effect (``trainable.model.nf4_merge.merge_error``; the LoRA
    weights are those the training rows left)."""
    import torch

    from trainable.model.nf4_merge import merge_error

    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, model.config.vocab_size, (16, bench.prompt_len), generator=g).to(bench.device)
    out: dict[str, Any] = {}
    for tag, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        err = merge_error(model, ids, dtype=dtype)
        out["adapter effect"] = err["adapter_effect"]
        out[f"{tag} error/effect"] = err["error_share"]
        out[f"{tag} argmax agree"] = err["argmax_agree"]
    return out
