"""Turn a trial checkpoint into deployable files: the LoRA adapter as a plain PEFT folder, the tokenizer
(with its chat template), and optionally the merged full model.

The merged model is formed like the eval copy (:func:`trainable.model.nf4_merge.dequantized_merged_copy`): the
base weights exactly as the trial trained against them (bf16-cast, or NF4 dequantized), plus the LoRA delta,
summed in fp32 and rounded once to the output dtype. With an fp32 output that is the very model the
trial's evals generated from. With a bf16 output, updates smaller than half a bf16 step of a weight round
away (DESIGN.md): :func:`merge_rounding` measures how much of the adapter's update that loses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from trainable.base.errors import InputError
from trainable.training.checkpointing import ADAPTER_DIR

ADAPTER_FILES: tuple[str, ...] = ("adapter_config.json", "adapter_model.safetensors")


def adapter_dir_of(checkpoint: str | Path) -> Path:
    """The peft adapter folder of a trial checkpoint (InputError when it holds none)."""
    folder = Path(checkpoint) / ADAPTER_DIR
    missing = [name for name in ADAPTER_FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(str(checkpoint), f"holds no LoRA adapter ({ADAPTER_DIR}/{missing[0]} missing)")
    return folder


def base_dtype_name(model: str) -> str:
    """The dtype the base model folder stores its weights in (``config.json``), ``float32`` when unsaid."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or "float32"
    return str(dtype).removeprefix("torch.")


def write_adapter(checkpoint: str | Path, model: str, out: Path) -> None:
    """``out``: the checkpoint's adapter files plus the base tokenizer (chat template included, with the
    pad token the trial used), so ``PeftModel.from_pretrained(base, out)`` loads it as is."""
    from transformers import AutoTokenizer

    source = adapter_dir_of(checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        shutil.copy2(source / name, out / name)
    tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token_id is None:  # as trainable.model.loading.load_base_model does
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(str(out))


def load_trained(trial_config: dict[str, Any], checkpoint: str | Path) -> tuple[Any, Any]:
    """(peft model, tokenizer) on CPU: the base loaded as the trial loaded it, plus the checkpoint's adapter."""
    from peft import PeftModel

    from trainable.model.loading import load_base_model

    base, tokenizer = load_base_model(trial_config["model"], quantization=trial_config.get("quantization", "nf4"),
                                      device="cpu")
    model = PeftModel.from_pretrained(base, str(adapter_dir_of(checkpoint)))
    return model.eval(), tokenizer


def write_merged(trial_config: dict[str, Any], checkpoint: str | Path, out: Path, *, dtype: str) -> dict[str, Any]:
    """Write the merged full model in ``dtype`` (safetensors) and the tokenizer to ``out``; returns what
    :func:`merge_rounding` measured."""
    import torch

    from trainable.model.nf4_merge import dequantized_merged_copy

    model, tokenizer = load_trained(trial_config, checkpoint)
    merged = dequantized_merged_copy(model, dtype=getattr(torch, dtype))
    rounding = merge_rounding(model, merged)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    del model, merged
    return rounding


def merge_rounding(model: Any, merged: Any) -> dict[str, Any]:
    """How far the merged copy's adapted weights are from the exact fp32 sum ``W + delta``:
    ``max_abs_error`` and ``relative_error`` (L2 norm of the error over the L2 norm of the LoRA update
    ``delta``; 0 for an fp32 merge, about 1 when the output dtype rounds the whole update away)."""
    import torch
    from peft.tuners.lora import LoraLayer

    from trainable.model.nf4_merge import dequantized_merged_copy

    with torch.no_grad(), model.disable_adapter():
        plain = dequantized_merged_copy(model, dtype=torch.float32)
    exact = dequantized_merged_copy(model, dtype=torch.float32)
    merged_state = merged.state_dict()
    plain_state, exact_state = plain.state_dict(), exact.state_dict()
    err_sq = delta_sq = 0.0
    max_err = 0.0
    layers = 0
    for name, module in model.get_base_model().named_modules():
        if not isinstance(module, LoraLayer):
            continue
        key = f"{name}.weight"
        want, got, base = exact_state[key].float(), merged_state[key].float(), plain_state[key].float()
        err_sq += float(((got - want) ** 2).sum())
        delta_sq += float(((want - base) ** 2).sum())
        max_err = max(max_err, float((got - want).abs().max()))
        layers += 1
    del plain, exact
    return {"dtype": str(next(iter(merged_state.values())).dtype).removeprefix("torch."), "adapted_weights": layers,
            "max_abs_error": max_err, "relative_error": (err_sq ** 0.5) / (delta_sq ** 0.5) if delta_sq else 0.0}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
