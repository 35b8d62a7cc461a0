"""The eval path measures the trained model: after ~100 real training steps at lr 5e-6 (the reference
configuration's lr; on the 0.5B-shaped model 12 steps at lr 4e-5, the same Adam-bounded update size of
<= 5e-4 per weight at an eighth of the CPU time: bf16 matmuls are emulated on CPUs without AVX512) its logits are within 5% of the adapter's own effect of the unmerged fp32 model's, and
its greedy outputs are the same on >= 99% of segments. A bf16 merge fails this (the LoRA update is below
half a bf16 step of most weights, so it rounds away)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainable_tests.trial_helpers import qwen05b_shaped, tiny_config, train_steps
from trainable.eval.evaluate import load_split


@pytest.mark.integration
@pytest.mark.parametrize(("shape", "steps", "lr"), [("tiny", 100, 5e-6), ("qwen05b_shaped_1_layer", 12, 4e-5)])
def test_eval_path_equals_the_unmerged_fp32_model(tiny_assets, tmp_path: Path, shape: str, steps: int, lr: float) -> None:
    import torch

    from trainable.data.prompting import build_prompt_ids
    from trainable.eval.generation import generate_translations, inference_model
    from trainable.model.nf4_merge import unmerged_fp32

    model_dir = tiny_assets.model_dir if shape == "tiny" else qwen05b_shaped(tiny_assets.model_dir, tmp_path / "m")
    cfg = tiny_config(tiny_assets, model=str(model_dir), lr=lr, max_steps=steps, eval_every=steps, eval_samples=2,
                      max_new_tokens=2, batch_size=2 if shape == "tiny" else 1, max_seq_len=64)
    model, tokenizer = train_steps(cfg)
    assert cfg.eval_dtype == "float32"  # the default
    srcs = [p.src for p in load_split(cfg, "dev") + load_split(cfg, "test")][:100]
    assert len(srcs) == 100

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

    got = generate_translations(model, tokenizer, srcs, max_new_tokens=10, batch_size=50, device="cpu",
                                merge_dtype=cfg.eval_dtype).hyps
    exact = generate_translations(reference, tokenizer, srcs, max_new_tokens=10, batch_size=50, device="cpu",
                                  merge_lora=False).hyps
    same = sum(a == b for a, b in zip(got, exact, strict=True)) / len(srcs)
    assert same >= 0.99, f"greedy outputs identical on {same:.1%} of {len(srcs)} segments"
