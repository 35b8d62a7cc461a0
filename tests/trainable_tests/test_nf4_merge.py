"""The dequantized merged copy of an NF4 LoRA model computes what the NF4 model computes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def nf4_lora_model(tmp_path_factory: pytest.TempPathFactory):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from trainable.model.loading import add_lora, load_base_model
    from trainable.testing.tiny_model import build_tiny_tokenizer

    out: Path = tmp_path_factory.mktemp("nf4")
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    Qwen2ForCausalLM(config).save_pretrained(out)
    build_tiny_tokenizer(["hello world", "ファイルを保存"] * 4, vocab_size=300).save_pretrained(out)
    model, _ = load_base_model(str(out), quantization="nf4", device="cpu")
    model = add_lora(model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj", "down_proj"])
    with torch.no_grad():  # non-zero adapters (B starts at 0)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model.eval()


def test_same_logits_and_greedy_tokens(nf4_lora_model) -> None:
    from trainable.model.nf4_merge import dequantized_merged_copy, is_4bit_peft

    model = nf4_lora_model
    assert is_4bit_peft(model)
    merged = dequantized_merged_copy(model, dtype=torch.bfloat16)
    assert not getattr(merged, "is_loaded_in_4bit", False) and merged.dtype == torch.bfloat16
    assert merged.lm_head.weight.data_ptr() == merged.model.embed_tokens.weight.data_ptr()
    ids = torch.randint(5, 300, (3, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(input_ids=ids).logits.float()
        got = merged(input_ids=ids).logits.float()
    scale = want.abs().max()
    assert (got - want).abs().max() < 0.02 * scale  # bf16 rounding of one addition per weight
    assert (got.argmax(-1) == want.argmax(-1)).float().mean() > 0.95
    with torch.no_grad():
        model.base_model.disable_adapter_layers()
        plain = model(input_ids=ids).logits.float()
        model.base_model.enable_adapter_layers()
    assert (plain - want).abs().max() > 10 * (got - want).abs().max()  # the adapters are really merged in


def test_default_copy_is_fp32_and_matches_the_unmerged_fp32_model(nf4_lora_model) -> None:
    from trainable.model.nf4_merge import dequantized_merged_copy, merge_error

    assert dequantized_merged_copy(nf4_lora_model).dtype == torch.float32
    ids = torch.randint(5, 300, (3, 12), generator=torch.Generator().manual_seed(1))
    exact = merge_error(nf4_lora_model, ids, dtype=torch.float32)
    rounded = merge_error(nf4_lora_model, ids, dtype=torch.bfloat16)
    assert exact["adapter_effect"] > 0 and exact["argmax_agree"] == 1.0
    assert exact["error_share"] < 1e-3 < rounded["error_share"]
