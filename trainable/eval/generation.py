"""Batched greedy translation for evaluation: the fast path of every eval.

Prompts are the chat prompt of :func:`trainable.data.prompting.build_prompt_ids`, sorted by length into
batches (little padding), LEFT-padded (new tokens line up at the right edge), decoded greedily and
stopped at every end-of-turn / eos id the tokenizer and the model know (Qwen: ``<|im_end|>`` and
``<|endoftext|>``); nothing after a stop id is decoded. Results come back in input order, with a flag
per segment for output cut at ``max_new_tokens`` without a stop id. A batch that runs out of GPU memory
is retried at half the size (and the rest of the eval keeps the smaller size).

Greedy means greedy whatever the model folder's ``generation_config.json`` says: transformers >= 4.50
replaces default-valued settings (``do_sample=False``, ``repetition_penalty=1.0``) by the folder's
values when that file records version >= 4.50, so ``generate`` gets ``use_model_defaults=False``.

LoRA adapters are merged for speed (unmerged LoRA generation is ~5x slower, DESIGN.md) into a separate
copy in ``merge_dtype`` (default fp32, :func:`trainable.model.nf4_merge.dequantized_merged_copy`): bf16 would
round ``W + BA`` back to ``W`` for the small updates of early training, so the eval would measure the
base model. The trained weights are untouched.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from typing import Any, NamedTuple

from trainable.data.prompting import DEFAULT_SYSTEM_PROMPT, build_prompt_ids, end_of_turn_id


class Translations(NamedTuple):
    """Hypotheses in input order, amortized ms per segment, and whether each hit the cap unstopped."""

    hyps: list[str]
    latencies_ms: list[float]
    truncated: list[bool]


def generate_translations(
    model: Any,
    tokenizer: Any,
    srcs: list[str],
    *,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    max_new_tokens: int = 256,
    batch_size: int = 64,
    device: Any = None,
    merge_lora: bool = True,
    merge_dtype: str = "float32",
) -> Translations:
    """Translate ``srcs`` greedily; see :class:`Translations`.

    A segment's latency is its batch's wall time divided by the batch size (amortized ms/segment).
    ``merge_lora`` generates from a merged copy in ``merge_dtype`` (a LoRA model; NF4 included).
    The model's train/eval mode is restored afterwards.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not srcs:
        return Translations([], [], [])
    device = torch.device(device) if device is not None else next(model.parameters()).device
    prompts = [build_prompt_ids(tokenizer, src, system_prompt=system_prompt) for src in srcs]
    order = sorted(range(len(srcs)), key=lambda i: len(prompts[i]), reverse=True)  # longest first: OOM early
    stop_ids = stop_token_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    gen_config = _greedy_config(max_new_tokens, stop_ids, pad_id)
    hyps: list[str] = [""] * len(srcs)
    latencies: list[float] = [0.0] * len(srcs)
    truncated: list[bool] = [False] * len(srcs)
    with inference_model(model, merge_lora, merge_dtype) as gen_model:
        start = 0
        while start < len(order):
            idx = order[start : start + batch_size]
            input_ids, attention_mask = _left_pad([prompts[i] for i in idx], pad_id, device)
            t0 = time.perf_counter()
            try:
                out = gen_model.generate(
                    input_ids=input_ids, attention_mask=attention_mask, generation_config=gen_config,
                    use_model_defaults=False,
                )
            except torch.OutOfMemoryError:
                if batch_size == 1:
                    raise
                del input_ids, attention_mask
                torch.cuda.empty_cache()
                batch_size = max(1, batch_size // 2)  # longest prompts come first: later batches fit too
                warnings.warn(f"generation ran out of memory; eval batch size halved to {batch_size}", stacklevel=2)
                continue
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            per_segment_ms = (time.perf_counter() - t0) * 1000.0 / len(idx)
            new_tokens = out[:, input_ids.shape[1] :].tolist()
            for i, tokens in zip(idx, new_tokens, strict=True):
                hyps[i], stopped = decode_until_stop(tokenizer, tokens, stop_ids)
                truncated[i] = not stopped
                latencies[i] = per_segment_ms
            start += len(idx)
    return Translations(hyps, latencies, truncated)


def stop_token_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """Every id that ends a turn: end-of-turn first, then the tokenizer's eos, ``<|endoftext|>`` where the
    vocabulary has it as a special token, and the eos id(s) of the model's config and generation config."""
    ids = [end_of_turn_id(tokenizer), tokenizer.eos_token_id]
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    if endoftext is not None and endoftext != tokenizer.unk_token_id and "<|endoftext|>" in tokenizer.all_special_tokens:
        ids.append(endoftext)
    for source in (getattr(model, "config", None), getattr(model, "generation_config", None)):
        eos = getattr(source, "eos_token_id", None)
        ids.extend(eos if isinstance(eos, list | tuple) else [eos])
    out: list[int] = []
    for tok in ids:
        if tok is not None and int(tok) not in out:
            out.append(int(tok))
    return out


def _greedy_config(max_new_tokens: int, stop_ids: list[int], pad_id: int) -> Any:
    """Plain greedy decoding, whatever sampling defaults the model's own generation config carries."""
    from transformers import GenerationConfig

    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        temperature=None,
        top_p=None,
        top_k=None,
        repetition_penalty=1.0,
        eos_token_id=stop_ids,
        pad_token_id=pad_id,
        use_cache=True,
    )


def _left_pad(prompts: list[list[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    import torch

    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, ids in enumerate(prompts):
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, width - len(ids) :] = 1
    return input_ids.to(device), attention_mask.to(device)


def decode_until_stop(tokenizer: Any, tokens: list[int], stop_ids: list[int]) -> tuple[str, bool]:
    """(text before the first stop id, whether a stop id came): nothing after a stop id survives."""
    for pos, tok in enumerate(tokens):
        if tok in stop_ids:
            return tokenizer.decode(tokens[:pos], skip_special_tokens=True).strip(), True
    return tokenizer.decode(tokens, skip_special_tokens=True).strip(), False


def _needs_copy(model: Any, dtype: Any) -> bool:
    """A LoRA model (to merge), a 4-bit model (to dequantize) or weights not in ``dtype`` (to cast)."""
    if hasattr(model, "peft_config") and hasattr(model, "get_base_model"):
        return True
    if getattr(model, "is_loaded_in_4bit", False):
        return True
    return any(p.is_floating_point() and p.dtype != dtype for p in model.parameters())


@contextmanager
def inference_model(model: Any, merge_lora: bool, merge_dtype: str):
    """The model to generate with (a merged copy in ``merge_dtype`` when ``merge_lora``), in eval mode
    under inference_mode."""
    import torch

    from trainable.model.nf4_merge import dequantized_merged_copy

    was_training = model.training
    merged = None
    try:
        model.eval()
        dtype = getattr(torch, merge_dtype)
        if merge_lora and _needs_copy(model, dtype):
            merged = dequantized_merged_copy(model, dtype=dtype)
        with torch.inference_mode():
            yield merged if merged is not None else model
    finally:
        del merged
        model.train(was_training)
