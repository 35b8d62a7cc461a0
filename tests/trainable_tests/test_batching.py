"""Length-grouped order, packed collation and micro-batch plans keep the data and the loss unchanged."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainable.data.batching import (
    collate_packed,
    collate_padded,
    largest_micro_batch,
    length_grouped_order,
    micro_batch_plan,
    model_inputs,
    padding_fraction,
    real_tokens,
    regroup,
)
from trainable.data.prompting import Example, collate, weighted_lm_loss_terms


@given(st.lists(st.integers(1, 300), max_size=200), st.integers(1, 40), st.integers(0, 5), st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_order_is_a_permutation_with_whole_groups(lengths: list[int], group: int, seed: int, mega: int) -> None:
    order = length_grouped_order(lengths, group, seed=seed, mega_groups=mega)
    assert sorted(order) == list(range(len(lengths)))
    assert order == length_grouped_order(lengths, group, seed=seed, mega_groups=mega)  # seeded
    chunks = [order[i : i + group] for i in range(0, len(order), group)]
    for chunk in chunks:  # each chunk is sorted longest first
        assert [lengths[i] for i in chunk] == sorted((lengths[i] for i in chunk), reverse=True)


def test_grouping_cuts_padding_and_epochs_differ() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(20, 128) for _ in range(2000)]
    plain = list(range(len(lengths)))
    rng.shuffle(plain)
    grouped = length_grouped_order(lengths, 32, seed=0)
    as_batches = lambda order: [[lengths[i] for i in order[k : k + 8]] for k in range(0, len(order), 8)]  # noqa: E731
    assert padding_fraction(as_batches(grouped)) < 0.05 < 0.25 < padding_fraction(as_batches(plain))
    assert grouped != length_grouped_order(lengths, 32, seed=0, epoch=1)


def test_micro_batch_plan_keeps_effective_batch() -> None:
    assert micro_batch_plan(8, 4, None) == micro_batch_plan(8, 4, 8)
    plan = micro_batch_plan(8, 4, 32)
    assert (plan.micro_batch_size, plan.grad_accum, plan.effective) == (32, 1, 32)
    assert micro_batch_plan(8, 4, 64).micro_batch_size == 32  # capped at the effective batch
    assert micro_batch_plan(8, 4, 16).grad_accum == 2
    with pytest.raises(ValueError, match="does not divide"):
        micro_batch_plan(8, 4, 12)
    assert largest_micro_batch(32, 12) == 8 and largest_micro_batch(48, 64) == 48
    assert regroup([[1, 2], [3, 4], [5]], 4) == [[1, 2, 3, 4], [5]]
    assert regroup([[1, 2], [3]], None) == [[1, 2], [3]]


def _examples() -> list[Example]:
    gen = torch.Generator().manual_seed(1)
    out = []
    for n in (6, 11, 3, 8):
        ids = torch.randint(3, 40, (n,), generator=gen).tolist()
        k = n // 2
        out.append(Example(ids, [-100] * k + ids[k:], [0.0] * k + [1.0] * (n - k)))
    return out


def test_padded_multiple_adds_only_loss_free_padding() -> None:
    exs = _examples()
    a, b = collate(exs, 0), collate_padded(exs, 0, pad_to_multiple_of=16)
    assert b["input_ids"].shape[1] == 16 and real_tokens(a) == real_tokens(b) == sum(len(e.input_ids) for e in exs)
    logits = torch.randn(4, 16, 40)
    ta = weighted_lm_loss_terms(logits[:, : a["input_ids"].shape[1]], a["labels"], a["loss_weights"])
    tb = weighted_lm_loss_terms(logits, b["labels"], b["loss_weights"])
    assert float(ta[0]) == pytest.approx(float(tb[0])) and ta[2] == tb[2]


def test_packed_batch_gives_the_padded_loss_and_grads() -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, attn_implementation="sdpa")
    model = Qwen2ForCausalLM(config)
    exs = _examples()
    padded, packed = collate(exs, 0), collate_packed(exs)
    assert packed["input_ids"].shape == (1, sum(len(e.input_ids) for e in exs)) and real_tokens(packed) == 28

    losses, grads = [], []
    for batch in (padded, packed):
        model.zero_grad(set_to_none=True)
        s, w, n = weighted_lm_loss_terms(model(**model_inputs(batch)).logits, batch["labels"], batch["loss_weights"])
        (s / w).backward()
        losses.append((float(s.detach()), float(w), n))
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    assert losses[0][1:] == losses[1][1:]
    assert losses[1][0] == pytest.approx(losses[0][0], rel=1e-5)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)
