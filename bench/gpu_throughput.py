"""GPU throughput of one mtsweep trial: training levers, eval generation, trials sharing the GPU.

Run on the GPU machine in one call (< 5 minutes, no hub access needed)::

    python bench/gpu_throughput.py                  # Qwen2.5-0.5B-shaped model, random weights
    python bench/gpu_throughput.py --cpu-smoke      # the same items on a tiny model on CPU, in seconds

The lent H100/H200 image has torch/transformers/peft but no bitsandbytes (NF4 rows): carry the wheel
kept, git-ignored, in ``build/gpu_wheels/`` (``pip download --no-deps --only-binary=:all: --python-version
3.12 --platform manylinux_2_24_x86_64 -d build/gpu_wheels bitsandbytes==0.50.2``; 43 MB), i.e. one
device call with ``carry=["build/gpu_wheels"]``, ``timeout_s=420`` and the command::

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site build/gpu_wheels/*.whl \
      && export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 && set -o pipefail \
      && python3 bench/gpu_throughput.py --json $OUT/bench.json 2>&1 | tee $OUT/bench.txt

It builds a Qwen2.5-0.5B-shaped model from its public config values with random weights, saves it to a
temporary directory and loads it through the trial's own loader (``trainable.model_loading``: NF4 or
bf16, then LoRA r16 on all linear layers), feeds synthetic token-id examples (lengths drawn around 60%
of ``--seq``, full-sequence loss) and runs the trial's own step code (``trainable.train_step``). It
prints ONE table:

- training rows: real (non-padding) tokens/s, ms per optimizer step, peak GPU memory, and % of the
  chip's bf16 dense peak counted as ``6 * N * tokens / time`` (N = all base parameters; a frozen-base LoRA
  step does ~4N, so ~67% is the practical ceiling of this measure). The reference configuration (NF4,
  micro-batch 8 x accumulation 4, plain AdamW), TrialConfig's defaults and the fast path run side by side,
  then one lever at a time against the row before it;
- eval rows: greedy generation new-tokens/s (60 new tokens each, no early stop) and the projected
  seconds of a full dev eval (2,668 pairs) for unmerged vs merged LoRA at batch 256 / 1024 (NF4 merged =
  ``trainable.nf4_merge.dequantized_merged_copy``: dequantized base + LoRA in one bf16 model);
- sharing rows: aggregate training tokens/s of 1, 2, 4, 8 trial processes (fast path) on one GPU.

Every item is time-boxed against ``--budget-s``; an item that would not fit is skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Qwen/Qwen2.5-0.5B-Instruct config.json (public values).
QWEN25_05B = {
    "vocab_size": 151936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "attention_dropout": 0.0,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "max_window_layers": 21,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
TINY = {**QWEN25_05B, "vocab_size": 3000, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 2048,
        "bos_token_id": None, "eos_token_id": 2}
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEV_PAIRS = 2668
# bf16 dense peak TFLOP/s (no sparsity), by device-name substring, first match wins.
PEAK_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H200", 989.4), ("H100", 989.4), ("GH200", 989.4),
               ("A100", 312.0), ("L40S", 362.0))


@dataclass(frozen=True)
class TrainSpec:
    """One training row: the levers it turns on."""

    name: str
    quant: str = "nf4"
    micro: int = 8
    accum: int = 4
    fused: bool = False
    grouped: bool = False
    packed: bool = False
    chunked: bool = False
    compile: bool = False
    compile_mode: str | None = None
    width: int = 16
    """Padded widths are rounded up to a multiple of this when compiling (``--seq``: one fixed shape)."""
    note: str = ""


def train_specs() -> list[TrainSpec]:
    """Reference, TrialConfig defaults, fast path, then one lever at a time (each vs the row before)."""
    from trainable.config import TrialConfig

    d = TrialConfig()
    micro = d.resolved_micro_batch_size() or d.batch_size
    mode = d.resolved_compile("cuda", SEED_STEPS)
    default = TrainSpec(
        "mtsweep TrialConfig defaults", quant=d.quantization, micro=micro, accum=(d.batch_size * d.grad_accum) // micro,
        fused=d.fused_adamw in ("auto", True), grouped=d.length_grouped, chunked=d.chunked_loss,
        compile=mode is not None, compile_mode=None if mode == "default" else mode,
        width=64 if mode == "reduce-overhead" else 16, note="what a seed-equivalent trial runs without overrides",
    )
    fast = TrainSpec("mtsweep fast path", quant="bf16", micro=32, accum=1, fused=True, grouped=True, chunked=True,
                     note="bf16, mb32x1, fused, grouped, chunked CE")
    return [
        TrainSpec("reference NF4 mb8x4 AdamW", note="the reference configuration"),
        default,
        fast,
        TrainSpec("lever: + fused AdamW", fused=True, note="vs reference"),
        TrainSpec("lever: bf16 LoRA (not NF4)", quant="bf16", fused=True, note="vs + fused AdamW"),
        TrainSpec("lever: mb32x1 (no accumulation)", quant="bf16", micro=32, accum=1, fused=True, note="vs bf16"),
        TrainSpec("lever: mb64x1 (effective 64)", quant="bf16", micro=64, accum=1, fused=True, note="vs mb32x1"),
        TrainSpec("lever: NF4 mb32x1 fused", micro=32, accum=1, fused=True, note="vs + fused AdamW"),
        TrainSpec("lever: + length-grouped", quant="bf16", micro=32, accum=1, fused=True, grouped=True,
                  note="vs mb32x1"),
        TrainSpec("lever: + packed (padding-free)", quant="bf16", micro=32, accum=1, fused=True, packed=True,
                  note="vs mb32x1"),
        TrainSpec("lever: + chunked CE", quant="bf16", micro=32, accum=1, fused=True, grouped=True, chunked=True,
                  note="vs + length-grouped"),
        TrainSpec("lever: + torch.compile", quant="bf16", micro=32, accum=1, fused=True, grouped=True,
                  chunked=True, compile=True, note="vs + chunked CE (= fast path)"),
    ]


def probe_specs(seq: int) -> list[TrainSpec]:
    """Items beyond the table's first run (``--only``): larger micro-batches and CUDA graphs."""
    fast = dict(quant="bf16", accum=1, fused=True, grouped=True, chunked=True)
    return [
        TrainSpec("probe: fast path mb128x1", micro=128, note="vs fast path (effective batch 128)", **fast),
        TrainSpec("probe: fast path mb256x1", micro=256, note="vs fast path (effective batch 256)", **fast),
        TrainSpec("probe: compile reduce-overhead mb32", micro=32, compile=True, compile_mode="reduce-overhead",
                  width=seq, note="CUDA graphs per decoder layer, fixed width", **fast),
        TrainSpec("probe: compile reduce-overhead mb128", micro=128, compile=True, compile_mode="reduce-overhead",
                  width=seq, note="CUDA graphs per decoder layer, fixed width", **fast),
    ]


