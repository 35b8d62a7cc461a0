"""`mtsweep pareto DIR`: Pareto front (trial and checkpoint level), hypervolume, tables, plots, importance."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Pareto front of a finished or running sweep: tables (CSV/MD/TeX/JSON), plots, hypervolume"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.pareto_outputs import LEVELS

    parser.add_argument("dir", type=Path, help="sweep results directory (the sweep's out dir)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default DIR/pareto; an existing one gets a -2, -3, ... suffix)")
    parser.add_argument("--objectives", default=None,
                        help="2 or 3 comma-separated objectives (default: the sweep's own, e.g. comet,term_acc)")
    parser.add_argument("--level", choices=LEVELS, default="both",
                        help="trial: each trial's final result; checkpoint: every eval point (default both)")
    parser.add_argument("--no-plots", action="store_true", help="tables only (no matplotlib/plotly)")


def run(args: argparse.Namespace) -> int:
    from analysis.exports import front_rows, markdown_table
    from analysis.loading import load_sweep
    from analysis.pareto_outputs import unique_out_dir, write_pareto_outputs
    from trainable.base.constraints import describe

    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()] if args.objectives else None
    results = load_sweep(args.dir, objectives, where="--objectives")
    out_dir = unique_out_dir(args.out if args.out is not None else args.dir / "pareto")
    outputs = write_pareto_outputs(results, out_dir, level=args.level, plots=not args.no_plots)
    hv = outputs.hypervolume
    for level, front in outputs.fronts.items():
        rows = front_rows(front, results.root)
        cols = ["trial_id", "step", *front.objectives, "diverged", *[k for k in (rows[0] if rows else {}) if k.startswith("param.")]]
        print(f"Pareto front, {level} level: {len(front.front)} of {len(front.points)} points"
              + (f" ({len(front.excluded)} without values excluded)" if front.excluded else "")
              + (f"; {len(front.infeasible)} infeasible left out ({describe(results.constraints)})" if front.infeasible else ""))
        print(markdown_table(rows, cols) if rows else "(no point with values for every objective yet)\n")
    print(f"hypervolume {hv.value:.6g} ({hv.reference.describe(results.objectives)})")
    for note in outputs.notes:
        print(f"note: {note}")
    print(f"files in {out_dir}:")
    for path in outputs.files:
        print(f"  {path.relative_to(out_dir)}")
    return 0
