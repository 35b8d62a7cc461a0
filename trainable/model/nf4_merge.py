"""A merged, dequantized copy of a (4-bit NF4 or plain) LoRA model, for fast and exact evaluation.

Generating with unmerged LoRA is several times slower than with merged weights (every linear layer runs
the adapter as two extra matmuls, and NF4 dequantizes its weight on every call; DESIGN.md). Merging
into the 4-bit weights would re-quantize them (a different model); instead :func:`dequantized_merged_copy`
builds a plain model whose weights are ``dequantize(W) + B @ A * scale``, computed in fp32 and stored in
``dtype`` (default fp32). Precision matters: early in training the LoRA delta is far below half a bf16
step of ``W`` (~3e-5 after 100 steps at lr 5e-6 vs ~6e-5 at |W| ~ 0.02), so a bf16 copy rounds most of it
away and the eval would measure the base model. The trained model is left untouched.
"""

from __future__ import annotations

from typing import Any


def is_4bit_peft(model: Any) -> bool:
    """A peft model whose base is loaded in 4 bit."""
    if not hasattr(model, "get_base_model"):
        return False
    return bool(getattr(model.get_base_model(), "is_loaded_in_4bit", False))


def dequantized_merged_copy(model: Any, *, dtype: Any = None) -> Any:
    """A new causal LM in ``dtype`` (default fp32) = base dequantized + active LoRA merged (a model without
    adapters is just dequantized / cast). The sum is formed in fp32 and rounded once to ``dtype``."""
    import copy

    import bitsandbytes as bnb
    import torch
    from peft.tuners.lora import LoraLayer
    from transformers import AutoModelForCausalLM

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    dtype = dtype or torch.float32
    device = next(p.device for p in base.parameters())

    def weight_of(linear: Any) -> Any:
        w = linear.weight
        if isinstance(linear, bnb.nn.Linear4bit):
            return bnb.functional.dequantize_4bit(w.data, w.quant_state).to(torch.float32)
        return w.detach().to(torch.float32)

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
                            w = w + module.get_delta_weight(adapter).to(torch.float32)
                state[f"{name}.weight"] = w.to(dtype)
                if getattr(inner, "bias", None) is not None:
                    state[f"{name}.bias"] = inner.bias.detach().to(dtype)
            elif isinstance(module, bnb.nn.Linear4bit):
                state[f"{name}.weight"] = weight_of(module).to(dtype)
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


def unmerged_fp32(model: Any) -> Any:
    """The reference a merged copy must match: the same base (dequantized, fp32) with the same LoRA adapter
    applied unmerged in fp32 (a new peft model; ``model`` is untouched)."""
    import torch
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    with model.disable_adapter():
        base = dequantized_merged_copy(model, dtype=torch.float32)
    name = model.active_adapter
    ref = get_peft_model(base, model.peft_config[name], adapter_name=name)
    set_peft_model_state_dict(ref, {k: v.float() for k, v in get_peft_model_state_dict(model, adapter_name=name).items()},
                              adapter_name=name)
    return ref.eval()


def merge_error(model: Any, input_ids: Any, *, dtype: Any) -> dict[str, float]:
    """How far the merged copy in ``dtype`` is from :func:`unmerged_fp32`, next to the adapter's own effect.

    ``adapter_effect`` = max |logits(base + adapter) - logits(base)| and ``merge_error`` = max |logits(merged
    copy) - logits(base + adapter)|, all over the positions of ``input_ids``, the reference in fp32;
    ``error_share`` = their ratio (the eval measures the trained model when it is small);
    ``argmax_agree`` = share of positions with the same next token.
    """
    import torch

    was_training = model.training
    model.eval()
    with torch.inference_mode():
        ref_model = unmerged_fp32(model)
        want = ref_model(input_ids=input_ids).logits.float()
        with ref_model.disable_adapter():
            base = ref_model(input_ids=input_ids).logits.float()
        del ref_model
        merged = dequantized_merged_copy(model, dtype=dtype)
        got = merged(input_ids=input_ids).logits.float()
        del merged
    model.train(was_training)
    effect = float((want - base).abs().max())
    error = float((got - want).abs().max())
    return {"adapter_effect": effect, "merge_error": error, "error_share": error / effect if effect else float("inf"),
            "argmax_agree": float((got.argmax(-1) == want.argmax(-1)).float().mean())}
