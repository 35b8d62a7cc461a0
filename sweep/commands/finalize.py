"""`mtsweep finalize DIR`: evaluate the Pareto front's checkpoints on the test set, S0 vs S1 table.

Writes ``DIR/final/s0_vs_s1.md``, ``.csv`` and ``.json`` (a new ``final-2``, ... when ``final`` exists):
the reference report's "S0 vs S1" table with one S1 column (and its delta) per front member.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "evaluate the Pareto front's checkpoints on the test set: the S0 vs S1 table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.front import FRONT_LEVELS

    parser.add_argument("dir", type=Path, help="sweep results folder")
    parser.add_argument("--split", choices=("dev", "test"), default="test", help="evaluation split (default test)")
    parser.add_argument("--objectives", default=None, help="front objectives (default: the sweep's own)")
    parser.add_argument("--level", choices=FRONT_LEVELS, default="trial",
                        help="front of trials' final results (default) or of every checkpoint")
    parser.add_argument("--samples", type=int, default=None, help="evaluate a fixed seeded subset of N pairs")
    parser.add_argument("--max-members", type=int, default=8, help="evaluate at most N front members (default 8)")


def run(args: argparse.Namespace) -> int:
    from analysis.front import pareto_front
    from analysis.loading import load_sweep
    from analysis.pareto_outputs import unique_out_dir
    from analysis.s0_table import Member, write_s0_vs_s1
    from sweep.checkpoint_pins import pin_checkpoints
    from sweep.commands.baseline import evaluate, is_synthetic, resolve_sweep
    from trainable.base.errors import InputError

    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()] if args.objectives else None
    results = load_sweep(args.dir, objectives)
    cfg, _ = resolve_sweep(args.dir)
    points = results.trial_points if args.level == "trial" else results.checkpoint_points
    front = pareto_front(points, results.objectives, results.modes, level=args.level)
    members = [p for p in front.front if p.checkpoint]
    if not members:
        raise InputError(str(args.dir), "no front member has a checkpoint to evaluate")
    skipped = len(front.front) - len(members)
    members = members[: max(1, args.max_members)]
    base = results.baseline
    if base and base.get("split") == args.split and base.get("samples") == args.samples:
        s0, s0_source = dict(base["metrics"]), "baseline.json"
    else:
        print(f"mtsweep finalize: S0 (base model, no adapter) on {args.split} ...", flush=True)
        s0, s0_source = evaluate(cfg, {}, None, args.split, samples=args.samples), "evaluated now"
    evaluated = []
    with pin_checkpoints(args.dir, [str(p.checkpoint) for p in members]):  # a running sweep's retention waits
        gone = [p for p in members if not Path(str(p.checkpoint)).is_dir()]
        for p in gone:  # deleted by the retention of a running sweep since it was read (dominated meanwhile)
            print(f"note: {p.label}: checkpoint {p.checkpoint} is gone (dominated since); not evaluated")
        members = [p for p in members if p not in gone]
        for i, p in enumerate(members, start=1):
            print(f"mtsweep finalize: [{i}/{len(members)}] {p.label} on {args.split} ...", flush=True)
            metrics = evaluate(cfg, p.params, p.checkpoint, args.split, samples=args.samples, step=p.step)
            evaluated.append(Member(p.label, metrics, p.params, p.checkpoint))
    if not evaluated:
        raise InputError(str(args.dir), "no front member's checkpoint is left to evaluate")
    out_dir = unique_out_dir(args.dir / "final")
    title = (f"S0 vs S1 on {args.split}: S0 (base model) vs the Pareto front members "
             f"({', '.join(results.objectives)}; {args.level} level)")
    if is_synthetic(cfg):
        title += " - SYNTHETIC trainable: made-up curves, no model"
    files = write_s0_vs_s1(out_dir, s0, evaluated, split=args.split, title=title,
                           extra={"s0_source": s0_source, "objectives": list(results.objectives),
                                  "level": args.level, "front_members_without_checkpoint": skipped})
    print((out_dir / "s0_vs_s1.md").read_text(encoding="utf-8"))
    if skipped:
        print(f"note: {skipped} front member(s) without a checkpoint were not evaluated")
    print(f"files in {out_dir}: " + ", ".join(p.name for p in files))
    return 0
