"""Trial checkpoints: the LoRA adapter plus trainer state, never the base model.

Layout of a checkpoint directory::

    adapter/              peft ``save_pretrained`` (adapter_config.json + adapter_model.safetensors)
    trainer_state.json    step, tokens_seen, guard and early-stopping state, last good eval metrics, config
    optim_state.pt        optimizer + lr-scheduler state dicts and RNG states (torch.save)
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADAPTER_DIR = "adapter"
STATE_JSON = "trainer_state.json"
OPTIM_PT = "optim_state.pt"


@dataclass
class TrainerState:
    """What a trial needs, besides the weights and optimizer, to resume exactly where it was."""

    step: int = 0
    """Optimizer steps done (skipped steps included)."""
    micro_batches: int = 0
    """Micro-batches consumed from the data order (the position in the epoch stream)."""
    tokens_seen: int = 0
    """Tokens fed to the model (prompt + answer, no padding)."""
    guard: dict[str, Any] = field(default_factory=dict)
    """``DivergenceGuard.state_dict()``."""
    early_stopping: dict[str, Any] = field(default_factory=dict)
    """``EarlyStopping.state_dict()``."""
    last_good_eval: dict[str, Any] | None = None
    """The metrics of the last eval report (the values a diverged trial ends with)."""
    wall_s: float = 0.0
    """Trial wall seconds spent before this checkpoint (accumulates over restarts)."""
    accel_s: float = 0.0
    """Accelerator seconds spent before this checkpoint."""
    eval_s: float = 0.0
    """Eval seconds spent before this checkpoint."""
    config: dict[str, Any] = field(default_factory=dict)
    """The trial config that wrote the checkpoint (for provenance; not used to resume)."""


def save_checkpoint(
    out_dir: str | Path, *, model: Any, optimizer: Any, scheduler: Any, state: TrainerState
) -> Path:
    """Write adapter + trainer state to ``out_dir`` (created) and return it."""
    import numpy as np
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out / ADAPTER_DIR))
    (out / STATE_JSON).write_text(json.dumps(state.__dict__, indent=1, allow_nan=False), encoding="utf-8")
    rng = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng}, out / OPTIM_PT)
    return out


def read_state(ckpt_dir: str | Path) -> TrainerState:
    """The :class:`TrainerState` of a checkpoint (no torch needed)."""
    data = json.loads((Path(ckpt_dir) / STATE_JSON).read_text(encoding="utf-8"))
    return TrainerState(**data)


def load_checkpoint(ckpt_dir: str | Path, *, model: Any, optimizer: Any, scheduler: Any) -> TrainerState:
    """Load adapter weights into the LoRA ``model`` (in place), optimizer/scheduler/RNG state; return state."""
    import numpy as np
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    ckpt = Path(ckpt_dir)
    weights = load_file(str(ckpt / ADAPTER_DIR / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(model, weights)
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise ValueError(f"{ckpt}: adapter does not match the model (unexpected keys, e.g. {unexpected[0]})")
    blob = torch.load(ckpt / OPTIM_PT, map_location="cpu", weights_only=False)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    rng = blob["rng"]
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return read_state(ckpt)
