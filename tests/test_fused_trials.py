"""``bench/gpu/fused_trials.py``: k trials over one frozen base, one batched pass, against k plain trials."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench_path import bench_on_path


def _plain_trial(base: Any, seed: int, batch: dict[str, Any], lr: float) -> tuple[Any, float, float]:
    """One trial on the trial's own step code: LoRA (dropout off, B random), loss, pre-clip norm, AdamW."""
    import torch

    from trainable.model.loading import add_lora
    from trainable.training.train_step import StepOptions, accumulate_step

    torch.manual_seed(seed)
    model = add_lora(base, r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    params = [p for p in model.parameters() if p.requires_grad]
    loss, _ = accumulate_step(model, [batch], StepOptions(), "cpu")
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm=0.1)
    return model, float(loss), float(norm)


@pytest.mark.integration
def test_fused_trials_match_separate_plain_trials(tiny_assets: Any) -> None:
    import torch

    with bench_on_path():
        from gpu.fused_trials import FusedTrials
    from trainable.data.batching import pad_to_shape
    from trainable.data.prompting import build_examples, collate
    from trainable.model.loading import load_base_model
    from trainable.testing.tiny_assets import sample_pairs

    def base() -> Any:
        return load_base_model(str(tiny_assets.model_dir), quantization="bf16", dtype="float32")

    model, tokenizer = base()
    examples, _ = build_examples(tokenizer, sample_pairs()[:6], masking="weighted", prompt_loss_weight=0.2)
    batches = [pad_to_shape(collate(examples[:3], 0), 4, 64, 0), pad_to_shape(collate(examples[3:], 0), 4, 64, 0)]
    lrs = [1e-3, 3e-3]

    plain = []
    for t in range(2):
        peft_model, loss, norm = _plain_trial(base()[0], seed=t + 1, batch=batches[t], lr=lrs[t])
        optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=lrs[t],
                                      weight_decay=0.0)
        plain.append((peft_model, loss, norm, optimizer))

    fused = FusedTrials(model, k=2, r=4, alpha=8, targets=["q_proj", "v_proj"], lrs=lrs, chunked=True)
    for t, (peft_model, *_rest) in enumerate(plain):
        fused.load_adapter(t, peft_model)
    losses, norms = fused.gradients(batches)
    for t, (peft_model, loss, norm, _) in enumerate(plain):
        assert float(losses[t]) == pytest.approx(loss, rel=1e-5) and float(norms[t]) == pytest.approx(norm, rel=1e-4)
        modules = dict(peft_model.base_model.model.named_modules())
        for name, layer in fused.layers.items():  # the clipped gradients, trial by trial
            for got, lora in ((layer.A, modules[name].lora_A), (layer.B, modules[name].lora_B)):
                assert torch.allclose(got.grad[t], lora["default"].weight.grad.t(), rtol=1e-3, atol=1e-8)

    # The update: trial 0 steps, trial 1's step is dropped (as the guard would on a bad step)
    fused.update(torch.tensor([True, False]))
    peft0, _, _, optimizer0 = plain[0]
    optimizer0.step()
    modules0 = dict(peft0.base_model.model.named_modules())
    modules1 = dict(plain[1][0].base_model.model.named_modules())
    # Adam's first step is ~lr * sign(g): where |g| is near eps, rounding-level gradient differences move an
    # element by a fraction of lr, so the weights are compared to 5% of the lr (the gradients, above, tightly).
    for name, layer in fused.layers.items():
        assert torch.allclose(layer.A[0], modules0[name].lora_A["default"].weight.t(), rtol=0, atol=0.05 * lrs[0])
        assert torch.allclose(layer.B[0], modules0[name].lora_B["default"].weight.t(), rtol=0, atol=0.05 * lrs[0])
        assert torch.equal(layer.B[1], modules1[name].lora_B["default"].weight.t())  # not updated
