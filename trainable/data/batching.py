"""Speed levers on the data side: length-grouped order, padding-free (packed) collation, micro-batch plans.

- :func:`length_grouped_order`: a seeded permutation of the examples in which every consecutive chunk of
  ``group_size`` (one optimizer step's examples) holds examples of similar token length, sorted longest
  first, and the chunks come in random order. Right-padding then wastes little compute, and any split of
  a chunk into micro-batches stays tight. Every example appears exactly once per epoch.
- :func:`collate_packed`: one row holding all examples back to back, ``position_ids`` restarting at 0 for
  each and no ``attention_mask``, so transformers builds a block-diagonal causal mask (sdpa/eager from
  ``position_ids``; flash-attention as varlen). The first token of each example is taken out of the loss,
  so :func:`trainable.data.prompting.weighted_lm_loss_terms` gives exactly the padded batch's loss terms.
- :func:`micro_batch_plan` / :func:`regroup`: run the same effective batch (``batch_size * grad_accum``)
  as fewer, larger micro-batches; the trial's exact step loss ``sum(w * ce) / sum(w)`` does not change.
- :func:`width_buckets` / :func:`pad_to_shape`: fixed shapes for compiled steps. Every micro-batch is padded
  to a fixed row count (zero-weight rows) and to the smallest width bucket that holds it, so a trial sees
  one shape per bucket and ``torch.compile(dynamic=False)`` / a CUDA graph compiles once per bucket.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from trainable.data.prompting import IGNORE_INDEX

if TYPE_CHECKING:
    import torch

    from trainable.data.prompting import Example

T = TypeVar("T")


def length_grouped_order(
    lengths: Sequence[int], group_size: int, *, seed: int, epoch: int = 0, mega_groups: int = 16
) -> list[int]:
    """Seeded permutation of ``range(len(lengths))``, length-grouped in chunks of ``group_size``.

    The examples are shuffled, cut into mega-buckets of ``mega_groups * group_size``, each bucket is
    sorted by length (longest first) and cut into chunks of ``group_size``; the chunks are shuffled, with
    the one short chunk (if any) kept last so that every other chunk stays whole.
    """
    if group_size < 1 or mega_groups < 1:
        raise ValueError(f"group_size and mega_groups must be >= 1, got {group_size}, {mega_groups}")
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = group_size * mega_groups
    chunks: list[list[int]] = []
    for start in range(0, len(order), mega):
        bucket = sorted(order[start : start + mega], key=lambda i: -lengths[i])
        chunks.extend(bucket[k : k + group_size] for k in range(0, len(bucket), group_size))
    short = [c for c in chunks if len(c) < group_size]
    full = [c for c in chunks if len(c) == group_size]
    rng.shuffle(full)
    if short:  # at most one bucket is not a multiple of group_size: its remainder is the only short chunk
        full.append([i for c in short for i in c])
    return [i for chunk in full for i in chunk]


def padding_fraction(batches: Sequence[Sequence[int]]) -> float:
    """Share of padded positions when each batch of lengths is right-padded to its longest member."""
    padded = sum(max(b) * len(b) for b in batches if b)
    real = sum(sum(b) for b in batches)
    return 1.0 - real / padded if padded else 0.0


@dataclass(frozen=True)
class MicroBatchPlan:
    """How one optimizer step's ``effective`` examples are split into forward/backward passes."""

    micro_batch_size: int
    """Sequences per forward/backward."""
    grad_accum: int
    """Forward/backward passes per optimizer step."""

    @property
    def effective(self) -> int:
        return self.micro_batch_size * self.grad_accum


