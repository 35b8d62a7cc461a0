"""Chunked cross-entropy over the vocabulary: the loss of :func:`trainable.data.prompting.weighted_lm_loss_terms`
without ever holding the full ``[tokens, vocab]`` float32 logits (152k columns for Qwen2.5).

The model is run up to its last hidden state; the loss takes that state and the ``lm_head`` weight and,
``chunk_size`` tokens at a time, computes logits, the weighted cross-entropy and (when gradients are
needed) the gradients with respect to the hidden state and the head weight, keeping only those. Tokens
with zero loss weight (prompt tokens under ``answer_only``) are skipped: their logits are never computed.
Logits are computed in the model's dtype and upcast to float32 like the plain path, so both paths agree
to rounding. Assumes a plain linear head (Qwen2/Llama style: no logit soft-capping or scaling).
"""

from __future__ import annotations

from typing import Any

from trainable.data.prompting import IGNORE_INDEX

DEFAULT_CHUNK_SIZE = 256


def _chunked_ce_function():
    import torch

    class ChunkedCrossEntropy(torch.autograd.Function):
        """``sum_i w_i * ce(h_i @ W.T + b, t_i)``; the gradients are computed chunk by chunk in forward."""

        @staticmethod
        def forward(ctx, hidden, weight, bias, targets, token_w, chunk_size: int):  # noqa: ANN001
            need_h, need_w, need_b = ctx.needs_input_grad[:3]
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            grad_h = torch.empty_like(hidden) if need_h else None
            grad_w = torch.zeros_like(weight, dtype=torch.float32) if need_w else None
            grad_b = torch.zeros_like(bias, dtype=torch.float32) if need_b else None
            for start in range(0, hidden.shape[0], chunk_size):
                h = hidden[start : start + chunk_size]
                t = targets[start : start + chunk_size]
                w = token_w[start : start + chunk_size]
                logits = h @ weight.t()
                if bias is not None:
                    logits = logits + bias
                logits = logits.float()
                lse = torch.logsumexp(logits, dim=-1)
                ce = lse - logits.gather(1, t[:, None]).squeeze(1)
                total += (ce * w).sum()
                if need_h or need_w or need_b:
                    g = torch.exp(logits - lse[:, None])
                    g[torch.arange(g.shape[0], device=g.device), t] -= 1.0
                    g *= w[:, None]
                    g = g.to(hidden.dtype)
                    if need_h:
                        grad_h[start : start + chunk_size] = g @ weight
                    if need_w:
                        grad_w += (g.t() @ h).float()
                    if need_b:
                        grad_b += g.float().sum(0)
            ctx.save_for_backward(*(x for x in (grad_h, grad_w, grad_b) if x is not None))
            ctx.which = (need_h, need_w, need_b)
            ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
            return total

        @staticmethod
        def backward(ctx, grad_out):  # noqa: ANN001
            saved = iter(ctx.saved_tensors)
            need_h, need_w, need_b = ctx.which
            grad_h = next(saved) * grad_out if need_h else None  # a 0-dim factor keeps grad_h's dtype
            grad_w = (next(saved) * grad_out).to(ctx.dtypes[0]) if need_w else None
            grad_b = (next(saved) * grad_out).to(ctx.dtypes[1]) if need_b else None
            return grad_h, grad_w, grad_b, None, None, None

    return ChunkedCrossEntropy


_FUNCTION: Any = None


def chunked_lm_loss_terms(
    hidden: Any,
    head_weight: Any,
    labels: Any,
    loss_weights: Any,
    *,
    head_bias: Any = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[Any, Any, int]:
    """Shifted ``(sum(w * ce), sum(w), n_supervised)`` from the last hidden state ``[B, T, H]``.

    Same contract and values as :func:`trainable.data.prompting.weighted_lm_loss_terms` on
    ``logits = hidden @ head_weight.T (+ head_bias)``.
    """
    import torch

    global _FUNCTION
    if _FUNCTION is None:
        _FUNCTION = _chunked_ce_function()
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    shift_labels = labels[:, 1:].to(hidden.device)
    mask = shift_labels != IGNORE_INDEX
    shift_w = loss_weights[:, 1:].to(hidden.device, torch.float32) * mask
    keep = (shift_w > 0).reshape(-1)
    n_supervised = int(keep.sum().item())
    flat_h = hidden[:, :-1, :].reshape(-1, hidden.shape[-1])
    index = keep.nonzero().squeeze(1)
    weighted_sum = _FUNCTION.apply(
        flat_h.index_select(0, index),
        head_weight,
        head_bias,
        shift_labels.reshape(-1).index_select(0, index),
        shift_w.reshape(-1).index_select(0, index),
        chunk_size,
    )
    return weighted_sum, shift_w.sum(), n_supervised


def weighted_sum_no_sync(hidden: Any, head_weight: Any, labels: Any, loss_weights: Any, *, head_bias: Any = None,
                         chunk_size: int = DEFAULT_CHUNK_SIZE) -> Any:
    """``sum(w * ce)`` of :func:`chunked_lm_loss_terms` without a host sync (CUDA-graph capturable): every
    position goes through the chunks (zero-weight ones add exactly 0), so no data-dependent shapes."""
    import torch

    global _FUNCTION
    if _FUNCTION is None:
        _FUNCTION = _chunked_ce_function()
    shift_labels = labels[:, 1:]
    mask = shift_labels != IGNORE_INDEX
    shift_w = (loss_weights[:, 1:].float() * mask).reshape(-1)
    targets = torch.where(mask, shift_labels, torch.zeros_like(shift_labels)).reshape(-1)
    flat_h = hidden[:, :-1, :].reshape(-1, hidden.shape[-1])
    return _FUNCTION.apply(flat_h, head_weight, head_bias, targets, shift_w, chunk_size)


def causal_lm_parts(model: Any) -> tuple[Any, Any]:
    """``(decoder, lm_head)`` of a causal LM, possibly wrapped by peft; ValueError if the head is not linear."""
    import torch

    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = lm.get_decoder(), lm.get_output_embeddings()
    if type(head) is not torch.nn.Linear:
        raise ValueError(f"chunked loss needs a plain nn.Linear lm_head, got {type(head).__name__}")
    return decoder, head


def forward_loss_terms(
    model: Any, inputs: dict[str, Any], labels: Any, loss_weights: Any, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> tuple[Any, Any, int]:
    """Run ``model``'s decoder on ``inputs`` (model kwargs) and return the chunked loss terms."""
    decoder, head = causal_lm_parts(model)
    hidden = decoder(**inputs).last_hidden_state
    return chunked_lm_loss_terms(hidden, head.weight, labels, loss_weights, head_bias=head.bias, chunk_size=chunk_size)
