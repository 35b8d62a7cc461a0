"""Which checkpoint `mtsweep export` ships, and everything its model card says about it.

:func:`select_checkpoint` resolves ``--trial N [--step S]`` or ``--front-member K`` against a results
folder, checking every input first (one-line :class:`~trainable.base.errors.InputError` naming the flag);
:func:`provenance` gathers the checkpoint's metrics (dev from its report; test from ``mtsweep finalize``
when it evaluated this checkpoint), the S0 numbers, the sweep and the trial's full config. No torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.front import FRONT_LEVELS
from trainable.base.errors import InputError


@dataclass
class Selected:
    """The checkpoint to export and where it sits in the sweep."""

    results: Any
    """``analysis.loading.SweepResults`` of the folder."""
    point: Any
    """The ``analysis.front.Point`` (its report's metrics, params, step, checkpoint)."""
    checkpoint: str
    chosen_by: str
    """``--trial 3 --step 20`` / ``--front-member 2 (trial level)``."""
    on_front: dict[str, bool]
    """Whether the checkpoint is on the sweep's front at each level."""


def select_checkpoint(results_dir: Path, *, trial: int | None, step: int | None, front_member: int | None,
                      level: str = "trial") -> Selected:
    """The checkpoint named by the flags; InputError (naming the flag) for anything that does not exist."""
    from analysis.front import pareto_front
    from analysis.loading import load_sweep, removed_checkpoints

    if step is not None and trial is None:
        raise InputError("--step", "only goes with --trial N")
    if (trial is None) == (front_member is None):
        raise InputError("--trial", "give exactly one of --trial N or --front-member K")
    if level not in FRONT_LEVELS:
        raise InputError("--level", f"must be one of {', '.join(FRONT_LEVELS)}, got {level!r}")
    if not (results_dir / "sweep.yaml").is_file():
        raise InputError(str(results_dir), "not a sweep results folder (no sweep.yaml)")
    results = load_sweep(results_dir)
    removed = removed_checkpoints(results_dir)
    fronts = {lv: pareto_front(pts, results.objectives, results.modes, level=lv)
              for lv, pts in (("trial", results.trial_points), ("checkpoint", results.checkpoint_points))}
    if trial is not None:
        point, chosen_by = _by_trial(results, removed, trial, step)
    else:
        members = fronts[level].front
        if not members:
            raise InputError("--front-member", f"the {level}-level front of {results_dir} is empty")
        if not 1 <= front_member <= len(members):  # type: ignore[operator]
            raise InputError("--front-member", f"must be 1..{len(members)} (rows of the {level}-level front table, "
                                               f"`mtsweep pareto`), got {front_member}")
        point = members[front_member - 1]  # type: ignore[operator]
        chosen_by = f"--front-member {front_member} ({level} level)"
        if not point.checkpoint:
            raise InputError("--front-member", f"front member {front_member} ({point.label}) has no checkpoint")
    on_front = {lv: any(p.checkpoint == point.checkpoint for p in f.front) for lv, f in fronts.items()}
    return Selected(results, point, str(point.checkpoint), chosen_by, on_front)


def _by_trial(results: Any, removed: set[str], number: int, step: int | None) -> tuple[Any, str]:
    evals = [p for p in results.checkpoint_points if p.optuna_number == number]
    if not evals:
        known = sorted({p.optuna_number for p in results.checkpoint_points if p.optuna_number is not None})
        raise InputError("--trial", f"no trial {number} in {results.root / 'reports.jsonl'} (trials: "
                                    f"{_ranges(known) or 'none yet'})")
    with_ckpt = [p.step for p in evals if p.checkpoint]
    if step is None:
        final = next((p for p in results.trial_points if p.optuna_number == number), None)
        if final is None or not final.checkpoint:
            raise InputError("--trial", f"trial {number} has no final checkpoint; give --step (steps with one: "
                                        f"{', '.join(map(str, with_ckpt)) or 'none'})")
        return final, f"--trial {number} (its final checkpoint, step {final.step})"
    matches = [p for p in evals if p.step == step]
    if not matches:
        raise InputError("--step", f"trial {number} has no report at step {step} (steps: "
                                   f"{', '.join(str(p.step) for p in evals)})")
    point = matches[-1]
    if not point.checkpoint:
        deleted = any(r.get("checkpoint") in removed for r in _reports_at(results.root, number, step))
        why = ("was deleted by the retention policy (sweep.yaml retention: front keeps each trial's newest "
               "checkpoint and those on its own front)") if deleted else "has no checkpoint"
        raise InputError("--step", f"trial {number} at step {step} {why}; steps with one: "
                                   f"{', '.join(map(str, with_ckpt)) or 'none'}")
    return point, f"--trial {number} --step {step}"


def _reports_at(root: Path, number: int, step: int) -> list[dict[str, Any]]:
    from analysis.loading import read_jsonl

    return [r for r in read_jsonl(root / "reports.jsonl").records
            if r.get("optuna_number") == number and (r.get("metrics") or {}).get("step") == step]


def _ranges(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:20])) + (" ..." if len(numbers) > 20 else "")