def micro_batch_plan(batch_size: int, grad_accum: int, micro_batch_size: int | None) -> MicroBatchPlan:
    """Same effective batch ``batch_size * grad_accum`` in micro-batches of ``micro_batch_size``.

    ``None`` keeps ``batch_size x grad_accum``. A micro-batch larger than the effective batch is capped
    at it (one pass per step); otherwise it must divide the effective batch (ValueError if not).
    """
    effective = batch_size * grad_accum
    if micro_batch_size is None:
        return MicroBatchPlan(batch_size, grad_accum)
    if micro_batch_size < 1:
        raise ValueError(f"micro_batch_size must be >= 1, got {micro_batch_size}")
    micro = min(micro_batch_size, effective)
    if effective % micro:
        raise ValueError(f"micro_batch_size {micro} does not divide the effective batch {effective}")
    return MicroBatchPlan(micro, effective // micro)


def largest_micro_batch(effective: int, limit: int) -> int:
    """The largest divisor of ``effective`` that is <= ``limit`` (a memory-sized micro-batch)."""
    if effective < 1 or limit < 1:
        raise ValueError(f"effective and limit must be >= 1, got {effective}, {limit}")
    return max(d for d in range(1, min(effective, limit) + 1) if effective % d == 0)


def regroup(micro_batches: Sequence[Sequence[T]], micro_batch_size: int | None) -> list[list[T]]:
    """Re-split one step's micro-batches (in order) into chunks of ``micro_batch_size`` (None = as given)."""
    if micro_batch_size is None:
        return [list(mb) for mb in micro_batches]
    flat = [x for mb in micro_batches for x in mb]
    return [flat[i : i + micro_batch_size] for i in range(0, len(flat), micro_batch_size)]


def collate_padded(examples: Sequence[Example], pad_id: int, *, pad_to_multiple_of: int = 1) -> dict[str, torch.Tensor]:
    """:func:`trainable.data.prompting.collate`, with the width rounded up to ``pad_to_multiple_of``
    (fewer distinct shapes for ``torch.compile``; the extra columns are padding and carry no loss)."""
    import torch

    from trainable.data.prompting import collate

    batch = collate(list(examples), pad_id)
    width = batch["input_ids"].shape[1]
    target = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    if target == width:
        return batch
    extra = target - width
    fill = {"input_ids": pad_id, "attention_mask": 0, "labels": IGNORE_INDEX, "loss_weights": 0.0}
    return {k: torch.nn.functional.pad(v, (0, extra), value=fill[k]) for k, v in batch.items()}


MIN_WIDTH_BUCKET = 64
"""The narrowest width bucket; the others double it up to ``max_seq_len`` (which is the last bucket)."""


def width_buckets(max_seq_len: int) -> tuple[int, ...]:
    """Fixed padded widths for a trial: 64, 128, 256, ... below ``max_seq_len``, then ``max_seq_len``."""
    if max_seq_len < 1:
        raise ValueError(f"max_seq_len must be >= 1, got {max_seq_len}")
    buckets = []
    width = MIN_WIDTH_BUCKET
    while width < max_seq_len:
        buckets.append(width)
        width *= 2
    return (*buckets, max_seq_len)


def bucket_for(width: int, buckets: Sequence[int]) -> int:
    """The smallest bucket >= ``width`` (ValueError if none: examples are cut to ``max_seq_len`` first)."""
    for bucket in buckets:
        if bucket >= width:
            return bucket
    raise ValueError(f"width {width} exceeds the largest bucket {buckets[-1]}")


def pad_to_shape(batch: dict[str, torch.Tensor], rows: int, width: int, pad_id: int) -> dict[str, torch.Tensor]:
    """A padded batch grown to exactly ``rows x width``: extra columns are right padding (mask 0, no loss);
    extra rows are whole sequences of ``pad_id`` with attention mask 1 (never a fully masked row, whose
    attention would be NaN), labels -100 and weight 0, so they add exactly nothing to the loss or the
    gradients. ``tokens`` (0-dim) keeps the count of real tokens."""
    import torch

    n, w = batch["input_ids"].shape
    if n > rows or w > width:
        raise ValueError(f"batch {n}x{w} does not fit the shape {rows}x{width}")
    fill = {"input_ids": pad_id, "attention_mask": 0, "labels": IGNORE_INDEX, "loss_weights": 0.0}
    out = {"tokens": torch.tensor(real_tokens(batch))}
    for key, value in batch.items():
        if key not in fill:
            continue
        grown = torch.full((rows, width), fill[key], dtype=value.dtype)
        grown[:n, :w] = value
        if key == "attention_mask":
            grown[n:] = 1
        out[key] = grown
    return out


def collate_packed(examples: Sequence[Example]) -> dict[str, torch.Tensor]:
    """All examples in one row: ``input_ids``, ``position_ids``, ``labels``, ``loss_weights`` (shape [1, T]).

    No ``attention_mask`` (its absence plus restarting ``position_ids`` is what tells transformers the
    row is packed; the model must be called with ``use_cache=False``). Each example's first token gets
    label -100 and weight 0: it would be "predicted" from the previous example's last token.
    """
    import torch

    if not examples:
        raise ValueError("collate_packed() needs at least one example")
    ids: list[int] = []
    pos: list[int] = []
    labels: list[int] = []
    weights: list[float] = []
    for ex in examples:
        n = len(ex.input_ids)
        ids.extend(ex.input_ids)
        pos.extend(range(n))
        labels.append(IGNORE_INDEX)
        labels.extend(ex.labels[1:])
        weights.append(0.0)
        weights.extend(ex.loss_weights[1:])
    return {
        "input_ids": torch.tensor([ids], dtype=torch.long),
        "position_ids": torch.tensor([pos], dtype=torch.long),
        "labels": torch.tensor([labels], dtype=torch.long),
        "loss_weights": torch.tensor([weights], dtype=torch.float32),
    }


def model_inputs(batch: dict[str, Any], *, padding_mask: bool = True) -> dict[str, Any]:
    """The keyword arguments for the model's forward from a padded or packed batch.

    ``padding_mask=False`` leaves the attention mask out of a (right-)padded batch: under causal attention
    no real token attends to the padding after it, so real tokens compute the same values.
    """
    if "position_ids" in batch:
        return {"input_ids": batch["input_ids"], "position_ids": batch["position_ids"], "use_cache": False}
    if not padding_mask:
        return {"input_ids": batch["input_ids"], "use_cache": False}
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "use_cache": False}


def real_tokens(batch: dict[str, Any]) -> int:
    """Non-padding tokens in a padded or packed batch (``tokens`` when :func:`pad_to_shape` added rows)."""
    if "tokens" in batch:
        return int(batch["tokens"])
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int(batch["input_ids"].numel())
