"""`mtsweep baseline SWEEP.yaml`: the S0 baseline (base model, same prompt and decoding, no adapter).

Stored as ``<sweep dir>/baseline.json`` ({"split", "model", "metrics", ...}); ``mtsweep pareto`` draws it
as the reference marker and uses it as the hypervolume reference point.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "S0 baseline: evaluate the base model (no adapter) with the sweep's prompt and decoding"
SYNTHETIC_PREFIX = "trainable.testing.synthetic:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", type=Path, help="a sweep results folder, its sweep.yaml, or a sweep config YAML")
    parser.add_argument("--split", choices=("dev", "test"), default="dev", help="evaluation split (default dev)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for baseline.json (default: the sweep's results folder)")
    parser.add_argument("--samples", type=int, default=None,
                        help="evaluate a fixed seeded subset of N pairs (default for dev: the subset the "
                        "trials' evals use unless trial.final_full_eval; for test: the whole split)")
    parser.add_argument("--force", action="store_true", help="replace an existing baseline.json")


def resolve_sweep(arg: Path) -> tuple[Any, Path | None]:
    """(SweepConfig, results folder or None) for a results folder, its sweep.yaml, or a config YAML."""
    from sweep.config import load_sweep_config
    from trainable.base.errors import InputError

    if arg.is_dir():
        if not (arg / "sweep.yaml").is_file():
            raise InputError(str(arg), "not a sweep results folder (no sweep.yaml)")
        return load_sweep_config(arg / "sweep.yaml"), arg
    if not arg.is_file():
        raise InputError(str(arg), "no such file or folder")
    cfg = load_sweep_config(arg)
    if arg.name == "sweep.yaml" and any((arg.parent / n).exists() for n in ("reports.jsonl", "study.db", "trials.jsonl")):
        return cfg, arg.parent
    if cfg.out_dir and Path(cfg.out_dir).is_dir():
        return cfg, Path(cfg.out_dir)
    return cfg, None


def is_synthetic(cfg: Any) -> bool:
    return str(cfg.trainable).startswith(SYNTHETIC_PREFIX)


def evaluate(cfg: Any, params: dict[str, Any], checkpoint: str | None, split: str, *,
             samples: int | None = None, step: int | None = None) -> dict[str, Any]:
    """Metrics of the base model (``checkpoint`` None) or of a trial's checkpoint on ``split``.

    The default trainable: ``trainable.eval.evaluate.evaluate_adapter`` on the trial config (sweep's base
    trial config + the trial's ``params``). The SYNTHETIC trainable has no model: its made-up curve at
    ``step`` (0 for S0) stands in, so the whole analysis path runs in tests.
    """
    from sweep.config import DEFAULT_TRAINABLE, base_trial_config
    from trainable.base.errors import InputError

    base = {**base_trial_config(cfg), **params}
    if is_synthetic(cfg):
        from trainable.testing.synthetic import synthetic_metrics

        m = synthetic_metrics(base, 0 if checkpoint is None else int(step or 0))
        return {**{k: m.get(k) for k in ("comet", "term_acc", "bleu_char", "chrf_pp", "len_ratio", "trunc_rate",
                                         "runon_rate")},
                "split": split, "model": "synthetic (no model)", "adapter": checkpoint}
    if cfg.trainable != DEFAULT_TRAINABLE:
        raise InputError("trainable", f"evaluation needs the default QLoRA trainable, this sweep uses {cfg.trainable!r}")
    from trainable.config import TrialConfig
    from trainable.eval.evaluate import evaluate_adapter

    tcfg = TrialConfig.from_dict(base, where="sweep.yaml: trial")
    return evaluate_adapter(tcfg, checkpoint, split, samples=samples)  # type: ignore[arg-type]


def default_samples(cfg: Any, split: str) -> int | None:
    """dev: the periodic evals' subset (unless trials end with a full dev eval); test: everything."""
    if split != "dev":
        return None
    trial = cfg.trial
    return None if trial.get("final_full_eval", True) else trial.get("eval_samples")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from trainable.base.errors import InputError

    cfg, results_dir = resolve_sweep(args.sweep)
    out = args.out or results_dir
    if out is None:
        raise InputError(str(args.sweep), "no results folder for this sweep yet: run `mtsweep run` first, "
                         "or pass the results folder (or --out DIR)")
    if args.samples is not None and args.samples < 1:
        raise InputError("--samples", f"must be >= 1, got {args.samples}")
    path = Path(out) / "baseline.json"
    if path.exists() and not args.force:
        raise InputError(str(path), "exists (use --force to replace it)")
    samples = args.samples if args.samples is not None else default_samples(cfg, args.split)
    print(f"mtsweep baseline: evaluating S0 (base model, no adapter) on {args.split}"
          + (f" ({samples} pairs)" if samples else "") + " ...", flush=True)
    t0 = time.perf_counter()
    metrics = evaluate(cfg, {}, None, args.split, samples=samples)
    record = {
        "split": args.split,
        "model": metrics.get("model") or cfg.trial.get("model"),
        "samples": samples,
        "metrics": {k: v for k, v in metrics.items() if k not in ("split", "model", "adapter")},
        "sweep": cfg.name,
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    shown = ", ".join(f"{k}={metrics[k]:.4g}" for k in ("comet", "term_acc", "bleu_char", "chrf_pp", "len_ratio", "trunc_rate",
                                                         "runon_rate", "latency_ms")
                      if isinstance(metrics.get(k), int | float))
    print(f"S0 {args.split}: {shown}")
    print(f"wrote {path}")
    return 0
