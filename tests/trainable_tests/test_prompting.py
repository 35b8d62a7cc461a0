"""Chat prompt and loss masking: label masks token by token, end-of-turn always trained, lambda limits."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainable.data.prompting import (
    DEFAULT_SYSTEM_PROMPT,
    IGNORE_INDEX,
    build_example,
    build_examples,
    build_prompt_ids,
    collate,
    weighted_lm_loss,
    weighted_lm_loss_terms,
)

SRC = "Delete the selected backup schedule"
REF = "選択したバックアップのスケジュールを削除"


@pytest.fixture(scope="module")
def tokenizer():
    from trainable.testing.tiny_assets import sample_pairs
    from trainable.testing.tiny_model import build_tiny_tokenizer

    return build_tiny_tokenizer([t for pair in sample_pairs() for t in pair], vocab_size=1500)


def _im_end(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_prompt_is_the_chat_template_with_generation_prompt(tokenizer) -> None:
    ids = build_prompt_ids(tokenizer, SRC, system_prompt=DEFAULT_SYSTEM_PROMPT)
    text = tokenizer.decode(ids)
    assert text == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\n{SRC}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    no_system = tokenizer.decode(build_prompt_ids(tokenizer, SRC, system_prompt=None))
    assert no_system == f"<|im_start|>user\n{SRC}<|im_end|>\n<|im_start|>assistant\n"


def test_example_is_prompt_then_answer_then_end_of_turn(tokenizer) -> None:
    ex = build_example(tokenizer, SRC, REF, system_prompt=DEFAULT_SYSTEM_PROMPT, masking="full")
    prompt = build_prompt_ids(tokenizer, SRC, system_prompt=DEFAULT_SYSTEM_PROMPT)
    answer = tokenizer.encode(REF, add_special_tokens=False)
    assert ex.input_ids == prompt + answer + [_im_end(tokenizer)]
    # Same text as the chat template renders for the whole conversation (less the trailing newline).
    rendered = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": SRC},
            {"role": "assistant", "content": REF},
        ],
        tokenize=False,
    )
    assert tokenizer.decode(ex.input_ids) + "\n" == rendered


@pytest.mark.parametrize(
    ("masking", "lam", "prompt_weight"),
    [
        ("full", 0.5, 1.0),
        ("answer_only", 0.5, 0.0),
        ("weighted", 0.25, 0.25),
        ("weighted", 0.0, 0.0),
        ("weighted", 1.0, 1.0),
    ],
)
def test_label_mask_token_by_token(tokenizer, masking: str, lam: float, prompt_weight: float) -> None:
    ex = build_example(tokenizer, SRC, REF, masking=masking, prompt_loss_weight=lam)
    n_prompt = len(build_prompt_ids(tokenizer, SRC))
    n_answer = len(tokenizer.encode(REF, add_special_tokens=False)) + 1
    assert len(ex.input_ids) == len(ex.labels) == len(ex.loss_weights) == n_prompt + n_answer
    for pos, (tok, lab, w) in enumerate(zip(ex.input_ids, ex.labels, ex.loss_weights, strict=True)):
        if pos < n_prompt:  # prompt token
            assert w == prompt_weight, pos
            assert lab == (tok if prompt_weight > 0 else IGNORE_INDEX), pos
        else:  # answer token, the end-of-turn token included
            assert (lab, w) == (tok, 1.0), pos
    assert ex.input_ids[-1] == ex.labels[-1] == _im_end(tokenizer)
    assert ex.loss_weights[-1] == 1.0
    assert ex.n_supervised == (n_prompt - 1 if prompt_weight > 0 else 0) + n_answer


def _loss(tokenizer, logits_seed: int, **kwargs):
    import torch

    examples, dropped = build_examples(tokenizer, [(SRC, REF), ("Open settings", "設定を開く")], **kwargs)
    assert dropped == 0
    batch = collate(examples, tokenizer.pad_token_id)
    gen = torch.Generator().manual_seed(logits_seed)
    logits = torch.randn(*batch["input_ids"].shape, len(tokenizer), generator=gen)
    return batch, weighted_lm_loss(logits, batch["labels"], batch["loss_weights"]), logits


def test_lambda_one_equals_full_and_zero_equals_answer_only(tokenizer) -> None:
    b_full, (l_full, n_full), _ = _loss(tokenizer, 0, masking="full")
    b_w1, (l_w1, n_w1), _ = _loss(tokenizer, 0, masking="weighted", prompt_loss_weight=1.0)
    b_ans, (l_ans, n_ans), _ = _loss(tokenizer, 0, masking="answer_only")
    b_w0, (l_w0, n_w0), _ = _loss(tokenizer, 0, masking="weighted", prompt_loss_weight=0.0)
    for key in ("input_ids", "labels", "loss_weights", "attention_mask"):
        assert b_full[key].equal(b_w1[key])
        assert b_ans[key].equal(b_w0[key])
    assert (float(l_w1), n_w1) == (float(l_full), n_full)
    assert (float(l_w0), n_w0) == (float(l_ans), n_ans)
    assert n_full > n_ans > 0
    _, (l_half, _), _ = _loss(tokenizer, 0, masking="weighted", prompt_loss_weight=0.5)
    assert min(float(l_full), float(l_ans)) < float(l_half) < max(float(l_full), float(l_ans))


def test_loss_matches_plain_cross_entropy(tokenizer) -> None:
    import torch.nn.functional as F

    for masking in ("full", "answer_only"):
        batch, (loss, n), logits = _loss(tokenizer, 1, masking=masking)
        labels = batch["labels"][:, 1:]
        expected = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX
        )
        assert float(loss) == pytest.approx(float(expected), rel=1e-6)
        assert n == int((labels != IGNORE_INDEX).sum())


def test_weighted_loss_is_weighted_mean(tokenizer) -> None:
    import torch.nn.functional as F

    batch, (loss, _), logits = _loss(tokenizer, 2, masking="weighted", prompt_loss_weight=0.3)
    labels, w = batch["labels"][:, 1:], batch["loss_weights"][:, 1:]
    ce = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="none"
    )
    w = w.reshape(-1) * (labels.reshape(-1) != IGNORE_INDEX)
    assert float(loss) == pytest.approx(float((ce * w).sum() / w.sum()), rel=1e-6)
    s, ws, _ = weighted_lm_loss_terms(logits, batch["labels"], batch["loss_weights"])
    assert float(s / ws) == pytest.approx(float(loss), rel=1e-6)


def test_zero_weight_batch_raises() -> None:
    import torch

    labels = torch.full((2, 5), IGNORE_INDEX)
    with pytest.raises(ValueError, match="no supervised tokens"):
        weighted_lm_loss(torch.zeros(2, 5, 7), labels, torch.ones(2, 5))


def test_collate_right_pads(tokenizer) -> None:
    examples, _ = build_examples(tokenizer, [(SRC, REF), ("Open", "開く")], masking="answer_only")
    batch = collate(examples, pad_id=tokenizer.pad_token_id)
    short, width = len(examples[1].input_ids), len(examples[0].input_ids)
    assert batch["input_ids"].shape == (2, width)
    assert batch["input_ids"][1, :short].tolist() == examples[1].input_ids
    assert set(batch["input_ids"][1, short:].tolist()) == {tokenizer.pad_token_id}
    assert batch["attention_mask"][1].tolist() == [1] * short + [0] * (width - short)
    assert set(batch["labels"][1, short:].tolist()) == {IGNORE_INDEX}
    assert float(batch["loss_weights"][1, short:].sum()) == 0.0


def test_truncation_cuts_the_source_never_the_answer(tokenizer) -> None:
    long_src = " ".join(["Delete the selected backup schedule and restart the server"] * 20)
    answer = tokenizer.encode(REF, add_special_tokens=False) + [_im_end(tokenizer)]
    empty_prompt = len(build_prompt_ids(tokenizer, ""))
    max_len = empty_prompt + len(answer) + 10
    ex = build_example(tokenizer, long_src, REF, masking="answer_only", max_seq_len=max_len)
    assert ex is not None and len(ex.input_ids) <= max_len
    assert ex.input_ids[-len(answer) :] == answer == ex.labels[-len(answer) :]
    assert tokenizer.decode(ex.input_ids).endswith(f"<|im_end|>\n<|im_start|>assistant\n{REF}<|im_end|>")
    # No room for prompt + whole answer: dropped and counted, never a cut answer.
    assert build_example(tokenizer, SRC, REF, max_seq_len=empty_prompt + len(answer) - 1) is None
    kept, dropped = build_examples(tokenizer, [(SRC, REF), ("Open", "開く")], max_seq_len=empty_prompt + 4)
    assert (len(kept), dropped) == (1, 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    src=st.text(min_size=0, max_size=60),
    ref=st.text(min_size=0, max_size=30),
    masking=st.sampled_from(["full", "answer_only", "weighted"]),
    lam=st.floats(0.0, 1.0),
    max_len=st.integers(1, 120),
)
def test_every_example_trains_end_of_turn(
    tokenizer, src: str, ref: str, masking: str, lam: float, max_len: int
) -> None:
    ex = build_example(tokenizer, src, ref, masking=masking, prompt_loss_weight=lam, max_seq_len=max_len)
    if ex is None:
        return
    assert len(ex.input_ids) <= max_len
    assert ex.labels[-1] == _im_end(tokenizer) and ex.loss_weights[-1] == 1.0
    assert ex.n_supervised >= 1
