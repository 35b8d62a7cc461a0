"""`mtsweep trial CONFIG [--set key=value ...] [--out DIR]`: one trial outside a sweep (no Tuner)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

HELP = (
    "Run one training trial from a trial config YAML (no sweep, no Ray): prints each eval as a table "
    "row, writes OUT/records.jsonl and OUT/checkpoints/step_NNNNNN/ (adapter + trainer state)."
)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("step", "{:d}", 6),
    ("loss", "{:.4f}", 8),
    ("grad_norm", "{:.3f}", 9),
    ("lr", "{:.2e}", 9),
    ("comet", "{:.4f}", 7),
    ("term_acc", "{:.4f}", 8),
    ("bleu_char", "{:.2f}", 9),
    ("chrf_pp", "{:.2f}", 7),
    ("len_ratio", "{:.3f}", 9),
    ("trunc_rate", "{:.3f}", 10),
    ("runon_rate", "{:.3f}", 10),
    ("n", "{:d}", 5),
    ("eval_s", "{:.1f}", 7),
    ("wall_s", "{:.1f}", 7),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="trial config YAML (fields of trainable.config.TrialConfig)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config field, value read as YAML (repeatable), e.g. --set lr=1e-4",
    )
    parser.add_argument("--out", default=None, help="output directory (must be new or empty; default: "
                        "runs/trial-<config name>-<time>)")


def format_row(metrics: dict[str, Any]) -> str:
    """One table row: the columns of COLUMNS, '-' where a value is missing."""
    cells = []
    for key, fmt, width in COLUMNS:
        value = metrics.get(key)
        text = "-" if value is None else fmt.format(value)
        cells.append(text.rjust(width))
    return " ".join(cells)


def header() -> str:
    return " ".join(key.rjust(width) for key, _, width in COLUMNS)


class PrintingReporter:
    """A LocalReporter that also prints each report as a table row."""

    def __init__(self, out_dir: str, stream: Any = None) -> None:
        from trainable.training.reporting import LocalReporter

        self.local = LocalReporter(out_dir)
        self.stream = stream or sys.stdout
        print(header(), file=self.stream, flush=True)

    def report(self, metrics: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        self.local.report(metrics, checkpoint_dir)
        print(format_row(metrics), file=self.stream, flush=True)

    def restore_dir(self) -> str | None:
        return None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trainable.config import TrialConfig

    cfg = TrialConfig.from_yaml(args.config, args.overrides)
    out = args.out or f"runs/trial-{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    reporter = PrintingReporter(out)
    (Path(out) / "trial_config.yaml").write_text(_dump(cfg.to_dict()), encoding="utf-8")

    from trainable.trial import run_trial

    final = run_trial(cfg, reporter)
    cause = final.get("stop_cause")
    extra = ""
    if final.get("diverged"):
        extra = f" at step {final.get('diverged_step')} ({final.get('divergence_cause')}); metrics are the last good eval's"
    print(f"trial finished: {cause}{extra}; records: {reporter.local.records_path}", flush=True)
    return 0


def _dump(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
