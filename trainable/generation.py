"""Batched greedy translation for evaluation: the fast path of every eval.

Prompts are the chat prompt of :func:`trainable.prompting.build_prompt_ids`, sorted by length into
batches (little padding), LEFT-padded (new tokens line up at the right edge), decoded greedily and
stopped at the end-of-turn token. Results come back in input order. A batch that runs out of GPU memory
is retried at half the size (and the rest of the eval keeps the smaller size).

LoRA adapters are merged for speed (unmerged LoRA generation is ~5x slower, DESIGN.md): a bf16/fp32
``PeftModel`` is deep-copied and ``merge_and_unload``-ed for the duration of the call, so the trained
weights are untouched (no merge/unmerge rounding drift in bf16) at the cost of one transient copy of
the model. A 4-bit (NF4) model generates unmerged: merging into 4-bit weights re-quantizes them, so the
merged model would not be the model that was trained and evaluated.
"""

from __future__ import annotations

import copy
import time
import warnings
from contextlib import contextmanager
from typing import Any

from trainable.prompting import DEFAULT_SYSTEM_PROMPT, build_prompt_ids, end_of_turn_id


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
) -> tuple[list[str], list[float]]:
    """Translate ``srcs`` greedily; return (hypotheses, per-segment latency in ms), both in input order.

    A segment's latency is its batch's wall time divided by the batch size (amortized ms/segment).
    The model's train/eval mode is restored afterwards.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not srcs:
        return [], []
    device = torch.device(device) if device is not None else next(model.parameters()).device
    prompts = [build_prompt_ids(tokenizer, src, system_prompt=system_prompt) for src in srcs]
    order = sorted(range(len(srcs)), key=lambda i: len(prompts[i]), reverse=True)  # longest first: OOM early
    stop_ids = _stop_ids(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    gen_config = _greedy_config(max_new_tokens, stop_ids, pad_id)
    hyps: list[str] = [""] * len(srcs)
    latencies: list[float] = [0.0] * len(srcs)
    with _inference_model(model, merge_lora) as gen_model:
        start = 0
        while start < len(order):
            idx = order[start : start + batch_size]
            input_ids, attention_mask = _left_pad([prompts[i] for i in idx], pad_id, device)
            t0 = time.perf_counter()
            try:
                out = gen_model.generate(
                    input_ids=input_ids, attention_mask=attention_mask, generation_config=gen_config
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
                hyps[i] = _decode_until_stop(tokenizer, tokens, stop_ids)
                latencies[i] = per_segment_ms
            start += len(idx)
    return hyps, latencies


def _stop_ids(tokenizer: Any) -> list[int]:
    """End-of-turn first, then the tokenizer's eos if different."""
    ids = [end_of_turn_id(tokenizer)]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(int(tokenizer.eos_token_id))
    return ids


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


def _decode_until_stop(tokenizer: Any, tokens: list[int], stop_ids: list[int]) -> str:
    for pos, tok in enumerate(tokens):
        if tok in stop_ids:
            tokens = tokens[:pos]
            break
    return tokenizer.decode(tokens, skip_special_tokens=True).strip()


def _is_mergeable_peft(model: Any) -> bool:
    """A LoRA ``PeftModel`` whose base weights are not quantized (merging is then exact enough)."""
    if not hasattr(model, "merge_and_unload") or not hasattr(model, "peft_config"):
        return False
    base = model.get_base_model()
    return not (getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False))


@contextmanager
def _inference_model(model: Any, merge_lora: bool):
    """The model to generate with (a merged copy where possible), in eval mode under inference_mode."""
    import torch

    was_training = model.training
    merged = None
    try:
        model.eval()
        if merge_lora and _is_mergeable_peft(model):
            with torch.no_grad():
                merged = copy.deepcopy(model).merge_and_unload()
            merged.eval()
        with torch.inference_mode():
            yield merged if merged is not None else model
    finally:
        del merged
        model.train(was_training)
