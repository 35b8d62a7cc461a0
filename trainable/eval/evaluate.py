"""Evaluate a model (base, base + adapter, or a live training model) on dev or test.

``evaluate_adapter`` generates with :func:`trainable.eval.generation.generate_translations` (batched,
greedy, stops at end-of-turn) and scores with :func:`trainable.eval.metrics.score_all` (COMET through the
per-process cached scorer, terminology metrics, latency). Used by the trial's periodic evals, by
``mtsweep baseline`` (``adapter_dir=None``: the S0 prompt-only baseline) and by ``mtsweep finalize``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from trainable.config import TrialConfig
    from trainable.data.glossary import Term
    from trainable.data.pairs import Pair

Split = Literal["dev", "test"]


def split_path(cfg: TrialConfig, split: Literal["train", "dev", "test"]) -> Path:
    """The data file of ``split``: the configured path, else the bundled sample data."""
    from trainable.data.pairs import sample_data_dir

    configured = {"train": cfg.train_path, "dev": cfg.dev_path, "test": cfg.test_path}[split]
    return Path(configured) if configured else sample_data_dir() / f"{split}.jsonl"


def load_split(cfg: TrialConfig, split: Literal["train", "dev", "test"]) -> list[Pair]:
    """Load a split with the configured field names."""
    from trainable.data.pairs import load_pairs

    return load_pairs(split_path(cfg, split), src_field=cfg.src_field, tgt_field=cfg.tgt_field)


def load_terms(cfg: TrialConfig) -> list[Term]:
    """The configured glossary, else the bundled sample glossary."""
    from trainable.data.glossary import load_glossary
    from trainable.data.pairs import sample_data_dir

    return load_glossary(cfg.glossary_path or sample_data_dir() / "glossary.tsv")


def eval_subset(pairs: list[Pair], n: int | None, seed: int) -> list[Pair]:
    """A fixed, seeded subset of ``n`` pairs in file order (all pairs when ``n`` is None or too big)."""
    if n is None or n >= len(pairs):
        return list(pairs)
    keep = sorted(random.Random(seed).sample(range(len(pairs)), n))
    return [pairs[i] for i in keep]


def flatten_scores(scores: dict[str, Any]) -> dict[str, Any]:
    """``score_all`` output with the nested ``signatures`` dict flattened to ``signature_<metric>``."""
    flat = {k: v for k, v in scores.items() if not isinstance(v, dict)}
    for name, sig in (scores.get("signatures") or {}).items():
        flat[f"signature_{name}"] = sig
    return flat


def score_model(
    cfg: TrialConfig,
    model: Any,
    tokenizer: Any,
    pairs: list[Pair],
    *,
    terms: list[Term] | None,
    device: Any,
    max_new_tokens: int,
) -> tuple[dict[str, Any], float]:
    """Generate for ``pairs`` (at most ``max_new_tokens`` each, see :func:`max_new_tokens_for`) and
    score; returns (flat metrics, generation seconds). The metrics carry ``max_new_tokens``."""
    from trainable.data.prompting import DEFAULT_SYSTEM_PROMPT
    from trainable.eval.generation import generate_translations
    from trainable.eval.metrics import score_all
    from trainable.model.nf4_merge import is_4bit_peft

    srcs = [p.src for p in pairs]
    refs = [p.ref for p in pairs]
    t0 = time.perf_counter()
    out = generate_translations(
        model,
        tokenizer,
        srcs,
        system_prompt=cfg.system_prompt if cfg.system_prompt is not None else DEFAULT_SYSTEM_PROMPT,
        max_new_tokens=max_new_tokens,
        batch_size=cfg.eval_batch_size,
        device=device,
        merge_lora=cfg.eval_merge_nf4 or not is_4bit_peft(model),
        merge_dtype=cfg.eval_dtype,
    )
    _sync(device)
    gen_s = time.perf_counter() - t0
    scores = score_all(srcs, out.hyps, refs, terms=terms, comet=_comet(cfg), latencies_ms=out.latencies_ms,
                       truncated=out.truncated, runon_ratio=cfg.runon_ratio)
    return {**flatten_scores(scores), "max_new_tokens": max_new_tokens}, gen_s


def max_new_tokens_for(cfg: TrialConfig, tokenizer: Any) -> int:
    """``cfg.max_new_tokens``, with ``auto`` resolved from the token lengths of the dev references."""
    if cfg.max_new_tokens != "auto":
        return int(cfg.max_new_tokens)
    refs = [p.ref for p in load_split(cfg, "dev")]
    return cfg.resolved_max_new_tokens([len(tokenizer.encode(r, add_special_tokens=False)) for r in refs])


def _comet(cfg: TrialConfig) -> Any:
    """The configured COMET model, through the shared per-node actor when ``comet_service`` is on and
    Ray runs in this process (``trainable.eval.comet_service``)."""
    if not getattr(cfg, "comet_service", False):
        return cfg.comet_model
    import ray

    if not ray.is_initialized():
        return cfg.comet_model
    from trainable.eval.comet_service import comet_service

    return comet_service(cfg.comet_model)


def evaluate_adapter(
    cfg: TrialConfig,
    adapter_dir: str | Path | None,
    split: Split = "dev",
    *,
    model: Any = None,
    tokenizer: Any = None,
    samples: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``cfg.model`` (+ the adapter in ``adapter_dir``, if any) on ``split``.

    ``model``/``tokenizer`` reuse an already loaded model (then ``adapter_dir`` must be None).
    ``samples`` takes the fixed subset of that size seeded by ``cfg.eval_seed`` (default: the whole
    split). Returns the flat ``score_all`` metrics plus ``split``, ``adapter``, ``eval_s``, ``gen_s``.
    """
    if split not in ("dev", "test"):
        raise ValueError(f"split must be 'dev' or 'test', got {split!r}")
    if model is not None and adapter_dir is not None:
        raise ValueError("give either a loaded model or adapter_dir, not both")
    t0 = time.perf_counter()
    pairs = eval_subset(load_split(cfg, split), samples, cfg.eval_seed)
    terms = load_terms(cfg)
    device = resolve_device(cfg.device)
    own_model = model is None
    if own_model:
        model, tokenizer = load_for_eval(cfg, adapter_dir, device)
    try:
        metrics, gen_s = score_model(cfg, model, tokenizer, pairs, terms=terms, device=device,
                                     max_new_tokens=max_new_tokens_for(cfg, tokenizer))
    finally:
        if own_model:
            del model
            free_accelerator_memory()
    metrics.update(
        split=split,
        adapter=str(adapter_dir) if adapter_dir is not None else None,
        model=cfg.model,
        gen_s=gen_s,
        eval_s=time.perf_counter() - t0,
    )
    return metrics