EVAL_SPECS = (  # (name, quant, merged, batch)
    ("eval: NF4 unmerged b256", "nf4", False, 256),
    ("eval: NF4 dequant-merged b1024", "nf4", True, 1024),
    ("eval: bf16 unmerged b256", "bf16", False, 256),
    ("eval: bf16 merged b256", "bf16", True, 256),
    ("eval: bf16 merged b1024", "bf16", True, 1024),
)
SHARE_COUNTS = (1, 2, 4, 8)


@dataclass
class Row:
    """One table row."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass
class Bench:
    """Settings and shared state of one run."""

    smoke: bool
    seq: int
    budget_s: float
    lora_r: int = 16
    new_tokens: int = 60
    prompt_len: int = 48
    steps: int = 6
    device: str = "cuda"
    t0: float = field(default_factory=time.perf_counter)
    model_dir: Path | None = None
    n_params: int = 0
    peak_tflops: float | None = None
    device_name: str = ""

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)


# ----------------------------------------------------------------------------- model + data
def build_model_dir(out: Path, config_values: dict[str, Any], device: str) -> int:
    """Save a random-weight Qwen2 model (bf16) + a small tokenizer to ``out``; returns the parameter count."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from trainable.tiny_model import build_tiny_tokenizer

    torch.manual_seed(0)
    config = Qwen2Config(**config_values)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out)
    texts = ["The quick brown fox jumps over the lazy dog.", "ファイルを保存します。"] * 8
    try:  # only the trial's loader needs one; the direct fallback loads without
        build_tiny_tokenizer(texts, vocab_size=300).save_pretrained(out)
    except Exception as err:  # another transformers major version on the GPU machine
        print(f"tokenizer not saved ({type(err).__name__}: {err}); the direct loader will be used", file=sys.stderr)
    del model
    return n_params


def load_lora_model(bench: Bench, quant: str) -> Any:
    """The trial's loading path: ``load_base_model`` + ``add_lora`` (r=16, all linear layers).

    Should that path fail on the GPU machine's library versions, the same model is loaded directly
    (``from_pretrained`` + NF4 ``BitsAndBytesConfig`` or bf16, then peft LoRA) and the run says so.
    """
    from trainable.model_loading import add_lora, load_base_model

    try:
        model, _ = load_base_model(str(bench.model_dir), quantization=quant, device=bench.device)
    except Exception as err:
        if quant == "nf4" and importlib.util.find_spec("bitsandbytes") is None:
            raise RuntimeError("bitsandbytes is not installed here (carry its wheel, see the docstring)") from None
        progress(bench, f"trial loader failed ({type(err).__name__}: {str(err)[:200]}); loading directly")
        model = _load_directly(bench, quant)
    model = add_lora(model, r=bench.lora_r, alpha=bench.lora_r, dropout=0.05, target_modules=LORA_TARGETS)
    model.train()
    return model


