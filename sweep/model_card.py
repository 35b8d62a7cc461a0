"""The model card (README.md) of an exported checkpoint: pure formatting of :func:`sweep.export_checkpoint.provenance`."""

from __future__ import annotations

import json
from typing import Any

CARD_METRICS: tuple[str, ...] = ("comet", "term_acc", "bleu_char", "chrf_pp", "len_ratio", "trunc_rate",
                                 "runon_rate", "term_hits", "term_total", "term_forbidden", "latency_ms", "n")
"""Metric rows of the card, in order (the sweep's objectives come first)."""


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def metrics_table(info: dict[str, Any]) -> list[str]:
    """Rows: metric | this checkpoint (dev) | test (finalize) | S0 (baseline.json) | S0 (finalize)."""
    objectives = list(info["sweep"]["objectives"])
    dev = info["dev_metrics"]
    final = info["finalize"][-1] if info["finalize"] else None
    s0 = (info.get("s0") or {}).get("metrics") or {}
    cols = [("this checkpoint, dev" + (" (full dev set)" if dev.get("eval_full") else " (eval subset)"), dev)]
    if final:
        cols.append((f"this checkpoint, {final['split']} (mtsweep finalize)", final["metrics"]))
    if s0:
        cols.append((f"S0 base model, {(info.get('s0') or {}).get('split', 'dev')} (baseline.json)", s0))
    if final and final.get("s0"):
        cols.append((f"S0 base model, {final['split']} (mtsweep finalize)", final["s0"]))
    names = objectives + [m for m in CARD_METRICS if m not in objectives]
    names = [m for m in names if any(m in col for _, col in cols)]
    lines = ["| metric | " + " | ".join(label for label, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in names:
        label = f"**{m}** ({info['sweep']['objectives'][m]})" if m in objectives else m
        lines.append(f"| {label} | " + " | ".join(_fmt(col.get(m)) for _, col in cols) + " |")
    return lines


def usage(info: dict[str, Any], *, merged: bool) -> list[str]:
    """How to load and prompt the export the way the sweep evaluated it."""
    cfg = info["trial_config"]
    system = info.get("system_prompt")
    max_new = info["dev_metrics"].get("max_new_tokens") or cfg.get("max_new_tokens")
    if merged:
        load = ["model = AutoModelForCausalLM.from_pretrained(OUT)", "tokenizer = AutoTokenizer.from_pretrained(OUT)"]
        head = "from transformers import AutoModelForCausalLM, AutoTokenizer"
    else:
        head = "import torch\nfrom peft import PeftModel\nfrom transformers import AutoModelForCausalLM, AutoTokenizer"
        if cfg.get("quantization") == "nf4":
            load = ["from transformers import BitsAndBytesConfig",
                    "q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=\"nf4\", "
                    "bnb_4bit_compute_dtype=torch.bfloat16)",
                    f"base = AutoModelForCausalLM.from_pretrained({info['base_model']!r}, quantization_config=q)"]
        else:  # the trial trained on bf16 weights; its evals computed in fp32 on those weights
            load = [f"base = AutoModelForCausalLM.from_pretrained({info['base_model']!r}, dtype=torch.bfloat16).float()"]
        load += ["model = PeftModel.from_pretrained(base, OUT)", "tokenizer = AutoTokenizer.from_pretrained(OUT)"]
    return [
        "```python", head, 'OUT = "."  # this folder', *load,
        *([f"messages = [{{\"role\": \"system\", \"content\": {json.dumps(system, ensure_ascii=False)}}},",
           '            {"role": "user", "content": "Save the file"}]'] if system else
          ['messages = [{"role": "user", "content": "Save the file"}]']),
        "ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\")",
        f"out = model.generate(input_ids=ids, max_new_tokens={max_new}, do_sample=False, use_model_defaults=False,",
        "                     eos_token_id=[tokenizer.convert_tokens_to_ids(\"<|im_end|>\"), tokenizer.eos_token_id])",
        "print(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip())",
        "```",
        *([] if merged or cfg.get("quantization") != "nf4" else [
            "", "The sweep evaluated an fp32 copy of the dequantized NF4 base plus the LoRA update; a 4-bit load "
            "computes differently and may pick another token where two are nearly tied (on the toy test model: "
            "28 of 32 dev segments identical). `mtsweep export --merge` reproduces the sweep's eval outputs "
            "exactly."]),
    ]


def render_card(info: dict[str, Any], *, merged: bool, merge: dict[str, Any] | None = None) -> str:
    """README.md text for the export folder (Hugging Face model card front matter first)."""
    sweep, trial, ckpt, cfg = info["sweep"], info["trial"], info["checkpoint"], info["trial_config"]
    what = "merged full model" if merged else "LoRA adapter (PEFT)"
    front = ", ".join(lv for lv, on in ckpt["on_front"].items() if on) or "no"
    lines = [
        "---",
        f"base_model: {info['base_model']}",
        *([] if merged else ["library_name: peft"]),
        "language: [en, ja]",
        "tags: [translation, lora, mtsweep]",
        "---",
        "",
        f"# {sweep['name']}: trial {trial['optuna_number']}, step {ckpt['step']}, {what}",
        "",
        f"English-to-Japanese translation {what} of `{info['base_model']}`, exported by `mtsweep export` "
        f"({ckpt['chosen_by']}) from the multi-objective sweep `{sweep['name']}`.",
        "",
        "## Where it comes from",
        "",
        f"- sweep: `{sweep['name']}` in `{sweep['results_dir']}` (Optuna study `{sweep['study_name']}`, sampler "
        f"`{sweep['sampler']}`, {sweep['num_trials']} trials, search space `{sweep['search_space']}`)",
        "- objectives: " + ", ".join(f"{o} ({m})" for o, m in sweep["objectives"].items())
        + f"; constraints: {json.dumps(sweep['constraints']) if sweep['constraints'] else 'none'}",
        f"- trial: Optuna #{trial['optuna_number']} (Ray `{trial['ray_trial_id']}`), {trial['state']}, stop cause "
        f"`{trial['stop_cause']}`" + (", diverged later (these are its last good weights)" if trial["diverged"] else ""),
        f"- checkpoint: step {ckpt['step']}, `{ckpt['path']}`",
        f"- on the sweep's Pareto front: {front}; feasible: {'yes' if ckpt['feasible'] else 'no (' + '; '.join(ckpt['failed_constraints']) + ')'}",
        "",
        "## Metrics of this checkpoint",
        "",
        *metrics_table(info),
        "",
        "Dev metrics are those the trial's eval reported for this checkpoint"
        + (" (on the whole dev set)." if info["dev_metrics"].get("eval_full") else
           f" (on its fixed dev subset of {info['dev_metrics'].get('n', '?')} segments, seed {cfg.get('eval_seed')}).")
        + (" Test metrics come from `mtsweep finalize`." if info["finalize"] else
           " `mtsweep finalize` has not evaluated this checkpoint on the test set."),
        "",
    ]
    if merge is not None:
        lines += ["## Merge", "",
                  f"Weights = the base as the trial trained against it ({cfg.get('quantization')}"
                  + (", dequantized" if cfg.get("quantization") == "nf4" else "")
                  + f") + the LoRA update, summed in fp32 and rounded once to {merge['dtype']}: "
                  f"relative error of the update {merge['relative_error']:.3g}, max |error| {merge['max_abs_error']:.3g} "
                  f"over {merge['adapted_weights']} adapted weights (0 = exactly the model the sweep evaluated).", ""]
    lines += [
        "## Use",
        "",
        "Greedy decoding with the sweep's prompt (the chat template saved here, the system prompt below) "
        "reproduces what the sweep measured:",
        "",
        *usage(info, merged=merged),
        "",
        "## Hyperparameters",
        "",
        "Searched by the sweep for this trial:",
        "",
        "| parameter | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in sorted(info["params"].items())],
        "",
        "Every setting of the trial (trainable/config.py `TrialConfig`):",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in sorted(cfg.items())],
        "",
    ]
    return "\n".join(lines)
