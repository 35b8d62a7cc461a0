"""Each speed lever leaves the trial's loss curve and eval outputs unchanged against the plain path.

Tiny model on CPU, LoRA dropout off (dropout draws would differ with the batch layout), 6 optimizer
steps of 4 x 2 sequences, evals after steps 3 and 6 on 8 dev pairs.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests.trainable_tests.trial_helpers import tiny_config
from trainable.training.reporting import ListReporter
from trainable.trial import run_trial

pytestmark = pytest.mark.integration
BASE: dict[str, Any] = {"lora_dropout": 0.0, "batch_size": 4, "grad_accum": 2, "max_steps": 6, "eval_every": 3,
                        "eval_samples": 8, "max_new_tokens": 12, "train_samples": 64,
                        # the plain path (every lever off; the defaults turn some on)
                        "micro_batch_size": None, "chunked_loss": False, "compile": False, "eval_batch_size": 64}
EVAL_KEYS = ("bleu_char", "chrf_pp", "len_ratio", "term_acc", "comet")


def _run(tiny_assets: Any, **overrides: Any) -> list[dict[str, Any]]:
    reporter = ListReporter()
    run_trial(tiny_config(tiny_assets, **{**BASE, **overrides}), reporter)
    return reporter.reports


def _assert_same(got: list[dict[str, Any]], want: list[dict[str, Any]], *, loss_rel: float = 2e-3,
                 eval_abs: float | dict[str, float] = 1e-6) -> None:
    assert [r["step"] for r in got] == [r["step"] for r in want] == [3, 6]
    for g, w in zip(got, want, strict=True):
        assert g["tokens_seen"] == w["tokens_seen"]
        assert g["loss"] == pytest.approx(w["loss"], rel=loss_rel)
        assert g["grad_norm"] == pytest.approx(w["grad_norm"], rel=20 * loss_rel)
        for key in EVAL_KEYS:
            if w[key] is None:
                assert g[key] is None
            else:
                tol = eval_abs[key] if isinstance(eval_abs, dict) else eval_abs
                assert g[key] == pytest.approx(w[key], abs=tol), key


@pytest.fixture(scope="module")
def plain(tiny_assets: Any) -> list[dict[str, Any]]:
    reports = _run(tiny_assets)
    assert reports[-1]["is_final"] and all(r[k] is not None for r in reports for k in ("loss", "comet", "bleu_char"))
    return reports


@pytest.mark.parametrize(
    "lever",
    [
        {"micro_batch_size": 8},  # 8 x 1 instead of 4 x 2: same effective batch
        {"chunked_loss": True},
        {"packed": True},
        {"fused_adamw": True},
        {"micro_batch_size": 8, "chunked_loss": True, "packed": True, "fused_adamw": True},
        {"padding_mask": False},  # right padding + causal attention: the mask changes nothing for real tokens
        {"padding_mask": False, "chunked_loss": True},
        # fixed shapes (zero-weight rows, width buckets) and the split step of compile: step-graph (CPU: no capture)
        {"compile": "step-graph"},
        {"compile": "step-graph", "chunked_loss": True, "micro_batch_size": 8, "padding_mask": False},
    ],
    ids=["micro_batch", "chunked_loss", "packed", "fused_adamw", "all_four", "no_padding_mask", "no_mask_chunked",
         "step_graph", "step_graph_chunked_mb8_no_mask"],
)
def test_lever_keeps_loss_curve_and_eval(tiny_assets: Any, plain: list[dict[str, Any]], lever: dict[str, Any]) -> None:
    _assert_same(_run(tiny_assets, **lever), plain)


def test_default_levers_keep_loss_curve_and_eval_within_noise(tiny_assets: Any, plain: list[dict[str, Any]]) -> None:
    """TrialConfig's default levers (micro-batch auto = 8 x 1, chunked loss; compile auto is off on CPU).

    Losses agree to bf16 rounding; the toy model's greedy decoding has near-ties that such rounding can
    flip, so eval metrics are compared within noise here (each lever alone matches exactly above).
    """
    got = _run(tiny_assets, micro_batch_size="auto", chunked_loss=True, compile="auto")
    noise = {"bleu_char": 0.5, "chrf_pp": 0.5, "len_ratio": 0.05, "term_acc": 0.05, "comet": 0.02}  # 8 pairs
    _assert_same(got, plain, eval_abs=noise)


def test_compile_keeps_loss_curve_and_eval(tiny_assets: Any, plain: list[dict[str, Any]], monkeypatch) -> None:
    import trainable.training.train_step as train_step

    calls = []
    original = train_step.compile_decoder_layers

    def aot_eager(model: Any, **kwargs: Any) -> int:  # the inductor C++ build is too slow for CI
        calls.append(1)
        return original(model, **{**kwargs, "backend": "aot_eager"})

    monkeypatch.setattr(train_step, "compile_decoder_layers", functools.wraps(original)(aot_eager))
    _assert_same(_run(tiny_assets, compile=True), plain)
    assert calls == [1]


def test_length_grouping_changes_only_the_order_within_a_step(tiny_assets: Any) -> None:
    # One step = the whole (16-example) training set, so grouping can only reorder within the step.
    whole = {"train_samples": 16, "batch_size": 4, "grad_accum": 4, "epochs": 6}
    # Other micro-batch partners mean other padded widths, so bf16 rounding differs (loss to ~1e-4): the
    # toy model's greedy outputs can flip on a near tie, hence a looser tolerance on the eval metrics.
    _assert_same(_run(tiny_assets, length_grouped=True, **whole), _run(tiny_assets, **whole), eval_abs=0.5)


def test_nf4_merged_eval_matches_unmerged(tiny_assets: Any) -> None:
    nf4 = {"quantization": "nf4", "max_steps": 3, "eval_every": 3}
    got, want = _run(tiny_assets, eval_merge_nf4=True, **nf4), _run(tiny_assets, **nf4)
    assert [r["loss"] for r in got] == [r["loss"] for r in want]  # training untouched
    for g, w in zip(got, want, strict=True):
        for key in ("bleu_char", "chrf_pp", "len_ratio"):  # bf16 rounding of W + BA may flip a near tie
            assert g[key] == pytest.approx(w[key], abs=2.0 if key != "len_ratio" else 0.05), key


def test_comet_service_gives_the_in_process_scores(tiny_assets: Any, plain: list[dict[str, Any]]) -> None:
    import ray
    import torch  # noqa: F401  (before ray.init)

    from trainable.eval.comet_service import stop_comet_services

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        got = _run(tiny_assets, comet_service=True)
        assert len(stop_comet_services()) == 1  # the trial really used the shared actor
    finally:
        ray.shutdown()
    _assert_same(got, plain)


def test_out_of_memory_step_is_rerun_in_half_size_micro_batches(tiny_assets: Any, plain: list[dict[str, Any]]) -> None:
    """A step that runs out of memory drops its partial gradients and runs again at half the micro-batch:
    same update (the loss is normalised by the whole step), so the same curve; a warning says so."""
    with pytest.warns(UserWarning, match="micro_batch_size halved to 4"):
        got = _run(tiny_assets, micro_batch_size=8, inject_fault_step=2, inject_fault_kind="oom")
    _assert_same(got, plain)
    assert all(not r["diverged"] for r in got) and got[-1]["stop_cause"] == "completed"


def test_out_of_memory_at_micro_batch_one_fails_the_trial(tiny_assets: Any) -> None:
    import torch

    with pytest.raises(torch.OutOfMemoryError, match="injected"):
        _run(tiny_assets, batch_size=1, grad_accum=1, micro_batch_size=None, inject_fault_step=2,
             inject_fault_kind="oom")


def _broken_backend(gm: Any, example_inputs: Any) -> Any:
    raise RuntimeError("no C compiler here (a broken compile backend)")


def test_auto_compile_that_fails_falls_back_to_eager(tiny_assets: Any, plain: list[dict[str, Any]], monkeypatch) -> None:
    """``compile: auto`` never breaks a trial: a failing compile warns and the trial runs on uncompiled."""
    import torch

    import trainable.training.train_step as train_step
    from trainable.config import TrialConfig

    original = train_step.compile_decoder_layers
    monkeypatch.setattr(TrialConfig, "resolved_compile", lambda self, device, steps: "default")  # as on CUDA
    monkeypatch.setattr(train_step, "compile_decoder_layers",
                        lambda model, **kw: original(model, **{**kw, "backend": _broken_backend}))
    torch._dynamo.reset()
    with pytest.warns(UserWarning, match="compile: auto failed"):
        got = _run(tiny_assets, compile="auto")
    _assert_same(got, plain)


def test_explicit_compile_that_fails_fails_the_trial(tiny_assets: Any, monkeypatch) -> None:
    import torch

    import trainable.training.train_step as train_step

    original = train_step.compile_decoder_layers
    monkeypatch.setattr(train_step, "compile_decoder_layers",
                        lambda model, **kw: original(model, **{**kw, "backend": _broken_backend}))
    torch._dynamo.reset()
    with pytest.raises(torch._dynamo.exc.BackendCompilerFailed, match="no C compiler"):
        _run(tiny_assets, compile=True)
