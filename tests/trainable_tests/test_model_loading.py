"""Base model loading (NF4 and bf16) and LoRA: a real train step on CPU with the toy model."""

from __future__ import annotations

import pytest

from trainable.base.errors import InputError
from trainable.data.prompting import build_examples, collate, weighted_lm_loss
from trainable.model.loading import add_lora, load_base_model, pick_device

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]




def test_pick_device() -> None:
    import torch

    assert pick_device() == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("quantization", ["nf4", "bf16"])
def test_lora_train_step_on_cpu(tiny_assets, quantization: str) -> None:
    import torch

    model, tokenizer = load_base_model(str(tiny_assets.model_dir), quantization=quantization, device="cpu")
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.eos_token == "<|im_end|>"
    q_proj = model.model.layers[0].self_attn.q_proj
    if quantization == "nf4":
        import bitsandbytes as bnb

        assert model.is_loaded_in_4bit and isinstance(q_proj, bnb.nn.Linear4bit)
        assert q_proj.weight.quant_type == "nf4" and q_proj.compute_dtype == torch.bfloat16
    else:
        assert q_proj.weight.dtype == torch.bfloat16
    peft_model = add_lora(model, r=4, alpha=8, dropout=0.05, target_modules=TARGETS)
    trainable = {n: p for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert len(trainable) == 2 * len(TARGETS) * 2  # A and B, 7 modules, 2 layers
    frozen_before = {n: p.detach().clone() for n, p in peft_model.named_parameters() if not p.requires_grad}
    lora_before = {n: p.detach().clone() for n, p in trainable.items()}

    examples, _ = build_examples(
        tokenizer, [("Save the file", "ファイルを保存"), ("Open settings", "設定を開く")]
    )
    batch = collate(examples, tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(trainable.values(), lr=1e-2)
    peft_model.train()
    losses = []
    for _ in range(3):
        logits = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss, n_supervised = weighted_lm_loss(logits, batch["labels"], batch["loss_weights"])
        optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(list(trainable.values()), 1.0)
        assert torch.isfinite(loss) and torch.isfinite(grad_norm) and float(grad_norm) > 0
        optimizer.step()
        losses.append(float(loss))
    assert n_supervised > 0
    assert losses[-1] < losses[0]
    assert all(not torch.equal(lora_before[n], p) for n, p in trainable.items() if "lora_B" in n)
    for n, p in peft_model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(frozen_before[n], p), n


def test_bad_model_path_is_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="^model: no such model directory"):
        load_base_model(str(tmp_path / "missing"), quantization="bf16", device="cpu")


def test_bad_quantization_and_targets_are_input_errors(tiny_assets) -> None:
    with pytest.raises(InputError, match="^quantization:"):
        load_base_model(str(tiny_assets.model_dir), quantization="int3", device="cpu")  # type: ignore[arg-type]
    model, _ = load_base_model(str(tiny_assets.model_dir), quantization="bf16", device="cpu")
    with pytest.raises(InputError, match="^target_modules:"):
        add_lora(model, r=4, alpha=8, dropout=0.0, target_modules=["no_such_proj"])


def test_unknown_hub_id_is_input_error(monkeypatch) -> None:
    import huggingface_hub.constants
    import transformers.utils.hub

    # Offline mode (read at import time, hence the patches): fail at once instead of retrying the network.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(transformers.utils.hub, "_is_offline_mode", True)
    with pytest.raises(InputError, match="^model: cannot load 'no-such-org/no-such-model'"):
        load_base_model("no-such-org/no-such-model", quantization="bf16", device="cpu")
