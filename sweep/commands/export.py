"""`mtsweep export RESULTS (--trial N [--step S] | --front-member K) OUT`: one checkpoint, ready to ship.

OUT gets the checkpoint's LoRA adapter as a PEFT folder (``PeftModel.from_pretrained(base, OUT)`` loads
it as is), the base tokenizer with its chat template, ``README.md`` (model card: base model, every
hyperparameter, this checkpoint's dev metrics and test metrics when ``mtsweep finalize`` measured it, the
sweep, the S0 numbers) and ``mtsweep_export.json`` (the same, machine-readable). ``--merge`` writes the
merged full model instead of the adapter (trainable/model/exporting.py). ``--push-to-hub REPO`` uploads OUT.

Every input is checked before anything is written; OUT is built in a hidden sibling folder and renamed
only when everything (the push included) succeeded, so a failed export leaves nothing behind. An existing
OUT is never overwritten. While it reads the checkpoint, the export pins it (sweep/checkpoint_pins.py):
the retention policy of a sweep still running leaves it alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export one checkpoint (a trial's, or a Pareto front member's) as a PEFT adapter or merged model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from analysis.front import FRONT_LEVELS

    parser.add_argument("results_dir", metavar="RESULTS", type=Path, help="sweep results folder")
    parser.add_argument("out", metavar="OUT", type=Path, help="folder to create (never overwritten)")
    parser.add_argument("--trial", type=int, metavar="N", help="Optuna trial number (`mtsweep status` column #)")
    parser.add_argument("--step", type=int, metavar="S", help="the trial's checkpoint at step S (default: its final one)")
    parser.add_argument("--front-member", type=int, metavar="K",
                        help="row K (1 = best in the first objective) of the front table of `mtsweep pareto`")
    parser.add_argument("--level", choices=FRONT_LEVELS, default="trial",
                        help="front that --front-member counts on: trials' final results (default) or every eval")
    parser.add_argument("--merge", action="store_true",
                        help="write the merged full model (base + adapter, in the base's dtype) instead of the adapter")
    parser.add_argument("--merge-dtype", metavar="DTYPE", default=None,
                        help="dtype of the merged model (default: the base model's own; float32 keeps the "
                        "evaluated model exactly)")
    parser.add_argument("--push-to-hub", metavar="REPO", default=None, help="also upload OUT to this Hub repo (owner/name)")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")


MERGE_DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")


def check_flags(args: argparse.Namespace) -> None:
    """Everything that needs no file read: one-line errors naming the flag."""
    from sweep.preflight import check_out_dir
    from trainable.base.errors import InputError

    out = Path(args.out)
    if out.exists() or out.is_symlink():
        raise InputError(str(out), "exists: mtsweep export never overwrites (choose another OUT)")
    check_out_dir(out, "OUT")  # its folder can be created (a file on the way, no write access: said now)
    if not Path(args.results_dir).is_dir():
        raise InputError(str(args.results_dir), "no such sweep results folder")
    for flag, value, least in (("--trial", args.trial, 0), ("--step", args.step, 0), ("--front-member", args.front_member, 1)):
        if value is not None and value < least:
            raise InputError(flag, f"must be >= {least}, got {value}")
    if args.merge_dtype is not None:
        if not args.merge:
            raise InputError("--merge-dtype", "only goes with --merge")
        if args.merge_dtype not in MERGE_DTYPES:
            raise InputError("--merge-dtype", f"must be one of {', '.join(MERGE_DTYPES)}, got {args.merge_dtype!r}")
    if args.private and not args.push_to_hub:
        raise InputError("--private", "only goes with --push-to-hub")
    if args.push_to_hub is not None:
        from sweep.hub_push import check_repo_id

        check_repo_id(args.push_to_hub)


def run(args: argparse.Namespace) -> int:
    import os
    import shutil
    import sys
    import time

    from sweep.checkpoint_pins import pin_checkpoints
    from sweep.config import DEFAULT_TRAINABLE
    from sweep.export_checkpoint import provenance, select_checkpoint
    from sweep.hub_push import HubPushError, push_folder
    from sweep.model_card import render_card
    from trainable.base.errors import InputError
    from trainable.model.exporting import adapter_dir_of, write_json

    check_flags(args)
    results_dir = Path(args.results_dir).resolve()
    out = Path(args.out).resolve()
    selected = select_checkpoint(results_dir, trial=args.trial, step=args.step, front_member=args.front_member,
                                 level=args.level)
    trainable = str(selected.results.config.get("trainable") or DEFAULT_TRAINABLE)
    if trainable != DEFAULT_TRAINABLE:
        raise InputError("trainable", f"this sweep ran {trainable!r}: only the QLoRA trainable's checkpoints hold "
                                      "an adapter to export")
    with pin_checkpoints(results_dir, [selected.checkpoint]):
        adapter_dir_of(selected.checkpoint)  # still there (retention of a running sweep, a copied folder)
        info = provenance(selected)
        dtype = args.merge_dtype
        if args.merge and dtype is None:
            from trainable.model.exporting import base_dtype_name

            try:
                dtype = base_dtype_name(info["base_model"])
            except (OSError, ValueError) as err:
                raise InputError("model", f"cannot read the base model's config ({info['base_model']}): "
                                          f"{str(err).splitlines()[0]}") from None
            dtype = dtype if dtype in MERGE_DTYPES else "float32"
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.parent / f".{out.name}.partial-{os.getpid()}"
        what = f"merged {dtype} model" if args.merge else "adapter"
        print(f"mtsweep export: {selected.chosen_by}: {selected.point.label}, {what} -> {out}", flush=True)
        t0 = time.perf_counter()
        try:
            merge = None
            if args.merge:
                from trainable.model.exporting import write_merged

                merge = write_merged(info["trial_config"], selected.checkpoint, partial, dtype=dtype)
            else:
                from trainable.model.exporting import write_adapter

                write_adapter(selected.checkpoint, info["base_model"], partial)
            (partial / "README.md").write_text(render_card(info, merged=args.merge, merge=merge), encoding="utf-8")
            write_json(partial / "mtsweep_export.json", {**info, "merged": args.merge, "merge": merge,
                                                         "exported": time.time()})
            if args.push_to_hub:
                url = push_folder(partial, args.push_to_hub, private=args.private,
                                  message=f"mtsweep export: {info['sweep']['name']} trial "
                                          f"{info['trial']['optuna_number']} step {info['checkpoint']['step']}")
                print(f"mtsweep export: pushed to {url}", flush=True)
            if out.exists():
                raise InputError(str(out), "appeared while exporting: not overwritten")
            partial.rename(out)
        except HubPushError as err:
            print(f"mtsweep export: error: --push-to-hub {args.push_to_hub}: {err} (nothing written to {out})",
                  file=sys.stderr)
            return 1
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)
    print(f"mtsweep export: wrote {out} in {time.perf_counter() - t0:.1f} s "
          f"({', '.join(sorted(p.name for p in out.iterdir()))})")
    return 0
