"""The compute of one optimizer step, shared by the trial and ``bench/gpu_throughput.py``.

:class:`StepOptions` holds the speed levers that change how a step is computed but not what it computes
(the loss ``sum(w * ce) / sum(w)`` over the step's examples, hence the gradients, stay the same to
rounding): micro-batch size, padding-free packing, width rounding, chunked cross-entropy. The plain path
is ``StepOptions()``. :func:`accumulate_step` runs the forward/backward passes of one step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainable.data.prompting import Example


@dataclass(frozen=True)
class StepOptions:
    """How a step's examples are batched and its loss computed (the levers; defaults = plain path)."""

    micro_batch_size: int | None = None
    """Re-split the step's examples into micro-batches of this size; None = as the data plan gives them."""
    packed: bool = False
    """Padding-free: each micro-batch is one row of back-to-back examples (block-diagonal attention)."""
    pad_to_multiple_of: int = 1
    """Round padded widths up to a multiple of this (fewer shapes for ``torch.compile``)."""
    chunked_loss: bool = False
    """Chunked cross-entropy from the last hidden state (never the full float32 logits)."""
    chunk_size: int = 256
    """Tokens per chunk of the chunked cross-entropy."""
    cudagraphs: bool = False
    """The decoder layers are compiled with CUDA graphs: mark a new step before each forward."""
    padding_mask: bool = True
    """False: right-padded micro-batches go in without an attention mask (causal attention alone)."""
    fixed_rows: int | None = None
    """With ``width_buckets``: every micro-batch padded to this many rows (zero-weight rows)."""
    width_buckets: tuple[int, ...] | None = None
    """Fixed shapes: every micro-batch of a step is widened to the smallest of these widths that holds the
    step's longest example (:func:`trainable.data.batching.pad_to_shape`): one shape per bucket."""


def collate_step(micro_batches: Sequence[Sequence[Example]], pad_id: int, opts: StepOptions) -> list[dict[str, Any]]:
    """The step's micro-batches as tensors (CPU), regrouped and collated as ``opts`` says."""
    from trainable.data.batching import bucket_for, collate_packed, collate_padded, pad_to_shape, regroup

    groups = regroup(micro_batches, opts.micro_batch_size)
    if opts.packed:
        return [collate_packed(g) for g in groups if g]
    batches = [collate_padded(g, pad_id, pad_to_multiple_of=opts.pad_to_multiple_of) for g in groups if g]
    if opts.width_buckets is None or not batches:
        return batches
    width = bucket_for(max(b["input_ids"].shape[1] for b in batches), opts.width_buckets)  # one shape per step
    return [pad_to_shape(b, max(opts.fixed_rows or 0, b["input_ids"].shape[0]), width, pad_id) for b in batches]


def total_loss_weight(batches: Sequence[dict[str, Any]]) -> float:
    """``sum(w)`` over every supervised (shifted) token of the step: the loss denominator."""
    from trainable.data.prompting import IGNORE_INDEX

    return sum(float((b["loss_weights"][:, 1:] * (b["labels"][:, 1:] != IGNORE_INDEX)).sum()) for b in batches)


def micro_loss_terms(model: Any, batch: dict[str, Any], opts: StepOptions) -> tuple[Any, Any, int]:
    """``(sum(w * ce), sum(w), n_supervised)`` of one micro-batch already on the model's device."""
    from trainable.data.batching import model_inputs
    from trainable.data.prompting import weighted_lm_loss_terms

    if opts.chunked_loss:
        from trainable.training.chunked_loss import forward_loss_terms

        return forward_loss_terms(
            model, model_inputs(batch, padding_mask=opts.padding_mask), batch["labels"], batch["loss_weights"],
            chunk_size=opts.chunk_size,
        )
    logits = model(**model_inputs(batch, padding_mask=opts.padding_mask)).logits
    return weighted_lm_loss_terms(logits, batch["labels"], batch["loss_weights"])


def accumulate_step(
    model: Any,
    batches: Sequence[dict[str, Any]],
    opts: StepOptions,
    device: Any,
    *,
    loss_hook: Callable[[Any], Any] | None = None,
) -> tuple[Any, int]:
    """Forward/backward every micro-batch with loss ``sum(w * ce) / total`` (gradients accumulate).

    Returns (the step's loss as a 0-dim tensor, real tokens). ``loss_hook`` may transform each
    micro-batch loss before backward (the trial's fault-injection test hook).
    """
    import torch

    from trainable.data.batching import real_tokens

    total = total_loss_weight(batches)
    loss_sum = torch.zeros((), device=device)
    tokens = 0
    for batch in batches:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        if opts.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        weighted_sum, _, _ = micro_loss_terms(model, batch, opts)
        loss = weighted_sum / total
        if loss_hook is not None:
            loss = loss_hook(loss)
        loss.backward()
        loss_sum += loss.detach()
        tokens += real_tokens(batch)
    return loss_sum, tokens


def make_adamw(params: list[Any], *, lr: float, weight_decay: float, fused: bool | str, device: Any,
               capturable: bool = False) -> Any:
    """AdamW; ``fused``: True, False or ``"auto"`` (fused on CUDA, the default foreach kernel elsewhere).
    ``capturable`` (CUDA only, ignored elsewhere): fused, with the lr a device tensor, for a CUDA graph."""
    import torch

    on_cuda = str(getattr(device, "type", device)).startswith("cuda")
    if capturable and on_cuda:
        return torch.optim.AdamW(params, lr=torch.tensor(lr, dtype=torch.float32, device=device),
                                 weight_decay=weight_decay, fused=True, capturable=True)
    use_fused = on_cuda if fused == "auto" else bool(fused)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=use_fused or None)


def uncompile(model: Any) -> list[tuple[Any, Any]]:
    """Switch every ``Module.compile()`` in ``model`` off; returns (module, compiled call) to restore."""
    saved = [(m, m._compiled_call_impl) for m in model.modules() if getattr(m, "_compiled_call_impl", None)]
    for module, _ in saved:
        module._compiled_call_impl = None
    return saved


@contextmanager
def uncompiled(model: Any) -> Iterator[Any]:
    """``model`` with every ``Module.compile()`` switched off for the block (eval, deep copies), then back."""
    saved = uncompile(model)
    try:
        yield model
    finally:
        for module, compiled in saved:
            module._compiled_call_impl = compiled


def compile_decoder_layers(
    model: Any, *, backend: str = "inductor", dynamic: bool | None = None, mode: str | None = None
) -> int:
    """Regional ``torch.compile`` of each decoder layer (compiled once, reused by the identical layers).

    ``mode`` is torch.compile's (``"reduce-overhead"``: CUDA graphs, needs fixed shapes). Returns the
    number of layers compiled. Weights, LoRA adapters and state dicts are untouched. The embedding output is
    made to require grad, so the first layer's input looks like every other layer's and one compiled
    variant serves them all (else dynamo compiles the first layer apart: two compilations per shape).
    """
    from trainable.training.chunked_loss import causal_lm_parts

    model.enable_input_require_grads()
    decoder, _ = causal_lm_parts(model)
    layers = list(decoder.layers)
    for layer in layers:
        layer.compile(backend=backend, dynamic=dynamic, mode=None if mode == "default" else mode)
    return len(layers)