def _load_directly(bench: Bench, quant: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    if quant == "bf16":
        return AutoModelForCausalLM.from_pretrained(str(bench.model_dir), dtype=torch.bfloat16).to(bench.device)
    from transformers import BitsAndBytesConfig

    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
    return AutoModelForCausalLM.from_pretrained(str(bench.model_dir), dtype=torch.bfloat16, quantization_config=q,
                                                device_map={"": bench.device})


def synthetic_examples(n: int, seq: int, vocab: int, seed: int = 0) -> list[Any]:
    """``n`` examples, lengths ~ N(0.6 seq, 0.2 seq) clipped to [seq/8, seq], full-sequence loss."""
    from trainable.prompting import Example

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = int(min(seq, max(seq // 8, round(rng.gauss(0.6 * seq, 0.2 * seq)))))
        ids = [rng.randrange(10, vocab) for _ in range(length)]
        out.append(Example(ids, list(ids), [1.0] * length))
    return out


def step_batches(examples: list[Any], spec: TrainSpec, seed: int = 0) -> list[list[list[Any]]]:
    """Examples cut into optimizer steps of ``micro x accum`` micro-batches (random or length-grouped)."""
    from trainable.batching import length_grouped_order

    effective = spec.micro * spec.accum
    if spec.grouped:
        order = length_grouped_order([len(e.input_ids) for e in examples], effective, seed=seed)
    else:
        order = list(range(len(examples)))
        random.Random(seed).shuffle(order)
    steps = []
    for s in range(0, len(order) - effective + 1, effective):
        chunk = [examples[i] for i in order[s : s + effective]]
        steps.append([chunk[m : m + spec.micro] for m in range(0, effective, spec.micro)])
    return steps


# ----------------------------------------------------------------------------- training
class Trainer:
    """A LoRA model, its optimizer and the trial's step code, with the levers of a spec."""

    def __init__(self, model: Any, spec: TrainSpec, device: str, *, compile_backend: str = "inductor") -> None:
        from trainable.train_step import StepOptions, compile_decoder_layers, make_adamw

        self.model, self.spec, self.device = model, spec, device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_adamw(self.params, lr=1e-4, weight_decay=0.0, fused=spec.fused, device=device)
        self.opts = StepOptions(packed=spec.packed, chunked_loss=spec.chunked,
                                pad_to_multiple_of=spec.width if spec.compile else 1,
                                cudagraphs=spec.compile_mode == "reduce-overhead" and device.startswith("cuda"))
        if spec.compile:
            compile_decoder_layers(model, backend=compile_backend, mode=spec.compile_mode)

    def step(self, micro_batches: list[list[Any]]) -> int:
        """One optimizer step as the trial does it (loss and grad norm read back every step)."""
        import torch

        from trainable.train_step import accumulate_step, collate_step

        batches = collate_step(micro_batches, 0, self.opts)
        loss, tokens = accumulate_step(self.model, batches, self.opts, self.device)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm=0.1)
        self.last = (float(loss), float(grad_norm))  # the divergence guard needs both on the host every step
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return tokens


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def measure_training(bench: Bench, model: Any, spec: TrainSpec, examples: list[Any], time_box: float) -> Row:
    """Warm up (compile included), then time up to ``bench.steps`` steps within ``time_box`` seconds."""
    reset_peak(bench.device)
    steps = step_batches(examples, spec)
    backend = "eager" if bench.smoke else "inductor"
    t_start = time.perf_counter()
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


# ----------------------------------------------------------------------------- eval generation
def measure_generation(bench: Bench, model: Any, merged: bool, batch: int, *, static: bool = False) -> dict[str, Any]:
    """Greedy generation of ``bench.new_tokens`` new tokens for ``batch`` prompts; projected full-dev time."""
    import copy

    import torch
    from transformers import GenerationConfig

    from trainable.nf4_merge import dequantized_merged_copy, is_4bit_peft

    gen_model = model
    if merged and is_4bit_peft(model):
        gen_model = dequantized_merged_copy(model)  # NF4 + LoRA -> one bf16 model, the trained one untouched
    elif merged:
        with torch.no_grad():
            gen_model = copy.deepcopy(model).merge_and_unload()
    gen_model.eval()
    vocab = gen_model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    config = GenerationConfig(max_new_tokens=bench.new_tokens, min_new_tokens=bench.new_tokens, do_sample=False,
                              num_beams=1, eos_token_id=None, pad_token_id=0, use_cache=True)
    if static:  # static KV cache (transformers compiles the decoding step for it)
        config.cache_implementation = "static"
    with torch.inference_mode():
        warm_batch = batch if static else min(batch, 8)  # a static cache is compiled for its batch shape
        warm = torch.randint(10, vocab, (warm_batch, bench.prompt_len), generator=g).to(bench.device)
        gen_model.generate(input_ids=warm, attention_mask=torch.ones_like(warm),
                           generation_config=config if static else replace_gen(config, max_new_tokens=4, min_new_tokens=4))
        ids = torch.randint(10, vocab, (batch, bench.prompt_len), generator=g).to(bench.device)
        sync(bench.device)
        t0 = time.perf_counter()
        out = gen_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
        sync(bench.device)
        elapsed = time.perf_counter() - t0
    new = (out.shape[1] - ids.shape[1]) * batch
    if merged:
        del gen_model
    model.train()
    return {"new tok/s": new / elapsed, "batch s": elapsed, "full-dev s": math.ceil(DEV_PAIRS / batch) * elapsed,
            "peak GiB": peak_gib(bench.device)}


def replace_gen(config: Any, **changes: Any) -> Any:
    import copy

    new = copy.deepcopy(config)
    for k, v in changes.items():
        setattr(new, k, v)
    return new


# ----------------------------------------------------------------------------- sharing (worker processes)
def run_sharing(bench: Bench, counts: tuple[int, ...], phase_s: float, startup_box: float) -> list[Row]:
    """Start ``max(counts)`` worker processes (fast path each), then run phases with k of them active."""
    n_workers = max(counts)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mtsweep-share-") as tmp:
        sync_dir = Path(tmp)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(sync_dir), "--model-dir",
               str(bench.model_dir), "--seq", str(bench.seq), "--device", bench.device]
        procs = [subprocess.Popen([*cmd, "--worker-index", str(i)], stdout=subprocess.DEVNULL,
                                  stderr=open(sync_dir / f"err_{i}.txt", "w"))  # noqa: SIM115
                 for i in range(n_workers)]
        try:
            deadline = time.perf_counter() + startup_box
            while time.perf_counter() < deadline:
                if sum((sync_dir / f"ready_{i}").exists() for i in range(n_workers)) == n_workers:
                    break
                if any(p.poll() not in (None, 0) for p in procs):
                    break
                time.sleep(0.2)
            ready = [i for i in range(n_workers) if (sync_dir / f"ready_{i}").exists()]
            for k in counts:
                if len(ready) < k or bench.left() < phase_s + 5:
                    why = _worker_failure(sync_dir, procs) if len(ready) < k else "over the time budget"
                    rows.append(Row(f"share: {k} trial(s) on one GPU", {}, f"skipped: {why}"))
                    continue
                start = time.time() + 1.0
                (sync_dir / f"go_{k}.json").write_text(json.dumps({"k": k, "start": start, "end": start + phase_s}))
                results = _wait_results(sync_dir, k, phase_s + 60)
                tokens = sum(r["tokens"] for r in results)
                mems = [r["peak_gib"] for r in results if r["peak_gib"] is not None]
                mem = max(mems) if mems else None
                values = train_values(bench, tokens, 1, phase_s)
                values.update({"step ms": None, "peak GiB": mem})
                rows.append(Row(f"share: {k} trial(s) on one GPU", values,
                                f"aggregate; per trial {tokens / phase_s / k:,.0f} tok/s" if results else "no result"))
            (sync_dir / "exit").write_text("")
        finally:
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    return rows


def _wait_results(sync_dir: Path, k: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.perf_counter() + timeout
    files = [sync_dir / f"result_{k}_{i}.json" for i in range(k)]
    while time.perf_counter() < deadline and not all(f.exists() for f in files):
        time.sleep(0.2)
    return [json.loads(f.read_text()) for f in files if f.exists()]


def _worker_failure(sync_dir: Path, procs: list[Any]) -> str:
    for i, p in enumerate(procs):
        if p.poll() not in (None, 0):
            lines = (sync_dir / f"err_{i}.txt").read_text().strip().splitlines()
            return f"worker {i} failed: {lines[-1][:120] if lines else p.returncode}"
    return "workers not ready in time"


def worker_main(args: argparse.Namespace) -> int:
    """One trial process of the sharing test: load, warm up, then run the phases it is part of."""
    sync_dir, index = Path(args.worker), args.worker_index
    bench = Bench(smoke=args.device == "cpu", seq=args.seq, budget_s=1e9, device=args.device, model_dir=Path(args.model_dir))
    if args.device == "cpu":
        import torch

        torch.set_num_threads(1)
    spec = train_specs()[2]  # the fast path
    model = load_lora_model(bench, spec.quant)
    vocab = model.config.vocab_size
    examples = synthetic_examples(64 * spec.micro * spec.accum, bench.seq, vocab, seed=index)
    steps = step_batches(examples, spec, seed=index)
    trainer = Trainer(model, spec, bench.device)
    for mb in steps[:2]:
        trainer.step(mb)
    sync(bench.device)
    (sync_dir / f"ready_{index}").write_text("")
    done: set[int] = set()
    while not (sync_dir / "exit").exists():
        for go in sorted(sync_dir.glob("go_*.json")):
            plan = json.loads(go.read_text())
            if plan["k"] in done:
                continue
            done.add(plan["k"])
            if index >= plan["k"]:
                continue
            reset_peak(bench.device)
            while time.time() < plan["start"]:
                time.sleep(0.01)
            tokens, s = 0, 0
            while True:
                got = trainer.step(steps[s % len(steps)])
                sync(bench.device)
                if time.time() > plan["end"]:
                    break
                tokens += got
                s += 1
            (sync_dir / f"result_{plan['k']}_{index}.json").write_text(
                json.dumps({"tokens": tokens, "steps": s, "peak_gib": peak_gib(bench.device)}))
        time.sleep(0.05)
    return 0


# ----------------------------------------------------------------------------- eval scoring + checks
# FacebookAI/xlm-roberta-large config.json (public values): the encoder of Unbabel/wmt22-comet-da.
XLMR_LARGE = {"vocab_size": 250002, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
              "intermediate_size": 4096, "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1,
              "layer_norm_eps": 1e-5}
TINY_XLMR = {**XLMR_LARGE, "vocab_size": 3000, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 128}
SCORE_SPECS = (  # (name, dtype, batch): COMET runs fp32 (Lightning's default precision) in the trial
    ("score: COMET-shaped fp32 b64", "float32", 64),
    ("score: COMET-shaped bf16 b256", "bfloat16", 256),
)
METRICS_ROW = "score: BLEU(char) + chrF++ + term acc"
STATIC_ROW = "eval: bf16 merged b1024 static KV cache"
CHECK_TRAIN_ROW = "check: fast path vs plain bf16 (same 5 steps)"
CHECK_EVAL_ROW = "check: merged vs unmerged LoRA logits"


def measure_comet_shaped(bench: Bench, dtype_name: str, batch: int) -> dict[str, Any]:
    """COMET's cost on a full dev set: an XLM-R-large encoder (random weights) over src, mt and ref.

    wmt22-comet-da encodes the three segments of each pair with XLM-R large (all hidden states kept for
    its layer-wise attention), then pools them and runs a small feed-forward head: the encoder is the
    cost. Segment lengths ~ N(40, 15) subword tokens, length-sorted batches as COMET builds them.
    """
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    dtype = getattr(torch, dtype_name)
    config = XLMRobertaConfig(**(TINY_XLMR if bench.smoke else XLMR_LARGE))
    with torch.device(bench.device):
        model = XLMRobertaModel(config, add_pooling_layer=False).to(dtype).eval()
    rng = random.Random(0)
    n_segments = 3 * (96 if bench.smoke else DEV_PAIRS)
    lengths = sorted((int(min(160, max(4, rng.gauss(40, 15)))) for _ in range(n_segments)), reverse=True)
    weights = torch.softmax(torch.zeros(config.num_hidden_layers + 1, device=bench.device, dtype=dtype), 0)
    with torch.inference_mode():
        def encode(chunk: list[int]) -> None:
            ids = torch.full((len(chunk), chunk[0]), config.pad_token_id, device=bench.device)
            mask = torch.zeros_like(ids)
            for row, n in enumerate(chunk):
                ids[row, :n] = torch.randint(5, config.vocab_size, (n,), device=bench.device)
                mask[row, :n] = 1
            hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            mixed = sum(w * h for w, h in zip(weights, hidden, strict=True))  # layer-wise attention
            (mixed * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # average pooling
        encode(lengths[:batch])  # warm-up at the largest shape
        sync(bench.device)
        t0 = time.perf_counter()
        for start in range(0, n_segments, batch):
            encode(lengths[start : start + batch])
        sync(bench.device)
        elapsed = time.perf_counter() - t0
    return {"segments/s": n_segments / elapsed, "full-dev s": elapsed * (3 * DEV_PAIRS) / n_segments,
            "peak GiB": peak_gib(bench.device)}


def measure_metrics(bench: Bench) -> dict[str, Any]:
    """The trial's own scoring (``trainable.metrics.score_all``, no COMET) on 2,668 sample-data pairs (CPU)."""
    from trainable.data import load_pairs, sample_data_dir
    from trainable.glossary import load_glossary
    from trainable.metrics import score_all

    pairs = load_pairs(sample_data_dir() / "dev.jsonl") + load_pairs(sample_data_dir() / "test.jsonl")
    pairs = [pairs[i % len(pairs)] for i in range(DEV_PAIRS)]
    terms = load_glossary(sample_data_dir() / "glossary.tsv")
    refs = [p.ref for p in pairs]
    hyps = refs[1:] + refs[:1]  # wrong on purpose: real n-gram and term mismatches to count
    t0 = time.perf_counter()
    score_all([p.src for p in pairs], hyps, refs, terms=terms, comet=None)
    return {"full-dev s": time.perf_counter() - t0}


def check_fast_vs_plain(bench: Bench, model: Any, examples: list[Any]) -> dict[str, Any]:
    """The same 5 optimizer steps (same examples, same LoRA start, dropout off) on the plain path
    (mb8x4, AdamW, full logits) and the fast path's step code (mb32x1, fused AdamW, chunked CE)."""
    import torch

    start = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    plain = TrainSpec("plain", quant="bf16", micro=8, accum=4)
    fast = TrainSpec("fast", quant="bf16", micro=32, accum=1, fused=True, chunked=True)
    curves = []
    model.eval()  # LoRA dropout off: both paths see identical functions
    for spec in (plain, fast):
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in start:
                    p.copy_(start[n])
        trainer = Trainer(model, spec, bench.device)
        curve = []
        for mb in step_batches(examples, spec)[:5]:
            trainer.step(mb)
            curve.append(trainer.last)
        curves.append(curve)
        del trainer
    model.train()
    loss_diff = max(abs(a[0] - b[0]) / abs(a[0]) for a, b in zip(*curves, strict=True))
    grad_diff = max(abs(a[1] - b[1]) / abs(a[1]) for a, b in zip(*curves, strict=True))
    return {"max rel diff loss": loss_diff, "max rel diff grad": grad_diff}


def check_merged_logits(bench: Bench, model: Any) -> dict[str, Any]:
    """Next-token logits of the merged copy vs the unmerged LoRA model on 64 prompts (bf16)."""
    import copy

    import torch

    model.eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, model.config.vocab_size, (64, bench.prompt_len), generator=g).to(bench.device)
    with torch.inference_mode():
        ref = model(input_ids=ids).logits[:, -1].float()
        merged = copy.deepcopy(model).merge_and_unload()
        out = merged(input_ids=ids).logits[:, -1].float()
    del merged
    model.train()
    return {"rel diff logits": float((out - ref).norm() / ref.norm()),
            "argmax agree": float((out.argmax(-1) == ref.argmax(-1)).float().mean())}


# ----------------------------------------------------------------------------- probe (--only)
PROFILE_ROW = "profile: fast path step"


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


def run_probe(bench: Bench, only: list[str]) -> list[Row]:
    """The items whose names start with one of ``only`` (training rows, probe rows, the profile), in order."""
    wanted = [s for s in train_specs() + probe_specs(bench.seq) if any(s.name.startswith(o) for o in only)]
    rows: list[Row] = []
    tmp = tempfile.TemporaryDirectory(prefix="mtsweep-bench-")
    bench.model_dir = Path(tmp.name)
    config_values = TINY if bench.smoke else QWEN25_05B
    try:
        bench.n_params = build_model_dir(bench.model_dir, config_values, bench.device)
        examples = synthetic_examples(64 * 64, bench.seq, config_values["vocab_size"])
        if any(PROFILE_ROW.startswith(o) for o in only):
            model = load_lora_model(bench, "bf16")
            rows.append(add(bench, guarded(bench, PROFILE_ROW, lambda: measure_profile(bench, model, examples),
                                           limit=60)))
            del model
            free()
        for spec in wanted:
            if bench.left() < 15:
                rows.append(add(bench, Row(spec.name, {}, "skipped: over the time budget")))
                continue
            rows.append(add(bench, guarded(bench, spec.name, lambda s=spec: measure_training(
                bench, load_lora_model(bench, s.quant), s, examples, 2.0 if bench.smoke else 8.0),
                limit=min(150.0, bench.left() - 5))))
            free()
    finally:
        tmp.cleanup()
    return rows


# ----------------------------------------------------------------------------- driver
def setup_device(bench: Bench) -> None:
    """Device name and assumed peak (CUDA), or one CPU thread."""
    import torch

    if bench.device.startswith("cuda"):
        bench.device_name = torch.cuda.get_device_name(0)
        bench.peak_tflops = next((v for k, v in PEAK_TFLOPS if k in bench.device_name), None)
    else:
        bench.device_name = "CPU (1 thread)"
        torch.set_num_threads(1)


def run(bench: Bench) -> list[Row]:
    """Every item in priority order (the compile row last: it alone can take long), each time-boxed."""
    rows: list[Row] = []
    tmp = tempfile.TemporaryDirectory(prefix="mtsweep-bench-")
    bench.model_dir = Path(tmp.name)
    config_values = TINY if bench.smoke else QWEN25_05B
    bench.n_params = build_model_dir(bench.model_dir, config_values, bench.device)
    progress(bench, f"model saved ({bench.n_params / 1e6:.1f}M params)")
    examples = synthetic_examples(64 * 64, bench.seq, config_values["vocab_size"])
    specs = train_specs()
    scale = 0.05 if bench.smoke else 1.0
    reserve = 0.0 if bench.smoke else 100.0  # kept for the sharing rows
    try:
        for quant in ("nf4", "bf16"):
            try:
                model = load_lora_model(bench, quant)
            except Exception as err:
                why = f"error loading the {quant} model: {type(err).__name__}: {str(err)[:160]}"
                rows += [add(bench, Row(s.name, {}, why)) for s in specs if s.quant == quant and not s.compile]
                rows += [add(bench, Row(e[0], {}, why)) for e in eval_specs() if e[1] == quant]
                continue
            for spec in [s for s in specs if s.quant == quant and not s.compile]:
                if bench.left() < 10 * scale + reserve + 20 * scale:
                    rows.append(add(bench, Row(spec.name, {}, "skipped: over the time budget")))
                    continue
                rows.append(add(bench, guarded(bench, spec.name, lambda s=spec, m=model: measure_training(
                    bench, m, s, examples, 2.0 if bench.smoke else 6.0))))
            if quant == "bf16":
                rows += [add(bench, checked(bench, CHECK_TRAIN_ROW, lambda m=model: check_fast_vs_plain(
                             bench, m, examples))),
                         add(bench, checked(bench, CHECK_EVAL_ROW, lambda m=model: check_merged_logits(bench, m)))]
            for row in eval_rows(bench, model, quant, reserve):
                rows.append(add(bench, row))
            del model
            free()
        for name, dtype, batch in SCORE_SPECS:
            rows.append(add(bench, guarded(bench, name, lambda d=dtype, b=batch, n=name: Row(
                n, measure_comet_shaped(bench, d, b), f"XLM-R large, random weights, 3 x {DEV_PAIRS:,} segments"))))
            free()
        rows.append(add(bench, guarded(bench, METRICS_ROW, lambda: Row(
            METRICS_ROW, measure_metrics(bench), f"trainable.metrics.score_all on {DEV_PAIRS:,} pairs, CPU"))))
        counts = (1, 2) if bench.smoke else SHARE_COUNTS
        if bench.left() > 60 * scale:
            rows += [add(bench, r) for r in run_sharing(bench, counts, phase_s=2.0 if bench.smoke else 8.0,
                                                         startup_box=120.0)]
        else:
            rows += [Row(f"share: {k} trial(s) on one GPU", {}, "skipped: over the time budget") for k in counts]
        if bench.smoke:
            rows += [Row(f"share: {k} trial(s) on one GPU", {}, "skipped in --cpu-smoke (2 workers at most)")
                     for k in SHARE_COUNTS if k not in counts]
        for spec in [s for s in specs if s.compile]:
            if bench.left() < 30 * scale:
                rows.append(add(bench, Row(spec.name, {}, "skipped: over the time budget")))
                continue
            rows.append(add(bench, guarded(bench, spec.name, lambda s=spec: measure_training(
                bench, load_lora_model(bench, s.quant), s, examples, 2.0 if bench.smoke else 6.0),
                limit=bench.left() - 5)))
            free()
        if bench.left() < 30 * scale:
            rows.append(add(bench, Row(STATIC_ROW, {}, "skipped: over the time budget")))
        else:
            rows.append(add(bench, guarded(bench, STATIC_ROW, lambda: Row(STATIC_ROW, measure_generation(
                bench, load_lora_model(bench, "bf16"), True, 32 if bench.smoke else 1024, static=True),
                "merged, transformers' static cache"), limit=min(90.0, bench.left() - 5))))
            free()
    finally:
        tmp.cleanup()
    _note_compile_break_even(rows)
    order = row_order()
    return sorted(rows, key=lambda r: order.index(r.name) if r.name in order else len(order))


def row_order() -> list[str]:
    """Every row name, in table order."""
    order = [s.name for s in train_specs()] + [CHECK_TRAIN_ROW] + [e[0] for e in eval_specs()]
    order += [STATIC_ROW, CHECK_EVAL_ROW, *(n for n, _, _ in SCORE_SPECS), METRICS_ROW]
    return order + [f"share: {k} trial(s) on one GPU" for k in SHARE_COUNTS]


def checked(bench: Bench, name: str, measure: Any) -> Row:
    """A correctness check as a row: its numbers in the values and, readable, in the note."""
    row = guarded(bench, name, lambda: Row(name, measure()))
    row.note = row.note or ", ".join(f"{k} {v:.2e}" if v < 0.01 else f"{k} {v:.3f}" for k, v in row.values.items())
    return row


def progress(bench: Bench, message: str) -> None:
    print(f"[{time.perf_counter() - bench.t0:5.0f} s] {message}", file=sys.stderr, flush=True)


def add(bench: Bench, row: Row) -> Row:
    """Log a finished row at once (the table comes at the end; a killed run still shows its rows)."""
    shown = ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.values.items())
    progress(bench, f"{row.name}: {shown} {row.note}".rstrip())
    return row


def guarded(bench: Bench, name: str, measure: Any, *, limit: float | None = None) -> Row:
    """``measure()``, or a row saying OOM / over its time limit (SIGALRM, main thread) instead."""
    import signal

    import torch

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, on_alarm) if limit else None
    if limit:
        signal.alarm(max(1, int(limit)))
    try:
        return measure()
    except torch.OutOfMemoryError:
        return Row(name, {}, "OOM")
    except TimeoutError:
        return Row(name, {}, f"skipped: not done within its {limit:.0f} s time box")
    except Exception as err:  # one broken item must not cost the rest of the run
        return Row(name, {}, f"error: {type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}")
    finally:
        if limit:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        reset_peak(bench.device)


def _note_compile_break_even(rows: list[Row]) -> None:
    """Add to the compile row after how many steps its extra warm-up is paid back (vs chunked CE)."""
    by_name = {r.name: r for r in rows}
    comp, base = by_name.get("lever: + torch.compile"), by_name.get("lever: + chunked CE")
    if not (comp and base and comp.values and base.values):
        return
    saved_ms = base.values["step ms"] - comp.values["step ms"]
    extra_s = comp.values["warm-up s"] - base.values["warm-up s"]
    if saved_ms <= 0:
        comp.note += "; never pays back (not faster per step)"
    else:
        comp.note += f"; warm-up paid back after {max(extra_s, 0) * 1000 / saved_ms:,.0f} steps"


def eval_specs() -> list[tuple[str, str, bool, int]]:
    """(name, quantization, merged, batch): the eval a trial runs by default, then the levers."""
    from trainable.config import TrialConfig

    d = TrialConfig()
    merged = d.quantization == "bf16" or getattr(d, "eval_merge_nf4", False)
    default = (f"eval: TrialConfig defaults ({d.quantization}, b{d.eval_batch_size})", d.quantization, merged,
               d.eval_batch_size)
    return [default, *EVAL_SPECS]


def eval_rows(bench: Bench, model: Any, quant: str, reserve: float) -> list[Row]:
    rows = []
    for name, q, merged, batch in eval_specs():
        if q != quant:
            continue
        batch = max(2, batch // 32) if bench.smoke else batch
        if bench.left() < (3 if bench.smoke else 12) + reserve:
            rows.append(Row(name, {}, "skipped: over the time budget"))
            continue
        reset_peak(bench.device)
        row = guarded(bench, name, lambda m=merged, b=batch, n=name: Row(n, measure_generation(bench, model, m, b)))
        row.note = row.note or f"{'merged' if merged else 'unmerged'}, batch {batch}, {bench.new_tokens} new tokens"
        rows.append(row)
    return rows


def free() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


COLUMNS = ("tok/s", "step ms", "peak GiB", "% peak (6N)", "warm-up s", "new tok/s", "segments/s", "full-dev s",
           "GPU busy %", "kernels/step")


def format_table(bench: Bench, rows: list[Row]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
        return str(v)

    head = ["item", *COLUMNS, "note"]
    body = [[r.name, *(cell(r.values.get(c)) for c in COLUMNS), r.note] for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    line = lambda cols: "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |"  # noqa: E731
    peak = f"{bench.peak_tflops} TFLOP/s bf16 dense" if bench.peak_tflops else "n/a (no known peak for this device)"
    out = [f"device: {bench.device_name}; model: {'tiny Qwen2 (smoke)' if bench.smoke else 'Qwen2.5-0.5B-shaped'} "
           f"({bench.n_params / 1e6:.1f}M params, random weights), LoRA r{bench.lora_r} all linear, seq <= {bench.seq}; "
           f"assumed peak: {peak}; total {time.perf_counter() - bench.t0:.0f} s",
           line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


SEED_STEPS, SEED_EVALS = 600, 6  # the seed experiment: 600 optimizer steps of 32 pairs, 6 full dev evals
PROJECTED = (  # (path, training row, generation row, COMET row)
    ("reference", "reference NF4 mb8x4 AdamW", "eval: NF4 unmerged b256", "score: COMET-shaped fp32 b64"),
    ("mtsweep defaults", "mtsweep TrialConfig defaults", None, "score: COMET-shaped fp32 b64"),
    ("mtsweep fast path", "mtsweep fast path", "eval: bf16 merged b1024", "score: COMET-shaped bf16 b256"),
)


def projections(rows: list[Row]) -> list[dict[str, Any]]:
    """A seed-equivalent trial (600 steps x 32 pairs, 6 full dev evals) per path, from the measured rows."""
    by_name = {r.name: r.values for r in rows}
    metrics_s = by_name.get(METRICS_ROW, {}).get("full-dev s")
    out = []
    for path, train, gen, comet in PROJECTED:
        gen = gen or eval_specs()[0][0]
        step_ms = by_name.get(train, {}).get("step ms")
        gen_s, comet_s = by_name.get(gen, {}).get("full-dev s"), by_name.get(comet, {}).get("full-dev s")
        if None in (step_ms, gen_s, comet_s, metrics_s):
            out.append({"path": path, "note": "a row it needs is missing"})
            continue
        eval_s = gen_s + comet_s + metrics_s
        train_s = SEED_STEPS * step_ms / 1000
        out.append({"path": path, "train s": train_s, "eval s": eval_s, "trial s": train_s + SEED_EVALS * eval_s,
                    "note": f"{train} + ({gen} + {comet} + metrics)"})
    return out


def format_projections(projected: list[dict[str, Any]]) -> str:
    lines = [f"projected seed-equivalent trial ({SEED_STEPS} steps x 32 pairs + {SEED_EVALS} full dev evals; "
             "model load and checkpoints not counted):"]
    for p in projected:
        if "trial s" not in p:
            lines.append(f"  {p['path']}: n/a ({p['note']})")
            continue
        lines.append(f"  {p['path']}: train {p['train s']:.1f} s + {SEED_EVALS} x eval {p['eval s']:.1f} s "
                     f"= {p['trial s']:.0f} s   [{p['note']}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU, every item, in seconds")
    p.add_argument("--seq", type=int, default=None, help="longest synthetic example (tokens; 128, smoke 32)")
    p.add_argument("--budget-s", type=float, default=280.0, help="time box of the whole run")
    p.add_argument("--steps", type=int, default=6, help="timed optimizer steps per training row (at most)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    p.add_argument("--only", help="comma-separated name prefixes: run just those training/probe/profile items")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--device", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker_main(args)
    import torch

    device = args.device or ("cpu" if args.cpu_smoke else "cuda:0")
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu-smoke on a machine without a GPU", file=sys.stderr)
        return 2
    seq = args.seq or (32 if args.cpu_smoke else 128)
    bench = Bench(smoke=args.cpu_smoke, seq=seq, budget_s=args.budget_s, steps=args.steps, device=device)
    if args.cpu_smoke:
        bench.steps, bench.new_tokens, bench.prompt_len = 2, 8, 16
    setup_device(bench)
    if args.only:
        rows = run_probe(bench, [o.strip() for o in args.only.split(",") if o.strip()])
        print(format_table(bench, rows), flush=True)
        if args.json:
            args.json.write_text(json.dumps({"device": bench.device_name, "rows": [r.__dict__ for r in rows]}, indent=1))
        return 0
    rows = run(bench)
    projected = projections(rows)
    print(format_table(bench, rows) + "\n" + format_projections(projected), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": bench.device_name, "peak_tflops": bench.peak_tflops,
                                         "rows": [r.__dict__ for r in rows], "projected": projected}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
