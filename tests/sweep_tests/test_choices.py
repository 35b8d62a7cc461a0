"""Each set of allowed names is defined once (sweep/choices.py) and every implementation accepts all of it."""

from __future__ import annotations

import typing

import pytest

from sweep.choices import RETENTIONS, SAMPLERS, TIE_BREAKS, WANDB_MODES
from sweep.config import SchedulerConfig, SweepConfig, WandbConfig


def test_config_fields_use_the_one_definition() -> None:
    hints = {**typing.get_type_hints(SweepConfig), **typing.get_type_hints(SchedulerConfig)}
    assert typing.get_args(hints["sampler"]) == SAMPLERS
    assert typing.get_args(hints["tie_break"]) == TIE_BREAKS
    assert typing.get_args(hints["retention"]) == RETENTIONS
    assert set(WANDB_MODES) <= set(typing.get_args(typing.get_args(typing.get_type_hints(WandbConfig)["mode"])[0]))


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_name_builds_a_sampler(name: str) -> None:
    import optuna

    from sweep.study import make_sampler

    assert isinstance(make_sampler(name, seed=0, population_size=4), optuna.samplers.BaseSampler)


@pytest.mark.parametrize("tie_break", TIE_BREAKS)
def test_every_tie_break_runs_in_mo_asha(tie_break: str) -> None:
    from sweep.mo_asha import MOASHA, Decision

    core = MOASHA(["a", "b"], ["max", "max"], grace_steps=1, reduction_factor=2, max_steps=4, tie_break=tie_break)
    decisions = [core.on_result(f"t{i}", 1, {"a": float(i), "b": float(-i)}) for i in range(4)]
    assert set(decisions) <= {Decision.CONTINUE, Decision.STOP}
    assert SweepConfig(scheduler=SchedulerConfig(tie_break=tie_break)).scheduler.tie_break == tie_break


@pytest.mark.parametrize("mode", WANDB_MODES)
def test_every_wandb_mode_resolves(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sweep.wandb_logging import resolve_mode

    monkeypatch.setenv("WANDB_API_KEY", "")
    monkeypatch.setenv("NETRC", "/nonexistent")
    assert resolve_mode(mode) in ("online", "offline", "off")
    assert WandbConfig(mode=mode).mode == mode


def test_trial_name_sets_are_the_implementations() -> None:
    from trainable.config import TrialConfig
    from trainable.data.prompting import MASKING_MODES
    from trainable.model.loading import QUANTIZATIONS

    hints = typing.get_type_hints(TrialConfig)
    assert typing.get_args(hints["masking"]) == MASKING_MODES
    assert typing.get_args(hints["quantization"]) == QUANTIZATIONS
