"""A toy Qwen2-architecture causal LM with its own byte-level BPE tokenizer, built offline in seconds.

For tests and the demo only: 2 layers, hidden 64, a few thousand tokens of vocabulary. It learns the
chat format and some surface statistics of the sample data, nothing like translation quality.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Qwen2.5-style chat template (without Qwen's implicit default system message).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def build_tiny_tokenizer(texts: list[str], *, vocab_size: int = 3000):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts``, with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        clean_up_tokenization_spaces=False,
        model_max_length=2048,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_lm(
    out_dir: str | Path,
    *,
    texts: list[str],
    pretrain_steps: int = 200,
    seed: int = 0,
    chat_pairs: list[tuple[str, str]] | None = None,
    vocab_size: int = 3000,
    batch_size: int = 16,
    lr: float = 1e-2,
) -> Path:
    """Build, briefly pre-train and save a toy Qwen2 LM + tokenizer under ``out_dir``; return it.

    The tokenizer is trained on ``texts``. Pre-training (``pretrain_steps`` AdamW steps, 0 = none) uses
    ``chat_pairs`` formatted with the chat template (full-sequence loss), or ``texts`` as plain
    documents ending in ``<|im_end|>`` when no pairs are given. The result loads with
    ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained(out_dir)``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    if not texts:
        raise ValueError("build_tiny_lm needs at least one text to train the tokenizer")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = build_tiny_tokenizer(texts, vocab_size=vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    if pretrain_steps > 0:
        _pretrain(
            model, tokenizer, texts, chat_pairs, steps=pretrain_steps, seed=seed, batch_size=batch_size, lr=lr
        )
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "TOY_MODEL.json").write_text(
        json.dumps(
            {"note": "toy model for tests and the demo", "pretrain_steps": pretrain_steps, "seed": seed}
        )
        + "\n"
    )
    return out


def _pretrain(
    model,
    tokenizer,
    texts: list[str],
    chat_pairs: list[tuple[str, str]] | None,
    *,
    steps: int,
    seed: int,
    batch_size: int,
    lr: float,
) -> None:
    """A few hundred AdamW steps on short, length-grouped sequences; enough for the chat format to stick."""
    import random

    import torch

    from trainable.data.prompting import DEFAULT_SYSTEM_PROMPT, Example, build_examples

    if chat_pairs:
        examples, _ = build_examples(
            tokenizer,
            chat_pairs,
            system_prompt=DEFAULT_SYSTEM_PROMPT,
            masking="weighted",
            prompt_loss_weight=0.1,
            max_seq_len=128,
        )
    else:
        eos = tokenizer.eos_token_id
        examples = []
        for text in texts:
            ids = tokenizer.encode(text, add_special_tokens=False)[:127] + [eos]
            examples.append(Example(ids, list(ids), [1.0] * len(ids)))
    examples.sort(key=lambda ex: len(ex.input_ids))  # length-grouped batches: little padding, fast steps
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    threads = torch.get_num_threads()
    # One thread: the matrices are tiny, and on a shared 2-core machine two OpenMP threads per process
    # oversubscribe the cores (measured: 100 steps took 184 s with 2 threads vs 19 s with 1 under load).
    torch.set_num_threads(1)
    try:
        _pretrain_loop(
            model,
            optimizer,
            examples,
            rng,
            pad_id=tokenizer.pad_token_id,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
        )
    finally:
        torch.set_num_threads(threads)
    model.eval()


def _pretrain_loop(
    model, optimizer, examples, rng, *, pad_id: int, steps: int, batch_size: int, lr: float
) -> None:
    import torch

    from trainable.data.prompting import collate, weighted_lm_loss

    for step in range(steps):
        start = rng.randrange(max(1, len(examples) - batch_size + 1))
        batch = collate(examples[start : start + batch_size], pad_id)
        for group in optimizer.param_groups:  # linear warmup then linear decay
            group["lr"] = lr * min(1.0, (step + 1) / 10) * (1 - step / steps)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss, _ = weighted_lm_loss(logits, batch["labels"], batch["loss_weights"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
