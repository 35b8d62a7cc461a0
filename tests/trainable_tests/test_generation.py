"""Batched greedy generation: same strings as one-by-one generation, merged LoRA, input order, stops."""

from __future__ import annotations

import pytest

from trainable.eval.generation import generate_translations
from trainable.model.loading import add_lora, load_base_model

SRCS = [
    "Save the file",
    "Delete the selected backup schedule and restart the server now",
    "Open settings",
    "Invite users",
    "Connection failed. Check your network settings and try again.",
    "Save the file",  # a duplicate at another position: results come back in input order
    "Clear all notifications",
]




@pytest.fixture(scope="module")
def lora_model(tiny_assets):
    """The toy LM in fp32 with a seeded LoRA adapter whose B matrices are non-zero (so merging matters)."""
    import torch

    model, tokenizer = load_base_model(
        str(tiny_assets.model_dir), quantization="bf16", device="cpu", dtype="float32"
    )
    peft_model = add_lora(model, r=4, alpha=8, dropout=0.1, target_modules=["q_proj", "v_proj", "down_proj"])
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_A" in name or "lora_B" in name:  # independent of the global RNG (test order)
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return peft_model, tokenizer


def test_batched_equals_one_by_one(lora_model) -> None:
    import torch

    model, tokenizer = lora_model
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    hyps, latencies, _ = generate_translations(
        model, tokenizer, SRCS, max_new_tokens=24, batch_size=3, device="cpu"
    )
    single = [
        generate_translations(
            model, tokenizer, [src], max_new_tokens=24, batch_size=1, device="cpu", merge_lora=False
        )[0][0]
        for src in SRCS
    ]
    assert hyps == single
    assert hyps[0] == hyps[5]
    assert len(latencies) == len(SRCS) and all(ms > 0 for ms in latencies)
    assert any(hyps), "the toy model should produce some text"
    # The trained model is untouched: same weights (no merge drift), adapters still active, train mode back.
    assert model.training
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    assert not any(getattr(m, "merged", False) for m in model.modules())


def test_merged_equals_unmerged_and_adapter_changes_output(lora_model, tiny_assets) -> None:
    model, tokenizer = lora_model
    merged = generate_translations(model, tokenizer, SRCS, max_new_tokens=24, batch_size=8, device="cpu")[0]
    unmerged = generate_translations(
        model, tokenizer, SRCS, max_new_tokens=24, batch_size=8, device="cpu", merge_lora=False
    )[0]
    assert merged == unmerged
    with model.disable_adapter():
        base = generate_translations(
            model, tokenizer, SRCS, max_new_tokens=24, batch_size=8, device="cpu", merge_lora=False
        )[0]
    assert base != merged  # the adapter is really used


def test_stops_at_end_of_turn(lora_model) -> None:
    import torch

    from trainable.data.prompting import build_prompt_ids

    model, tokenizer = lora_model
    model.eval()  # LoRA dropout off for the reference generate() call below
    base = model.get_base_model()
    hyps, _, _ = generate_translations(base, tokenizer, SRCS[:3], max_new_tokens=40, batch_size=3, device="cpu")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for src, hyp in zip(SRCS[:3], hyps, strict=True):
        assert "<|im_end|>" not in hyp and "<|endoftext|>" not in hyp
        ids = build_prompt_ids(tokenizer, src)
        with torch.inference_mode():
            out = base.generate(torch.tensor([ids]), max_new_tokens=40, do_sample=False, eos_token_id=im_end)
        new = out[0, len(ids) :].tolist()
        if im_end in new:
            new = new[: new.index(im_end)]
        assert hyp == tokenizer.decode(new, skip_special_tokens=True).strip()


def test_nf4_generation_runs_unmerged(tiny_assets) -> None:
    model, tokenizer = load_base_model(str(tiny_assets.model_dir), quantization="nf4", device="cpu")
    peft_model = add_lora(model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    peft_model.train()
    hyps, latencies, _ = generate_translations(
        peft_model, tokenizer, SRCS[:4], max_new_tokens=12, batch_size=4, device="cpu"
    )
    assert len(hyps) == len(latencies) == 4 and peft_model.training
    assert not any(getattr(m, "merged", False) for m in peft_model.modules())


def test_empty_input() -> None:
    assert generate_translations(None, None, [], max_new_tokens=4, batch_size=2, device="cpu") == ([], [], [])


class _OutOfMemoryAbove:
    """The real LoRA model, except that ``generate`` on more than ``limit`` rows raises CUDA-style OOM."""

    def __init__(self, model, limit: int) -> None:
        self._model, self.limit, self.batches = model, limit, []

    def __getattr__(self, name):
        return getattr(self._model, name)

    def generate(self, *, input_ids, **kwargs):
        import torch

        self.batches.append(input_ids.shape[0])
        if input_ids.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self._model.generate(input_ids=input_ids, **kwargs)


def test_out_of_memory_halves_the_batch_and_keeps_the_outputs(lora_model) -> None:
    model, tokenizer = lora_model
    want = generate_translations(model, tokenizer, SRCS, max_new_tokens=16, batch_size=2, device="cpu",
                                 merge_lora=False)[0]
    wrapped = _OutOfMemoryAbove(model, limit=2)
    with pytest.warns(UserWarning, match="halved to 4"):
        got = generate_translations(wrapped, tokenizer, SRCS, max_new_tokens=16, batch_size=8, device="cpu",
                                    merge_lora=False)[0]
    assert got == want
    assert wrapped.batches[:3] == [7, 4, 2]  # 8 (all 7) fails, 4 fails, then batches of 2 to the end
    assert all(b <= 2 for b in wrapped.batches[3:]) and sum(b for b in wrapped.batches if b <= 2) == len(SRCS)


def test_uncompiled_switches_layer_compilation_off_for_the_block(lora_model) -> None:
    import torch

    from trainable.training.train_step import compile_decoder_layers, uncompiled

    model, _ = lora_model
    model.eval()  # LoRA dropout off: two forwards must agree, whatever mode an earlier test left behind
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        want = model(input_ids=ids).logits
    n = compile_decoder_layers(model, backend="eager")
    try:
        compiled = [m for m in model.modules() if getattr(m, "_compiled_call_impl", None) is not None]
        assert len(compiled) == n > 0
        with uncompiled(model):
            assert not any(getattr(m, "_compiled_call_impl", None) for m in model.modules())
            with torch.no_grad():
                assert torch.equal(model(input_ids=ids).logits, want)
        assert all(m._compiled_call_impl is not None for m in compiled)  # back after the block
    finally:
        for m in model.modules():
            if getattr(m, "_compiled_call_impl", None) is not None:
                m._compiled_call_impl = None
