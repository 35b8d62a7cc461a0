"""Disk used by a sweep results folder and by its trial checkpoints (``mtsweep status``). Stdlib only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sweep.results_dir import RAY_DIR
from trainable.training.checkpointing import OPTIM_PT


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    """Every file under the results folder."""
    checkpoint_bytes: int
    """Files in trial checkpoint folders (``ray/<trial>/checkpoint_*``)."""
    checkpoints: int
    """Checkpoint folders."""
    optimizer_states: int
    """Checkpoints that still hold optimizer + scheduler state."""
    optimizer_bytes: int
    """Bytes of those optimizer states."""

    def describe(self) -> str:
        return (f"disk: results folder {human_bytes(self.total_bytes)}, checkpoints {human_bytes(self.checkpoint_bytes)} "
                f"({self.checkpoints} checkpoint(s), {self.optimizer_states} with optimizer state: "
                f"{human_bytes(self.optimizer_bytes)})")


def _tree_bytes(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue  # removed while we walk (a running sweep)
            total += st.st_size
    return total


def disk_usage(results_dir: str | Path) -> DiskUsage:
    """Measure ``results_dir`` (a running sweep may add or delete files meanwhile: best effort)."""
    root = Path(results_dir)
    ckpt_bytes = ckpts = optims = optim_bytes = 0
    for ckpt in root.glob(f"{RAY_DIR}/*/checkpoint_*"):
        if not ckpt.is_dir():
            continue
        ckpts += 1
        ckpt_bytes += _tree_bytes(ckpt)
        optim = ckpt / OPTIM_PT
        try:
            optim_bytes += optim.stat().st_size
            optims += 1
        except OSError:
            pass
    return DiskUsage(_tree_bytes(root), ckpt_bytes, ckpts, optims, optim_bytes)


def human_bytes(n: int) -> str:
    """``1.5 MB`` (decimal units)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
