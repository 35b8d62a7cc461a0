"""NaN/spike guard checked on every optimizer step, before ``optimizer.step()``.

A pure object with explicit state (no torch). A step is bad, in this order, when:

1. ``nonfinite``: its loss or pre-clip gradient norm is NaN/inf (caught at once, from step 1);
2. ``blowup``: its loss exceeds ``blowup_factor`` x the *reference loss*, the median of the first
   ``reference_steps`` good losses (PaLM-style absolute check, active from step 2, so a blow-up before any
   rolling statistics exist, or a slow one, is still caught); reported as ``loss_spike``;
3. ``zscore``: its loss (grad norm) lies more than ``zscore_loss`` (``zscore_grad``) standard deviations
   above the mean of a rolling window of recent good values (OLMo-core's step-skipping rule) *and* more than
   ``min_ratio_loss`` (``min_ratio_grad``) x that mean, judged once the window holds ``min_history`` values.
   The ratio keeps a low-variance window (small micro-batches) from turning an ordinary noisy step into a
   spike.

Bad values never enter the window, and neither do *outliers* among good values (more than
``outlier_zscore`` deviations above the window mean): a slow ramp keeps being compared against the
healthy history instead of dragging the window up with it.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

Cause = Literal["nonfinite_loss", "nonfinite_grad", "loss_spike", "grad_spike"]
Rule = Literal["nonfinite", "blowup", "zscore"]
# The smallest standard deviation used in a z-score, relative to the window mean: a perfectly flat
# history would otherwise turn any tiny rise into an infinite z-score.
REL_STD_FLOOR = 0.01


@dataclass(frozen=True)
class Verdict:
    """The guard's answer for one step. ``ok`` False: the update must not be applied.

    ``action`` is ``"apply"`` (ok), ``"skip"`` (drop this update, go on) or ``"stop"`` (end the trial).
    ``rule`` names the check that fired; ``zscore`` and ``ratio`` (value / window mean, or loss / reference
    loss for ``blowup``) are the numbers that decided it.
    """

    ok: bool
    cause: Cause | None = None
    action: Literal["apply", "skip", "stop"] = "apply"
    zscore: float | None = None
    rule: Rule | None = None
    ratio: float | None = None


@dataclass(frozen=True)
class _Finding:
    cause: Cause
    rule: Rule
    zscore: float | None = None
    ratio: float | None = None


def zscore(value: float, history: deque[float] | list[float]) -> float:
    """How many (floored) standard deviations ``value`` lies above the mean of ``history``."""
    n = len(history)
    mean = sum(history) / n
    var = sum((x - mean) ** 2 for x in history) / max(n - 1, 1)
    std = max(math.sqrt(var), REL_STD_FLOOR * abs(mean), 1e-12)
    return (value - mean) / std


def _ratio(value: float, base: float) -> float | None:
    return value / base if base > 0 else None


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
        min_ratio_loss: float | None = 1.5,
        min_ratio_grad: float | None = 3.0,
        outlier_zscore: float | None = 3.0,
        blowup_factor: float | None = 4.0,
        reference_steps: int = 5,
    ) -> None:
        if policy not in ("stop", "skip"):
            raise ValueError(f"policy must be 'stop' or 'skip', got {policy!r}")
        if reference_steps < 1:
            raise ValueError(f"reference_steps must be >= 1, got {reference_steps}")
        self.policy = policy
        self.max_skips = max_skips
        self.window = window
        self.min_history = min_history
        self.zscore_loss = zscore_loss
        self.zscore_grad = zscore_grad
        self.min_ratio_loss = min_ratio_loss
        self.min_ratio_grad = min_ratio_grad
        self.outlier_zscore = outlier_zscore
        self.blowup_factor = blowup_factor
        self.reference_steps = reference_steps
        self.losses: deque[float] = deque(maxlen=window)
        self.grad_norms: deque[float] = deque(maxlen=window)
        self.reference_losses: list[float] = []
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
            min_ratio_loss=cfg.spike_min_ratio_loss,
            min_ratio_grad=cfg.spike_min_ratio_grad,
            outlier_zscore=cfg.spike_outlier_zscore,
            blowup_factor=cfg.loss_blowup_factor,
            reference_steps=cfg.loss_reference_steps,
        )

    @property
    def reference_loss(self) -> float | None:
        """Median of the first ``reference_steps`` good losses (of those seen so far); None before any."""
        return statistics.median(self.reference_losses) if self.reference_losses else None

    # --- rules ----------------------------------------------------------------------------------
    def _blowup(self, loss: float) -> _Finding | None:
        ref = self.reference_loss
        if self.blowup_factor is None or ref is None or ref <= 0:
            return None
        if loss > self.blowup_factor * ref:
            return _Finding("loss_spike", "blowup", ratio=loss / ref)
        return None

    def _spike(self, value: float, history: deque[float], z_max: float | None, min_ratio: float | None,
               cause: Cause) -> _Finding | None:
        if z_max is None or len(history) < self.min_history:
            return None
        z = zscore(value, history)
        mean = sum(history) / len(history)
        if z > z_max and (min_ratio is None or value > min_ratio * mean):
            return _Finding(cause, "zscore", zscore=z, ratio=_ratio(value, mean))
        return None

    def _find(self, loss: float, grad_norm: float) -> _Finding | None:
        if not math.isfinite(loss):
            return _Finding("nonfinite_loss", "nonfinite")
        if not math.isfinite(grad_norm):
            return _Finding("nonfinite_grad", "nonfinite")
        return (
            self._blowup(loss)
            or self._spike(loss, self.losses, self.zscore_loss, self.min_ratio_loss, "loss_spike")
            or self._spike(grad_norm, self.grad_norms, self.zscore_grad, self.min_ratio_grad, "grad_spike")
        )

    def _admits(self, value: float, history: deque[float]) -> bool:
        """A good value joins its window unless it is an outlier against a full-enough window."""
        if self.outlier_zscore is None or len(history) < self.min_history:
            return True
        return zscore(value, history) <= self.outlier_zscore

    def check(self, step: int, loss: float, grad_norm: float) -> Verdict:
        """Judge one step (raw loss, pre-clip grad norm) and record it: good, non-outlier values join the window."""
        loss, grad_norm = float(loss), float(grad_norm)
        found = self._find(loss, grad_norm)
        if found is None:
            if len(self.reference_losses) < self.reference_steps:
                self.reference_losses.append(loss)
            if self._admits(loss, self.losses):
                self.losses.append(loss)
            if self._admits(grad_norm, self.grad_norms):
                self.grad_norms.append(grad_norm)
            return Verdict(ok=True)
        if self.first_bad_step is None:
            self.first_bad_step, self.first_bad_cause = step, found.cause
        action: Literal["skip", "stop"] = "stop"
        if self.policy == "skip" and self.skips < self.max_skips:
            self.skips += 1
            action = "skip"
        return Verdict(ok=False, cause=found.cause, action=action, zscore=found.zscore, rule=found.rule,
                       ratio=found.ratio)

    # --- checkpointing --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain-data state (JSON-safe) for the trainer checkpoint."""
        return {
            "losses": list(self.losses),
            "grad_norms": list(self.grad_norms),
            "reference_losses": list(self.reference_losses),
            "skips": self.skips,
            "first_bad_step": self.first_bad_step,
            "first_bad_cause": self.first_bad_cause,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (a checkpoint from before ``reference_losses`` loads too)."""
        self.losses = deque(state["losses"], maxlen=self.window)
        self.grad_norms = deque(state["grad_norms"], maxlen=self.window)
        self.reference_losses = [float(x) for x in state.get("reference_losses", [])][: self.reference_steps]
        self.skips = int(state["skips"])
        self.first_bad_step = state.get("first_bad_step")
        self.first_bad_cause = state.get("first_bad_cause")
