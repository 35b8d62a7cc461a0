"""DivergenceGuard on hand-made loss / grad-norm sequences, one test per rule."""

from __future__ import annotations

import json
import math
import random

import pytest

from trainable.training.divergence import DivergenceGuard, Verdict, zscore


def feed(guard: DivergenceGuard, values: list[tuple[float, float]], start: int = 1) -> list[Verdict]:
    return [guard.check(start + i, loss, grad) for i, (loss, grad) in enumerate(values)]


def noisy(n: int, base: float = 2.0, amp: float = 0.05) -> list[tuple[float, float]]:
    return [(base + amp * math.sin(i), 1.0 + 0.1 * math.cos(i)) for i in range(n)]


def first_bad(verdicts: list[Verdict], start: int = 1) -> tuple[int, Verdict] | None:
    return next(((start + i, v) for i, v in enumerate(verdicts) if not v.ok), None)


def test_good_steps_are_ok_and_enter_the_window():
    guard = DivergenceGuard(window=4, min_history=2)
    verdicts = feed(guard, noisy(6))
    assert all(v.ok and v.action == "apply" and v.cause is None for v in verdicts)
    assert len(guard.losses) == 4  # rolling window keeps the last 4
    assert guard.reference_losses == [loss for loss, _ in noisy(5)]  # the first reference_steps=5 losses


# --- non-finite values -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("loss", "grad", "cause"),
    [(math.nan, 1.0, "nonfinite_loss"), (math.inf, 1.0, "nonfinite_loss"), (2.0, math.nan, "nonfinite_grad"),
     (2.0, -math.inf, "nonfinite_grad"), (math.nan, math.nan, "nonfinite_loss")],
)
def test_nonfinite_values_stop_at_once_even_without_history(loss, grad, cause):
    guard = DivergenceGuard()
    verdict = guard.check(1, loss, grad)
    assert (verdict.ok, verdict.cause, verdict.action, verdict.rule) == (False, cause, "stop", "nonfinite")
    assert guard.first_bad_step == 1 and len(guard.losses) == 0 and guard.reference_losses == []


def test_nonfinite_is_caught_with_every_other_rule_off():
    guard = DivergenceGuard(zscore_loss=None, zscore_grad=None, blowup_factor=None, outlier_zscore=None)
    feed(guard, noisy(30))
    assert guard.check(31, math.inf, 1.0).cause == "nonfinite_loss"
    assert guard.check(32, 2.0, math.nan).cause == "nonfinite_grad"


# --- absolute loss rule (blow-up against the reference loss) ---------------------------------------
def test_early_blowup_is_caught_before_any_window_statistics():
    guard = DivergenceGuard(min_history=20)  # the z-score rules cannot judge before step 21
    assert all(v.ok for v in feed(guard, [(2.0, 1.0), (2.2, 1.1), (1.9, 0.9)]))
    verdict = guard.check(4, 9.0, 1.0)
    assert (verdict.ok, verdict.cause, verdict.rule, verdict.action) == (False, "loss_spike", "blowup", "stop")
    assert verdict.ratio == pytest.approx(9.0 / 2.0) and verdict.zscore is None
    assert guard.first_bad_step == 4 and 9.0 not in guard.losses and 9.0 not in guard.reference_losses


def test_blowup_rule_is_active_from_step_two_and_respects_the_factor():
    guard = DivergenceGuard(blowup_factor=3.0)
    assert guard.check(1, 2.0, 1.0).ok  # nothing to compare the first loss with
    assert guard.check(2, 5.9, 1.0).ok  # 2.95 x the reference: under the factor
    assert guard.reference_loss == pytest.approx(3.95)  # median of [2.0, 5.9]
    assert guard.check(3, 12.0, 1.0).cause == "loss_spike"  # 3.04 x
    off = DivergenceGuard(blowup_factor=None)
    off.check(1, 2.0, 1.0)
    assert off.check(2, 1e6, 1.0).ok  # rule off, no window yet: nothing else can judge


