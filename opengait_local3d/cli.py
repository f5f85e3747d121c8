"""The ``opengait-local3d`` command: one entry point, one subcommand per module of :mod:`opengait_local3d.tools`.

Each command module exposes ``register(subparsers)``, which adds its parser(s) and sets ``func`` to the
callable that runs it.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: command modules, in the order ``--help`` lists their subcommands
COMMAND_MODULES = ("quickstart", "compare", "parts", "synth", "pretreat", "visualize", "embed", "enroll", "identify",
                   "export", "configs", "plugin")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opengait-local3d",
        description="3D Local CNN for gait recognition. Training and testing: "
        "python -m opengait_local3d.main --cfgs CFG --phase train|test",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"opengait_local3d.tools.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