def load_for_eval(cfg: TrialConfig, adapter_dir: str | Path | None, device: Any) -> tuple[Any, Any]:
    """Base model (quantized as configured) plus the adapter of ``adapter_dir`` (checkpoint or adapter dir)."""
    from trainable.model.loading import load_base_model

    model, tokenizer = load_base_model(cfg.model, quantization=cfg.quantization, device=device)
    if adapter_dir is not None:
        from peft import PeftModel

        path = Path(adapter_dir)
        if (path / "adapter" / "adapter_config.json").is_file():  # a trial checkpoint directory
            path = path / "adapter"
        if not (path / "adapter_config.json").is_file():
            from trainable.base.errors import InputError

            raise InputError(str(adapter_dir), "not a LoRA adapter (no adapter_config.json)")
        model = PeftModel.from_pretrained(model, str(path))
    model.eval()
    return model, tokenizer


def resolve_device(device: str) -> Any:
    """``auto`` -> :func:`trainable.model.loading.pick_device`; else ``torch.device(device)``."""
    import torch

    if device == "auto":
        from trainable.model.loading import pick_device

        return torch.device(str(pick_device()))
    return torch.device(device)


def _sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)).startswith("cuda"):
        torch.cuda.synchronize()


def free_accelerator_memory() -> None:
    """Collect garbage and hand cached accelerator memory back to the driver."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
