"""Hyperparameter importance per objective with Optuna's evaluator, from the sweep's own study.

``optuna.importance.get_param_importances(study, target=...)`` per objective. Optuna's default evaluator
(PED-ANOVA) treats lower targets as better, so a ``max`` objective's target is negated; the result is
the importance of each hyperparameter for reaching the best values of that objective.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.front import Mode

MIN_COMPLETE_TRIALS = 4
"""Fewer COMPLETE trials than this and importance is not computed (it would be noise)."""


@dataclass
class ImportanceResult:
    """Importance (normalised to sum 1) of every hyperparameter, per objective; or why there is none."""

    importances: dict[str, dict[str, float]]
    """objective -> {param: importance}, most important first."""
    n_complete: int
    skipped: str | None = None
    """Why nothing was computed (too few trials, no study.db, ...), else None."""


def objective_indices(study, objectives: Sequence[str], study_objectives: Sequence[str]) -> dict[str, int]:
    """Index in ``trial.values`` of each objective: the study's metric names, else the sweep's order."""
    names = list(getattr(study, "metric_names", None) or study_objectives)
    return {o: names.index(o) for o in objectives if o in names}


def param_importances(
    study, objectives: Sequence[str], modes: Sequence[Mode], study_objectives: Sequence[str] | None = None
) -> ImportanceResult:
    """Per-objective importances on ``study`` (None study -> skipped)."""
    if study is None:
        return ImportanceResult({}, 0, "no Optuna study (study.db) in the sweep directory")
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < MIN_COMPLETE_TRIALS:
        return ImportanceResult({}, len(complete), f"only {len(complete)} complete trials (need {MIN_COMPLETE_TRIALS})")
    index = objective_indices(study, objectives, study_objectives or objectives)
    out: dict[str, dict[str, float]] = {}
    for obj, mode in zip(objectives, modes, strict=True):
        if obj not in index:
            continue
        i, sign = index[obj], (-1.0 if mode == "max" else 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study, target=lambda t, i=i, s=sign: s * t.values[i])
        out[obj] = {k: float(v) for k, v in imp.items()}
    skipped = None if out else f"none of {', '.join(objectives)} is a value of the study"
    return ImportanceResult(out, len(complete), skipped)


def write_importance(result: ImportanceResult, out_dir: Path) -> list[Path]:
    """importance.csv / importance.md / importance.png (nothing but a note in .md when skipped)."""
    from analysis.exports import markdown_table, write_csv

    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "importance.md"
    if result.skipped:
        md.write_text(f"# Hyperparameter importance\n\nNot computed: {result.skipped}.\n", encoding="utf-8")
        return [md]
    rows = [{"objective": o, "param": p, "importance": v} for o, imp in result.importances.items() for p, v in imp.items()]
    paths = [write_csv(out_dir / "importance.csv", rows, ["objective", "param", "importance"])]
    md.write_text(
        "# Hyperparameter importance\n\nOptuna `get_param_importances` (PED-ANOVA) per objective over "
        f"{result.n_complete} complete trials; importances sum to 1 per objective.\n\n"
        + markdown_table(rows, ["objective", "param", "importance"]),
        encoding="utf-8",
    )
    from analysis.plot_static import draw_bars

    title = f"Hyperparameter importance per objective (Optuna PED-ANOVA, {result.n_complete} complete trials)"
    paths += [md, draw_bars(result.importances, title, out_dir / "importance.png")]
    return paths
