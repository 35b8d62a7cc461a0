"""SYNTHETIC trainable, second landscape: no model, made-up learning curves of another shape.

Same report contract and knobs as :mod:`trainable.testing.synthetic` (``eval_every``, ``max_steps``, ``seed``,
``work_s``), different landscape, so search methods can be compared on more than one shape:

- **rank x masking interaction**: leaving the prompt out of the loss (low prompt weight ``w``) buys
  terminology only in proportion to the LoRA rank, and costs fluency mostly at low rank: the front
  lives at high rank and low ``w``, where the default landscape prefers rank 16;
- **another optimum**: progress follows ``lr * sqrt(lora_r / 16)`` (not the LoRA scale), best near
  lr 2e-5..8e-5; dropout helps up to ~0.08;
- **divergence elsewhere**: driven by ``lora_alpha / lora_r`` and bf16 (NF4 is the stable one here).
"""

from __future__ import annotations

import math
from typing import Any

from trainable.testing.synthetic import (
    _TOKENS_PER_STEP,
    BASE_COMET,
    BASE_TERM_ACC,
    _noise,
    _unit,
    prompt_weight,
    run_synthetic_trial,
)

_DIVERGE_SCORE = {"nf4": 4.0e-4, "bf16": 2.2e-4}
"""``lr * (lora_alpha / lora_r) ** 1.5`` above which a run diverges, per quantization."""


def _scale(params: dict[str, Any]) -> float:
    r = float(params.get("lora_r", 16))
    return float(params.get("lora_alpha", r)) / r


def interaction_divergence_step(params: dict[str, Any]) -> int | None:
    """First optimizer step whose loss is NaN, or None when the run is stable."""
    threshold = _DIVERGE_SCORE.get(str(params.get("quantization", "nf4")), _DIVERGE_SCORE["nf4"])
    score = float(params.get("lr", 5e-6)) * _scale(params) ** 1.5
    if score <= threshold:
        return None
    jitter = 0.75 + 0.5 * _unit(params, "diverge-interaction")
    return max(1, int(350 * (threshold / score) ** 2 * jitter))


def interaction_metrics(params: dict[str, Any], step: int) -> dict[str, Any]:
    """Eval metrics of ``params`` after ``step`` optimizer steps (pure; NaN from the divergence step)."""
    nan = float("nan")
    w = prompt_weight(params)
    r = float(params.get("lora_r", 16))
    lr = float(params.get("lr", 5e-6))
    dropout = float(params.get("lora_dropout", 0.05))
    quant = str(params.get("quantization", "nf4"))

    rate = lr * math.sqrt(r / 16.0) / 1.2e-2
    progress = 1.0 - math.exp(-step * rate)
    overfit = 0.5 * (lr / 1.5e-4) ** 2 * _scale(params) * (step / 1000.0)
    f = (progress - overfit) * (1.0 - 3.0 * (dropout - 0.08) ** 2)

    rank_gain = (r / 64.0) ** 0.7
    comet = BASE_COMET + f * (0.035 - 0.10 * (1.0 - w) ** 2 * math.sqrt(16.0 / r))
    comet -= 0.004 * progress if quant == "bf16" else 0.0
    term = BASE_TERM_ACC + f * (0.16 * (1.0 - w) * rank_gain + 0.015 * w)
    comet += _noise(params, "comet-i", step, 0.0015)
    term += _noise(params, "term-i", step, 0.003)

    loss = 2.2 - 0.9 * max(f, -1.0) * (0.6 + 0.4 * w) + _noise(params, "loss-i", step, 0.01)
    out: dict[str, Any] = {
        "step": step,
        "loss": loss,
        "grad_norm": 0.3 + abs(_noise(params, "grad-i", step, 0.05)),
        "lr": lr,
        "comet": min(1.0, max(0.0, comet)),
        "term_acc": min(1.0, max(0.0, term)),
        "bleu_char": max(0.0, 22.06 + 8.0 * f * (w - 0.3) + _noise(params, "bleu-i", step, 0.2)),
        "chrf_pp": max(0.0, 17.05 + 2.5 * f * (w - 0.3) + _noise(params, "chrf-i", step, 0.1)),
        "len_ratio": 1.0 + 0.04 * max(f, 0.0) * (1.0 - w),
        "tokens_seen": step * _TOKENS_PER_STEP,
    }
    div = interaction_divergence_step(params)
    if div is not None and step >= div:
        out.update(loss=nan, grad_norm=nan, comet=nan, term_acc=nan, bleu_char=nan, chrf_pp=nan, len_ratio=nan)
    return out


def synthetic_interaction_trainable(config: dict[str, Any]) -> None:
    """SYNTHETIC Ray Tune function trainable on this landscape (see the module docstring)."""
    run_synthetic_trial(config, metrics_fn=interaction_metrics, divergence_fn=interaction_divergence_step)
