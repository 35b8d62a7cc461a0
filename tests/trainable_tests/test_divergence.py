"""DivergenceGuard on hand-made loss / grad-norm sequences."""

from __future__ import annotations

import math

import pytest

from trainable.divergence import DivergenceGuard, zscore


def feed(guard: DivergenceGuard, values: list[tuple[float, float]], start: int = 1) -> list:
    return [guard.check(start + i, loss, grad) for i, (loss, grad) in enumerate(values)]


def noisy(n: int, base: float = 2.0, amp: float = 0.05) -> list[tuple[float, float]]:
    return [(base + amp * math.sin(i), 1.0 + 0.1 * math.cos(i)) for i in range(n)]


def test_good_steps_are_ok_and_enter_the_window():
    guard = DivergenceGuard(window=4, min_history=2)
    verdicts = feed(guard, noisy(6))
    assert all(v.ok and v.action == "apply" and v.cause is None for v in verdicts)
    assert len(guard.losses) == 4  # rolling window keeps the last 4


@pytest.mark.parametrize(
    ("loss", "grad", "cause"),
    [(math.nan, 1.0, "nonfinite_loss"), (math.inf, 1.0, "nonfinite_loss"), (2.0, math.nan, "nonfinite_grad"),
     (2.0, -math.inf, "nonfinite_grad"), (math.nan, math.nan, "nonfinite_loss")],
)
def test_nonfinite_values_stop_at_once_even_without_history(loss, grad, cause):
    guard = DivergenceGuard()
    verdict = guard.check(1, loss, grad)
    assert (verdict.ok, verdict.cause, verdict.action) == (False, cause, "stop")
    assert guard.first_bad_step == 1 and len(guard.losses) == 0


def test_loss_spike_detected_only_after_min_history():
    guard = DivergenceGuard(min_history=10, zscore_loss=6.0, zscore_grad=None)
    early = feed(guard, noisy(5))
    assert guard.check(6, 200.0, 1.0).ok  # a huge loss, but only 5 values of history
    guard = DivergenceGuard(min_history=10, zscore_loss=6.0, zscore_grad=None)
    feed(guard, noisy(10))
    verdict = guard.check(11, 200.0, 1.0)
    assert all(v.ok for v in early)
    assert (verdict.ok, verdict.cause, verdict.action) == (False, "loss_spike", "stop")
    assert verdict.zscore is not None and verdict.zscore > 6.0
    assert 200.0 not in guard.losses  # bad values never enter the window


def test_grad_spike_and_threshold():
    history = noisy(20)
    guard = DivergenceGuard(min_history=10, zscore_loss=6.0, zscore_grad=6.0)
    feed(guard, history)
    z = zscore(1.3, guard.grad_norms)
    assert 3.0 < z < 6.0 and guard.check(21, 2.0, 1.3).ok  # ~4.3 sigma above a ~1.0 +- 0.07 history
    verdict = guard.check(22, 2.0, 50.0)
    assert verdict.cause == "grad_spike"


def test_loss_decrease_is_never_a_spike():
    guard = DivergenceGuard(min_history=5)
    feed(guard, noisy(10))
    assert guard.check(11, 0.01, 1.0).ok


def test_flat_history_uses_a_relative_std_floor():
    guard = DivergenceGuard(min_history=5, zscore_loss=6.0)
    feed(guard, [(2.0, 1.0)] * 10)
    assert guard.check(11, 2.05, 1.0).ok  # +2.5%: z = 2.5 with the 1% floor
    assert guard.check(12, 2.5, 1.0).cause == "loss_spike"


def test_skip_policy_is_bounded():
    guard = DivergenceGuard(policy="skip", max_skips=2)
    actions = [guard.check(s, math.nan, 1.0).action for s in (3, 5, 8)]
    assert actions == ["skip", "skip", "stop"]
    assert guard.skips == 2 and guard.first_bad_step == 3 and guard.first_bad_cause == "nonfinite_loss"


def test_skip_policy_with_zero_skips_stops():
    guard = DivergenceGuard(policy="skip", max_skips=0)
    assert guard.check(1, 2.0, math.inf).action == "stop"


def test_state_round_trip():
    guard = DivergenceGuard(policy="skip", window=8, min_history=3)
    feed(guard, noisy(5))
    guard.check(6, math.nan, 1.0)
    clone = DivergenceGuard(policy="skip", window=8, min_history=3)
    clone.load_state_dict(guard.state_dict())
    assert list(clone.losses) == list(guard.losses) and clone.skips == 1 and clone.first_bad_step == 6
    assert clone.check(7, 100.0, 1.0).cause == guard.check(7, 100.0, 1.0).cause == "loss_spike"


def test_from_config_and_bad_policy():
    from trainable.config import TrialConfig

    guard = DivergenceGuard.from_config(TrialConfig(nan_policy="skip", max_skips=5, spike_window=16, spike_min_history=4))
    assert (guard.policy, guard.max_skips, guard.window, guard.min_history) == ("skip", 5, 16, 4)
    with pytest.raises(ValueError, match="policy"):
        DivergenceGuard(policy="ignore")  # type: ignore[arg-type]
