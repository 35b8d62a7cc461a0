"""The chat prompt (system + user English -> assistant Japanese) and loss masking.

One training example is ``prompt_ids + answer_ids + [<|im_end|>]``: the prompt is the model's own chat
template rendered with ``add_generation_prompt=True`` (exactly what generation sees), the answer is the
reference tokenized on its own, and the end-of-turn token closes it. The answer tokens and the
end-of-turn token are trained in every masking mode, so a model always learns to stop and every example
has at least one supervised token by construction:

- ``full``: every token is in the loss (weight 1);
- ``answer_only``: prompt tokens are out of the loss (label -100);
- ``weighted``: prompt tokens are in the loss with weight ``prompt_loss_weight`` (lambda): 1 equals
  ``full``, 0 equals ``answer_only`` (labels -100 too), loss values included.

The loss is ``sum(w * ce) / sum(w)`` over the shifted tokens (:func:`weighted_lm_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    import torch

DEFAULT_SYSTEM_PROMPT = "Translate the following English text into Japanese."
IGNORE_INDEX = -100
Masking = Literal["full", "answer_only", "weighted"]
MASKING_MODES: tuple[str, ...] = get_args(Masking)


@dataclass(frozen=True)
class Example:
    """One tokenized training example (lists of equal length, no padding)."""

    input_ids: list[int]
    """Token ids: prompt, answer, end-of-turn token."""
    labels: list[int]
    """``input_ids`` where the token is trained, -100 where it is not (unshifted, HF convention)."""
    loss_weights: list[float]
    """Per-token loss weight: 1.0 for answer tokens and end-of-turn, 1/0/lambda for prompt tokens."""

    @property
    def n_supervised(self) -> int:
        """Tokens with a label and a positive weight (the first token is never predicted)."""
        return sum(
            1
            for lab, w in zip(self.labels[1:], self.loss_weights[1:], strict=True)
            if lab != IGNORE_INDEX and w > 0
        )


def end_of_turn_id(tokenizer: Any) -> int:
    """Id of ``<|im_end|>`` (the chat template's end-of-turn token), else the tokenizer's eos."""
    tok_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if tok_id is None or tok_id == tokenizer.unk_token_id:
        tok_id = tokenizer.eos_token_id
    if tok_id is None:
        raise ValueError("tokenizer has neither <|im_end|> nor an eos token")
    return int(tok_id)


def build_messages(src: str, *, system_prompt: str | None) -> list[dict[str, str]]:
    """Chat messages for one source sentence (no system message when ``system_prompt`` is empty)."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": src})
    return messages


