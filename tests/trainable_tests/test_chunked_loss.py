"""Chunked cross-entropy equals the plain weighted loss (values and gradients) on a real Qwen2 model."""

from __future__ import annotations

import pytest
import torch

from trainable.data.prompting import Example, collate, weighted_lm_loss_terms
from trainable.training.chunked_loss import causal_lm_parts, chunked_lm_loss_terms, forward_loss_terms


def _examples(masking_weight: float) -> list[Example]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for n in (7, 12, 5, 9):
        ids = torch.randint(3, 50, (n,), generator=gen).tolist()
        n_prompt = n // 2
        labels = ([-100] * n_prompt if masking_weight == 0 else ids[:n_prompt]) + ids[n_prompt:]
        out.append(Example(ids, labels, [masking_weight] * n_prompt + [1.0] * (n - n_prompt)))
    return out


@pytest.mark.parametrize("prompt_weight", [1.0, 0.0, 0.3])
@pytest.mark.parametrize("chunk_size", [1, 5, 4096])
def test_matches_plain_loss_and_grads(prompt_weight: float, chunk_size: int) -> None:
    torch.manual_seed(0)
    batch = collate(_examples(prompt_weight), pad_id=0)
    hidden = torch.randn(*batch["input_ids"].shape, 16, requires_grad=True)
    weight = torch.randn(50, 16, requires_grad=True)
    bias = torch.randn(50, requires_grad=True)

    plain = weighted_lm_loss_terms(hidden @ weight.t() + bias, batch["labels"], batch["loss_weights"])
    (plain[0] / plain[1]).backward()
    grads_plain = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None

    chunked = chunked_lm_loss_terms(hidden, weight, batch["labels"], batch["loss_weights"], head_bias=bias,
                                    chunk_size=chunk_size)
    (chunked[0] / chunked[1]).backward()
    assert chunked[2] == plain[2] > 0
    assert float(chunked[1]) == pytest.approx(float(plain[1]))
    assert float(chunked[0].detach()) == pytest.approx(float(plain[0].detach()), rel=1e-5)
    for got, want in zip((hidden.grad, weight.grad, bias.grad), grads_plain, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_frozen_head_gets_no_grad_and_no_grad_mode_works() -> None:
    batch = collate(_examples(1.0), pad_id=0)
    hidden = torch.randn(*batch["input_ids"].shape, 8, requires_grad=True)
    weight = torch.randn(50, 8)  # frozen (tied embeddings in LoRA training)
    s, w, _ = chunked_lm_loss_terms(hidden, weight, batch["labels"], batch["loss_weights"], chunk_size=3)
    (s / w).backward()
    assert hidden.grad is not None and weight.grad is None
    with torch.no_grad():
        s2, _, _ = chunked_lm_loss_terms(hidden, weight, batch["labels"], batch["loss_weights"])
    assert float(s2) == pytest.approx(float(s.detach()), rel=1e-5)


def test_model_forward_matches_plain_path_with_lora() -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    base = Qwen2ForCausalLM(config)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))
    batch = collate(_examples(0.0), pad_id=0)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    params = [p for p in model.parameters() if p.requires_grad]

    s, w, n = weighted_lm_loss_terms(model(**inputs).logits, batch["labels"], batch["loss_weights"])
    (s / w).backward()
    plain_grads = [p.grad.clone() for p in params]
    model.zero_grad(set_to_none=True)

    s2, w2, n2 = forward_loss_terms(model, inputs, batch["labels"], batch["loss_weights"], chunk_size=4)
    (s2 / w2).backward()
    assert n2 == n and float(s2 / w2) == pytest.approx(float(s / w), rel=1e-5)
    for p, want in zip(params, plain_grads, strict=True):
        torch.testing.assert_close(p.grad, want, rtol=1e-4, atol=1e-6)
    decoder, head = causal_lm_parts(model)
    assert head.weight is base.model.embed_tokens.weight and decoder is base.model
