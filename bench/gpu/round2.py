"""Parts of ``bench/gpu_round2.py``: the step graph against eager, trials fused over one base, CUDA MPS, COMET
precision (bf16 vs fp32 scores) and an eval whose generation and COMET scoring overlap."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .configs import LORA_TARGETS, TINY_XLMR, XLMR_LARGE
from .device import peak_gib, reset_peak, sync
from .model import load_lora_model, step_batches
from .specs import DEV_PAIRS, Bench, TrainSpec
from .training import StepGraphTrainer, Trainer, train_values

FAST = dict(quant="bf16", accum=1, fused=True, grouped=True, chunked=True)


def check_step_graph(bench: Bench, examples: list[Any], steps: int) -> dict[str, Any]:
    """Same LoRA start, same steps (dropout off): eager fast path vs the step graph; largest relative
    difference of the losses and pre-clip grad norms the guard reads."""
    import torch

    spec = TrainSpec("check", micro=32, **FAST)
    runs = []
    for graph in (False, True):
        torch.manual_seed(0)
        model = load_lora_model(bench, "bf16")
        model.eval()  # dropout off: both compute the same function
        trainer: Any = (StepGraphTrainer(model, bench.device, micro=32, seq=bench.seq) if graph
                        else Trainer(model, spec, bench.device))
        seen = []
        for mb in step_batches(examples, spec)[:steps]:
            trainer.step(mb)
            seen.append(trainer.last)
        runs.append(seen)
        del model, trainer
    (eager, graph) = runs
    rel = [(abs(g[0] - e[0]) / abs(e[0]), abs(g[1] - e[1]) / abs(e[1])) for e, g in zip(eager, graph, strict=True)]
    return {"steps": float(len(rel)), "max rel diff loss": max(r[0] for r in rel),
            "max rel diff grad": max(r[1] for r in rel)}


def measure_step_graph(bench: Bench, examples: list[Any], micro: int, time_box: float) -> dict[str, Any]:
    """tok/s of the step graph at ``micro`` rows (warm-up = first step per width bucket: the captures)."""
    reset_peak(bench.device)
    spec = TrainSpec("graph", micro=micro, **FAST)
    steps = step_batches(examples, spec)
    t0 = time.perf_counter()
    trainer = StepGraphTrainer(load_lora_model(bench, "bf16"), bench.device, micro=micro, seq=bench.seq)
    for mb in steps[:3]:
        trainer.step(mb)
    sync(bench.device)
    warm = time.perf_counter() - t0
    tokens, n, t1 = 0, 0, time.perf_counter()
    for mb in steps[3:]:
        tokens += trainer.step(mb)
        n += 1
        if time.perf_counter() - t1 > time_box:
            break
    sync(bench.device)
    values = train_values(bench, tokens, n, time.perf_counter() - t1, warm)
    values["graphs captured"] = float(trainer.graph.captures)
    return values


def measure_fused(bench: Bench, examples: list[Any], k: int, micro: int, time_box: float) -> dict[str, Any]:
    """k trials fused in one process over one frozen bf16 base (``fused_trials``): aggregate tok/s."""
    import torch

    from trainable.data.batching import pad_to_shape, real_tokens, width_buckets
    from trainable.data.prompting import collate
    from trainable.model.loading import load_base_model

    from .fused_trials import FusedTrials

    reset_peak(bench.device)
    base, _ = load_base_model(str(bench.model_dir), quantization="bf16", device=bench.device)
    fused = FusedTrials(base, k=k, r=bench.lora_r, alpha=bench.lora_r, targets=LORA_TARGETS,
                        lrs=[1e-4 * (i + 1) for i in range(k)])
    width = width_buckets(bench.seq)[-1]
    rng = random.Random(0)
    ok = torch.ones(k, dtype=torch.bool, device=bench.device)

    def step() -> int:
        chosen = [rng.sample(examples, micro) for _ in range(k)]
        batches = [pad_to_shape(collate(c, 0), micro, width, 0) for c in chosen]
        dev = [{key: v.to(bench.device) for key, v in b.items()} for b in batches]
        losses, norms = fused.gradients(dev)
        finite = torch.isfinite(losses) & torch.isfinite(norms)  # the guard's inputs, one host read for all k
        fused.update(ok & finite)
        return sum(real_tokens(b) for b in batches)

    t0 = time.perf_counter()
    step()
    sync(bench.device)
    warm = time.perf_counter() - t0
    tokens, n, t1 = 0, 0, time.perf_counter()
    while time.perf_counter() - t1 < time_box:
        tokens += step()
        n += 1
    sync(bench.device)
    values = train_values(bench, tokens, n, time.perf_counter() - t1, warm)
    peak = peak_gib(bench.device)
    values["per trial GiB"] = peak / k if peak is not None else None
    return values


@contextmanager
def mps_daemon() -> Iterator[dict[str, str] | None]:
    """A CUDA MPS control daemon in a private pipe/log directory for the block (None when unavailable);
    the workers get its directories in their environment. Stopped (``quit``) at the end."""
    control = shutil.which("nvidia-cuda-mps-control")
    if control is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="mtsweep-mps-") as tmp:
        env = {"CUDA_MPS_PIPE_DIRECTORY": f"{tmp}/pipe", "CUDA_MPS_LOG_DIRECTORY": f"{tmp}/log"}
        for d in env.values():
            os.makedirs(d)
        started = subprocess.run([control, "-d"], env={**os.environ, **env}, capture_output=True, timeout=30)
        if started.returncode != 0:
            yield None
            return
        try:
            yield env
        finally:
            subprocess.run([control], input=b"quit\n", env={**os.environ, **env}, capture_output=True, timeout=30)


class CometShaped:
    """XLM-R-large encoder (random weights; or tiny) + layer mix + mean pooling + a fixed random head, scaled
    so fp32 scores have COMET's spread (~0.1): precision and overlap are measured on its scores."""

    def __init__(self, bench: Bench, dtype_name: str) -> None:
        import torch
        from transformers import XLMRobertaConfig, XLMRobertaModel

        self.bench, self.dtype = bench, getattr(torch, dtype_name)
        self.config = XLMRobertaConfig(**(TINY_XLMR if bench.smoke else XLMR_LARGE))
        torch.manual_seed(0)
        model = XLMRobertaModel(self.config, add_pooling_layer=False).to(bench.device)
        self.model = model.to(self.dtype).eval()
        gen = torch.Generator().manual_seed(1)
        self.head = torch.randn(3 * self.config.hidden_size, generator=gen).to(bench.device)
        self.scale = 1.0

    def embed(self, ids: Any, mask: Any) -> Any:
        hidden = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        mixed = sum(hidden) / len(hidden)
        return ((mixed * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).float()

    def scores(self, segments: list[tuple[Any, Any, Any]], batch: int) -> Any:
        """One score per (src, mt, ref) triple of token tensors."""
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(segments), batch):
                chunk = segments[start : start + batch]
                parts = []
                for j in range(3):
                    width = max(len(c[j]) for c in chunk)
                    ids = torch.full((len(chunk), width), self.config.pad_token_id, device=self.bench.device)
                    mask = torch.zeros_like(ids)
                    for row, c in enumerate(chunk):
                        ids[row, : len(c[j])] = c[j]
                        mask[row, : len(c[j])] = 1
                    parts.append(self.embed(ids, mask))
                out.append(torch.cat(parts, dim=1) @ self.head * self.scale)
        return torch.cat(out)


