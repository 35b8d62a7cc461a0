"""Write hand-made sweep results directories in the format the real writers emit, for tests that need
a controlled shape (a partial last line, running trials, chosen divergences, a third objective).

``tests/analysis_tests/test_real_results.py`` checks this format against a folder ``mtsweep run`` wrote
and runs the analysis on that real folder. The records follow the report contract
(trainable/base/report_keys.py): eval reports every 100 steps, a final report with
``is_final``/``stop_cause``; a diverged trial's final report repeats its last good eval with ``diverged:
True``, ``repeats_step`` and no checkpoint; a ``no_good_eval`` trial has no objective keys at all. A real
Optuna SQLite study with the same trials is written to ``study.db``.
"""

from __future__ import annotations

import json
import math
import random
import warnings
from pathlib import Path
from typing import Any

PARAM_SPACE = {
    "lr": ("log", 1e-6, 1e-3),
    "lora_r": ("int", 4, 32),
    "masking": ("cat", ("full", "answer_only", "weighted")),
    "prompt_loss_weight": ("float", 0.0, 1.0),
}


def _sample(rng: random.Random) -> dict[str, Any]:
    return {
        "lr": math.exp(rng.uniform(math.log(1e-6), math.log(1e-3))),
        "lora_r": rng.choice([4, 8, 16, 32]),
        "masking": rng.choice(["full", "answer_only", "weighted"]),
        "prompt_loss_weight": round(rng.uniform(0, 1), 3),
    }


def _metrics(params: dict[str, Any], step: int, rng: random.Random) -> dict[str, Any]:
    """A fluency-vs-terminology trade-off: weight on the prompt helps COMET, answer-only helps terms."""
    w = params["prompt_loss_weight"] if params["masking"] == "weighted" else (1.0 if params["masking"] == "full" else 0.0)
    progress = 1 - math.exp(-step / 200)
    lr_gain = min(1.0, math.log10(params["lr"] / 1e-6) / 2.5)
    comet = 0.70 + 0.08 * progress * lr_gain * (0.5 + w) / 1.5 + rng.uniform(-0.004, 0.004)
    term = 0.18 + 0.10 * progress * lr_gain * (1.2 - w) / 1.2 + rng.uniform(-0.004, 0.004)
    return {
        "step": step,
        "loss": 2.0 * (1 - 0.5 * progress),
        "grad_norm": 1.0,
        "lr": params["lr"],
        "comet": round(comet, 6),
        "term_acc": round(term, 6),
        "bleu_char": round(20 + 10 * comet - 5 * term, 4),
        "chrf_pp": round(15 + 5 * comet, 4),
        "len_ratio": round(1.0 + 0.3 * (1 - w) * progress, 4),
        "trunc_rate": round(0.1 * (1 - w) * progress, 4),
        "runon_rate": round(0.2 * (1 - w) * progress, 4),
        "latency_ms": round(150 + 50 * rng.random(), 2),
        "tokens_seen": step * 1000,
        "wall_s": step * 0.5,
        "accel_s": step * 0.4,
        "is_final": False,
        "diverged": False,
        "diverged_step": None,
        "stop_cause": None,
    }