def build_prompt_ids(
    tokenizer: Any, src: str, *, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
) -> list[int]:
    """Token ids of the chat prompt, ending with the assistant generation prompt."""
    ids = tokenizer.apply_chat_template(
        build_messages(src, system_prompt=system_prompt), tokenize=True, add_generation_prompt=True
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # BatchEncoding in some versions
        ids = ids["input_ids"]
    return [int(i) for i in ids]


def build_example(
    tokenizer: Any,
    src: str,
    ref: str,
    *,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    masking: Masking = "full",
    prompt_loss_weight: float = 1.0,
    max_seq_len: int = 2048,
) -> Example | None:
    """Tokenize one (source, reference) pair with its label mask and loss weights.

    Too long for ``max_seq_len``: the source is cut (longest prefix that fits); the answer and its
    end-of-turn token are never cut. Returns None (the caller counts it as dropped) when even an empty
    source leaves no room for the whole answer.
    """
    if masking not in MASKING_MODES:
        raise ValueError(f"masking must be one of {MASKING_MODES}, got {masking!r}")
    if not 0.0 <= prompt_loss_weight <= 1.0:
        raise ValueError(f"prompt_loss_weight must be in [0, 1], got {prompt_loss_weight}")
    answer_ids = [int(i) for i in tokenizer.encode(ref, add_special_tokens=False)]
    answer_ids.append(end_of_turn_id(tokenizer))
    budget = max_seq_len - len(answer_ids)
    prompt_ids = build_prompt_ids(tokenizer, src, system_prompt=system_prompt)
    if len(prompt_ids) > budget:
        prompt_ids = _truncated_prompt_ids(tokenizer, src, system_prompt=system_prompt, budget=budget)
        if prompt_ids is None:
            return None
    prompt_weight = {"full": 1.0, "answer_only": 0.0, "weighted": float(prompt_loss_weight)}[masking]
    prompt_labels = list(prompt_ids) if prompt_weight > 0 else [IGNORE_INDEX] * len(prompt_ids)
    return Example(
        input_ids=prompt_ids + answer_ids,
        labels=prompt_labels + answer_ids,
        loss_weights=[prompt_weight] * len(prompt_ids) + [1.0] * len(answer_ids),
    )


def _truncated_prompt_ids(
    tokenizer: Any, src: str, *, system_prompt: str | None, budget: int
) -> list[int] | None:
    """Prompt ids for the longest source prefix (in characters) whose prompt fits ``budget`` tokens."""
    if budget <= 0 or len(build_prompt_ids(tokenizer, "", system_prompt=system_prompt)) > budget:
        return None
    lo, hi = 0, len(src)  # invariant: prefix of length lo fits, hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(build_prompt_ids(tokenizer, src[:mid], system_prompt=system_prompt)) <= budget:
            lo = mid
        else:
            hi = mid
    return build_prompt_ids(tokenizer, src[:lo], system_prompt=system_prompt)


def build_examples(
    tokenizer: Any,
    pairs: list[tuple[str, str]],
    *,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    masking: Masking = "full",
    prompt_loss_weight: float = 1.0,
    max_seq_len: int = 2048,
) -> tuple[list[Example], int]:
    """:func:`build_example` over (src, ref) pairs: the examples kept and the number dropped."""
    kept: list[Example] = []
    for src, ref in pairs:
        ex = build_example(
            tokenizer,
            src,
            ref,
            system_prompt=system_prompt,
            masking=masking,
            prompt_loss_weight=prompt_loss_weight,
            max_seq_len=max_seq_len,
        )
        if ex is not None:
            kept.append(ex)
    return kept, len(pairs) - len(kept)


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch: ``input_ids``, ``attention_mask``, ``labels`` (-100 pad), ``loss_weights`` (0 pad)."""
    import torch

    if not examples:
        raise ValueError("collate() needs at least one example")
    width = max(len(ex.input_ids) for ex in examples)
    n = len(examples)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((n, width), dtype=torch.long)
    labels = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
    weights = torch.zeros((n, width), dtype=torch.float32)
    for row, ex in enumerate(examples):
        k = len(ex.input_ids)
        input_ids[row, :k] = torch.tensor(ex.input_ids, dtype=torch.long)
        attention_mask[row, :k] = 1
        labels[row, :k] = torch.tensor(ex.labels, dtype=torch.long)
        weights[row, :k] = torch.tensor(ex.loss_weights, dtype=torch.float32)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "loss_weights": weights,
    }


def weighted_lm_loss_terms(
    logits: torch.Tensor, labels: torch.Tensor, loss_weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Shifted ``(sum(w * ce), sum(w), n_supervised)``: the parts, for exact gradient accumulation."""
    import torch
    import torch.nn.functional as F

    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:].to(shift_logits.device)
    mask = shift_labels != IGNORE_INDEX
    shift_w = loss_weights[:, 1:].to(shift_logits.device, torch.float32) * mask
    ce = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    ).view_as(shift_w)
    n_supervised = int((mask & (shift_w > 0)).sum().item())
    return (ce * shift_w).sum(), shift_w.sum(), n_supervised


def weighted_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, loss_weights: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """Next-token loss ``sum(w * ce) / sum(w)`` and the number of supervised tokens.

    Raises ValueError on a batch with zero total weight (impossible for batches of :func:`build_example`
    examples: the answer's end-of-turn token always has weight 1).
    """
    weighted_sum, weight_sum, n_supervised = weighted_lm_loss_terms(logits, labels, loss_weights)
    if n_supervised == 0 or float(weight_sum) <= 0.0:
        raise ValueError("batch has no supervised tokens (zero total loss weight)")
    return weighted_sum / weight_sum, n_supervised
