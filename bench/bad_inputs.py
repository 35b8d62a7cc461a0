"""Replay the malformed `mtsweep run` inputs of tests/sweep_tests/bad_run_inputs.py against a checkout.

    python bench/bad_inputs.py                       # this checkout
    python bench/bad_inputs.py --tree /tmp/main-old  # another checkout (e.g. main before a change)

Each case runs as its own `python -m sweep run ...` process (PYTHONPATH = the tree, an empty Hugging Face
cache, a per-case timeout) and is classified **clean** when it exits 2 with one stderr line, no traceback
and no results folder, and **clean + names it** when that line also holds the file/flag and key the case
expects. Anything else (a sweep that started, a traceback, exit 0, a timeout) is listed with what happened.
Prints a table and the counts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sweep_tests.bad_run_inputs import CASES, Case, materialize, written_results  # noqa: E402


def run_case(case: Case, tree: Path, timeout_s: float) -> tuple[str, str]:
    """(verdict, detail) of one case: ``named``, ``clean`` or what went wrong."""
    with tempfile.TemporaryDirectory(prefix=f"bad-{case.id}-") as tmp:
        folder = Path(tmp)
        argv = materialize(case, folder)
        env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_CACHE": str(folder / "hf_cache"), "RAY_ADDRESS": ""}
        start = time.monotonic()
        # Its own session: on a timeout the whole group (the driver and the Ray it started) is ended.
        proc = subprocess.Popen([sys.executable, "-m", "sweep", *argv], cwd=folder, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _end_group(proc)
            return "timeout", f"still running after {timeout_s:.0f} s (a sweep started); wrote {written_results(folder)}"
        took = time.monotonic() - start
        lines = stderr.strip().splitlines()
        written = written_results(folder)
        last = lines[-1][:110] if lines else "".join(stdout.strip().splitlines()[-1:])
        if proc.returncode != 2 or len(lines) != 1 or "Traceback" in stderr or written:
            return "not clean", f"exit {proc.returncode}, {len(lines)} stderr lines, wrote {written}, {took:.0f} s: {last}"
        if all(part in lines[0] for part in case.expect):
            return "named", lines[0][:110]
        return "clean", lines[0][:110]


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM the case's process group (only what this script started), SIGKILL it if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.communicate(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="checkout to test (default: this one)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per case (default 90)")
    parser.add_argument("-k", default="", help="only cases whose id contains one of these (comma-separated)")
    args = parser.parse_args()
    cases = [c for c in CASES if any(k in c.id for k in args.k.split(","))]
    width = max(len(c.id) for c in cases)
    results = []
    for case in cases:
        verdict, detail = run_case(case, args.tree.resolve(), args.timeout)
        results.append((case, verdict, detail))
        print(f"{case.id:<{width}}  {verdict:<9}  {detail}", flush=True)
    counts = {v: sum(1 for _, verdict, _ in results if verdict == v) for v in ("named", "clean", "not clean", "timeout")}
    print(f"\n{args.tree}: {len(results)} cases: {counts['named']} clean and naming file+key, {counts['clean']} clean "
          f"but not naming it, {counts['not clean']} not clean, {counts['timeout']} timed out (a sweep started)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