def test_reference_is_the_median_of_the_first_losses_and_stays_fixed():
    guard = DivergenceGuard(reference_steps=5, min_history=1000, window=1000)  # the blow-up rule alone
    # One odd first batch (8.0) does not move the median; later (lower) losses never change the reference.
    feed(guard, [(8.0, 1.0), (2.0, 1.0), (2.1, 1.0), (1.9, 1.0), (2.0, 1.0)])
    assert guard.reference_loss == pytest.approx(2.0)
    feed(guard, [(0.5, 1.0)] * 50, start=6)
    assert guard.reference_loss == pytest.approx(2.0) and len(guard.reference_losses) == 5
    # A slow climb back up is caught once it passes 4 x the reference, however slowly it came.
    ramp = [(0.5 * 1.02**i, 1.0) for i in range(200)]
    step, verdict = first_bad(feed(guard, ramp, start=56), start=56)
    assert (verdict.cause, verdict.rule) == ("loss_spike", "blowup")
    assert 8.0 < ramp[step - 56][0] < 8.0 * 1.02 + 1e-9


# --- z-score rule with a minimum relative jump ------------------------------------------------------
def test_zscore_spike_detected_only_after_min_history():
    kwargs = {"min_history": 10, "zscore_loss": 6.0, "zscore_grad": None, "blowup_factor": None}
    guard = DivergenceGuard(**kwargs)
    early = feed(guard, noisy(5))
    assert guard.check(6, 200.0, 1.0).ok  # a huge loss, but only 5 values of history (and no blow-up rule)
    guard = DivergenceGuard(**kwargs)
    feed(guard, noisy(10))
    verdict = guard.check(11, 200.0, 1.0)
    assert all(v.ok for v in early)
    assert (verdict.ok, verdict.cause, verdict.action, verdict.rule) == (False, "loss_spike", "stop", "zscore")
    assert verdict.zscore is not None and verdict.zscore > 6.0 and verdict.ratio == pytest.approx(100, rel=0.05)
    assert 200.0 not in guard.losses  # bad values never enter the window


def test_grad_spike_and_threshold():
    guard = DivergenceGuard(min_history=10, zscore_loss=6.0, zscore_grad=6.0)
    feed(guard, noisy(20))
    z = zscore(1.3, guard.grad_norms)
    assert 3.0 < z < 6.0 and guard.check(21, 2.0, 1.3).ok  # ~4.3 sigma above a ~1.0 +- 0.07 history
    verdict = guard.check(22, 2.0, 50.0)
    assert (verdict.cause, verdict.rule) == ("grad_spike", "zscore")


def test_loss_decrease_is_never_a_spike():
    guard = DivergenceGuard(min_history=5)
    feed(guard, noisy(10))
    assert guard.check(11, 0.01, 1.0).ok
    assert 0.01 in guard.losses  # a low value is no outlier: it joins the window


def test_flat_history_uses_a_relative_std_floor():
    guard = DivergenceGuard(min_history=5, zscore_loss=6.0, min_ratio_loss=None, blowup_factor=None)
    feed(guard, [(2.0, 1.0)] * 10)
    assert guard.check(11, 2.05, 1.0).ok  # +2.5%: z = 2.5 with the 1% floor
    assert guard.check(12, 2.5, 1.0).cause == "loss_spike"


def test_small_batch_noise_on_a_low_variance_window_is_not_a_spike():
    """The demo's false positive: grad norm 1.15 against a ~0.43 window (z ~ 36, but only 2.7 x the mean)."""
    history = [(1.8 + 0.02 * math.sin(i), 0.43 + 0.02 * math.cos(1.3 * i)) for i in range(30)]
    old_rule = DivergenceGuard(min_history=10, min_ratio_grad=None)
    feed(old_rule, history)
    assert old_rule.check(31, 1.8, 1.15).cause == "grad_spike"  # z-score alone: stopped a healthy trial
    guard = DivergenceGuard(min_history=10)
    feed(guard, history)
    assert zscore(1.15, guard.grad_norms) > 20
    assert guard.check(31, 1.8, 1.15).ok and guard.check(32, 2.6, 0.45).ok  # loss 1.44 x: under 1.5 x
    assert 1.15 not in guard.grad_norms and 2.6 not in guard.losses  # outliers stay out of the window
    assert guard.check(33, 1.8, 1.25).ok and guard.check(34, 1.8, 1.2).cause is None  # 2.9 x, 2.8 x
    assert guard.check(35, 1.8, 1.5).cause == "grad_spike"  # 3.5 x the healthy mean: a real spike


