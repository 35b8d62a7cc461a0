"""One QLoRA trial, readable top to bottom: ``setup`` -> ``train`` -> ``cleanup`` (torchtune shape).

- ``setup``: data, model + LoRA, optimizer (AdamW, fused on CUDA), lr schedule, NaN guard, early
  stopping; resume from the reporter's checkpoint when Ray restarted the trial.
- ``train``: a plain torch loop. Each optimizer step accumulates ``grad_accum`` micro-batches with the
  exact weighted loss ``sum(w * ce) / sum(w)`` over the whole step, measures the pre-clip gradient norm,
  and asks the :class:`DivergenceGuard` about the raw loss and that norm *before* ``optimizer.step()``:
  ``stop`` ends the trial in that step (no update, no checkpoint), ``skip`` drops the update. Every
  ``eval_every`` steps: generate on the fixed dev subset, score, report with a checkpoint, early-stop. A
  trial that stops early ends on the newest eval of its own front (:meth:`EarlyStopping.final_step`):
  those weights (kept in memory while on the front) get the final full-dev eval and the final
  checkpoint, and the final report names their step as ``final_from_step``.
- ``cleanup``: drop model/optimizer and free accelerator memory, however the trial ended.

The final report (``is_final``) follows ``trainable/base/report_keys.py``: a diverged trial repeats its last
good eval's metrics (``diverged``, ``diverged_step``, ``stop_cause``) and names that eval's step as
``repeats_step``; one that diverged before any eval has no objective keys and ``stop_cause: no_good_eval``
with ``divergence_cause``.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from contextlib import contextmanager
from typing import Any

from trainable.base.errors import InputError
from trainable.base.finite import nonfinite_to_none
from trainable.base.report_keys import FINAL_FROM_STEP, REPEATS_STEP
from trainable.config import TrialConfig
from trainable.training.checkpointing import TrainerState, load_checkpoint, save_checkpoint
from trainable.training.divergence import DivergenceGuard, Verdict
from trainable.training.early_stopping import EarlyStopping
from trainable.training.reporting import Reporter


def run_trial(cfg: TrialConfig, reporter: Reporter) -> dict[str, Any]:
    """Run one trial to its end and return the final report (also sent to ``reporter``)."""
    recipe = TrialRecipe(cfg, reporter)
    try:
        recipe.setup()
        return recipe.train()
    finally:
        recipe.cleanup()


def tune_trainable(config: dict[str, Any]) -> None:
    """Ray Tune function trainable: ``config`` is a flat dict of TrialConfig fields (``_*`` keys ignored)."""
    from trainable.training.reporting import TuneReporter

    run_trial(TrialConfig.from_dict(config, where="trial config"), TuneReporter())


class TrialRecipe:
    """State of one trial; see the module docstring for the shape."""

    def __init__(self, cfg: TrialConfig, reporter: Reporter) -> None:
        self.cfg = cfg
        self.reporter = reporter
        self.model: Any = None
        self.optimizer: Any = None
        self.scheduler: Any = None
        self.state = TrainerState(config=cfg.to_dict())
        self.guard = DivergenceGuard.from_config(cfg)
        self.early_stopping = EarlyStopping.from_config(cfg)
        self._t0 = time.perf_counter()
        self._wall_before = 0.0
        self._losses_since_report: list[float] = []
        self._last_loss: float | None = None
        self._last_grad_norm: float | None = None
        self._last_lr: float | None = None
        self._checkpointed_step: int | None = None
        self._setup_s: float | None = None
        self._oom_injected = False
        self._front_evals: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        """Step -> (LoRA weights on CPU, eval metrics) of the evals on the trial's own front."""
        self.step_graph: Any = None
        """The fixed-shape step runner of ``compile: step-graph`` (None otherwise)."""
        self._shapes: set[tuple[int, ...]] = set()
        """Distinct micro-batch shapes the training steps ran (one compilation each at fixed shapes)."""
        self._compiles_before = _dynamo_compilations()

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        import torch

        from trainable.data.batching import width_buckets
        from trainable.data.prompting import DEFAULT_SYSTEM_PROMPT, build_examples
        from trainable.eval.evaluate import (
            eval_subset,
            load_split,
            load_terms,
            max_new_tokens_for,
            resolve_device,
        )
        from trainable.model.loading import add_lora, load_base_model
        from trainable.training.train_step import StepOptions, compile_decoder_layers, make_adamw

        cfg = self.cfg
        _seed_everything(cfg.seed)
        self.device = resolve_device(cfg.device)
        self.system_prompt = cfg.system_prompt if cfg.system_prompt is not None else DEFAULT_SYSTEM_PROMPT

        train = load_split(cfg, "train")
        random.Random(cfg.seed).shuffle(train)
        train = train[: cfg.train_samples] if cfg.train_samples else train
        dev = load_split(cfg, "dev")
        self.dev_full = dev
        self.dev_subset = eval_subset(dev, cfg.eval_samples, cfg.eval_seed)
        self.terms = load_terms(cfg)

        model, self.tokenizer = load_base_model(cfg.model, quantization=cfg.quantization, device=self.device)
        self.model = add_lora(
            model, r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout, target_modules=cfg.target_modules
        )
        self.examples, self.dropped = build_examples(
            self.tokenizer,
            [(p.src, p.ref) for p in train],
            system_prompt=self.system_prompt,
            masking=cfg.masking,
            prompt_loss_weight=cfg.prompt_loss_weight,
            max_seq_len=cfg.max_seq_len,
        )
        if not self.examples:
            raise InputError("train_path", f"no training example fits max_seq_len={cfg.max_seq_len}")
        self.max_new_tokens = max_new_tokens_for(cfg, self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id

        self.micro_per_epoch = math.ceil(len(self.examples) / cfg.batch_size)
        self.total_steps = math.ceil(cfg.epochs * self.micro_per_epoch / cfg.grad_accum)
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.max_steps)

        self.compile_mode = cfg.resolved_compile(self.device.type, self.total_steps)
        fixed = bool(self.compile_mode) and not cfg.packed  # fixed shapes: one compilation per width bucket
        if self.compile_mode in ("default", "reduce-overhead"):
            compile_decoder_layers(self.model, mode=self.compile_mode, dynamic=False if fixed else None)
        cudagraphs = self.compile_mode == "reduce-overhead"
        micro = cfg.resolved_micro_batch_size() or cfg.batch_size
        self.step_options = StepOptions(
            micro_batch_size=cfg.resolved_micro_batch_size(), packed=cfg.packed,
            chunked_loss=cfg.chunked_loss and _has_plain_head(self.model),
            pad_to_multiple_of=16 if self.compile_mode and not fixed else 1, cudagraphs=cudagraphs,
            padding_mask=cfg.padding_mask, fixed_rows=micro if fixed else None,
            width_buckets=width_buckets(cfg.max_seq_len) if fixed else None,
        )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        graph = self.compile_mode == "step-graph"
        self.optimizer = make_adamw(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=cfg.fused_adamw,
                                    device=self.device, capturable=graph)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(cfg, self.total_steps))

        restore = self.reporter.restore_dir()
        if restore:
            self.state = load_checkpoint(restore, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler)
            self.guard.load_state_dict(self.state.guard)
            self.early_stopping.load_state_dict(self.state.early_stopping)
            self._wall_before = self.state.wall_s
            self._checkpointed_step = self.state.step
        if graph:
            from trainable.training.step_graph import StepGraph

            self.step_graph = StepGraph(self.model, self.optimizer, self.params, self.step_options,
                                        device=self.device, accum=self._micro_per_step(micro),
                                        grad_clip=cfg.grad_clip)
        self._setup_s = time.perf_counter() - self._t0

    # ------------------------------------------------------------------ train
    def train(self) -> dict[str, Any]:
        """The loop; returns the final report."""
        cfg = self.cfg
        while self.state.step < self.total_steps:
            step = self.state.step + 1
            loss, grad_norm = self._forward_backward(step)
            verdict = self.guard.check(step, loss, grad_norm)
            if verdict.action == "stop":
                self._zero_grad()
                return self._finish_diverged(step, verdict)
            self._last_lr = float(self.scheduler.get_last_lr()[0])
            if verdict.ok:
                if self.step_graph is not None:
                    self.step_graph.update()
                else:
                    self.optimizer.step()
                self._losses_since_report.append(loss)
                self._last_grad_norm = grad_norm
            self._zero_grad()
            self.scheduler.step()
            self.state.step = step

            last = step == self.total_steps
            if step % cfg.eval_every and not last:
                continue
            if last and step % cfg.eval_every and self._needs_full_eval():
                return self._report(self._evaluate(self.dev_full), final=True, stop_cause="completed")
            metrics = self._evaluate(self.dev_subset)
            stop = self.early_stopping.update(metrics, step=step)
            self._keep_front_weights(step, metrics)
            if not (stop or last):
                self._report(metrics)
                continue
            cause = "completed" if last else "early_stopped"
            chosen = self.early_stopping.final_step() if cause == "early_stopped" else None
            if chosen not in self._front_evals or chosen == step:
                chosen = step
            if chosen != step or self._needs_full_eval():
                self._report(metrics)  # this eval's point of the learning curve, then the final weights' eval
            if chosen != step:
                metrics = self._restore_front_weights(chosen)
            if self._needs_full_eval():
                metrics = self._evaluate(self.dev_full)
            return self._report(metrics, final=True, stop_cause=cause, final_from_step=chosen)
        # Only reached when the trial resumed from a checkpoint taken at its last step.
        return self._report(self._evaluate(self.dev_full), final=True, stop_cause="completed")

    def _zero_grad(self) -> None:
        """Drop the step's gradients (the step graph keeps its persistent ones: it zeroes them itself)."""
        if self.step_graph is None:
            self.optimizer.zero_grad(set_to_none=True)

    def _micro_per_step(self, micro: int) -> int:
        return -(-self.cfg.batch_size * self.cfg.grad_accum // micro)

    def _forward_backward(self, step: int) -> tuple[float, float]:
        """Accumulate one optimizer step's gradients; return (raw loss, pre-clip grad norm)."""
        import torch

        from trainable.training.step_graph import GraphCaptureError
        from trainable.training.train_step import accumulate_step, collate_step

        micro_batches = self._next_micro_batches()
        self.model.train()
        with self._accel_timer():
            while True:
                batches = collate_step(micro_batches, self.pad_id, self.step_options)
                self._shapes.update(tuple(b["input_ids"].shape) for b in batches)
                if self.step_graph is not None:
                    try:
                        return self._graph_step(step, batches)
                    except torch.OutOfMemoryError as err:
                        self._leave_step_graph(err, halve=True)
                        self._halve_micro_batch(micro_batches, err)
                    except GraphCaptureError as err:
                        self._leave_step_graph(err)
                    continue
                try:
                    loss_sum, tokens = accumulate_step(
                        self.model, batches, self.step_options, self.device,
                        loss_hook=lambda loss: self._loss_fault(step, loss),
                    )
                    break
                except torch.OutOfMemoryError as err:
                    self._halve_micro_batch(micro_batches, err)
                except torch._dynamo.exc.TorchDynamoException as err:
                    self._drop_auto_compile(err)
            _inject_grad_fault(self.cfg, step, self.params)
            max_norm = self.cfg.grad_clip if self.cfg.grad_clip is not None else math.inf
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, max_norm=max_norm)
            loss_value, grad_value = float(loss_sum), float(grad_norm)
        self.state.tokens_seen += tokens
        return loss_value, grad_value

    def _graph_step(self, step: int, batches: list[dict[str, Any]]) -> tuple[float, float]:
        """The step through :class:`StepGraph` (faults injected through its static hooks)."""
        from trainable.data.batching import real_tokens

        kind = self.cfg.inject_fault_kind if self.cfg.inject_fault_step == step else None
        if kind == "oom":
            self._loss_fault(step, None)
        factor = {"nan_loss": math.nan, "loss_spike": 1000.0}.get(kind or "", 1.0)
        loss, grad_norm = self.step_graph.gradients(batches, loss_factor=factor,
                                                    grad_add=math.nan if kind == "nan_grad" else 0.0)
        self.state.tokens_seen += sum(real_tokens(b) for b in batches)
        return float(loss), float(grad_norm)

    def _leave_step_graph(self, err: BaseException, *, halve: bool = False) -> None:
        """Back to the eager step: after an out-of-memory step (then halved), or a failed capture under
        ``compile: auto`` (an explicit ``step-graph`` fails the trial)."""
        import dataclasses
        import warnings

        if not halve and self.cfg.compile != "auto":
            raise err
        self.step_graph.release()
        self.step_graph = None
        for p in self.params:
            p.grad = None
        self.compile_mode = None
        self.step_options = dataclasses.replace(self.step_options, fixed_rows=None, width_buckets=None)
        if not halve:
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            warnings.warn(f"compile: auto failed ({first}); this trial continues without step graphs", stacklevel=2)

    def _loss_fault(self, step: int, loss: Any) -> Any:
        """Test hooks on a micro-batch loss: ``oom`` fails the step's first attempt once, like CUDA would."""
        if self.cfg.inject_fault_kind == "oom" and self.cfg.inject_fault_step == step and not self._oom_injected:
            import torch

            self._oom_injected = True
            raise torch.OutOfMemoryError("CUDA out of memory (injected by inject_fault_kind: oom)")
        return _inject_loss_fault(self.cfg, step, loss)

    def _drop_auto_compile(self, err: BaseException) -> None:
        """``compile: auto`` never breaks a trial: if compiling fails, the step runs again without it."""
        import dataclasses
        import warnings

        if self.cfg.compile != "auto" or not self.compile_mode:
            raise err
        from trainable.training.train_step import uncompile

        self.optimizer.zero_grad(set_to_none=True)
        uncompile(self.model)
        self.compile_mode = None
        self.step_options = dataclasses.replace(self.step_options, cudagraphs=False, pad_to_multiple_of=1,
                                                fixed_rows=None, width_buckets=None)
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        warnings.warn(f"compile: auto failed ({first}); this trial continues without torch.compile", stacklevel=2)

    def _halve_micro_batch(self, micro_batches: list[list[Any]], err: BaseException) -> None:
        """After an out-of-memory step: drop its partial gradients and run it again in half-size micro-batches
        (the loss is normalised by the whole step's weight, so the step computes the same update)."""
        import dataclasses
        import warnings

        from trainable.eval.evaluate import free_accelerator_memory

        current = self.step_options.micro_batch_size or max(len(mb) for mb in micro_batches)
        if current <= 1:
            raise err
        self.optimizer.zero_grad(set_to_none=True)
        free_accelerator_memory()
        self.step_options = dataclasses.replace(self.step_options, micro_batch_size=current // 2)
        warnings.warn(f"training step ran out of memory; micro_batch_size halved to {current // 2}", stacklevel=2)

    def _next_micro_batches(self) -> list[list[Any]]:
        """The next ``grad_accum`` micro-batches of the seeded per-epoch order (fewer at the very end)."""
        out = []
        limit = self.cfg.epochs * self.micro_per_epoch
        while len(out) < self.cfg.grad_accum and self.state.micro_batches < limit:
            epoch, index = divmod(self.state.micro_batches, self.micro_per_epoch)
            order = self._epoch_order(epoch)
            start = index * self.cfg.batch_size
            out.append([self.examples[i] for i in order[start : start + self.cfg.batch_size]])
            self.state.micro_batches += 1
        return out

    def _epoch_order(self, epoch: int) -> list[int]:
        cached = getattr(self, "_order_cache", None)
        if cached is None or cached[0] != epoch:
            order = list(range(len(self.examples)))
            random.Random(self.cfg.seed * 1_000_003 + epoch).shuffle(order)
            if self.cfg.length_grouped:
                from trainable.data.batching import length_grouped_order

                lengths = [len(ex.input_ids) for ex in self.examples]
                step_size = self.cfg.batch_size * self.cfg.grad_accum
                order = length_grouped_order(lengths, step_size, seed=self.cfg.seed, epoch=epoch)
            self._order_cache = (epoch, order)
        return self._order_cache[1]

    # ------------------------------------------------------------------ eval + report
    def _needs_full_eval(self) -> bool:
        return self.cfg.final_full_eval and len(self.dev_subset) < len(self.dev_full)

    def _evaluate(self, pairs: list[Any]) -> dict[str, Any]:
        from trainable.eval.evaluate import score_model
        from trainable.training.train_step import uncompiled

        t0 = time.perf_counter()
        self.model.eval()
        with uncompiled(self.model):  # generation shapes vary: the training layers' compiled code stays out
            metrics, gen_s = score_model(self.cfg, self.model, self.tokenizer, pairs, terms=self.terms,
                                         device=self.device, max_new_tokens=self.max_new_tokens)
        self.model.train()
        self.state.accel_s += gen_s
        self.state.eval_s += time.perf_counter() - t0
        metrics["eval_full"] = len(pairs) == len(self.dev_full)
        return metrics

    def _base_report(self) -> dict[str, Any]:
        losses = self._losses_since_report
        if losses:
            self._last_loss = sum(losses) / len(losses)
        return {
            "step": self.state.step,
            "loss": self._last_loss,
            "grad_norm": self._last_grad_norm,
            "lr": self._last_lr,
            "epoch": self.state.micro_batches / self.micro_per_epoch,
            "tokens_seen": self.state.tokens_seen,
            "wall_s": self._wall_s(),
            "accel_s": self.state.accel_s,
            "eval_s": self.state.eval_s,
            "setup_s": self._setup_s,
            "compile_mode": self.compile_mode,
            "compilations": self._compilations(),
            "train_shapes": len(self._shapes),
            "skipped_steps": self.guard.skips,
            "total_steps": self.total_steps,
            "is_final": False,
            "diverged": False,
            "diverged_step": None,
            "stop_cause": None,
        }

    def _keep_front_weights(self, step: int, metrics: dict[str, Any]) -> None:
        """Keep this eval's LoRA weights (CPU copy) while it is on the trial's own front."""
        if self.cfg.early_stop_rule == "none":
            return
        weights = {n: p.detach().to("cpu", copy=True) for n, p in self.model.named_parameters() if p.requires_grad}
        self._front_evals[step] = (weights, metrics)
        front = set(self.early_stopping.front_steps())
        self._front_evals = {s: kept for s, kept in self._front_evals.items() if s in front}

    def _restore_front_weights(self, step: int) -> dict[str, Any]:
        """Put the kept weights of the eval at ``step`` back into the model; return that eval's metrics."""
        import torch

        weights, metrics = self._front_evals[step]
        with torch.no_grad():
            for name, param in self.model.named_parameters():
                if name in weights:
                    param.copy_(weights[name])
        self._checkpointed_step = None  # the model now differs from the last checkpoint
        return metrics

    def _report(
        self, metrics: dict[str, Any], *, final: bool = False, stop_cause: str | None = None,
        final_from_step: int | None = None,
    ) -> dict[str, Any]:
        """Send one eval report with a checkpoint of the current (good) weights. A final report names the
        step whose weights it evaluated (``final_from_step``, the current step unless given)."""
        report = {**self._base_report(), **metrics, "is_final": final, "stop_cause": stop_cause}
        if final:
            report[FINAL_FROM_STEP] = self.state.step if final_from_step is None else final_from_step
        self._losses_since_report = []
        self.state.last_good_eval = nonfinite_to_none(report)
        checkpoint = self._checkpointed_step != self.state.step
        with tempfile.TemporaryDirectory(prefix="mtsweep-ckpt-") as tmp:
            if checkpoint:
                self._save(tmp)
                self._checkpointed_step = self.state.step
            self.reporter.report(report, tmp if checkpoint else None)
        return report

    def _save(self, directory: str) -> None:
        self.state.guard = self.guard.state_dict()
        self.state.early_stopping = self.early_stopping.state_dict()
        self.state.wall_s = self._wall_s()
        save_checkpoint(directory, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler, state=self.state)

    def _finish_diverged(self, step: int, verdict: Verdict) -> dict[str, Any]:
        """Final report of a trial stopped by the guard: the last good eval's metrics, no checkpoint."""
        status = {
            "is_final": True,
            "diverged": True,
            "diverged_step": step,
            "divergence_cause": verdict.cause,
            "skipped_steps": self.guard.skips,
            "wall_s": self._wall_s(),
            "accel_s": self.state.accel_s,
            "eval_s": self.state.eval_s,
            "tokens_seen": self.state.tokens_seen,
        }
        if self.state.last_good_eval is None:
            from trainable.base.metric_names import TABLE_METRICS

            report = {**self._base_report(), **dict.fromkeys(TABLE_METRICS)}
            report.update(status, stop_cause="no_good_eval")
        else:
            report = {**self.state.last_good_eval, **status, "stop_cause": verdict.cause,
                      REPEATS_STEP: self.state.last_good_eval.get("step")}
            report.setdefault(FINAL_FROM_STEP, report.get("step"))
        self.reporter.report(report, None)
        return report

    def _compilations(self) -> int:
        """Dynamo frames compiled and CUDA graphs captured by this trial's training steps."""
        graphs = self.step_graph.captures if self.step_graph is not None else 0
        return _dynamo_compilations() - self._compiles_before + graphs

    # ------------------------------------------------------------------ timing + cleanup
    def _wall_s(self) -> float:
        return self._wall_before + time.perf_counter() - self._t0

    @contextmanager
    def _accel_timer(self):
        import torch

        t0 = time.perf_counter()
        try:
            yield
        finally:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.state.accel_s += time.perf_counter() - t0

    def cleanup(self) -> None:
        """Drop every reference to model/optimizer state and free accelerator memory."""
        from trainable.eval.evaluate import free_accelerator_memory

        if self.step_graph is not None:
            self.step_graph.release()
        for name in ("step_graph", "model", "optimizer", "scheduler", "params", "tokenizer", "examples"):
            if hasattr(self, name):
                setattr(self, name, None)
        free_accelerator_memory()


def _dynamo_compilations() -> int:
    """Frames torch dynamo compiled in this process so far (0 when torch._dynamo was never imported)."""
    import sys

    if "torch._dynamo" not in sys.modules:
        return 0
    from torch._dynamo.utils import counters

    return int(counters["frames"]["ok"])


def _has_plain_head(model: Any) -> bool:
    """Whether the chunked loss applies (a plain linear LM head)."""
    from trainable.training.chunked_loss import causal_lm_parts

    try:
        causal_lm_parts(model)
    except (ValueError, AttributeError):
        return False
    return True


def _lr_lambda(cfg: TrialConfig, total_steps: int):
    """Multiplier of ``cfg.lr`` at a given scheduler step: linear warmup, then linear/cosine/constant."""

    def factor(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "constant":
            return 1.0
        span = max(total_steps - cfg.warmup_steps, 1)
        progress = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
        if cfg.lr_schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0 - progress

    return factor


def _inject_loss_fault(cfg: TrialConfig, step: int, loss: Any) -> Any:
    """Test hook: make this step's loss NaN or 1000x (off unless ``inject_fault_step`` is set)."""
    if cfg.inject_fault_step != step:
        return loss
    if cfg.inject_fault_kind == "nan_loss":
        return loss * float("nan")
    if cfg.inject_fault_kind == "loss_spike":
        return loss * 1000.0
    return loss


def _inject_grad_fault(cfg: TrialConfig, step: int, params: list[Any]) -> None:
    """Test hook: put a NaN into one gradient (``inject_fault_kind: nan_grad``)."""
    if cfg.inject_fault_step == step and cfg.inject_fault_kind == "nan_grad":
        for p in params:
            if p.grad is not None:
                p.grad.view(-1)[0] = float("nan")
                return


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