def write_results_dir(
    root: Path,
    *,
    n_trials: int = 10,
    seed: int = 0,
    max_steps: int = 400,
    diverge: tuple[int, ...] = (2,),
    no_good_eval: tuple[int, ...] = (5,),
    running: int = 1,
    baseline: bool = True,
    study: bool = True,
    partial_last_line: bool = False,
) -> Path:
    """Write ``root`` as a sweep results dir; trials with index in ``diverge`` NaN at their third eval.

    The last ``running`` trials have reports but no trials.jsonl line (a running sweep).
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.yaml").write_text(
        "name: test-study\nstudy_name: test-study\nseed: 0\nobjectives: [comet, term_acc]\n", encoding="utf-8"
    )
    reports, trials = [], []
    t = 1_700_000_000.0
    for i in range(n_trials):
        tid = f"trial_{i:03d}"
        params = _sample(rng)
        ckdir = root / "ray" / tid
        last_good: dict[str, Any] | None = None
        final: dict[str, Any]
        steps_run = max_steps
        for step in range(100, max_steps + 1, 100):
            if i in no_good_eval:
                final = {"step": 30, "loss": None, "grad_norm": None, "lr": params["lr"], "bleu_char": None,
                         "chrf_pp": None, "len_ratio": None, "tokens_seen": 30000, "wall_s": 15.0, "accel_s": 12.0,
                         "is_final": True, "diverged": True, "diverged_step": 30, "stop_cause": "no_good_eval",
                         "divergence_cause": "nonfinite_loss"}
                reports.append({"trial_id": tid, "optuna_number": i, "params": params, "metrics": final,
                                "checkpoint": None, "time": t})
                steps_run = 30
                break
            if i in diverge and step == 300:
                final = {**last_good, "is_final": True, "diverged": True, "diverged_step": 260,
                         "stop_cause": "nonfinite_loss", "repeats_step": last_good["step"]}  # type: ignore[index]
                reports.append({"trial_id": tid, "optuna_number": i, "params": params, "metrics": final,
                                "checkpoint": None, "time": t})
                steps_run = 260
                break
            m = _metrics(params, step, rng)
            if step == max_steps:
                m.update(is_final=True, stop_cause="completed")
            t += 10
            reports.append({"trial_id": tid, "optuna_number": i, "params": params, "metrics": m,
                            "checkpoint": str(ckdir / f"checkpoint_{step // 100 - 1:06d}"), "time": t})
            last_good, final = m, m
        if i >= n_trials - running:
            # a running trial: drop its final report, no trials.jsonl line
            if reports[-1]["metrics"].get("is_final"):
                reports.pop()
            continue
        good = final.get("comet") is not None
        trials.append({
            "trial_id": tid, "optuna_number": i, "state": "COMPLETE" if good else "FAIL",
            "stop_cause": final["stop_cause"],
            "values": {"comet": final["comet"], "term_acc": final["term_acc"]} if good else None,
            "params": params, "steps": steps_run, "diverged": bool(final.get("diverged")),
            "diverged_step": final.get("diverged_step"), "feasible": None, "failed_constraints": None,
        })
    _write_jsonl(root / "reports.jsonl", reports, partial_last_line)
    _write_jsonl(root / "trials.jsonl", trials, False)
    if baseline:
        (root / "baseline.json").write_text(json.dumps({
            "split": "dev", "model": "tiny",
            "metrics": {"comet": 0.705, "term_acc": 0.185, "bleu_char": 22.0, "chrf_pp": 17.0,
                        "len_ratio": 0.98, "latency_ms": 120.0, "n": 50},
        }), encoding="utf-8")
    if study:
        write_study(root / "study.db", trials)
    return root


def _write_jsonl(path: Path, records: list[dict[str, Any]], partial_last_line: bool) -> None:
    text = "".join(json.dumps(r) + "\n" for r in records)
    if partial_last_line:
        text += json.dumps(records[-1])[:25]  # a writer caught mid-line
    path.write_text(text, encoding="utf-8")


def write_study(path: Path, trials: list[dict[str, Any]]) -> None:
    """An Optuna SQLite study holding ``trials`` (COMPLETE ones with values, others FAIL)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "lr": FloatDistribution(1e-6, 1e-3, log=True),
        "lora_r": IntDistribution(4, 32),
        "masking": CategoricalDistribution(["full", "answer_only", "weighted"]),
        "prompt_loss_weight": FloatDistribution(0.0, 1.0),
    }
    study = optuna.create_study(study_name="test-study", storage=f"sqlite:///{path}",
                                directions=["maximize", "maximize"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # set_metric_names is "experimental" (it is what OptunaSearch uses)
        study.set_metric_names(["comet", "term_acc"])
    for rec in trials:
        values = rec["values"]
        study.add_trial(optuna.trial.create_trial(
            params=rec["params"], distributions=dists,
            values=[values["comet"], values["term_acc"]] if values else None,
            state=optuna.trial.TrialState.COMPLETE if values else optuna.trial.TrialState.FAIL,
            system_attrs={"ray_trial_id": rec["trial_id"]},
        ))
