"""Training rows: the trial's step code with a spec's levers, timed; a profile of one fast-path step."""

from __future__ import annotations

import time
from typing import Any

from .device import peak_gib, reset_peak, sync
from .model import step_batches
from .specs import PROFILE_ROW, Bench, Row, TrainSpec, train_specs


class Trainer:
    """A LoRA model, its optimizer and the trial's step code, with the levers of a spec."""

    def __init__(self, model: Any, spec: TrainSpec, device: str, *, compile_backend: str = "inductor") -> None:
        from trainable.training.train_step import StepOptions, compile_decoder_layers, make_adamw

        self.model, self.spec, self.device = model, spec, device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_adamw(self.params, lr=1e-4, weight_decay=0.0, fused=spec.fused, device=device)
        self.opts = StepOptions(packed=spec.packed, chunked_loss=spec.chunked,
                                pad_to_multiple_of=spec.width if spec.compile else 1,
                                cudagraphs=spec.compile_mode == "reduce-overhead" and device.startswith("cuda"),
                                padding_mask=spec.padding_mask)
        if spec.compile:
            compile_decoder_layers(model, backend=compile_backend, mode=spec.compile_mode)

    def step(self, micro_batches: list[list[Any]]) -> int:
        """One optimizer step as the trial does it (loss and grad norm read back every step)."""
        import torch

        from trainable.training.train_step import accumulate_step, collate_step

        batches = collate_step(micro_batches, 0, self.opts)
        loss, tokens = accumulate_step(self.model, batches, self.opts, self.device)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm=0.1)
        self.last = (float(loss), float(grad_norm))  # the divergence guard needs both on the host every step
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return tokens


class StepGraphTrainer:
    """The trial's ``compile: step-graph`` step (``trainable.training.step_graph``: fixed shapes, forward + backward +
    clip captured per width bucket, the fused AdamW update captured once; eager on a CPU), fast-path levers."""

    def __init__(self, model: Any, device: str, *, micro: int, seq: int, chunked: bool = True) -> None:
        from trainable.data.batching import width_buckets
        from trainable.training.step_graph import StepGraph
        from trainable.training.train_step import StepOptions, make_adamw

        self.model, self.device = model, device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_adamw(self.params, lr=1e-4, weight_decay=0.0, fused=True, device=device, capturable=True)
        self.opts = StepOptions(micro_batch_size=micro, chunked_loss=chunked, fixed_rows=micro,
                                width_buckets=width_buckets(seq))
        self.graph = StepGraph(model, self.optimizer, self.params, self.opts, device=device, accum=1, grad_clip=0.1)

    def step(self, micro_batches: list[list[Any]]) -> int:
        """One step; the raw loss and pre-clip norm are read back (as the guard does) before the update."""
        import math

        from trainable.data.batching import real_tokens
        from trainable.training.train_step import collate_step

        batches = collate_step(micro_batches, 0, self.opts)
        loss, norm = self.graph.gradients(batches)
        self.last = (float(loss), float(norm))
        if math.isfinite(self.last[0]) and math.isfinite(self.last[1]):
            self.graph.update()
        return sum(real_tokens(b) for b in batches)


def measure_training(bench: Bench, model: Any, spec: TrainSpec, examples: list[Any], time_box: float) -> Row:
    """Warm up (compile included), then time up to ``bench.steps`` steps within ``time_box`` seconds."""
    reset_peak(bench.device)
    steps = step_batches(examples, spec)
    backend = "eager" if bench.smoke else "inductor"
    t_start = time.perf_counter()
    if spec.graph:
        from .graph_step import GraphTrainer

        trainer: Any = GraphTrainer(model, spec, bench.device)
    else:
        trainer = Trainer(model, spec, bench.device, compile_backend=backend)
    warm_steps = steps[:2]
    if spec.compile:  # one warm-up step per padded width, so no (re)compilation lands in the timed steps
        widths: dict[int, Any] = {}
        for mb in steps:
            widths.setdefault(-(-max(len(e.input_ids) for m in mb for e in m) // spec.width), mb)
        warm_steps = list(widths.values())[:12]
    warm = len(warm_steps)
    if spec.compile_mode == "reduce-overhead":
        warm_steps = warm_steps * 3  # CUDA graphs are recorded on a later call than the compile
    for mb in warm_steps:
        trainer.step(mb)
    sync(bench.device)
    warm_s = time.perf_counter() - t_start
    tokens, n, t0 = 0, 0, time.perf_counter()
    for mb in steps[warm:]:
        tokens += trainer.step(mb)
        n += 1
        sync(bench.device)
        if n >= bench.steps or time.perf_counter() - t0 > time_box:
            break
    elapsed = time.perf_counter() - t0
    del trainer
    return Row(spec.name, train_values(bench, tokens, n, elapsed, warm_s), spec.note)


def train_values(bench: Bench, tokens: int, n_steps: int, elapsed: float, warm_s: float | None = None) -> dict[str, Any]:
    tok_s = tokens / elapsed if elapsed > 0 else 0.0
    values: dict[str, Any] = {"tok/s": tok_s, "step ms": 1000 * elapsed / max(n_steps, 1),
                              "peak GiB": peak_gib(bench.device)}
    if bench.peak_tflops:
        values["% peak (6N)"] = 100 * 6 * bench.n_params * tok_s / (bench.peak_tflops * 1e12)
    if warm_s is not None:
        values["warm-up s"] = warm_s
    return values


def measure_profile(bench: Bench, model: Any, examples: list[Any]) -> Row:
    """Where a fast-path step's time goes: wall time vs GPU kernel time (torch.profiler), kernels per step."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    spec = train_specs()[2]
    steps = step_batches(examples, spec)
    trainer = Trainer(model, spec, bench.device)
    for mb in steps[:3]:
        trainer.step(mb)
    sync(bench.device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if bench.device.startswith("cuda") else [])
    n = 3
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for mb in steps[3 : 3 + n]:
            trainer.step(mb)
        sync(bench.device)
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    gpu = [e for e in events if e.device_type == DeviceType.CUDA]
    gpu_us = sum(e.self_device_time_total for e in gpu)
    top = sorted(gpu, key=lambda e: e.self_device_time_total, reverse=True)[:4]
    note = "top kernels: " + "; ".join(f"{e.key[:40]} {e.self_device_time_total / 1e3 / n:.1f} ms" for e in top)
    return Row(PROFILE_ROW, {"step ms": 1000 * wall / n, "GPU busy %": 100 * gpu_us / 1e6 / wall,
                             "kernels/step": sum(e.count for e in gpu) / n}, note if top else "no CUDA events")
