"""``TrialConfig``: every knob of one trial, defaulting to the reference "final stable" config.

Field names are the hyperparameter names the search spaces use (``lr``, ``lora_r``, ``masking``, ...).
Build one with :meth:`TrialConfig.from_dict` (a flat dict, e.g. Ray's trial config) or
:meth:`TrialConfig.from_yaml` (a YAML file plus ``--set key=value`` overrides).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trainable.base.errors import ConfigValueError
from trainable.base.metric_names import DEFAULT_OBJECTIVES, METRIC_DIRECTIONS, objective_modes
from trainable.base.yaml_config import apply_overrides, from_mapping, load_yaml
from trainable.data.prompting import Masking
from trainable.model.loading import Quantization
from trainable.training.early_stopping import EarlyStopRule

FaultKind = Literal["nan_loss", "nan_grad", "loss_spike", "oom"]


AUTO_MICRO_BATCH_CAP = 32
"""``micro_batch_size: auto`` never exceeds this (fits a 0.5B model at seq 128 in ~10 GiB)."""
CompileChoice = Literal["auto", "reduce-overhead", "step-graph"]
"""The named values of ``compile`` (besides true/false); the one list the config validates against."""
AUTO_COMPILE_MIN_STEPS = 1000
"""``compile: auto`` uses per-layer CUDA graphs (``reduce-overhead``) only for trials planned at least this
long, where no whole-step graph applies (packed batches). Measured on an H100 before shapes were fixed: in a
600-step trial the recompiles as shapes changed cost more than they saved (bench/README.md)."""
AUTO_NEW_TOKENS_HEADROOM = 1.5
"""``max_new_tokens: auto`` = this many times the longest dev reference (tokens), plus
:data:`AUTO_NEW_TOKENS_EXTRA`: room for a longer-than-reference translation, yet a run-on output is cut
(and counted in ``trunc_rate``) instead of generating a fixed, generous cap."""
AUTO_NEW_TOKENS_EXTRA = 8


@dataclass
class TrialConfig:
    """One trial: model, LoRA, optimisation, evaluation schedule, NaN handling, data."""

    # --- model -------------------------------------------------------------------------------
    model: str = "Qwen/Qwen2.5-0.5B-Instruct"
    """Base model: a hub id (must already be in the local HF cache) or a local directory."""
    quantization: Quantization = "nf4"
    """``nf4``: QLoRA, 4-bit NF4 base with bf16 compute. ``bf16``: plain LoRA on a bf16 base."""
    device: str = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""

    # --- LoRA --------------------------------------------------------------------------------
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: float = 16.0
    """LoRA scaling numerator (the update is scaled by ``lora_alpha / lora_r``)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA input, in [0, 1)."""
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    """Names of the linear layers that get a LoRA adapter."""

    # --- optimisation ------------------------------------------------------------------------
    lr: float = 5e-6
    """Peak learning rate of AdamW."""
    weight_decay: float = 0.0
    """AdamW weight decay (on the LoRA weights only)."""
    lr_schedule: Literal["linear", "cosine", "constant"] = "linear"
    """Decay after warmup: linear or cosine to 0 at the last step, or constant."""
    warmup_steps: int = 0
    """Optimizer steps of linear warmup from 0 to ``lr``."""
    batch_size: int = 8
    """Micro-batch size (sequences per forward/backward)."""
    grad_accum: int = 4
    """Micro-batches per optimizer step (effective batch = ``batch_size * grad_accum``)."""
    epochs: int = 1
    """Passes over the training data (``max_steps`` caps the total)."""
    max_steps: int | None = 400
    """Cap on optimizer steps; None = as many as ``epochs`` give."""
    max_seq_len: int = 2048
    """Longest tokenised example (prompt + answer); longer examples are truncated from the prompt side."""
    grad_clip: float | None = 0.1
    """Clip the global gradient norm to this value; None = no clipping (the norm is still measured)."""
    masking: Masking = "full"
    """Loss masking: whole sequence, answer only, or prompt tokens weighted by ``prompt_loss_weight``."""
    prompt_loss_weight: float = 1.0
    """Weight of prompt tokens in the loss for ``masking: weighted`` (1 = full, 0 = answer only)."""
    seed: int = 0
    """Seed for LoRA init, data order and dropout."""
    micro_batch_size: int | Literal["auto"] | None = "auto"
    """Speed lever: run each step's ``batch_size * grad_accum`` examples as micro-batches of this size
    (must divide it); ``auto`` = the largest divisor of it that is <= 32 (the reference's 8 x 4 becomes
    one micro-batch of 32; speed-up measured in bench/README.md); None = ``batch_size``. The step's loss
    and gradients stay the same (to rounding)."""
    packed: bool = False
    """Speed lever: padding-free micro-batches (examples back to back, block-diagonal attention)."""
    chunked_loss: bool = True
    """Speed lever: chunked cross-entropy from the last hidden state (never the full fp32 logits, so a
    lower peak memory: bench/README.md). Falls back to the plain loss for a head that is not a plain
    linear layer. Same loss to rounding."""
    length_grouped: bool = False
    """Speed lever: each step's examples come from a bucket of similar token length (seeded; every example
    still once per epoch), so little padding. Changes which examples share a step, not the loss."""
    padding_mask: bool = True
    """Speed lever (not yet measured on a GPU): false feeds right-padded training micro-batches without an
    attention mask. Causal attention alone gives real tokens the same values (padding only follows them), and
    SDPA can take its causal fast path. Evaluation (left-padded generation) always uses its mask."""
    fused_adamw: bool | Literal["auto"] = "auto"
    """Fused AdamW kernel: ``auto`` = on CUDA only; true/false forces it on/off."""
    compile: bool | CompileChoice = "auto"
    """Speed lever, at fixed shapes (micro-batches padded to a fixed row count with zero-weight rows and to
    width buckets 64, 128, ... ``max_seq_len``: one compilation per bucket, never a recompile).
    ``step-graph``: the whole step (forward, backward, clip; then the fused AdamW update) captured as CUDA
    graphs once per bucket, the NaN guard between the two, batches fed without an attention mask as with
    ``padding_mask: false`` (on a CPU the same fixed-shape code runs eagerly).
    ``reduce-overhead``: ``torch.compile`` of each decoder layer with CUDA graphs; ``true``: the same in
    inductor's default mode. ``auto`` = ``step-graph`` on CUDA (``reduce-overhead`` for packed batches in
    trials of >= 1,000 steps), off elsewhere; if capturing or compiling fails the trial goes on without it.
    Not yet measured on a GPU: bench/README.md."""

    # --- evaluation and early stopping -------------------------------------------------------
    eval_every: int = 100
    """Evaluate (generate on dev, score, report, checkpoint) every this many optimizer steps."""
    eval_samples: int | None = None
    """Size of the fixed, seeded dev subset used by periodic evals; None = the whole dev set."""
    eval_seed: int = 0
    """Seed that picks the dev subset (the same subset for every trial of a sweep)."""
    final_full_eval: bool = True
    """At the end of a trial that stopped without diverging, evaluate once more on the whole dev set."""
    eval_batch_size: int = 1024
    """Sequences per generation batch (length-sorted; halved and retried on out-of-memory); larger batches
    generate much faster on a GPU (bench/README.md)."""
    max_new_tokens: int | Literal["auto"] = "auto"
    """Generation length cap per segment; ``auto`` = 1.5 x the longest dev reference in tokens + 8. Evals
    report ``trunc_rate``: the share of segments cut at this cap without a stop token."""
    runon_ratio: float = 2.0
    """A segment whose ``len(hyp) / len(ref)`` (characters) is above this counts in ``runon_rate``."""
    eval_dtype: Literal["float32", "bfloat16"] = "float32"
    """Precision of the merged copy that evals generate with. ``float32`` keeps the whole LoRA update;
    ``bfloat16`` is faster on a GPU but rounds away updates below half a bf16 step of the base weight
    (most of them early in training at small lr), so its evals partly measure the base model."""
    objectives: list[str] = field(default_factory=lambda: list(DEFAULT_OBJECTIVES))
    """Metrics the early-stopping rule watches (directions from ``trainable.eval.metrics``)."""
    early_stop_rule: EarlyStopRule = "any_objective_improved"
    """``any_objective_improved``: stop after ``patience`` evals in a row where no objective beat its
    best so far. ``none``: never stop early."""
    patience: int = 1
    """Evals without improvement tolerated before early stopping."""
    comet_model: str = "Unbabel/wmt22-comet-da"
    """COMET model (hub id or checkpoint path); ``none`` disables COMET."""
    comet_service: bool = False
    """Score COMET with one shared Ray actor per node (``trainable.eval.comet_service``) instead of a copy per
    trial; the in-process scorer when Ray is not running in this process."""
    eval_merge_nf4: bool = True
    """Speed lever: generate from an ``eval_dtype`` copy of an NF4 model, dequantized with the LoRA merged in
    (the function the NF4 model computes): 25x faster than unmerged NF4 generation at batch 64 (bf16 copy)."""

    # --- divergence (NaN / spike) handling ---------------------------------------------------
    nan_policy: Literal["stop", "skip"] = "stop"
    """On a non-finite or spiking step: ``stop`` ends the trial in that step; ``skip`` drops the update."""
    max_skips: int = 3
    """With ``nan_policy: skip``, the bad step after this many skipped ones stops the trial."""
    spike_window: int = 128
    """Rolling window (optimizer steps) of recent good losses / grad norms for spike detection."""
    spike_min_history: int = 20
    """No spike verdicts until the window holds this many values."""
    spike_zscore_loss: float | None = 6.0
    """A loss more than this many standard deviations above the window mean is a spike; None = off."""
    spike_zscore_grad: float | None = 6.0
    """Likewise for the pre-clip gradient norm; None = off."""
    spike_min_ratio_loss: float | None = 1.5
    """A z-score loss spike must also exceed this many times the window mean, so a low-variance window does
    not turn an ordinary noisy step into a spike; None = the z-score alone decides."""
    spike_min_ratio_grad: float | None = 3.0
    """Likewise for the pre-clip gradient norm (noisier than the loss with small micro-batches)."""
    spike_outlier_zscore: float | None = 3.0
    """Good values more than this many standard deviations above the window mean stay out of the window,
    so a slow ramp is still compared against the healthy history; None = every good value joins."""
    loss_blowup_factor: float | None = 4.0
    """A loss above this many times the reference loss (median of the first ``loss_reference_steps`` good
    losses) is a ``loss_spike`` from step 2 on, before any window statistics; None = off."""
    loss_reference_steps: int = 5
    """Good losses, from the first step on, whose median is the reference loss of ``loss_blowup_factor``."""

    # --- data --------------------------------------------------------------------------------
    train_path: str | None = None
    """Training pairs (JSONL/CSV/Parquet/HF dataset dir); None = the bundled sample data."""
    dev_path: str | None = None
    """Dev pairs for periodic evals; None = the bundled sample data."""
    test_path: str | None = None
    """Test pairs (used by ``mtsweep finalize`` only); None = the bundled sample data."""
    glossary_path: str | None = None
    """Glossary TSV for terminology metrics; None = the bundled sample glossary."""
    src_field: str = "en"
    """Source-text field name in the data files."""
    tgt_field: str = "ja"
    """Target-text field name in the data files."""
    train_samples: int | None = None
    """Use only the first N training pairs (after shuffling with ``seed``); None = all."""
    system_prompt: str | None = None
    """System prompt of the chat template; None = ``trainable.data.prompting.DEFAULT_SYSTEM_PROMPT``."""

    # --- test hooks (off by default) ---------------------------------------------------------
    inject_fault_step: int | None = None
    """Test hook: optimizer step (1-based) at which ``inject_fault_kind`` is injected."""
    inject_fault_kind: FaultKind | None = None
    """Test hook: ``nan_loss`` (loss becomes NaN), ``nan_grad`` (a gradient becomes NaN),
    ``loss_spike`` (loss multiplied by 1000) or ``oom`` (the step's first attempt runs out of memory)."""

    def __post_init__(self) -> None:
        positive_ints = ("lora_r", "batch_size", "grad_accum", "epochs", "max_seq_len", "eval_every")
        positive_ints += ("patience", "eval_batch_size")
        for name in positive_ints:
            if getattr(self, name) < 1:
                raise ConfigValueError(name, f"must be >= 1, got {getattr(self, name)}")
        for name in ("max_steps", "eval_samples", "train_samples", "inject_fault_step"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigValueError(name, f"must be >= 1 or null, got {value}")
        effective = self.batch_size * self.grad_accum
        if self.micro_batch_size not in (None, "auto") and (
            self.micro_batch_size < 1 or (self.micro_batch_size < effective and effective % self.micro_batch_size)
        ):
            raise ConfigValueError(
                "micro_batch_size", f"must be >= 1 and divide batch_size * grad_accum = {effective}, got {self.micro_batch_size}"
            )
        if self.max_new_tokens != "auto" and (isinstance(self.max_new_tokens, bool) or self.max_new_tokens < 1):
            raise ConfigValueError("max_new_tokens", f"must be >= 1 or auto, got {self.max_new_tokens}")
        if not self.runon_ratio > 0:
            raise ConfigValueError("runon_ratio", f"must be > 0, got {self.runon_ratio}")
        if not self.lr > 0:
            raise ConfigValueError("lr", f"must be > 0, got {self.lr}")
        if not self.lora_alpha > 0:
            raise ConfigValueError("lora_alpha", f"must be > 0, got {self.lora_alpha}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigValueError("lora_dropout", f"must be in [0, 1), got {self.lora_dropout}")
        if not 0 <= self.prompt_loss_weight <= 1:
            raise ConfigValueError("prompt_loss_weight", f"must be in [0, 1], got {self.prompt_loss_weight}")
        if self.weight_decay < 0:
            raise ConfigValueError("weight_decay", f"must be >= 0, got {self.weight_decay}")
        if self.warmup_steps < 0:
            raise ConfigValueError("warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigValueError("grad_clip", f"must be > 0 or null, got {self.grad_clip}")
        if not self.target_modules:
            raise ConfigValueError("target_modules", "must name at least one module")
        if self.max_skips < 0:
            raise ConfigValueError("max_skips", f"must be >= 0, got {self.max_skips}")
        if self.spike_window < 2:
            raise ConfigValueError("spike_window", f"must be >= 2, got {self.spike_window}")
        if not 2 <= self.spike_min_history <= self.spike_window:
            raise ConfigValueError(
                "spike_min_history", f"must be in [2, spike_window={self.spike_window}], got {self.spike_min_history}"
            )
        for name in ("spike_zscore_loss", "spike_zscore_grad", "spike_outlier_zscore"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigValueError(name, f"must be > 0 or null, got {value}")
        for name in ("spike_min_ratio_loss", "spike_min_ratio_grad", "loss_blowup_factor"):
            value = getattr(self, name)
            if value is not None and not value > 1:
                raise ConfigValueError(name, f"must be > 1 or null, got {value}")
        if self.loss_reference_steps < 1:
            raise ConfigValueError("loss_reference_steps", f"must be >= 1, got {self.loss_reference_steps}")
        if self.compile == "step-graph" and self.packed:
            raise ConfigValueError("compile", "step-graph needs padded batches (packed: false)")
        if (self.inject_fault_step is None) != (self.inject_fault_kind is None):
            raise ConfigValueError("inject_fault_kind", "inject_fault_step and inject_fault_kind go together")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")):
            raise ConfigValueError("device", f"must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        if not self.comet_model.strip():
            raise ConfigValueError("comet_model", "must be a model id, a path or 'none'")
        self._check_objectives()

    def _check_objectives(self) -> None:
        try:
            objective_modes(self.objectives, min_count=1, max_count=len(METRIC_DIRECTIONS))
        except ValueError as err:
            raise ConfigValueError("objectives", str(err)) from None
        if "comet" in self.objectives and self.comet_model.lower() == "none":
            raise ConfigValueError("objectives", "'comet' is an objective but comet_model is 'none'")

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, where: str = "trial config") -> TrialConfig:
        """Build from a flat dict; keys starting with ``_`` (reserved for the sweep) are ignored."""
        data = {k: v for k, v in (data or {}).items() if not str(k).startswith("_")}
        return from_mapping(cls, data, where=where)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> TrialConfig:
        """Load a YAML file, apply ``--set key=value`` overrides, validate (errors name file and key)."""
        data = apply_overrides(load_yaml(path), list(overrides or []))
        return cls.from_dict(data, where=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Plain flat dict (JSON/YAML-safe)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> TrialConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def resolved_micro_batch_size(self) -> int | None:
        """``micro_batch_size`` with ``auto`` resolved (the largest divisor of the effective batch <= 32)."""
        if self.micro_batch_size != "auto":
            return self.micro_batch_size
        effective = self.batch_size * self.grad_accum
        return max(d for d in range(1, min(effective, AUTO_MICRO_BATCH_CAP) + 1) if effective % d == 0)

    def resolved_max_new_tokens(self, ref_token_lengths: list[int]) -> int:
        """``max_new_tokens`` with ``auto`` resolved from the dev references' token lengths."""
        import math

        if self.max_new_tokens != "auto":
            return self.max_new_tokens
        longest = max(ref_token_lengths, default=0)
        return math.ceil(AUTO_NEW_TOKENS_HEADROOM * longest) + AUTO_NEW_TOKENS_EXTRA

    def resolved_compile(self, device_type: str, total_steps: int) -> str | None:
        """The compile mode a trial uses: None (off), ``"default"``, ``"reduce-overhead"`` or ``"step-graph"``."""
        if self.compile == "auto":
            if device_type != "cuda":
                return None
            if not self.packed:
                return "step-graph"
            return "reduce-overhead" if total_steps >= AUTO_COMPILE_MIN_STEPS else None
        if self.compile is True:
            return "default"
        return self.compile or None


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return list(value)
    return value
