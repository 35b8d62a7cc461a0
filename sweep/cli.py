"""``mtsweep`` entry point: a thin argparse dispatcher over ``sweep.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

from sweep.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtsweep",
        description="Multi-objective QLoRA hyperparameter sweeps for EN->JA translation "
        "(Ray Tune + Optuna): fluency (COMET) vs terminology.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"sweep.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from search_spaces.errors import SearchSpaceError
    from trainable.base.errors import InputError

    return (InputError, SearchSpaceError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except _user_errors() as err:
        print(f"mtsweep {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"mtsweep {args.command}: interrupted", file=sys.stderr)
        return 128 + int(getattr(err, "signum", 2))  # 130 after SIGINT, 143 after SIGTERM


if __name__ == "__main__":
    sys.exit(main())
