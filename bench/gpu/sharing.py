"""Trials sharing one GPU: worker processes of the entry script, started together, run in phases."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .device import peak_gib, reset_peak, sync
from .model import load_lora_model, step_batches, synthetic_examples
from .specs import Bench, Row, train_specs
from .training import Trainer, train_values

ENTRY_SCRIPT = Path(__file__).resolve().parents[1] / "gpu_throughput.py"
"""Started with ``--worker``: one trial process each."""


def run_sharing(bench: Bench, counts: tuple[int, ...], phase_s: float, startup_box: float, *, mode: str = "eager",
                label: str = "", env: dict[str, str] | None = None) -> list[Row]:
    """Start ``max(counts)`` worker processes (fast path each; ``mode`` ``graph``: the trial's step graph),
    then run phases with k of them active. ``env``: extra environment of the workers (e.g. CUDA MPS)."""
    import os

    n_workers = max(counts)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mtsweep-share-") as tmp:
        sync_dir = Path(tmp)
        cmd = [sys.executable, str(ENTRY_SCRIPT), "--worker", str(sync_dir), "--model-dir",
               str(bench.model_dir), "--seq", str(bench.seq), "--device", bench.device, "--worker-mode", mode]
        procs = [subprocess.Popen([*cmd, "--worker-index", str(i)], stdout=subprocess.DEVNULL,
                                  stderr=open(sync_dir / f"err_{i}.txt", "w"),  # noqa: SIM115
                                  env={**os.environ, **(env or {})})
                 for i in range(n_workers)]
        try:
            deadline = time.perf_counter() + startup_box
            while time.perf_counter() < deadline:
                if sum((sync_dir / f"ready_{i}").exists() for i in range(n_workers)) == n_workers:
                    break
                if any(p.poll() not in (None, 0) for p in procs):
                    break
                time.sleep(0.2)
            ready = [i for i in range(n_workers) if (sync_dir / f"ready_{i}").exists()]
            for k in counts:
                if len(ready) < k or bench.left() < phase_s + 5:
                    why = _worker_failure(sync_dir, procs) if len(ready) < k else "over the time budget"
                    rows.append(Row(f"share: {k} trial(s) on one GPU{label}", {}, f"skipped: {why}"))
                    continue
                start = time.time() + 1.0
                (sync_dir / f"go_{k}.json").write_text(json.dumps({"k": k, "start": start, "end": start + phase_s}))
                results = _wait_results(sync_dir, k, phase_s + 60)
                tokens = sum(r["tokens"] for r in results)
                mems = [r["peak_gib"] for r in results if r["peak_gib"] is not None]
                mem = max(mems) if mems else None
                values = train_values(bench, tokens, 1, phase_s)
                values.update({"step ms": None, "peak GiB": mem})
                rows.append(Row(f"share: {k} trial(s) on one GPU{label}", values,
                                f"aggregate; per trial {tokens / phase_s / k:,.0f} tok/s" if results else "no result"))
            (sync_dir / "exit").write_text("")
        finally:
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    return rows


def _wait_results(sync_dir: Path, k: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.perf_counter() + timeout
    files = [sync_dir / f"result_{k}_{i}.json" for i in range(k)]
    while time.perf_counter() < deadline and not all(f.exists() for f in files):
        time.sleep(0.2)
    return [json.loads(f.read_text()) for f in files if f.exists()]


def _worker_failure(sync_dir: Path, procs: list[Any]) -> str:
    for i, p in enumerate(procs):
        if p.poll() not in (None, 0):
            lines = (sync_dir / f"err_{i}.txt").read_text().strip().splitlines()
            return f"worker {i} failed: {lines[-1][:120] if lines else p.returncode}"
    return "workers not ready in time"


def worker_main(args: argparse.Namespace) -> int:
    """One trial process of the sharing test: load, warm up, then run the phases it is part of."""
    sync_dir, index = Path(args.worker), args.worker_index
    bench = Bench(smoke=args.device == "cpu", seq=args.seq, budget_s=1e9, device=args.device, model_dir=Path(args.model_dir))
    if args.device == "cpu":
        import torch

        torch.set_num_threads(1)
    spec = train_specs()[2]  # the fast path
    model = load_lora_model(bench, spec.quant)
    vocab = model.config.vocab_size
    examples = synthetic_examples(64 * spec.micro * spec.accum, bench.seq, vocab, seed=index)
    steps = step_batches(examples, spec, seed=index)
    if getattr(args, "worker_mode", "eager") == "graph":
        from .training import StepGraphTrainer

        trainer: Any = StepGraphTrainer(model, bench.device, micro=spec.micro, seq=bench.seq)
    else:
        trainer = Trainer(model, spec, bench.device)
    for mb in steps[:2]:
        trainer.step(mb)
    sync(bench.device)
    (sync_dir / f"ready_{index}").write_text("")
    done: set[int] = set()
    while not (sync_dir / "exit").exists():
        for go in sorted(sync_dir.glob("go_*.json")):
            plan = json.loads(go.read_text())
            if plan["k"] in done:
                continue
            done.add(plan["k"])
            if index >= plan["k"]:
                continue
            reset_peak(bench.device)
            while time.time() < plan["start"]:
                time.sleep(0.01)
            tokens, s = 0, 0
            while True:
                got = trainer.step(steps[s % len(steps)])
                sync(bench.device)
                if time.time() > plan["end"]:
                    break
                tokens += got
                s += 1
            (sync_dir / f"result_{plan['k']}_{index}.json").write_text(
                json.dumps({"tokens": tokens, "steps": s, "peak_gib": peak_gib(bench.device)}))
        time.sleep(0.05)
    return 0
