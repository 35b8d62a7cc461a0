"""Checkpoint bytes on disk of one toy-model sweep, `retention: front` (default) vs `retention: all`.

Runs the real `mtsweep run` twice (sweep/configs/demo.yaml: toy model, real QLoRA trial code, MO-ASHA,
rung-aware TPE, same seed) and prints a table: checkpoints reported, kept on disk, bytes of checkpoints
and of the whole results folder, optimizer states left. A folder that already holds a finished sweep is
measured again, not re-run.

    python bench/checkpoint_retention.py --out /tmp/retention_bench            # builds the toy assets
    python bench/checkpoint_retention.py --out /tmp/retention_bench --assets /tmp/tiny --trials 6
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run_sweep(out: Path, assets: Path, mode: str, trials: int) -> None:
    if (out / "trials.jsonl").is_file():
        return
    cmd = [sys.executable, "-m", "sweep", "run", str(REPO / "sweep" / "configs" / "demo.yaml"), "--out", str(out),
           "--set", f"trial.model={assets / 'model'}",
           "--set", f"trial.comet_model={assets / 'comet' / 'checkpoints' / 'model.ckpt'}",
           "--set", f"num_trials={trials}", "--set", f"retention={mode}", "--num-cpus", "2", "--live-every", "600"]
    with (out.parent / f"{out.name}.log").open("w") as log:
        subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)


def measure(out: Path) -> dict[str, float]:
    from sweep.disk_usage import disk_usage
    from trainable.base.jsonl import read_records

    usage = disk_usage(out)
    reported = sum(1 for r in read_records(out / "reports.jsonl") if r.get("checkpoint"))
    return {"reported": reported, "kept": usage.checkpoints, "ckpt_mb": usage.checkpoint_bytes / 1e6,
            "optim": usage.optimizer_states, "total_mb": usage.total_bytes / 1e6,
            "per_kept_kb": usage.checkpoint_bytes / max(usage.checkpoints, 1) / 1e3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the two sweeps")
    parser.add_argument("--assets", type=Path, default=None, help="toy assets (mtsweep make-tiny-model DIR)")
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    assets = args.assets or args.out / "tiny"
    if not (assets / "model").is_dir():
        from trainable.testing.tiny_assets import make_tiny_assets

        make_tiny_assets(assets)
    rows = {}
    for mode in ("front", "all"):
        folder = args.out / f"demo_{mode}"
        run_sweep(folder, assets, mode, args.trials)
        rows[mode] = measure(folder)
    print(f"toy sweep, sweep/configs/demo.yaml, {args.trials} trials (6 evals each unless pruned)")
    print(f"{'retention':<10} {'ckpts reported':>14} {'kept':>5} {'ckpt MB':>8} {'optim states':>12} "
          f"{'results MB':>10} {'kB/kept ckpt':>12}")
    for mode, r in rows.items():
        print(f"{mode:<10} {r['reported']:>14.0f} {r['kept']:>5.0f} {r['ckpt_mb']:>8.2f} {r['optim']:>12.0f} "
              f"{r['total_mb']:>10.2f} {r['per_kept_kb']:>12.1f}")
    front, full = rows["front"]["ckpt_mb"], rows["all"]["ckpt_mb"]
    print(f"front / all checkpoint bytes: {front / full:.3f}" if full else "no checkpoints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