def test_noisy_but_healthy_small_batch_run_is_never_flagged():
    """300 steps of batch-of-4-like noise: decreasing loss with +-25% jitter, heavy-tailed grad norms."""
    rng = random.Random(0)
    seq = [((2.5 * 0.997**i + 0.6) * rng.uniform(0.75, 1.25), 0.45 * rng.lognormvariate(0.0, 0.28))
           for i in range(300)]
    assert max(g for _, g in seq) > 2.5 * sum(g for _, g in seq) / len(seq)  # the demo's kind of outlier
    guard = DivergenceGuard(min_history=10)
    assert first_bad(feed(guard, seq)) is None
    assert len(guard.grad_norms) == 128 and guard.skips == 0 and guard.first_bad_step is None


# --- outliers stay out of the window: slow ramps ------------------------------------------------
def grad_ramp() -> list[tuple[float, float]]:
    """40 healthy steps (grad ~1.0 +- 0.1), then the grad norm grows 4% a step: a slow blow-up."""
    rng = random.Random(1)
    healthy = [(2.0, rng.uniform(0.9, 1.1)) for _ in range(40)]
    return healthy + [(2.0, rng.uniform(0.97, 1.03) * 1.04**i) for i in range(1, 120)]


def test_slow_grad_ramp_is_caught_against_the_healthy_history():
    seq = grad_ramp()
    step, verdict = first_bad(feed(DivergenceGuard(min_history=20), seq))
    assert (verdict.cause, verdict.rule) == ("grad_spike", "zscore") and verdict.ratio > 3.0
    assert 40 < step < 80 and seq[step - 1][1] > 3.0
    # Without the outlier hold-out the window climbs with the ramp and never calls it a spike.
    assert first_bad(feed(DivergenceGuard(min_history=20, outlier_zscore=None), seq)) is None


def test_slow_loss_ramp_is_caught_by_the_window_without_the_blowup_rule():
    rng = random.Random(2)
    seq = [(2.0 * rng.uniform(0.97, 1.03), 1.0) for _ in range(40)]
    seq += [(2.0 * 1.01**i * rng.uniform(0.99, 1.01), 1.0) for i in range(1, 200)]
    step, verdict = first_bad(feed(DivergenceGuard(min_history=20, blowup_factor=None), seq))
    assert (verdict.cause, verdict.rule) == ("loss_spike", "zscore") and seq[step - 1][0] > 3.0
    assert first_bad(feed(DivergenceGuard(min_history=20, blowup_factor=None, outlier_zscore=None), seq)) is None


# --- skip policy (unchanged) ----------------------------------------------------------------------
def test_skip_policy_is_bounded():
    guard = DivergenceGuard(policy="skip", max_skips=2)
    actions = [guard.check(s, math.nan, 1.0).action for s in (3, 5, 8)]
    assert actions == ["skip", "skip", "stop"]
    assert guard.skips == 2 and guard.first_bad_step == 3 and guard.first_bad_cause == "nonfinite_loss"


def test_skip_policy_with_zero_skips_stops():
    guard = DivergenceGuard(policy="skip", max_skips=0)
    assert guard.check(1, 2.0, math.inf).action == "stop"


