"""`mtsweep status DIR`: the trial table of a running or finished sweep (study + results files), and the
disk its results folder and checkpoints use."""

from __future__ import annotations

import argparse

HELP = "print the trial table of a sweep results folder (running or finished)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="DIR", help="results folder of the sweep (holds sweep.yaml)")


def status_rows(results_dir, cfg) -> tuple[list[str], list[list]]:  # noqa: ANN001 (lazy types)
    """Headers and rows: one row per study trial, running ones with their latest report."""
    from pathlib import Path

    import optuna

    from sweep.results_dir import REPORTS_JSONL, study_storage_url
    from sweep.study import make_storage
    from sweep.trial_table import short_params
    from trainable.base.jsonl import read_records

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    headers = ["#", "ray trial", "state", "steps", *cfg.objectives, "stop", "diverged", "infeasible", "params"]
    url = study_storage_url(cfg, results_dir)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return headers, []  # the driver died before it created the study (and status never creates one)
    try:
        study = optuna.load_study(study_name=cfg.resolved_study_name, storage=make_storage(url))
    except KeyError:  # a study file without this sweep's study yet
        return headers, []
    latest: dict[int, dict] = {}
    for record in read_records(results_dir / REPORTS_JSONL):
        if record.get("optuna_number") is not None:
            latest[record["optuna_number"]] = record.get("metrics", {})
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "WAITING":
            continue
        attrs = t.user_attrs
        report = latest.get(t.number, {})
        if t.values is not None:
            values = list(t.values)
        elif attrs.get("last_values"):
            values = [attrs["last_values"].get(o) for o in cfg.objectives]
        else:
            values = [report.get(o) for o in cfg.objectives]
        rows.append([
            t.number, attrs.get("ray_trial_id"), t.state.name, attrs.get("steps", report.get("step")),
            *values, attrs.get("stop_cause"), bool(attrs.get("diverged", False)),
            "; ".join(attrs.get("failed_constraints") or []), short_params(t.params, 70),
        ])
    return headers, rows


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sweep.results_dir import read_resolved_config
    from sweep.trial_table import format_table
    from trainable.base.constraints import describe

    results_dir = Path(args.results_dir).resolve()
    cfg = read_resolved_config(results_dir, check_inputs=False)
    headers, rows = status_rows(results_dir, cfg)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[2]] = counts.get(row[2], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials yet"
    print(f"sweep '{cfg.name}' in {results_dir}: {len(rows)}/{cfg.num_trials} trials ({summary})")
    print("objectives: " + ", ".join(f"{o} ({m})" for o, m in zip(cfg.objectives, cfg.modes, strict=True))
          + f"; constraints: {describe(cfg.constraints)}")
    if rows:
        print(format_table(headers, rows))
    from sweep.disk_usage import disk_usage
    from sweep.results_dir import SWEEP_YAML
    from trainable.base.yaml_config import load_yaml

    written = "retention" in load_yaml(results_dir / SWEEP_YAML)  # absent: written before retention existed
    policy = cfg.retention if written else "none (this sweep predates retention: every checkpoint kept)"
    print(disk_usage(results_dir).describe() + f"; retention: {policy}")
    return 0
