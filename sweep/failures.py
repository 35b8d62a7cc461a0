"""Why trials failed, counted: the end of a sweep in which every trial failed says so and exits 1."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

ALL_FAILED_EXIT = 1
"""Exit code of `mtsweep run`/`resume` when every trial of the sweep ended FAIL."""


def failure_cause(study_trial: Any, ray_trial: Any | None) -> str:
    """One line: the exception a trial raised (last line of Ray's error text), else its recorded reason."""
    text = ray_trial.get_error() if ray_trial is not None and getattr(ray_trial, "error_file", None) else None
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if lines:
        return lines[-1][:200]
    attrs = study_trial.user_attrs
    return str(attrs.get("fail_reason") or attrs.get("stop_cause") or "unknown")


def failure_causes(study_trials: list[Any], ray_trials: list[Any]) -> Counter[str]:
    """Cause -> number of FAIL trials (Ray trials matched to study trials by their Optuna number)."""
    from sweep.study import OPTUNA_NUMBER_KEY

    by_number = {t.config.get(OPTUNA_NUMBER_KEY): t for t in ray_trials}
    return Counter(failure_cause(t, by_number.get(t.number)) for t in study_trials if t.state.name == "FAIL")


def report_all_failed(study: Any, ray_trials: list[Any]) -> int:
    """0, or :data:`ALL_FAILED_EXIT` after printing the counted causes when every finished trial failed."""
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    if not finished or any(t.state.name != "FAIL" for t in finished):
        return 0
    causes = failure_causes(finished, ray_trials)
    print(f"mtsweep: error: every trial failed ({len(finished)}); causes:", file=sys.stderr)
    for cause, n in causes.most_common():
        print(f"  {n} x {cause}", file=sys.stderr)
    return ALL_FAILED_EXIT
