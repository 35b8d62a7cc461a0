"""SYNTHETIC trainable: no model, no data. Made-up learning curves for fast tests and benchmarks.

The curves are a deterministic function of the hyperparameters (and ``seed``), shaped after the
reference experiment (reference/s0_s1_finetuning_report.txt) but NOT a model of real training:

- progress grows with the effective learning rate ``lr * lora_alpha / lora_r`` (tiny lr: tiny gains);
- too high an effective lr overfits late (metrics fall at later steps) and, past a threshold that is
  lower for NF4 than bf16, **diverges**: the loss becomes NaN at a known step;
- the prompt-loss weight ``w`` (``full`` = 1, ``answer_only`` = 0, ``weighted`` = prompt_loss_weight)
  is a real trade-off: lower ``w`` raises ``term_acc`` and lowers ``comet``; rank helps terminology and
  hurts fluency slightly beyond 16.

:func:`synthetic_trainable` is a Ray Tune function trainable that follows ``trainable/training/reporting.py``
exactly (NaN-aware final report, checkpoint per report, resume from ``tune.get_checkpoint()``).
:func:`synthetic_metrics` is the pure curve, for benchmarks and unit tests.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainable.base.report_keys import REPEATS_STEP
from trainable.training.reporting import Reporter

BASE_COMET = 0.7807
"""S0 dev COMET of the reference."""
BASE_TERM_ACC = 0.2162
"""S0 dev terminology accuracy of the reference."""
_DIVERGE_EFF_LR = {"nf4": 3.0e-4, "bf16": 4.5e-4}
"""Effective lr above which a run diverges, per quantization."""
_TOKENS_PER_STEP = 8 * 4 * 64  # batch 8 x grad accum 4 x ~64 tokens
STATE_FILE = "synthetic_state.json"
CURVE_KEYS = (
    "lr",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "masking",
    "prompt_loss_weight",
    "quantization",
    "seed",
)
"""The only config keys the curves (and their deterministic noise) depend on."""


def prompt_weight(params: dict[str, Any]) -> float:
    """Weight of prompt tokens in the loss: full 1.0, answer_only 0.0, weighted prompt_loss_weight."""
    masking = params.get("masking", "full")
    if masking == "answer_only":
        return 0.0
    if masking == "weighted":
        return min(1.0, max(0.0, float(params.get("prompt_loss_weight", 1.0))))
    return 1.0


def effective_lr(params: dict[str, Any]) -> float:
    """``lr * lora_alpha / lora_r`` (the LoRA update scale)."""
    r = float(params.get("lora_r", 16))
    alpha = float(params.get("lora_alpha", r))
    return float(params.get("lr", 5e-6)) * alpha / r


def divergence_step(params: dict[str, Any]) -> int | None:
    """First optimizer step whose loss is NaN, or None when the run is stable."""
    threshold = _DIVERGE_EFF_LR.get(str(params.get("quantization", "nf4")), _DIVERGE_EFF_LR["nf4"])
    eff = effective_lr(params)
    if eff <= threshold:
        return None
    jitter = 0.75 + 0.5 * _unit(params, "diverge")  # deterministic, per configuration
    return max(1, int(400 * (threshold / eff) ** 3 * jitter))


def _unit(params: dict[str, Any], salt: str, step: int = 0) -> float:
    """Deterministic pseudo-random number in [0, 1) from the params, ``seed``, salt and step."""
    key = json.dumps({k: params.get(k) for k in CURVE_KEYS}, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{key}|{salt}|{step}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _noise(params: dict[str, Any], salt: str, step: int, scale: float) -> float:
    """Deterministic Gaussian eval noise."""
    rng = random.Random(_unit(params, salt, step))
    return rng.gauss(0.0, scale)


def synthetic_metrics(params: dict[str, Any], step: int) -> dict[str, Any]:
    """The eval metrics of the configuration ``params`` after ``step`` optimizer steps (pure).

    From the divergence step on, ``loss`` and ``grad_norm`` are NaN and so are the objectives
    (what a raw evaluation of a broken model would give); callers apply the report contract.
    """
    nan = float("nan")
    div = divergence_step(params)
    w = prompt_weight(params)
    r = float(params.get("lora_r", 16))
    quant = str(params.get("quantization", "nf4"))
    eff = effective_lr(params)
    threshold = _DIVERGE_EFF_LR.get(quant, _DIVERGE_EFF_LR["nf4"])
    dropout = float(params.get("lora_dropout", 0.05))

    progress = 1.0 - math.exp(-step * eff / 2.0e-2)
    overfit = 0.6 * (eff / threshold) ** 2 * (step / 1000.0)
    f = progress - overfit  # < 0: worse than the base model
    f *= 1.0 - 2.0 * (dropout - 0.05) ** 2

    rank_term = (r / 16.0) ** 0.25
    rank_fluency = 0.004 * math.log2(r / 16.0) ** 2
    comet = BASE_COMET + f * (0.03 - 0.09 * (1.0 - w) ** 2) - rank_fluency * progress
    comet -= 0.003 * progress if quant == "nf4" else 0.0
    term = BASE_TERM_ACC + f * (0.10 * (1.0 - w) ** 0.5 - 0.01 * w) * rank_term
    comet += _noise(params, "comet", step, 0.0015)
    term += _noise(params, "term", step, 0.003)

    loss = 2.2 - 0.9 * max(f, -1.0) * (0.6 + 0.4 * w) + _noise(params, "loss", step, 0.01)
    grad_norm = 0.3 + 0.2 * eff / threshold + abs(_noise(params, "grad", step, 0.05))
    bleu = 22.06 + 8.0 * f * (w - 0.3) + _noise(params, "bleu", step, 0.2)
    chrf = 17.05 + 2.5 * f * (w - 0.3) + _noise(params, "chrf", step, 0.1)
    len_ratio = 1.0 + 0.05 * max(f, 0.0) * (1.0 - w)
    runon = min(1.0, max(0.0, 2.0 * (len_ratio - 1.0)))  # longer output: more segments past 2x their ref
    out: dict[str, Any] = {
        "step": step,
        "loss": loss,
        "grad_norm": grad_norm,
        "lr": float(params.get("lr", 5e-6)),
        "comet": min(1.0, max(0.0, comet)),
        "term_acc": min(1.0, max(0.0, term)),
        "bleu_char": max(0.0, bleu),
        "chrf_pp": max(0.0, chrf),
        "len_ratio": len_ratio,
        "trunc_rate": 0.5 * runon,
        "runon_rate": runon,
        "tokens_seen": step * _TOKENS_PER_STEP,
    }
    if div is not None and step >= div:
        out.update(
            loss=nan, grad_norm=nan, comet=nan, term_acc=nan, bleu_char=nan, chrf_pp=nan, len_ratio=nan,
            trunc_rate=nan, runon_rate=nan,
        )
    return out


def _eval_steps(start: int, eval_every: int, max_steps: int) -> list[int]:
    steps = list(range(start + eval_every - start % eval_every, max_steps + 1, eval_every))
    if max_steps > start and (not steps or steps[-1] != max_steps):
        steps.append(max_steps)
    return steps


def synthetic_trainable(config: dict[str, Any]) -> None:
    """SYNTHETIC Ray Tune function trainable (no model); see :func:`run_synthetic_trial`.

    Returns None: Ray Tune would record a returned dict as one more result.
    """
    run_synthetic_trial(config)


def run_synthetic_trial(
    config: dict[str, Any], *, reporter: Reporter | None = None,
    metrics_fn: Callable[[dict[str, Any], int], dict[str, Any]] = synthetic_metrics,
    divergence_fn: Callable[[dict[str, Any]], int | None] = divergence_step,
) -> dict[str, Any]:
    """SYNTHETIC trial (no model): report made-up curves every ``eval_every``.

    ``config``: hyperparameters (``lr``, ``lora_r``, ``lora_alpha``, ``masking``, ...) plus
    ``eval_every`` (100), ``max_steps`` (400), ``seed`` (0) and ``work_s`` (seconds slept per eval;
    0 = zero-work mode). Keys starting with ``_`` are ignored. ``reporter`` defaults to Ray Tune
    (:class:`trainable.training.reporting.TuneReporter`). ``metrics_fn`` / ``divergence_fn``: the landscape
    (default: this module's; ``trainable/testing/synthetic_interaction.py`` has another). Returns the final report.
    """
    if reporter is None:
        from trainable.training.reporting import TuneReporter

        reporter = TuneReporter()
    params = {k: v for k, v in config.items() if not str(k).startswith("_")}
    eval_every = int(params.get("eval_every", 100))
    max_steps = int(params.get("max_steps") or 400)
    work_s = float(params.get("work_s", 0.0))
    curve_params = {k: params[k] for k in CURVE_KEYS if k in params}

    started = time.monotonic()
    state: dict[str, Any] = {"step": 0, "last_good": None, "wall_s": 0.0, "accel_s": 0.0}
    restore = reporter.restore_dir()
    if restore and (Path(restore) / STATE_FILE).is_file():
        state = json.loads((Path(restore) / STATE_FILE).read_text(encoding="utf-8"))
    div = divergence_fn(curve_params)

    def status(**kw: Any) -> dict[str, Any]:
        return {"is_final": False, "diverged": False, "diverged_step": None, "stop_cause": None, **kw}

    for step in _eval_steps(int(state["step"]), eval_every, max_steps):
        stop_at = step if div is None or div > step else div
        if work_s > 0:
            time.sleep(work_s * (stop_at - state["step"]) / max(1, step - state["step"]))
            state["accel_s"] += work_s
        wall_s = state["wall_s"] + time.monotonic() - started
        if div is not None and div <= step:  # the loss went NaN at step `div`: stop in that step
            last = state["last_good"]
            if last is not None:
                final = {**last, "wall_s": wall_s, "accel_s": state["accel_s"], "is_final": True, "diverged": True,
                         "diverged_step": div, "stop_cause": "nonfinite_loss", REPEATS_STEP: last["step"]}  # fmt: skip
            else:
                final = {
                    "step": div, "loss": None, "grad_norm": None, "lr": curve_params.get("lr"),
                    "bleu_char": None, "chrf_pp": None, "len_ratio": None, "trunc_rate": None, "runon_rate": None,
                    "tokens_seen": div * _TOKENS_PER_STEP, "wall_s": wall_s, "accel_s": state["accel_s"],
                    "is_final": True, "diverged": True, "diverged_step": div, "stop_cause": "no_good_eval",
                    "divergence_cause": "nonfinite_loss",
                }  # fmt: skip
            reporter.report(final)  # no checkpoint: nothing written after the first bad step is kept
            return final
        metrics = metrics_fn(curve_params, step)
        metrics.update(wall_s=wall_s, accel_s=state["accel_s"])
        is_final = step >= max_steps
        report = {**metrics, **status(is_final=is_final, stop_cause="completed" if is_final else None)}
        state.update(step=step, last_good=metrics, wall_s=wall_s)
        started = time.monotonic()
        state["wall_s"] = wall_s
        with tempfile.TemporaryDirectory(prefix="synthetic_ckpt_") as ckpt:
            (Path(ckpt) / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
            reporter.report(report, checkpoint_dir=ckpt)
        if is_final:
            return report
    # Restored at (or past) max_steps: repeat the last report as the final one.
    final = {
        **(state["last_good"] or {"step": state["step"]}),
        **status(is_final=True, stop_cause="completed"),
    }
    if state["last_good"]:
        final[REPEATS_STEP] = state["last_good"]["step"]
    reporter.report(final)
    return final
