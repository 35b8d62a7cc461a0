"""Shared helpers for the trial tests: a tiny-model TrialConfig that runs in seconds on CPU."""

from __future__ import annotations

from pathlib import Path
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


def qwen05b_shaped(tiny_model_dir: Path, out: Path, *, layers: int = 1) -> Path:
    """Qwen2.5-0.5B's layer shapes and init (hidden 896, MLP 4864, 14 heads / 2 KV heads, std 0.02), random
    weights, ``layers`` layers and the toy tokenizer's vocabulary (small enough to train on a CPU)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=896, intermediate_size=4864, num_hidden_layers=layers,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    Qwen2ForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def train_steps(cfg: TrialConfig) -> tuple[Any, Any]:
    """The trial's own training loop (``TrialRecipe``) for ``cfg.max_steps`` steps; returns the trained model
    and tokenizer (still in memory)."""
    from trainable.training.reporting import ListReporter
    from trainable.trial import TrialRecipe

    recipe = TrialRecipe(cfg, ListReporter())
    recipe.setup()
    recipe.train()
    assert recipe.state.step == cfg.max_steps
    return recipe.model, recipe.tokenizer