def finalize_results(results_dir: Path, checkpoint: str) -> list[dict[str, Any]]:
    """What `mtsweep finalize` measured for ``checkpoint`` (as seen from here: finalize may have run where the
    folder was before it was copied): [{"split", "metrics", "s0", "file"}] (newest last)."""
    from analysis.loading import local_checkpoint

    found = []
    for path in sorted(results_dir.glob("final*/s0_vs_s1.json"), key=lambda p: p.stat().st_mtime):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for member in data.get("members") or []:
            if local_checkpoint(member.get("checkpoint"), results_dir) == checkpoint:
                found.append({"split": data.get("split"), "metrics": member.get("metrics") or {},
                              "s0": data.get("s0") or {}, "file": str(path)})
    return found


def _system_prompt(trial_config: dict[str, Any]) -> str | None:
    """The system prompt the trial used (trainable.data.prompting's default when its config says None)."""
    from trainable.data.prompting import DEFAULT_SYSTEM_PROMPT

    value = trial_config.get("system_prompt")
    return DEFAULT_SYSTEM_PROMPT if value is None else value


def provenance(selected: Selected) -> dict[str, Any]:
    """Everything the model card and ``mtsweep_export.json`` say about the exported checkpoint."""
    from trainable.training.checkpointing import read_state

    results, point = selected.results, selected.point
    root = Path(results.root)
    try:
        trial_config = read_state(selected.checkpoint).config
    except (OSError, ValueError, TypeError) as err:
        raise InputError(selected.checkpoint, f"cannot read trainer_state.json ({err})") from None
    cfg = results.config
    return {
        "sweep": {"name": cfg.get("name"), "results_dir": str(root.resolve()), "study_name": results.study_name,
                  "objectives": dict(zip(results.objectives, results.modes, strict=True)),
                  "constraints": results.constraints, "sampler": cfg.get("sampler"),
                  "num_trials": cfg.get("num_trials"), "search_space": cfg.get("search_space")},
        "trial": {"optuna_number": point.optuna_number, "ray_trial_id": point.trial_id, "state": point.state,
                  "stop_cause": point.stop_cause, "diverged": point.diverged},
        "checkpoint": {"path": selected.checkpoint, "step": point.step, "chosen_by": selected.chosen_by,
                       "on_front": selected.on_front, "feasible": point.feasible,
                       "failed_constraints": list(point.failed_constraints)},
        "base_model": trial_config.get("model"),
        "system_prompt": _system_prompt(trial_config),
        "params": dict(point.params),
        "trial_config": trial_config,
        "dev_metrics": dict(point.metrics),
        "finalize": finalize_results(root, selected.checkpoint),
        "s0": results.baseline,
    }