def dev_segments(bench: Bench, n_pairs: int) -> list[tuple[Any, Any, Any]]:
    """``n_pairs`` (src, mt, ref) token tensors with lengths ~ N(40, 15), length-sorted as COMET batches them."""
    import torch

    rng = random.Random(0)
    vocab = TINY_XLMR["vocab_size"] if bench.smoke else XLMR_LARGE["vocab_size"]

    def seg() -> Any:
        n = int(min(160, max(4, rng.gauss(40, 15))))
        return torch.tensor([rng.randrange(5, vocab) for _ in range(n)], device=bench.device)

    triples = [(seg(), seg(), seg()) for _ in range(n_pairs)]
    return sorted(triples, key=lambda t: -max(len(x) for x in t))


def comet_precision(bench: Bench, n_pairs: int) -> dict[str, Any]:
    """bf16 vs fp32 scores of the COMET-shaped scorer over a dev-sized set: system-level (mean) and worst
    segment difference, and each precision's full-dev seconds. bf16 is acceptable only at <= 0.001."""
    segments = dev_segments(bench, n_pairs)
    fp32 = CometShaped(bench, "float32")
    raw = fp32.scores(segments, 64)
    fp32.scale = 0.1 / float(raw.std())
    values: dict[str, Any] = {}
    results = {}
    for name, scorer, batch in (("fp32", fp32, 64), ("bf16", CometShaped(bench, "bfloat16"), 256)):
        scorer.scale = fp32.scale
        scorer.scores(segments[:batch], batch)  # warm-up
        sync(bench.device)
        t0 = time.perf_counter()
        results[name] = scorer.scores(segments, batch)
        sync(bench.device)
        values[f"{name} full-dev s"] = (time.perf_counter() - t0) * DEV_PAIRS / n_pairs
    diff = (results["bf16"] - results["fp32"]).abs()
    values["system diff"] = abs(float(results["bf16"].mean() - results["fp32"].mean()))
    values["max segment diff"] = float(diff.max())
    return values


def eval_overlap(bench: Bench, n_pairs: int, chunk: int, dtype_name: str) -> dict[str, Any]:
    """A full-dev eval: greedy generation (merged bf16 LoRA model, ``chunk`` segments per batch) then COMET,
    sequentially, vs COMET of chunk i scored on a second CUDA stream in a thread while chunk i+1 generates."""
    import torch

    model = load_lora_model(bench, "bf16")
    merged = model.merge_and_unload().eval()
    scorer = CometShaped(bench, dtype_name)
    segments = dev_segments(bench, n_pairs)
    prompt = torch.randint(10, merged.config.vocab_size, (chunk, bench.prompt_len), device=bench.device)
    new = 8 if bench.smoke else bench.new_tokens

    def generate() -> None:
        with torch.inference_mode():
            merged.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new,
                            min_new_tokens=new, do_sample=False, pad_token_id=0)

    chunks = [segments[s : s + chunk] for s in range(0, len(segments), chunk)]
    generate()
    scorer.scores(chunks[0], 256)
    sync(bench.device)
    t0 = time.perf_counter()
    for c in chunks:
        generate()
        scorer.scores(c, 256)
    sync(bench.device)
    sequential = time.perf_counter() - t0

    stream = torch.cuda.Stream() if bench.device.startswith("cuda") else None
    t0 = time.perf_counter()
    worker: threading.Thread | None = None
    for c in chunks:
        generate()
        if worker is not None:
            worker.join()

        def score(part: list[Any] = c) -> None:
            if stream is None:
                scorer.scores(part, 256)
                return
            with torch.cuda.stream(stream):
                scorer.scores(part, 256)
            stream.synchronize()

        worker = threading.Thread(target=score)
        worker.start()
    if worker is not None:
        worker.join()
    sync(bench.device)
    overlapped = time.perf_counter() - t0
    scale = DEV_PAIRS / n_pairs
    return {"sequential full-dev s": sequential * scale, "overlapped full-dev s": overlapped * scale,
            "chunks": float(len(chunks))}
