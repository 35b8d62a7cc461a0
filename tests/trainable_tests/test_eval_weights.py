"""The eval path measures the trained model: after ~100 real training steps at lr 5e-6 (the reference
configuration's lr) its logits are within 5% of the adapter's own effect of the unmerged fp32 model's, and
its greedy outputs are the same on >= 99% of segments. A bf16 merge fails this (the LoRA update is below
half a bf16 step of most weights, so it rounds away)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainable_tests.trial_helpers import tiny_config
from trainable.evaluate import load_split


def _qwen05b_shaped(tiny_assets, out: Path) -> Path:
    """Qwen2.5-0.5B's layer shapes and init (hidden 896, MLP 4864, 14 heads / 2 KV heads, std 0.02), random
    weights, ONE layer and the toy tokenizer's vocabulary (small enough to train on a CPU)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_assets.model_dir)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=896, intermediate_size=4864, num_hidden_layers=1,
                         num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    Qwen2ForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _train_100_steps(cfg):
    """The trial's own training loop (``TrialRecipe``), 100 steps; returns the trained model and tokenizer."""
    from trainable.reporters import ListReporter
    from trainable.trial import TrialRecipe

    recipe = TrialRecipe(cfg, ListReporter())
    recipe.setup()
    recipe.train()
    assert recipe.state.step == 100
    return recipe.model, recipe.tokenizer


@pytest.mark.parametrize("shape", ["tiny", "qwen05b_shaped_1_layer"])
def test_eval_path_equals_the_unmerged_fp32_model(tiny_assets, tmp_path: Path, shape: str) -> None:
    import torch

    from trainable.generation import generate_translations, inference_model
    from trainable.nf4_merge import unmerged_fp32
    from trainable.prompting import build_prompt_ids

    model_dir = tiny_assets.model_dir if shape == "tiny" else _qwen05b_shaped(tiny_assets, tmp_path / "m")
    cfg = tiny_config(tiny_assets, model=str(model_dir), lr=5e-6, max_steps=100, eval_every=100, eval_samples=2,
                      max_new_tokens=2, batch_size=2 if shape == "tiny" else 1, max_seq_len=64)
    model, tokenizer = _train_100_steps(cfg)
    assert cfg.eval_dtype == "float32"  # the default
    srcs = [p.src for p in load_split(cfg, "dev") + load_split(cfg, "test")]
    assert len(srcs) >= 100

    ids = torch.tensor([build_prompt_ids(tokenizer, s)[-24:] for s in srcs[:24] if len(build_prompt_ids(tokenizer, s)) >= 24])
    reference = unmerged_fp32(model)
    with torch.inference_mode():
        want = reference(input_ids=ids).logits
        with reference.disable_adapter():
            base = reference(input_ids=ids).logits
        effect = (want - base).abs().max().item()
        with inference_model(model, True, cfg.eval_dtype) as eval_model:  # what an eval generates with
            error = (eval_model(input_ids=ids).logits.float() - want).abs().max().item()
    assert effect > 0
    assert error <= 0.05 * effect, f"eval-path logit error {error:.3g} vs adapter effect {effect:.3g}"

    got = generate_translations(model, tokenizer, srcs, max_new_tokens=12, batch_size=64, device="cpu",
                                merge_dtype=cfg.eval_dtype).hyps
    exact = generate_translations(reference, tokenizer, srcs, max_new_tokens=12, batch_size=64, device="cpu",
                                  merge_lora=False).hyps
    same = sum(a == b for a, b in zip(got, exact, strict=True)) / len(srcs)
    assert same >= 0.99, f"greedy outputs identical on {same:.1%} of {len(srcs)} segments"
