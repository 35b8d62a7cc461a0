"""The toy Qwen2 LM + BPE tokenizer + chat template, and the tiny assets bundle."""

from __future__ import annotations

import json

import pytest

from trainable.testing.tiny_model import build_tiny_lm

TEXTS = ["Save the file", "ファイルを保存", "Open settings", "設定を開く", "Invite users", "ユーザーを招待"]
PAIRS = [
    ("Save the file", "ファイルを保存"),
    ("Open settings", "設定を開く"),
    ("Invite users", "ユーザーを招待"),
]




def test_tiny_assets_load_with_auto_classes(tiny_assets) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    model = AutoModelForCausalLM.from_pretrained(tiny_assets.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_assets.model_dir)
    cfg = model.config
    assert cfg.model_type == "qwen2" and type(model).__name__ == "Qwen2ForCausalLM"
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads) == (
        2,
        64,
        4,
        2,
    )
    assert (
        cfg.tie_word_embeddings
        and model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    )
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert 2000 <= len(tokenizer) == cfg.vocab_size <= 4000
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|endoftext|>")
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        assert tokenizer.encode(special) == [tokenizer.convert_tokens_to_ids(special)]
    assert cfg.eos_token_id == tokenizer.eos_token_id and cfg.pad_token_id == tokenizer.pad_token_id
    # Byte-level BPE: Japanese round-trips exactly.
    text = "選択したバックアップのスケジュールを削除 (3 files)"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tiny_assets.comet_ckpt.is_file()
    assert json.loads((tiny_assets.model_dir / "TOY_MODEL.json").read_text())["pretrain_steps"] == 200


def test_chat_template_is_qwen_style(tiny_assets) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_assets.model_dir)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hello"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    )
    messages.append({"role": "assistant", "content": "こんにちは"})
    assert tokenizer.apply_chat_template(messages, tokenize=False).endswith(
        "<|im_start|>assistant\nこんにちは<|im_end|>\n"
    )


def _dev_loss(model_dir) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainable.data.prompting import build_examples, collate, weighted_lm_loss
    from trainable.testing.tiny_assets import sample_pairs

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples, _ = build_examples(tokenizer, sample_pairs()[:32], masking="answer_only")
    batch = collate(examples, tokenizer.pad_token_id)
    with torch.inference_mode():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return float(weighted_lm_loss(logits, batch["labels"], batch["loss_weights"])[0])


def test_pretraining_lowers_the_loss(tiny_assets, tmp_path) -> None:
    from trainable.testing.tiny_assets import sample_pairs

    texts = [t for pair in sample_pairs() for t in pair]
    untrained = build_tiny_lm(tmp_path / "untrained", texts=texts, pretrain_steps=0)
    assert _dev_loss(tiny_assets.model_dir) < _dev_loss(untrained) - 1.0


def test_build_is_deterministic_per_seed(tmp_path) -> None:
    a = build_tiny_lm(tmp_path / "a", texts=TEXTS, chat_pairs=PAIRS, pretrain_steps=3, seed=1)
    b = build_tiny_lm(tmp_path / "b", texts=TEXTS, chat_pairs=PAIRS, pretrain_steps=3, seed=1)
    c = build_tiny_lm(tmp_path / "c", texts=TEXTS, chat_pairs=PAIRS, pretrain_steps=3, seed=2)
    weights = [(d / "model.safetensors").read_bytes() for d in (a, b, c)]
    assert weights[0] == weights[1] != weights[2]
    assert (a / "tokenizer.json").read_text() == (c / "tokenizer.json").read_text()


def test_plain_text_pretraining_and_empty_texts(tmp_path) -> None:
    out = build_tiny_lm(tmp_path / "plain", texts=TEXTS, pretrain_steps=2)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    with pytest.raises(ValueError, match="at least one text"):
        build_tiny_lm(tmp_path / "none", texts=[])
