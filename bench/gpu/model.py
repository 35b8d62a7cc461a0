"""The benchmarked model and data: a random-weight model on disk, loaded with LoRA; synthetic examples."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

from .configs import LORA_TARGETS
from .guard import progress
from .specs import Bench, TrainSpec


def build_model_dir(out: Path, config_values: dict[str, Any], device: str, *, texts: list[str] | None = None,
                    vocab_size: int = 300) -> int:
    """Save a random-weight Qwen2 model (bf16) + a BPE tokenizer trained on ``texts`` (default: two
    sentences) to ``out``; returns the parameter count."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from trainable.testing.tiny_model import build_tiny_tokenizer

    torch.manual_seed(0)
    config = Qwen2Config(**config_values)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out)
    texts = texts or ["The quick brown fox jumps over the lazy dog.", "ファイルを保存します。"] * 8
    try:  # only the trial's loader needs one; the direct fallback loads without
        build_tiny_tokenizer(texts, vocab_size=vocab_size).save_pretrained(out)
    except Exception as err:  # another transformers major version on the GPU machine
        print(f"tokenizer not saved ({type(err).__name__}: {err}); the direct loader will be used", file=sys.stderr)
    del model
    return n_params


def load_lora_model(bench: Bench, quant: str) -> Any:
    """The trial's loading path: ``load_base_model`` + ``add_lora`` (r=16, all linear layers).

    Should that path fail on the GPU machine's library versions, the same model is loaded directly
    (``from_pretrained`` + NF4 ``BitsAndBytesConfig`` or bf16, then peft LoRA) and the run says so.
    """
    from trainable.model.loading import add_lora, load_base_model

    try:
        model, _ = load_base_model(str(bench.model_dir), quantization=quant, device=bench.device)
    except Exception as err:
        if quant == "nf4" and importlib.util.find_spec("bitsandbytes") is None:
            raise RuntimeError("bitsandbytes is not installed here (carry its wheel, see the docstring)") from None
        progress(bench, f"trial loader failed ({type(err).__name__}: {str(err)[:200]}); loading directly")
        model = _load_directly(bench, quant)
    model = add_lora(model, r=bench.lora_r, alpha=bench.lora_r, dropout=0.05, target_modules=LORA_TARGETS)
    model.train()
    return model


def _load_directly(bench: Bench, quant: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    if quant == "bf16":
        return AutoModelForCausalLM.from_pretrained(str(bench.model_dir), dtype=torch.bfloat16).to(bench.device)
    from transformers import BitsAndBytesConfig

    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    return AutoModelForCausalLM.from_pretrained(str(bench.model_dir), dtype=torch.bfloat16, quantization_config=q,
                                                device_map={"": bench.device})


def synthetic_examples(n: int, seq: int, vocab: int, seed: int = 0) -> list[Any]:
    """``n`` examples, lengths ~ N(0.6 seq, 0.2 seq) clipped to [seq/8, seq], full-sequence loss."""
    from trainable.data.prompting import Example

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = int(min(seq, max(seq // 8, round(rng.gauss(0.6 * seq, 0.2 * seq)))))
        ids = [rng.randrange(10, vocab) for _ in range(length)]
        out.append(Example(ids, list(ids), [1.0] * length))
    return out


def step_batches(examples: list[Any], spec: TrainSpec, seed: int = 0) -> list[list[list[Any]]]:
    """Examples cut into optimizer steps of ``micro x accum`` micro-batches (random or length-grouped)."""
    from trainable.data.batching import length_grouped_order

    effective = spec.micro * spec.accum
    if spec.grouped:
        order = length_grouped_order([len(e.input_ids) for e in examples], effective, seed=seed)
    else:
        order = list(range(len(examples)))
        random.Random(seed).shuffle(order)
    steps = []
    for s in range(0, len(order) - effective + 1, effective):
        chunk = [examples[i] for i in order[s : s + effective]]
        steps.append([chunk[m : m + spec.micro] for m in range(0, effective, spec.micro)])
    return steps
