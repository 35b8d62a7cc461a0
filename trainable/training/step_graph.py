"""The whole training step at fixed shapes, captured once per shape bucket as CUDA graphs (``compile: step-graph``).

The step is split in two parts so the NaN guard still reads the raw loss and the pre-clip gradient norm
of every step *before* any update, as in the plain loop:

- :meth:`StepGraph.gradients`: zero the gradients, forward + backward over the step's micro-batches
  (each padded to ``rows x bucket width``: :func:`trainable.data.batching.pad_to_shape`), the pre-clip norm and
  the clip. One CUDA graph per width bucket, captured at the bucket's first step and replayed after.
- :meth:`StepGraph.update`: the (fused, capturable) AdamW update, one CUDA graph; replayed only when
  the guard says the step is good.

Static tensors hold what changes between steps: the inputs, the step's total loss weight, and two test
hooks (a loss factor, a value added to one gradient) that ``inject_fault_*`` set, so a fault injected at
step k reaches the graph's own loss and norm at step k. The gradients are persistent tensors shared by
every graph (never set to None while graphs exist). On a CPU there is no capture: the same code runs
eagerly on the same static tensors. Nothing inside a graph may sync with the host: the right-padded
batches go in without an attention mask (causal attention alone gives real tokens the same values, as
``padding_mask: false``; with a mask, transformers asks ``mask.all()`` on the host to pick SDPA's causal
path), the chunked loss runs over every position (:func:`trainable.training.chunked_loss.weighted_sum_no_sync`),
the plain one over full logits.
"""

from __future__ import annotations

import math
from typing import Any

from trainable.training.train_step import StepOptions


class GraphCaptureError(RuntimeError):
    """Capturing a CUDA graph failed (``compile: auto`` then continues without graphs)."""


