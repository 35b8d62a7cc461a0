"""A merged, dequantized copy of a 4-bit (NF4) LoRA model, for fast evaluation.

Generating with unmerged LoRA on an NF4 base is several times slower than with merged weights (every
linear layer dequantizes its weight and runs the adapter as two extra matmuls, DESIGN.md). Merging into
the 4-bit weights would re-quantize them (a different model); instead :func:`dequantized_merged_copy`
builds a plain model in the compute dtype whose weights are ``dequantize(W_nf4) + B @ A * scale``: the
same function the NF4 model computes (it dequantizes W to the compute dtype on every call), up to the
rounding of one addition. The trained model is left untouched; the copy costs one model in bf16.
"""

from __future__ import annotations

from typing import Any


def is_4bit_peft(model: Any) -> bool:
    """A peft model whose base is loaded in 4 bit."""
    if not hasattr(model, "get_base_model"):
        return False
    return bool(getattr(model.get_base_model(), "is_loaded_in_4bit", False))


def dequantized_merged_copy(model: Any, *, dtype: Any = None) -> Any:
    """A new causal LM (``dtype``, default the 4-bit compute dtype) = base dequantized + active LoRA merged."""
    import copy

    import bitsandbytes as bnb
    import torch
    from peft.tuners.lora import LoraLayer
    from transformers import AutoModelForCausalLM

    base = model.get_base_model()
    quant = getattr(base.config, "quantization_config", None)
    compute = getattr(quant, "bnb_4bit_compute_dtype", None) if quant is not None else None
    if isinstance(compute, str):
        compute = getattr(torch, compute)
    dtype = dtype or compute or torch.bfloat16
    device = next(p.device for p in base.parameters())

    def weight_of(linear: Any) -> Any:
        w = linear.weight
        if isinstance(linear, bnb.nn.Linear4bit):
            return bnb.functional.dequantize_4bit(w.data, w.quant_state).to(dtype)
        return w.detach().to(dtype)

    state: dict[str, Any] = {}
    lora_prefixes: list[str] = []
    with torch.no_grad():
        for name, module in base.named_modules():
            if any(name.startswith(p) for p in lora_prefixes):
                continue
            if isinstance(module, LoraLayer):
                lora_prefixes.append(name + ".")
                inner = module.get_base_layer()
                w = weight_of(inner)
                if not module.merged and not getattr(module, "disable_adapters", False):
                    for adapter in module.active_adapters:
                        if adapter in module.lora_A:
                            w = w + module.get_delta_weight(adapter).to(dtype)
                state[f"{name}.weight"] = w
                if getattr(inner, "bias", None) is not None:
                    state[f"{name}.bias"] = inner.bias.detach().to(dtype)
            elif isinstance(module, bnb.nn.Linear4bit):
                state[f"{name}.weight"] = weight_of(module)
                if module.bias is not None:
                    state[f"{name}.bias"] = module.bias.detach().to(dtype)
            else:
                prefix = f"{name}." if name else ""
                for pname, p in module.named_parameters(recurse=False):
                    state[prefix + pname] = p.detach().to(dtype)
        config = copy.deepcopy(base.config)
        for attr in ("quantization_config", "_pre_quantization_dtype"):
            if hasattr(config, attr):
                delattr(config, attr)
        with torch.device(device):
            merged = AutoModelForCausalLM.from_config(config, dtype=dtype)
        missing, unexpected = merged.load_state_dict(state, strict=False)
        missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
        if missing or unexpected:
            raise RuntimeError(f"merged copy does not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
        merged.tie_weights()
    merged.generation_config = copy.deepcopy(base.generation_config)
    merged.eval()
    return merged
