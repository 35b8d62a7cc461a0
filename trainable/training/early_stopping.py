"""Early stopping on the trial's objectives: a small rule object fed one eval at a time.

Rule ``any_objective_improved`` (default): an eval is *good* when at least one objective beats its best
value so far (strictly, in its direction from ``trainable.base.metric_names.METRIC_DIRECTIONS``), as in HF
Trainer's ``EarlyStoppingCallback`` with several metrics. After ``patience`` non-good evals in a row the
trial stops. The first eval is always good. An objective whose value is None (e.g. ``term_acc`` with no
glossary term in the subset) is ignored; an eval where every objective is None is not judged.
Rule ``none`` never stops.

It also keeps the objective values of every eval (by step), so that a trial that stops early ends on
:meth:`EarlyStopping.final_step`: the newest eval on the trial's own front (dominated by no other eval),
not on the eval that failed to improve.
"""

from __future__ import annotations

from typing import Any, Literal

from trainable.base.finite import is_finite_number
from trainable.base.metric_names import METRIC_DIRECTIONS
from trainable.base.pareto import dominates

EarlyStopRule = Literal["any_objective_improved", "none"]


class EarlyStopping:
    """Patience rule over several objectives; explicit state (best values, bad-eval streak)."""

    def __init__(
        self,
        objectives: list[str],
        *,
        patience: int = 1,
        rule: EarlyStopRule = "any_objective_improved",
        directions: dict[str, str] | None = None,
    ) -> None:
        if directions is None:
            directions = dict(METRIC_DIRECTIONS)
        unknown = [o for o in objectives if directions.get(o) not in ("max", "min")]
        if unknown:
            raise ValueError(f"objective(s) without a max/min direction: {unknown}")
        if rule not in ("any_objective_improved", "none"):
            raise ValueError(f"unknown early-stopping rule {rule!r}")
        self.objectives = list(objectives)
        self.directions = {o: directions[o] for o in objectives}
        self.patience = patience
        self.rule = rule
        self.best: dict[str, float] = {}
        self.bad_evals = 0
        self.evals: dict[int, dict[str, float]] = {}
        """Step -> finite objective values of each eval recorded with a step."""

    @classmethod
    def from_config(cls, cfg: Any) -> EarlyStopping:
        """Build from a :class:`trainable.config.TrialConfig`."""
        return cls(cfg.objectives, patience=cfg.patience, rule=cfg.early_stop_rule)

    def improved(self, metrics: dict[str, Any]) -> list[str]:
        """Objectives in ``metrics`` that beat their best so far (does not change state)."""
        out = []
        for name in self.objectives:
            value = metrics.get(name)
            if not is_finite_number(value):
                continue
            best = self.best.get(name)
            if best is None or (value > best if self.directions[name] == "max" else value < best):
                out.append(name)
        return out

    def update(self, metrics: dict[str, Any], *, step: int | None = None) -> bool:
        """Record one eval (at ``step``, for :meth:`final_step`); True when the trial should stop now."""
        judged = any(metrics.get(o) is not None for o in self.objectives)
        if step is not None and judged:
            self.evals[int(step)] = {o: float(metrics[o]) for o in self.objectives if is_finite_number(metrics.get(o))}
        improved = self.improved(metrics)
        for name in improved:
            self.best[name] = float(metrics[name])
        if not judged:
            return False
        self.bad_evals = 0 if improved else self.bad_evals + 1
        return self.rule != "none" and self.bad_evals >= self.patience

    def front_steps(self) -> list[int]:
        """Steps of the recorded evals that no other recorded eval dominates (ascending)."""
        return [s for s, v in sorted(self.evals.items())
                if not any(self._dominates(w, v) for t, w in self.evals.items() if t != s)]

    def final_step(self) -> int | None:
        """The newest eval on the trial's own front: the weights an early-stopped trial ends with."""
        front = self.front_steps()
        return front[-1] if front else None

    def _dominates(self, a: dict[str, float], b: dict[str, float]) -> bool:
        """``a`` is at least as good as ``b`` on every objective both have, and better on one."""
        shared = [o for o in self.objectives if o in a and o in b]
        return dominates([a[o] for o in shared], [b[o] for o in shared], [self.directions[o] for o in shared])

    def state_dict(self) -> dict[str, Any]:
        """Plain-data state for the trainer checkpoint."""
        return {"best": dict(self.best), "bad_evals": self.bad_evals,
                "evals": {str(k): dict(v) for k, v in self.evals.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.best = {k: float(v) for k, v in state["best"].items()}
        self.bad_evals = int(state["bad_evals"])
        self.evals = {int(k): {o: float(x) for o, x in v.items()} for k, v in state.get("evals", {}).items()}
