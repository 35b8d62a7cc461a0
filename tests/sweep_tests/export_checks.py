"""What an exported checkpoint must reproduce: the outputs the trial's own eval path generated for it
(checked against the scores the trial reported), and greedy outputs with nothing from mtsweep."""

from __future__ import annotations


def eval_path_hyps(trial_config: dict, checkpoint: str, metrics: dict, system: str) -> tuple[list[str], list[str]]:
    """(srcs, hyps) of the trial's own eval path for that checkpoint, checked against the report."""
    from trainable.config import TrialConfig
    from trainable.eval.evaluate import eval_subset, load_split, load_terms
    from trainable.eval.generation import generate_translations
    from trainable.eval.metrics import score_all
    from trainable.model.exporting import load_trained

    cfg = TrialConfig.from_dict(trial_config, where="test")
    pairs = eval_subset(load_split(cfg, "dev"), cfg.eval_samples, cfg.eval_seed)
    model, tokenizer = load_trained(trial_config, checkpoint)
    out = generate_translations(model, tokenizer, [p.src for p in pairs], system_prompt=system,
                                max_new_tokens=metrics["max_new_tokens"], batch_size=cfg.eval_batch_size,
                                merge_dtype=cfg.eval_dtype)
    scores = score_all([p.src for p in pairs], out.hyps, [p.ref for p in pairs], terms=load_terms(cfg))
    for key in ("bleu_char", "chrf_pp", "len_ratio", "term_hits", "term_total"):
        assert scores[key] == metrics[key], key  # the same outputs the trial's eval scored
    return [p.src for p in pairs], out.hyps


def plain_hyps(model, tokenizer, srcs: list[str], system: str, max_new_tokens: int) -> list[str]:
    """Greedy, one segment at a time, with nothing from mtsweep: plain transformers (+ peft)."""
    import torch

    stops = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id]
    hyps = []
    for src in srcs:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": src}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, use_model_defaults=False, eos_token_id=stops,
                                 pad_token_id=tokenizer.pad_token_id)
        new = out[0, ids.shape[1]:].tolist()
        new = new[: next((i for i, t in enumerate(new) if t in stops), len(new))]
        hyps.append(tokenizer.decode(new, skip_special_tokens=True).strip())
    return hyps
