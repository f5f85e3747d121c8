"""The ``opengait-local3d`` command: one entry point, one subcommand per tool.

Each subcommand lives in its own module, imported only when it runs, and exposes
``register(subparsers)`` that adds its parser and sets ``func`` to the callable that runs it.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("opengait_local3d.tools.quickstart", "synthetic data -> train -> test -> visualise, on CPU"),
    "compare": ("opengait_local3d.tools.compare", "GaitSet vs GaitPart vs Local3DCNN on SynthGait"),
    "synth": ("opengait_local3d.tools.synthgait", "generate SynthGait, a CASIA-B-shaped synthetic dataset"),
    "pretreat": ("opengait_local3d.tools.pretreat", "raw silhouette PNGs -> OpenGait pkl layout"),
    "visualize": ("opengait_local3d.tools.visualize", "draw the learned part volumes of one sequence"),
    "embed": ("opengait_local3d.tools.embed", "export one embedding per sequence (npz)"),
    "install-plugin": ("opengait_local3d.tools.plugin", "make Local3DCNN visible to an OpenGait checkout"),
    "uninstall-plugin": ("opengait_local3d.tools.plugin", "remove what install-plugin wrote"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opengait-local3d",
        description="3D Local CNN for gait recognition. Training and testing: "
        "python -m opengait_local3d.main --cfgs CFG --phase train|test",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: set[str] = set()
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if module_name in registered:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            stub = sub.add_parser(name, help=f"{help_text} (not yet available)")
            stub.set_defaults(func=_not_available(name))
            continue
        module.register(sub)
        registered.add(module_name)
    return parser


def _not_available(name: str):
    def run(_args: argparse.Namespace) -> int:
        print(f"opengait-local3d {name}: not yet available in this version.", file=sys.stderr)
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