class StepGraph:
    """Fixed-shape step runner for one trial (see the module docstring)."""

    def __init__(self, model: Any, optimizer: Any, params: list[Any], opts: StepOptions, *, device: Any,
                 accum: int, grad_clip: float | None) -> None:
        import torch

        if opts.width_buckets is None or opts.fixed_rows is None or opts.packed:
            raise ValueError("StepGraph needs fixed shapes (width_buckets, fixed_rows) and padded batches")
        self.model, self.optimizer, self.params, self.opts = model, optimizer, params, opts
        self.device = device
        self.cuda = str(getattr(device, "type", device)).startswith("cuda")
        self.accum = accum
        self.max_norm = grad_clip if grad_clip is not None else math.inf
        self.total = torch.ones((), dtype=torch.float32, device=device)
        self.loss_factor = torch.ones((), dtype=torch.float32, device=device)
        self.grad_add = torch.zeros((), dtype=torch.float32, device=device)
        self._inputs: dict[int, list[dict[str, Any]]] = {}
        self._graphs: dict[int, Any] = {}
        self._outputs: dict[int, tuple[Any, Any]] = {}
        self._update_graph: Any = None
        self._pool: Any = None
        self.captures = 0
        """CUDA graphs captured by this trial (one per width bucket + the update)."""
        self.buckets_seen: set[int] = set()
        for p in params:  # persistent gradients, shared by every graph
            p.grad = torch.zeros_like(p)

    # ------------------------------------------------------------------ the two parts
    def gradients(self, batches: list[dict[str, Any]], *, loss_factor: float = 1.0,
                  grad_add: float = 0.0) -> tuple[Any, Any]:
        """Gradients of the step (``batches`` from ``collate_step`` with fixed shapes); returns the raw loss
        and the pre-clip gradient norm as 0-dim device tensors (the grads are clipped in place)."""
        width = batches[0]["input_ids"].shape[1]
        if any(b["input_ids"].shape != batches[0]["input_ids"].shape for b in batches) or len(batches) > self.accum:
            raise ValueError("a step's micro-batches must share one fixed shape")
        self.buckets_seen.add(width)
        static = self._static_inputs(width, batches[0])
        dummy = {"input_ids": 0, "labels": -100, "loss_weights": 0.0}
        for i, slot in enumerate(static):
            for key, tensor in slot.items():
                if i < len(batches):
                    tensor.copy_(batches[i][key], non_blocking=True)
                else:  # a whole zero-weight micro-batch (a short step at an epoch's end): adds nothing
                    tensor.fill_(dummy[key])
        from trainable.training.train_step import total_loss_weight

        self.total.fill_(total_loss_weight(batches))
        self.loss_factor.fill_(loss_factor)
        self.grad_add.fill_(grad_add)
        if not self.cuda:
            return self._compute(static)
        if width not in self._graphs:
            self._capture(width, static)
        self._graphs[width].replay()
        return self._outputs[width]

    def update(self) -> None:
        """Apply the optimizer update to the clipped gradients of the last :meth:`gradients`."""
        if not self.cuda:
            self.optimizer.step()
            return
        if self._update_graph is None:
            self._capture_update()
        self._update_graph.replay()

    # ------------------------------------------------------------------ compute
    def _compute(self, static: list[dict[str, Any]]) -> tuple[Any, Any]:
        import torch

        torch._foreach_zero_([p.grad for p in self.params])
        loss_sum = torch.zeros((), dtype=torch.float32, device=self.total.device)
        for batch in static:
            loss = self._weighted_sum(batch) / self.total * self.loss_factor
            loss.backward()
            loss_sum = loss_sum + loss.detach()
        self.params[0].grad.view(-1)[0] += self.grad_add
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm=self.max_norm)
        return loss_sum, grad_norm

    def _weighted_sum(self, batch: dict[str, Any]) -> Any:
        from trainable.data.batching import model_inputs

        inputs = model_inputs(batch, padding_mask=False)  # right padding + causal attention: no host sync
        if self.opts.chunked_loss:
            from trainable.training.chunked_loss import causal_lm_parts, weighted_sum_no_sync

            decoder, head = causal_lm_parts(self.model)
            hidden = decoder(**inputs).last_hidden_state
            return weighted_sum_no_sync(hidden, head.weight, batch["labels"], batch["loss_weights"],
                                        head_bias=head.bias, chunk_size=self.opts.chunk_size)
        import torch

        logits = self.model(**inputs).logits[:, :-1].float()
        labels = batch["labels"][:, 1:]
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                               reduction="none", ignore_index=-100)
        return (ce * (batch["loss_weights"][:, 1:].reshape(-1) * (labels.reshape(-1) != -100))).sum()

    def _static_inputs(self, width: int, like: dict[str, Any]) -> list[dict[str, Any]]:
        if width not in self._inputs:
            keys = ("input_ids", "labels", "loss_weights")
            self._inputs[width] = [{k: like[k].to(self.device).clone() for k in keys} for _ in range(self.accum)]
        return self._inputs[width]

    # ------------------------------------------------------------------ capture (CUDA only)
    def _capture(self, width: int, static: list[dict[str, Any]]) -> None:
        """Warm up on a side stream (eager, gradients only: no update), then capture this bucket's part 1."""
        import torch

        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):
                    self._compute(static)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                self._outputs[width] = self._compute(static)
        except RuntimeError as err:
            raise GraphCaptureError(f"capturing the step at width {width} failed: {err}") from err
        self._pool = graph.pool()
        self._graphs[width] = graph
        self.captures += 1

    def _capture_update(self) -> None:
        """Capture the AdamW update. A fresh optimizer first gets its state from one update of zero
        gradients at lr 0 (the weights stay bit-identical), and its step counters are reset to 0."""
        import torch

        saved = [p.grad.clone() for p in self.params]
        try:
            if not self.optimizer.state:
                lrs = [g["lr"].clone() for g in self.optimizer.param_groups]
                for p in self.params:
                    p.grad.zero_()
                for g in self.optimizer.param_groups:
                    g["lr"].fill_(0.0)
                self.optimizer.step()
                for g, lr in zip(self.optimizer.param_groups, lrs, strict=True):
                    g["lr"].copy_(lr)
                for state in self.optimizer.state.values():
                    state["step"].zero_()
                for p, g in zip(self.params, saved, strict=True):
                    p.grad.copy_(g)
            torch.cuda.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                self.optimizer.step()
        except RuntimeError as err:
            raise GraphCaptureError(f"capturing the optimizer update failed: {err}") from err
        self._update_graph = graph
        self.captures += 1

    def release(self) -> None:
        """Drop the graphs and static tensors (before falling back to the eager path, or at cleanup)."""
        self._graphs.clear()
        self._outputs.clear()
        self._inputs.clear()
        self._update_graph = None
        self._pool = None
