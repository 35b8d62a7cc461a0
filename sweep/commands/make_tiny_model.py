"""`mtsweep make-tiny-model DIR`: toy offline assets (tiny Qwen2 LM + tokenizer, tiny COMET)."""

from __future__ import annotations

import argparse
import time

HELP = (
    "Build, offline and in seconds, a TOY tiny Qwen2-architecture LM with a BPE tokenizer and chat template "
    "(briefly pre-trained on the bundled sample data) plus a tiny COMET checkpoint, for the demo and tests. "
    "Toys: they exercise the real code paths; their translations and scores mean nothing."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", metavar="DIR", help="output directory (created; writes DIR/model and DIR/comet)"
    )
    parser.add_argument(
        "--pretrain-steps",
        type=int,
        default=200,
        metavar="N",
        help="pre-training steps of the toy LM on the sample data, 0 = random weights (default: 200)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def run(args: argparse.Namespace) -> int:
    from trainable.base.errors import InputError

    if args.pretrain_steps < 0:
        raise InputError("--pretrain-steps", f"must be >= 0, got {args.pretrain_steps}")
    from trainable.testing.tiny_assets import make_tiny_assets

    t0 = time.perf_counter()
    assets = make_tiny_assets(args.dir, pretrain_steps=args.pretrain_steps, seed=args.seed)
    print(f"model: {assets.model_dir}")
    print(f"comet: {assets.comet_ckpt}")
    print(f"built in {time.perf_counter() - t0:.1f} s (toy assets: for tests and the demo only)")
    return 0
