"""Fixed shapes for compiled steps: zero-weight padding rows and width buckets change nothing, the step
graph's CPU path computes the plain step, and a whole trial (epoch boundary with a short step, evals)
compiles exactly once per bucket (dynamo, ``aot_eager``) with the NaN guard still catching its step."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests.trainable_tests.trial_helpers import tiny_config
from trainable.data.batching import bucket_for, pad_to_shape, width_buckets
from trainable.training.reporting import ListReporter
from trainable.trial import run_trial


def test_width_buckets_double_up_to_max_seq_len() -> None:
    assert width_buckets(2048) == (64, 128, 256, 512, 1024, 2048)
    assert width_buckets(300) == (64, 128, 256, 300)
    assert width_buckets(64) == (64,) and width_buckets(40) == (40,)
    assert bucket_for(65, width_buckets(256)) == 128 and bucket_for(64, width_buckets(256)) == 64
    with pytest.raises(ValueError, match="exceeds"):
        bucket_for(257, width_buckets(256))


@pytest.fixture(scope="module")
def fp32_lora(tiny_assets: Any) -> tuple[Any, list[Any]]:
    """The tiny model in float32 with LoRA (dropout off, B non-zero so every LoRA weight gets a gradient)
    and 5 training examples of different lengths."""
    import torch

    from trainable.data.prompting import build_examples
    from trainable.model.loading import add_lora, load_base_model
    from trainable.testing.tiny_assets import sample_pairs

    torch.manual_seed(0)
    model, tokenizer = load_base_model(str(tiny_assets.model_dir), quantization="bf16", dtype="float32")
    model = add_lora(model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
    examples, _ = build_examples(tokenizer, sample_pairs()[:5], masking="weighted", prompt_loss_weight=0.3)
    return model, examples


def _loss_and_grads(model: Any, batches: list[dict[str, Any]]) -> tuple[float, list[Any]]:
    from trainable.training.train_step import StepOptions, accumulate_step

    model.zero_grad(set_to_none=True)
    loss, _ = accumulate_step(model, batches, StepOptions(), "cpu")
    return float(loss), [p.grad.clone() for p in model.parameters() if p.requires_grad]


def test_zero_weight_rows_and_wider_buckets_change_neither_loss_nor_gradients(fp32_lora: Any) -> None:
    import torch

    from trainable.data.batching import real_tokens
    from trainable.data.prompting import collate

    model, examples = fp32_lora
    plain = collate(examples[:3], 0)
    padded = pad_to_shape(plain, 8, 128, 0)
    assert padded["input_ids"].shape == (8, 128) and real_tokens(padded) == real_tokens(plain)
    assert padded["attention_mask"][3:].all()  # dummy rows are whole sequences: never a fully masked row
    loss_a, grads_a = _loss_and_grads(model, [plain])
    loss_b, grads_b = _loss_and_grads(model, [padded])
    assert loss_b == pytest.approx(loss_a, rel=1e-6)
    for a, b in zip(grads_a, grads_b, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("chunked", [False, True])
def test_step_graph_cpu_path_matches_the_plain_step(fp32_lora: Any, chunked: bool) -> None:
    """StepGraph's fixed-shape step (run eagerly on CPU: no capture) gives the plain step's loss, pre-clip
    norm and clipped update; a third, all-dummy micro-batch (a short step) adds nothing."""
    import torch

    from trainable.data.prompting import collate
    from trainable.training.step_graph import StepGraph
    from trainable.training.train_step import StepOptions, collate_step

    model, examples = fp32_lora
    params = [p for p in model.parameters() if p.requires_grad]
    start = [p.detach().clone() for p in params]
    micro = [examples[:3], examples[3:5]]

    loss_a, _ = _loss_and_grads(model, [collate(mb, 0) for mb in micro])
    norm_a = float(torch.nn.utils.clip_grad_norm_(params, max_norm=0.01))
    torch.optim.SGD(params, lr=1.0).step()
    after_a = [p.detach().clone() for p in params]

    with torch.no_grad():
        for p, s in zip(params, start, strict=True):
            p.copy_(s)
    opts = StepOptions(chunked_loss=chunked, fixed_rows=4, width_buckets=width_buckets(256))
    graph = StepGraph(model, torch.optim.SGD(params, lr=1.0), params, opts, device="cpu", accum=3, grad_clip=0.01)
    batches = collate_step(micro, 0, opts)
    longest = max(len(e.input_ids) for e in examples)
    assert {tuple(b["input_ids"].shape) for b in batches} == {(4, bucket_for(longest, width_buckets(256)))}
    loss_b, norm_b = graph.gradients(batches)
    graph.update()
    assert float(loss_b) == pytest.approx(loss_a, rel=1e-5) and float(norm_b) == pytest.approx(norm_a, rel=1e-5)
    for a, p in zip(after_a, params, strict=True):
        assert torch.allclose(a, p, rtol=1e-5, atol=1e-7)
    nan_loss, _ = graph.gradients(batches, loss_factor=float("nan"))
    _, nan_norm = graph.gradients(batches, grad_add=float("nan"))
    assert torch.isnan(nan_loss) and torch.isnan(nan_norm)


@pytest.mark.integration
def test_a_whole_trial_compiles_once_per_width_bucket(tiny_assets: Any, monkeypatch: Any) -> None:
    """Regional compile (``dynamic=False``, backend aot_eager) over 6 steps of 2 micro-batches of 4: 18
    examples, so each epoch ends on a 2-example micro-batch (padded to 4 rows) and the trial crosses two
    epoch boundaries; evals at steps 3 and 6 run uncompiled. Dynamo compiles once per width bucket used."""
    import torch
    from torch._dynamo.backends.registry import lookup_backend

    import trainable.training.train_step as train_step

    compiled_graphs: list[Any] = []

    def counting_aot_eager(gm: Any, example_inputs: Any) -> Any:
        compiled_graphs.append(gm)
        return lookup_backend("aot_eager")(gm, example_inputs)

    original = train_step.compile_decoder_layers
    monkeypatch.setattr(train_step, "compile_decoder_layers", functools.wraps(original)(
        lambda model, **kw: original(model, **{**kw, "backend": counting_aot_eager})))
    torch._dynamo.reset()
    reporter = ListReporter()
    cfg = tiny_config(tiny_assets, compile=True, lora_dropout=0.0, batch_size=4, grad_accum=2, micro_batch_size=None,
                      train_samples=18, epochs=3, max_steps=6, eval_every=3, eval_samples=4, max_new_tokens=4,
                      comet_model="none", objectives=["chrf_pp", "term_acc"])
    run_trial(cfg, reporter)
    first, final = reporter.reports
    assert final["step"] == 6 and final["epoch"] > 2.0 and final["compile_mode"] == "default"
    assert final["train_shapes"] == 2  # both buckets (64 and 128 wide) of 4 rows: the data hits both
    assert final["compilations"] == len(compiled_graphs) == final["train_shapes"]
    assert first["compilations"] <= final["compilations"]

    # The NaN guard with compile on: a NaN loss injected at step 2 stops the trial at step 2 (the compiled
    # code is reused from above: same shapes, so no new compilation).
    nan = ListReporter()
    run_trial(cfg.replace(inject_fault_step=2, inject_fault_kind="nan_loss"), nan)
    assert nan.final["diverged_step"] == 2 and nan.final["divergence_cause"] == "nonfinite_loss"
    assert nan.final["step"] == 1 and len(compiled_graphs) == 2
