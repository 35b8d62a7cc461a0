"""NaN/spike guard checked on every optimizer step, before ``optimizer.step()``.

A pure object with explicit state (no torch): a rolling window of recent *good* losses and pre-clip
gradient norms, and a skip count. A step is bad when its loss or gradient norm is not finite, or when
it spikes: more than ``z`` standard deviations above the window mean (OLMo-core's step-skipping rule),
judged only once the window holds ``min_history`` values. Bad values never enter the window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

Cause = Literal["nonfinite_loss", "nonfinite_grad", "loss_spike", "grad_spike"]
# The smallest standard deviation used in a z-score, relative to the window mean: a perfectly flat
# history would otherwise turn any tiny rise into an infinite z-score.
REL_STD_FLOOR = 0.01


@dataclass(frozen=True)
class Verdict:
    """The guard's answer for one step. ``ok`` False: the update must not be applied.

    ``action`` is ``"apply"`` (ok), ``"skip"`` (drop this update, go on) or ``"stop"`` (end the trial).
    """

    ok: bool
    cause: Cause | None = None
    action: Literal["apply", "skip", "stop"] = "apply"
    zscore: float | None = None


def zscore(value: float, history: deque[float] | list[float]) -> float:
    """How many (floored) standard deviations ``value`` lies above the mean of ``history``."""
    n = len(history)
    mean = sum(history) / n
    var = sum((x - mean) ** 2 for x in history) / max(n - 1, 1)
    std = max(math.sqrt(var), REL_STD_FLOOR * abs(mean), 1e-12)
    return (value - mean) / std


class DivergenceGuard:
    """Classify each optimizer step as good or bad and decide stop/skip (see the module docstring)."""

    def __init__(
        self,
        *,
        policy: Literal["stop", "skip"] = "stop",
        max_skips: int = 3,
        window: int = 128,
        min_history: int = 20,
        zscore_loss: float | None = 6.0,
        zscore_grad: float | None = 6.0,
    ) -> None:
        if policy not in ("stop", "skip"):
            raise ValueError(f"policy must be 'stop' or 'skip', got {policy!r}")
        self.policy = policy
        self.max_skips = max_skips
        self.window = window
        self.min_history = min_history
        self.zscore_loss = zscore_loss
        self.zscore_grad = zscore_grad
        self.losses: deque[float] = deque(maxlen=window)
        self.grad_norms: deque[float] = deque(maxlen=window)
        self.skips = 0
        self.first_bad_step: int | None = None
        self.first_bad_cause: Cause | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> DivergenceGuard:
        """Build from a :class:`trainable.config.TrialConfig`."""
        return cls(
            policy=cfg.nan_policy,
            max_skips=cfg.max_skips,
            window=cfg.spike_window,
            min_history=cfg.spike_min_history,
            zscore_loss=cfg.spike_zscore_loss,
            zscore_grad=cfg.spike_zscore_grad,
        )

    def classify(self, loss: float, grad_norm: float) -> tuple[Cause | None, float | None]:
        """The cause that makes this step bad (or None) and the z-score that decided a spike."""
        if not math.isfinite(loss):
            return "nonfinite_loss", None
        if not math.isfinite(grad_norm):
            return "nonfinite_grad", None
        if len(self.losses) >= self.min_history:
            if self.zscore_loss is not None:
                z = zscore(loss, self.losses)
                if z > self.zscore_loss:
                    return "loss_spike", z
            if self.zscore_grad is not None:
                z = zscore(grad_norm, self.grad_norms)
                if z > self.zscore_grad:
                    return "grad_spike", z
        return None, None

    def check(self, step: int, loss: float, grad_norm: float) -> Verdict:
        """Judge one step (raw loss, pre-clip grad norm) and record it: good values join the window."""
        loss, grad_norm = float(loss), float(grad_norm)
        cause, z = self.classify(loss, grad_norm)
        if cause is None:
            self.losses.append(loss)
            self.grad_norms.append(grad_norm)
            return Verdict(ok=True)
        if self.first_bad_step is None:
            self.first_bad_step, self.first_bad_cause = step, cause
        if self.policy == "skip" and self.skips < self.max_skips:
            self.skips += 1
            return Verdict(ok=False, cause=cause, action="skip", zscore=z)
        return Verdict(ok=False, cause=cause, action="stop", zscore=z)

    # --- checkpointing --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain-data state (JSON-safe) for the trainer checkpoint."""
        return {
            "losses": list(self.losses),
            "grad_norms": list(self.grad_norms),
            "skips": self.skips,
            "first_bad_step": self.first_bad_step,
            "first_bad_cause": self.first_bad_cause,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.losses = deque(state["losses"], maxlen=self.window)
        self.grad_norms = deque(state["grad_norms"], maxlen=self.window)
        self.skips = int(state["skips"])
        self.first_bad_step = state.get("first_bad_step")
        self.first_bad_cause = state.get("first_bad_cause")
