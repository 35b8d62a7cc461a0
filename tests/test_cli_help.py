"""`mtsweep --help` stays light: building the parser imports no heavy package."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "ray", "transformers", "comet", "sacrebleu", "datasets", "optuna", "wandb", "peft")


def test_help_imports_no_heavy_packages() -> None:
    code = (
        "import sys\n"
        "from sweep.cli import build_parser\n"
        "build_parser().format_help()\n"
        "for sub in ('score',):\n"
        "    build_parser().parse_args([sub, '--hyp', 'h'])\n"
        f"print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert proc.stdout.strip() == ""


def test_help_runs_and_lists_score() -> None:
    proc = subprocess.run([sys.executable, "-m", "sweep.cli", "score", "--help"], capture_output=True, text=True,
                          check=True, timeout=120)
    assert "--glossary" in proc.stdout and "default: none" in proc.stdout
    assert "Traceback" not in proc.stderr
