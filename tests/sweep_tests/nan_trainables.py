"""Test trainables that break the report contract on purpose (raw NaN/inf, errors, missing objectives).

Not a test module: imported by Ray workers through ``--trainable tests.sweep_tests.nan_trainables:...``.
"""

from __future__ import annotations

from typing import Any

NAN = float("nan")
INF = float("inf")

# behaviour -> the three (comet, term_acc) reports it sends; "raise" raises after its first report.
BEHAVIOURS: dict[str, list[tuple[Any, Any]]] = {
    "ok": [(0.70, 0.20), (0.72, 0.21), (0.74, 0.22)],
    "nan_last": [(0.70, 0.20), (0.71, 0.25), (NAN, NAN)],  # last good: step 2
    "inf_last": [(0.70, 0.20), (0.73, 0.23), (0.75, INF)],  # last good: step 2
    "nan_first": [(NAN, 0.20), (NAN, NAN), (NAN, NAN)],  # never finite for both objectives
    "no_objectives": [(None, None), (None, None), (None, None)],  # keys missing entirely
    "raise": [(0.70, 0.20)],
}


def nan_trainable(config: dict[str, Any]) -> None:
    """Reports ``BEHAVIOURS[config["behaviour"]]`` at steps 1..3 straight to ``tune.report`` (no sanitising)."""
    from ray import tune

    behaviour = config["behaviour"]
    for step, (comet, term) in enumerate(BEHAVIOURS[behaviour], start=1):
        report: dict[str, Any] = {"step": step, "loss": 1.0 / step}
        if comet is not None:
            report.update(comet=comet, term_acc=term)
        tune.report(report)
    if behaviour == "raise":
        raise RuntimeError("deliberate failure in a test trainable")


def zero_work_trainable(config: dict[str, Any]) -> None:
    """One finite report and return: measures the sweep's own per-trial overhead."""
    from ray import tune

    tune.report({"step": 1, "comet": 0.5 + 0.1 * float(config.get("x", 0.0)), "term_acc": 0.5})


def raw_nan_trainable(config: dict[str, Any]) -> None:
    """Two good reports, then raw NaN objectives at step 3 (with a NaN loss when ``nan_in`` is ``loss``),
    then returns normally: no ``stop_cause``, no ``diverged`` flag, as a user's trainable might."""
    from ray import tune

    tune.report({"step": 1, "loss": 1.0, "comet": 0.70, "term_acc": 0.20})
    tune.report({"step": 2, "loss": 0.9, "comet": 0.72, "term_acc": 0.22})
    tune.report({"step": 3, "loss": NAN if config["nan_in"] == "loss" else 0.8, "comet": NAN, "term_acc": NAN})
