"""k LoRA trials in one process over one frozen base: the base matmuls of all k run as one batched pass.

Every target ``nn.Linear`` of the base model gets stacked adapters ``A [k, in, r]`` and ``B [k, r, out]``.
A step's batch holds k micro-batches of one fixed shape (trial t owns rows ``t*rows .. (t+1)*rows - 1``),
so each base layer runs once over all k trials' rows and each trial's low-rank update is one batched
matmul. Losses stay per trial and are summed for one backward, so trial t's adapter gets exactly its own
gradient. Grad norms, clipping, the guard's inputs (k raw losses, k pre-clip norms: one host read for
all) and AdamW (per-trial lr, per-trial step counts; a trial whose step is bad is not updated) are per
trial. On CUDA the two parts can be captured as CUDA graphs like ``trainable.training.step_graph``.
Prepared for the sharing rows of ``bench/gpu_round2.py``; ``tests/test_fused_trials.py`` checks it against
k separate plain trials on CPU.
"""

from __future__ import annotations

import math
from typing import Any


def _stacked_lora_class() -> Any:
    import torch

    class StackedLoRALinear(torch.nn.Module):
        """``base(x) + scaling * (x_t @ A[t]) @ B[t]`` for the rows of each trial t (dropout off)."""

        def __init__(self, base: Any, k: int, r: int, alpha: float) -> None:
            super().__init__()
            self.base, self.k, self.scaling = base, k, alpha / r
            dev = base.weight.device
            self.A = torch.nn.Parameter(torch.empty(k, base.in_features, r, device=dev, dtype=torch.float32))
            self.B = torch.nn.Parameter(torch.zeros(k, r, base.out_features, device=dev, dtype=torch.float32))
            for t in range(k):  # peft's default init of lora_A (kaiming uniform, a=sqrt(5)); B = 0
                bound = 1 / math.sqrt(base.in_features)
                torch.nn.init.uniform_(self.A.data[t], -bound, bound)

        def forward(self, x: Any) -> Any:
            out = self.base(x)
            xs = x.reshape(self.k, -1, x.shape[-1]).to(self.A.dtype)
            delta = torch.bmm(torch.bmm(xs, self.A), self.B) * self.scaling
            return out + delta.reshape(out.shape).to(out.dtype)

    return StackedLoRALinear


class FusedTrials:
    """k trials (one LoRA each, own lr) on one frozen base model; see the module docstring."""

    def __init__(self, base_model: Any, *, k: int, r: int, alpha: float, targets: list[str], lrs: list[float],
                 grad_clip: float = 0.1, weight_decay: float = 0.0, chunked: bool = True) -> None:
        import torch

        if len(lrs) != k:
            raise ValueError(f"need one lr per trial: {k} trials, {len(lrs)} lrs")
        self.model, self.k, self.chunked = base_model, k, chunked
        for p in base_model.parameters():
            p.requires_grad_(False)
        cls = _stacked_lora_class()
        self.layers: dict[str, Any] = {}
        for name, module in list(base_model.named_modules()):
            for child_name, child in list(module.named_children()):
                if child_name in targets and isinstance(child, torch.nn.Linear):
                    layer = cls(child, k, r, alpha)
                    setattr(module, child_name, layer)
                    self.layers[f"{name}.{child_name}" if name else child_name] = layer
        self.params = [p for layer in self.layers.values() for p in (layer.A, layer.B)]
        device = self.params[0].device
        self.lr = torch.tensor(lrs, dtype=torch.float32, device=device)
        self.max_norm, self.weight_decay, self.betas, self.eps = grad_clip, weight_decay, (0.9, 0.999), 1e-8
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = torch.zeros(k, dtype=torch.float32, device=device)

    def load_adapter(self, t: int, peft_model: Any, adapter: str = "default") -> None:
        """Copy trial ``t``'s adapter from a peft LoRA model of the same base (for the equivalence test)."""
        import torch

        modules = dict(peft_model.base_model.model.named_modules())
        with torch.no_grad():
            for name, layer in self.layers.items():
                lora = modules[name]
                layer.A[t].copy_(lora.lora_A[adapter].weight.t())
                layer.B[t].copy_(lora.lora_B[adapter].weight.t())

    def gradients(self, batches: list[dict[str, Any]]) -> tuple[Any, Any]:
        """One step's gradients for the k trials (``batches[t]``: trial t's padded micro-batch, all one
        shape); returns the k raw losses and k pre-clip norms (device tensors); grads clipped per trial."""
        import torch

        from trainable.data.batching import model_inputs

        for p in self.params:
            p.grad = None
        rows = batches[0]["input_ids"].shape[0]
        joined = {key: torch.cat([b[key] for b in batches]) for key in ("input_ids", "attention_mask")}
        labels = [b["labels"] for b in batches]
        weights = [b["loss_weights"] for b in batches]
        totals = torch.stack([(w[:, 1:] * (lab[:, 1:] != -100)).sum() for w, lab in zip(weights, labels, strict=True)])
        if self.chunked:
            from trainable.training.chunked_loss import causal_lm_parts, weighted_sum_no_sync

            decoder, head = causal_lm_parts(self.model)
            hidden = decoder(**model_inputs(joined)).last_hidden_state
            sums = [weighted_sum_no_sync(hidden[t * rows:(t + 1) * rows], head.weight, labels[t], weights[t],
                                         head_bias=head.bias) for t in range(self.k)]
        else:
            from trainable.data.prompting import weighted_lm_loss_terms

            logits = self.model(**model_inputs(joined)).logits
            sums = [weighted_lm_loss_terms(logits[t * rows:(t + 1) * rows], labels[t], weights[t])[0]
                    for t in range(self.k)]
        losses = torch.stack(sums) / totals
        losses.sum().backward()
        squares = sum(p.grad.float().reshape(self.k, -1).pow(2).sum(1) for p in self.params)
        norms = squares.sqrt()
        coef = torch.clamp(self.max_norm / (norms + 1e-6), max=1.0)
        for p in self.params:
            p.grad.mul_(coef.view(-1, 1, 1))
        return losses.detach(), norms

    def update(self, ok: Any) -> None:
        """AdamW (torch's formula) per trial, applied only where ``ok`` (k bools, a device tensor)."""
        import torch

        b1, b2 = self.betas
        mask = ok.to(torch.float32)
        self.steps += mask
        step = torch.clamp(self.steps, min=1.0)
        bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
        lr = (self.lr * mask).view(-1, 1, 1)
        keep = mask.view(-1, 1, 1)
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
            g = p.grad
            m.copy_(torch.where(keep > 0, b1 * m + (1 - b1) * g, m))
            v.copy_(torch.where(keep > 0, b2 * v + (1 - b2) * g * g, v))
            denom = (v.sqrt() / bc2.sqrt().view(-1, 1, 1)) + self.eps
            p.data.mul_(1 - lr * self.weight_decay)
            p.data.sub_(lr / bc1.view(-1, 1, 1) * m / denom)
