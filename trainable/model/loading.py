"""Load the base causal LM (NF4 4-bit or bf16) and its tokenizer, and add LoRA adapters.

NF4 follows the QLoRA recipe (``BitsAndBytesConfig(load_in_4bit, nf4, bf16 compute)``); it runs on CPU
too with bitsandbytes >= 0.45 (slow, fine for tiny test models). ``bf16`` is plain bf16 weights + LoRA,
as fast or faster on a 0.5B model (DESIGN.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

from trainable.base.errors import InputError

Quantization = Literal["nf4", "bf16"]
QUANTIZATIONS: tuple[str, ...] = get_args(Quantization)


def pick_device() -> str:
    """``"cuda"`` when a CUDA device is visible, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_base_model(
    model: str,
    *,
    quantization: Quantization = "nf4",
    device: Any = "cpu",
    dtype: str | None = None,
) -> tuple[Any, Any]:
    """Load ``model`` (hub id or local dir) on ``device``; return ``(model, tokenizer)``.

    ``dtype`` overrides the weight dtype of the ``bf16`` path (e.g. ``"float32"`` for exact CPU tests);
    with ``nf4`` it is the compute dtype (default bf16). The tokenizer always has a pad token (the eos
    token when the model defines none).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if quantization not in QUANTIZATIONS:
        raise InputError("quantization", f"must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
    torch_dtype = getattr(torch, dtype) if dtype else torch.bfloat16
    device = torch.device(device)
    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if quantization == "nf4":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch_dtype,
            bnb_4bit_use_double_quant=False,
        )
        kwargs["device_map"] = {"": device}
    if _looks_like_path(model) and not Path(model).is_dir():
        raise InputError("model", f"no such model directory: {model}")
    from huggingface_hub.utils import HFValidationError

    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        lm = AutoModelForCausalLM.from_pretrained(model, **kwargs)
    except (OSError, HFValidationError) as err:
        raise InputError("model", f"cannot load {model!r}: {str(err).splitlines()[0]}") from err
    if quantization != "nf4":
        lm = lm.to(device)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    lm.config.use_cache = True
    return lm, tokenizer


def _looks_like_path(model: str) -> bool:
    """A local path rather than a hub id ``org/name``."""
    return model.startswith((".", "/", "~")) or os.sep in model.replace("/", "", 1) or Path(model).exists()


def add_lora(
    model: Any,
    *,
    r: int,
    alpha: float,
    dropout: float,
    target_modules: list[str] | tuple[str, ...] | str,
    gradient_checkpointing: bool = False,
    upcast_kbit: bool = False,
) -> Any:
    """Wrap ``model`` in a peft LoRA ``PeftModel`` (only the adapters train).

    ``prepare_model_for_kbit_training`` is applied to 4-bit models only when it helps: with
    ``gradient_checkpointing`` (it wires input grads for checkpointing) or ``upcast_kbit`` (it casts
    every non-4-bit weight, embeddings and lm_head included, to fp32: stabler, but slower and larger).
    Qwen2's RMSNorm already computes in fp32, so neither is on by default.
    """
    from peft import LoraConfig, get_peft_model

    is_kbit = bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False))
    if is_kbit and (gradient_checkpointing or upcast_kbit):
        from peft import prepare_model_for_kbit_training

        if upcast_kbit:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
        else:  # checkpointing without the fp32 upcast
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if gradient_checkpointing:
        model.config.use_cache = False
    config = LoraConfig(
        r=int(r),
        lora_alpha=alpha,
        lora_dropout=float(dropout),
        target_modules=list(target_modules) if not isinstance(target_modules, str) else target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as err:
        if "target modules" in str(err).lower() or "target_modules" in str(err).lower():
            raise InputError("target_modules", str(err).splitlines()[0]) from err
        raise
