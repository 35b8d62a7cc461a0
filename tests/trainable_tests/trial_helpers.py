"""Shared helpers for the trial tests: a tiny-model TrialConfig that runs in seconds on CPU."""

from __future__ import annotations

from typing import Any

from trainable.config import TrialConfig


def tiny_config(tiny_assets: Any, **overrides: Any) -> TrialConfig:
    """The tiny model, batch 4, eval every 4 steps on 8 dev pairs, 16 new tokens, tiny COMET."""
    base: dict[str, Any] = {
        "model": str(tiny_assets.model_dir),
        "comet_model": str(tiny_assets.comet_ckpt),
        "quantization": "bf16",
        "device": "cpu",
        "lr": 1e-3,
        "batch_size": 4,
        "grad_accum": 1,
        "max_steps": 8,
        "max_seq_len": 256,
        "grad_clip": 1.0,
        "eval_every": 4,
        "eval_samples": 8,
        "final_full_eval": False,
        "eval_batch_size": 8,
        "max_new_tokens": 16,
        "early_stop_rule": "none",
        "spike_zscore_loss": None,
        "spike_zscore_grad": None,
    }
    base.update(overrides)
    return TrialConfig.from_dict(base, where="test")


OBJECTIVE_KEYS = ("comet", "term_acc", "bleu_char", "chrf_pp", "len_ratio")
