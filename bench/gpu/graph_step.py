"""A whole optimizer step captured once as one CUDA graph and replayed (probe; CPU runs it eagerly).

The per-layer CUDA graphs of ``compile: reduce-overhead`` still leave launches between layers and around
the loss and optimizer; here forward, backward, gradient clipping and fused AdamW are one graph. Fixed
shapes: each step is one micro-batch of ``spec.micro`` rows padded on the right to ``spec.width`` columns,
fed without an attention mask (right padding + causal attention: real tokens see only real tokens), with
the full-logits weighted cross-entropy (the chunked loss syncs with the host, which a capture forbids).
"""

from __future__ import annotations

from typing import Any

from .specs import TrainSpec


class GraphTrainer:
    """``step(micro_batches) -> real tokens`` like ``Trainer``; the first CUDA step captures the graph."""

    def __init__(self, model: Any, spec: TrainSpec, device: str) -> None:
        import torch

        self.model, self.device = model, device
        self.cuda = device.startswith("cuda")
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=1e-4, weight_decay=0.0, fused=self.cuda or None,
                                           capturable=self.cuda)
        rows, width = spec.micro * spec.accum, spec.width
        self.ids = torch.zeros((rows, width), dtype=torch.long, device=device)
        self.labels = torch.full((rows, width), -100, dtype=torch.long, device=device)
        self.weights = torch.zeros((rows, width), dtype=torch.float32, device=device)
        self.total = torch.ones((), dtype=torch.float32, device=device)
        self.graph: Any = None
        self.loss: Any = None
        self.grad_norm: Any = None

    def _compute(self) -> tuple[Any, Any]:
        """Forward, weighted CE over the shifted labels, backward, clip, optimizer step (no host sync)."""
        import torch

        logits = self.model(input_ids=self.ids, use_cache=False).logits[:, :-1].float()
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), self.labels[:, 1:].reshape(-1),
                                               reduction="none", ignore_index=-100)
        loss = (ce * self.weights[:, 1:].reshape(-1)).sum() / self.total
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm=0.1)
        self.optimizer.step()
        return loss.detach(), grad_norm

    def _capture(self) -> None:
        """Warm up on a side stream (as torch.cuda.graphs requires), then capture one step."""
        import torch

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.optimizer.zero_grad(set_to_none=True)
                self._compute()
        torch.cuda.current_stream().wait_stream(side)
        self.optimizer.zero_grad(set_to_none=True)  # backward in the capture allocates .grad from the graph pool
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss, self.grad_norm = self._compute()

    def step(self, micro_batches: list[list[Any]]) -> int:
        """Copy the step's examples into the static tensors, replay (or, on CPU, run) the step."""
        import torch

        from trainable.data.prompting import collate

        examples = [e for mb in micro_batches for e in mb][: self.ids.shape[0]]
        batch = collate(examples, 0)
        rows, width = batch["input_ids"].shape[0], min(batch["input_ids"].shape[1], self.ids.shape[1])
        for static, key, fill in ((self.ids, "input_ids", 0), (self.labels, "labels", -100),
                                  (self.weights, "loss_weights", 0.0)):
            host = torch.full(static.shape, fill, dtype=static.dtype)
            host[:rows, :width] = batch[key][:, :width]
            static.copy_(host, non_blocking=True)
        self.total.fill_(float((batch["loss_weights"][:, 1:width] * (batch["labels"][:, 1:width] != -100)).sum()))
        if self.cuda:
            if self.graph is None:
                self._capture()
            self.graph.replay()
        else:
            self.optimizer.zero_grad(set_to_none=True)
            self.loss, self.grad_norm = self._compute()
        self.last = (float(self.loss), float(self.grad_norm))
        return int(batch["attention_mask"][:, :width].sum())
