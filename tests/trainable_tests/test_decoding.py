"""Eval decoding is greedy whatever the model folder says, stops at every end-of-turn / eos id, and flags
output cut at the cap (``trunc_rate``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trainable.eval.generation import decode_until_stop, generate_translations, stop_token_ids
from trainable.model.loading import load_base_model

SRCS = ["Save the file", "Open settings", "Connection failed. Check your network settings and try again.",
        "Invite users", "Delete the selected backup schedule"]


def _greedy_by_hand(model, tokenizer, srcs: list[str], max_new_tokens: int) -> list[tuple[str, bool]]:
    """Argmax one token at a time without ``generate``: (text before the first stop id, stopped)."""
    import torch

    from trainable.data.prompting import build_prompt_ids

    stops = stop_token_ids(tokenizer, model)
    out = []
    for src in srcs:
        ids = build_prompt_ids(tokenizer, src)
        new: list[int] = []
        with torch.inference_mode():
            for _ in range(max_new_tokens):
                nxt = int(model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
                new.append(nxt)
                if nxt in stops:
                    break
        out.append(decode_until_stop(tokenizer, new, stops))
    return out


def _copy_model(tiny_assets, dest: Path) -> Path:
    shutil.copytree(tiny_assets.model_dir, dest)
    return dest


def test_greedy_whatever_the_generation_config_says(tiny_assets, tmp_path: Path) -> None:
    import torch

    folder = _copy_model(tiny_assets, tmp_path / "sampling")
    gen_config = json.loads((folder / "generation_config.json").read_text())
    gen_config.update(do_sample=True, repetition_penalty=1.1, top_p=0.8, top_k=20, temperature=0.7,
                      transformers_version="4.57.0")  # what Qwen2.5-Instruct ships
    (folder / "generation_config.json").write_text(json.dumps(gen_config))
    model, tokenizer = load_base_model(str(folder), quantization="bf16", device="cpu", dtype="float32")
    assert model.generation_config.do_sample is True
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        out = generate_translations(model, tokenizer, SRCS, max_new_tokens=20, batch_size=8, device="cpu")
        runs.append(out)
    assert runs[0].hyps == runs[1].hyps
    by_hand = _greedy_by_hand(model, tokenizer, SRCS, 20)
    assert runs[0].hyps == [text for text, _ in by_hand]
    assert runs[0].truncated == [not stopped for _, stopped in by_hand]


def test_every_stop_id_stops_and_nothing_after_it_survives(tiny_assets, tmp_path: Path) -> None:
    """A copy of the toy model whose ``<|endoftext|>`` row equals ``<|im_end|>``'s (tied head): it emits
    ``<|endoftext|>`` exactly where the original emits ``<|im_end|>`` (argmax takes the lower id on a tie)."""
    import torch

    model, tokenizer = load_base_model(str(tiny_assets.model_dir), quantization="bf16", device="cpu", dtype="float32")
    im_end, endoftext = (tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>"))
    assert endoftext < im_end and model.config.tie_word_embeddings
    assert tokenizer.eos_token_id == im_end  # Qwen2.5-Instruct too: <|endoftext|> is not the tokenizer's eos
    want = generate_translations(model, tokenizer, SRCS, max_new_tokens=30, batch_size=8, device="cpu")
    assert not all(want.truncated), "the toy model should stop on some segments"
    with torch.no_grad():
        model.get_input_embeddings().weight[endoftext] = model.get_input_embeddings().weight[im_end]
    folder = tmp_path / "endoftext"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    other, tokenizer = load_base_model(str(folder), quantization="bf16", device="cpu", dtype="float32")
    assert endoftext in stop_token_ids(tokenizer, other)
    got = generate_translations(other, tokenizer, SRCS, max_new_tokens=30, batch_size=8, device="cpu")
    assert (got.hyps, got.truncated) == (want.hyps, want.truncated)


def test_decode_until_stop_drops_everything_after_the_first_stop_id(tiny_assets) -> None:
    _, tokenizer = load_base_model(str(tiny_assets.model_dir), quantization="bf16", device="cpu", dtype="float32")
    stops = stop_token_ids(tokenizer)
    head, tail = tokenizer.encode("保存", add_special_tokens=False), tokenizer.encode("extra", add_special_tokens=False)
    for stop in stops:
        assert decode_until_stop(tokenizer, head + [stop] + tail, stops) == ("保存", True)
    assert decode_until_stop(tokenizer, head + tail, stops) == (tokenizer.decode(head + tail).strip(), False)


def test_qwen_stop_ids_come_from_tokenizer_and_model() -> None:
    from types import SimpleNamespace

    class QwenLike:  # the two ids Qwen2.5-Instruct's tokenizer and generation_config.json name
        eos_token_id, unk_token_id = 151645, None
        all_special_tokens = ["<|im_end|>", "<|endoftext|>"]

        def convert_tokens_to_ids(self, token: str) -> int:
            return {"<|im_end|>": 151645, "<|endoftext|>": 151643}[token]

    model = SimpleNamespace(config=SimpleNamespace(eos_token_id=151645),
                            generation_config=SimpleNamespace(eos_token_id=[151645, 151643]))
    assert stop_token_ids(QwenLike()) == [151645, 151643]
    assert stop_token_ids(QwenLike(), model) == [151645, 151643]


@pytest.mark.parametrize("cap", [2, 40])
def test_truncated_flags_and_trunc_rate(tiny_assets, cap: int) -> None:
    from trainable.eval.metrics import score_all

    model, tokenizer = load_base_model(str(tiny_assets.model_dir), quantization="bf16", device="cpu", dtype="float32")
    out = generate_translations(model, tokenizer, SRCS, max_new_tokens=cap, batch_size=8, device="cpu")
    assert out.truncated == [not stopped for _, stopped in _greedy_by_hand(model, tokenizer, SRCS, cap)]
    scores = score_all(SRCS, out.hyps, ["参照訳"] * len(SRCS), truncated=out.truncated)
    assert scores["trunc_rate"] == sum(out.truncated) / len(SRCS)
    if cap == 2:
        assert scores["trunc_rate"] == 1.0