def test_skipped_blowup_changes_neither_window_nor_reference():
    guard = DivergenceGuard(policy="skip", max_skips=1)
    feed(guard, [(2.0, 1.0), (2.1, 1.0)])
    skipped = guard.check(3, 50.0, 1.0)
    assert (skipped.action, skipped.cause, skipped.rule) == ("skip", "loss_spike", "blowup")
    assert guard.reference_losses == [2.0, 2.1] and list(guard.losses) == [2.0, 2.1]
    assert guard.check(4, 2.0, 1.0).ok and guard.check(5, 60.0, 1.0).action == "stop"
    assert guard.first_bad_step == 3


# --- checkpointing and configuration ---------------------------------------------------------------
def test_state_round_trip():
    guard = DivergenceGuard(policy="skip", window=8, min_history=3)
    feed(guard, noisy(5))
    guard.check(6, 2.0, 40.0)  # 40 x the grad-norm mean: a grad spike (skipped)
    guard.check(7, math.nan, 1.0)
    state = json.loads(json.dumps(guard.state_dict(), allow_nan=False))  # JSON-safe
    clone = DivergenceGuard(policy="skip", window=8, min_history=3)
    clone.load_state_dict(state)
    assert clone.state_dict() == guard.state_dict()
    assert list(clone.losses) == list(guard.losses) and clone.skips == 2 and clone.first_bad_step == 6
    assert clone.reference_losses == guard.reference_losses and clone.reference_loss == guard.reference_loss
    assert clone.first_bad_cause == "grad_spike"
    assert clone.check(8, 9.0, 1.0) == guard.check(8, 9.0, 1.0)  # same verdict: the blow-up rule, 4.5 x
    assert clone.check(9, 2.0, 2.5) == guard.check(9, 2.0, 2.5)  # same outlier hold-out
    assert clone.state_dict() == guard.state_dict()


def test_state_from_before_the_reference_loss_still_loads():
    guard = DivergenceGuard()
    guard.load_state_dict({"losses": [2.0, 2.1], "grad_norms": [1.0, 1.0], "skips": 0})
    assert guard.reference_losses == [] and guard.check(3, 2.0, 1.0).ok and guard.reference_losses == [2.0]


def test_from_config_and_bad_policy():
    from trainable.config import TrialConfig

    cfg = TrialConfig(nan_policy="skip", max_skips=5, spike_window=16, spike_min_history=4, spike_min_ratio_loss=2.0,
                      spike_min_ratio_grad=None, spike_outlier_zscore=4.0, loss_blowup_factor=3.0,
                      loss_reference_steps=3)
    guard = DivergenceGuard.from_config(cfg)
    assert (guard.policy, guard.max_skips, guard.window, guard.min_history) == ("skip", 5, 16, 4)
    assert (guard.min_ratio_loss, guard.min_ratio_grad, guard.outlier_zscore) == (2.0, None, 4.0)
    assert (guard.blowup_factor, guard.reference_steps) == (3.0, 3)
    default = DivergenceGuard.from_config(TrialConfig())
    assert (default.min_ratio_loss, default.min_ratio_grad, default.outlier_zscore) == (1.5, 3.0, 3.0)
    assert (default.blowup_factor, default.reference_steps, default.min_history) == (4.0, 5, 20)
    with pytest.raises(ValueError, match="policy"):
        DivergenceGuard(policy="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "key"),
    [({"spike_min_ratio_loss": 1.0}, "spike_min_ratio_loss"), ({"spike_min_ratio_grad": 0.5}, "spike_min_ratio_grad"),
     ({"spike_outlier_zscore": 0.0}, "spike_outlier_zscore"), ({"loss_blowup_factor": 1.0}, "loss_blowup_factor"),
     ({"loss_reference_steps": 0}, "loss_reference_steps")],
)
def test_bad_guard_settings_are_rejected_naming_the_key(changes, key):
    from trainable.base.errors import InputError
    from trainable.config import TrialConfig

    with pytest.raises(InputError, match=f"key .{key}."):
        TrialConfig.from_dict(changes)
    # and null switches each optional rule off
    if key != "loss_reference_steps":
        assert getattr(TrialConfig.from_dict({key: None}), key) is None
