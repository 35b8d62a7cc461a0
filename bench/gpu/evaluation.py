"""Eval rows: greedy generation (unmerged vs merged LoRA), a COMET-shaped encoder, the trial's metrics."""

from __future__ import annotations

import math
import random
import time
from typing import Any

from .configs import TINY_XLMR, XLMR_LARGE
from .device import peak_gib, reset_peak, sync
from .guard import guarded
from .specs import DEV_PAIRS, Bench, Row, eval_specs


def measure_generation(bench: Bench, model: Any, merged: str | None, batch: int, *,
                       static: bool = False) -> dict[str, Any]:
    """Greedy generation of ``bench.new_tokens`` new tokens for ``batch`` prompts; projected full-dev time.

    ``merged``: the dtype of the merged copy the trial's eval generates with (``float32`` = exact,
    ``bfloat16``), or None for the unmerged LoRA model.
    """
    import torch
    from transformers import GenerationConfig

    from trainable.model.nf4_merge import dequantized_merged_copy

    gen_model = model
    if merged:  # (NF4 +) LoRA -> one plain model, the trained one untouched (the trial's eval path)
        gen_model = dequantized_merged_copy(model, dtype=getattr(torch, merged))
    gen_model.eval()
    vocab = gen_model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    config = GenerationConfig(max_new_tokens=bench.new_tokens, min_new_tokens=bench.new_tokens, do_sample=False,
                              num_beams=1, eos_token_id=None, pad_token_id=0, use_cache=True)
    if static:  # static KV cache (transformers compiles the decoding step for it)
        config.cache_implementation = "static"
    with torch.inference_mode():
        warm_batch = batch if static else min(batch, 8)  # a static cache is compiled for its batch shape
        warm = torch.randint(10, vocab, (warm_batch, bench.prompt_len), generator=g).to(bench.device)
        gen_model.generate(input_ids=warm, attention_mask=torch.ones_like(warm),
                           generation_config=config if static else replace_gen(config, max_new_tokens=4, min_new_tokens=4))
        ids = torch.randint(10, vocab, (batch, bench.prompt_len), generator=g).to(bench.device)
        sync(bench.device)
        t0 = time.perf_counter()
        out = gen_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
        sync(bench.device)
        elapsed = time.perf_counter() - t0
    new = (out.shape[1] - ids.shape[1]) * batch
    if merged:
        del gen_model
    model.train()
    return {"new tok/s": new / elapsed, "batch s": elapsed, "full-dev s": math.ceil(DEV_PAIRS / batch) * elapsed,
            "peak GiB": peak_gib(bench.device)}


def replace_gen(config: Any, **changes: Any) -> Any:
    import copy

    new = copy.deepcopy(config)
    for k, v in changes.items():
        setattr(new, k, v)
    return new


def eval_rows(bench: Bench, model: Any, quant: str, reserve: float) -> list[Row]:
    rows = []
    for name, q, merged, batch in eval_specs():
        if q != quant:
            continue
        batch = max(2, batch // 32) if bench.smoke else batch
        if bench.left() < (3 if bench.smoke else 12) + reserve:
            rows.append(Row(name, {}, "skipped: over the time budget"))
            continue
        reset_peak(bench.device)
        row = guarded(bench, name, lambda m=merged, b=batch, n=name: Row(n, measure_generation(bench, model, m, b)))
        row.note = row.note or f"{f'merged {merged}' if merged else 'unmerged'}, batch {batch}, {bench.new_tokens} new tokens"
        rows.append(row)
    return rows


def measure_comet_shaped(bench: Bench, dtype_name: str, batch: int) -> dict[str, Any]:
    """COMET's cost on a full dev set: an XLM-R-large encoder (random weights) over src, mt and ref.

    wmt22-comet-da encodes the three segments of each pair with XLM-R large (all hidden states kept for
    its layer-wise attention), then pools them and runs a small feed-forward head: the encoder is the
    cost. Segment lengths ~ N(40, 15) subword tokens, length-sorted batches as COMET builds them.
    """
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    dtype = getattr(torch, dtype_name)
    config = XLMRobertaConfig(**(TINY_XLMR if bench.smoke else XLMR_LARGE))
    with torch.device(bench.device):
        model = XLMRobertaModel(config, add_pooling_layer=False).to(dtype).eval()
    rng = random.Random(0)
    n_segments = 3 * (96 if bench.smoke else DEV_PAIRS)
    lengths = sorted((int(min(160, max(4, rng.gauss(40, 15)))) for _ in range(n_segments)), reverse=True)
    weights = torch.softmax(torch.zeros(config.num_hidden_layers + 1, device=bench.device, dtype=dtype), 0)
    with torch.inference_mode():
        def encode(chunk: list[int]) -> None:
            ids = torch.full((len(chunk), chunk[0]), config.pad_token_id, device=bench.device)
            mask = torch.zeros_like(ids)
            for row, n in enumerate(chunk):
                ids[row, :n] = torch.randint(5, config.vocab_size, (n,), device=bench.device)
                mask[row, :n] = 1
            hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            mixed = sum(w * h for w, h in zip(weights, hidden, strict=True))  # layer-wise attention
            (mixed * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # average pooling
        encode(lengths[:batch])  # warm-up at the largest shape
        sync(bench.device)
        t0 = time.perf_counter()
        for start in range(0, n_segments, batch):
            encode(lengths[start : start + batch])
        sync(bench.device)
        elapsed = time.perf_counter() - t0
    return {"segments/s": n_segments / elapsed, "full-dev s": elapsed * (3 * DEV_PAIRS) / n_segments,
            "peak GiB": peak_gib(bench.device)}


def measure_metrics(bench: Bench) -> dict[str, Any]:
    """The trial's own scoring (``trainable.eval.metrics.score_all``, no COMET) on 2,668 sample-data pairs (CPU)."""
    from trainable.data.glossary import load_glossary
    from trainable.data.pairs import load_pairs, sample_data_dir
    from trainable.eval.metrics import score_all

    pairs = load_pairs(sample_data_dir() / "dev.jsonl") + load_pairs(sample_data_dir() / "test.jsonl")
    pairs = [pairs[i % len(pairs)] for i in range(DEV_PAIRS)]
    terms = load_glossary(sample_data_dir() / "glossary.tsv")
    refs = [p.ref for p in pairs]
    hyps = refs[1:] + refs[:1]  # wrong on purpose: real n-gram and term mismatches to count
    t0 = time.perf_counter()
    score_all([p.src for p in pairs], hyps, refs, terms=terms, comet=None)
    return {"full-dev s": time.perf_counter() - t0}
