"""``opengait-local3d synth``: render SynthGait (:func:`opengait_local3d.datasets.synthgait.generate`)."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..datasets.synthgait import TYPES, VIEWS, SynthGaitSpec, generate


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` subcommand."""
    defaults = SynthGaitSpec()
    parser = subparsers.add_parser(
        "synth", help="generate SynthGait, a CASIA-B-shaped synthetic dataset",
        description="Render SynthGait: walking silhouettes of articulated 3D bodies with CASIA-B's structure "
                    f"(ids 001.., types {', '.join(TYPES)}, views in degrees) in OpenGait's pkl layout, plus the "
                    "partition OUT/SynthGait.json (first 60% of ids train). An existing OUT is reused if it is a "
                    "complete SynthGait output with the same parameters, completed if it is an incomplete one, "
                    "replaced if it is one of other parameters only with --force, and never overwritten if it is "
                    "anything else.",
        epilog="Example: opengait-local3d synth --out data/SynthGait --subjects 50 --size 64 --workers 2")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output dataset root")
    parser.add_argument("--subjects", type=int, default=defaults.subjects, metavar="N",
                        help=f"number of subjects (default: {defaults.subjects}, as CASIA-B)")
    parser.add_argument("--views", type=int, nargs="+", default=list(VIEWS), metavar="DEG",
                        help="camera azimuths in degrees: 0 = walking towards the camera, 90 = side view, "
                             "180 = from behind (default: 0 18 ... 180)")
    parser.add_argument("--frames", type=int, default=defaults.frames, metavar="N",
                        help=f"minimum frames per sequence; each has N to 1.25 N (default: {defaults.frames})")
    parser.add_argument("--size", type=int, default=defaults.size, metavar="PX",
                        help=f"side of the square silhouettes (default: {defaults.size})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: 0)")
    parser.add_argument("--workers", type=int, default=None, metavar="K",
                        help="worker processes (default: CPUs available); the data do not depend on it")
    parser.add_argument("--force", action="store_true",
                        help="replace a SynthGait in OUT that was generated with other parameters")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        result = generate(args.out, subjects=args.subjects, views=args.views, frames=args.frames, size=args.size,
                          seed=args.seed, workers=args.workers, force=args.force)
    except ValueError as err:
        parser.error(str(err))
    except FileExistsError as err:
        print(f"opengait-local3d synth: error: {err}", file=sys.stderr)
        return 2
    state = "reused the complete SynthGait already in" if result.reused else "wrote SynthGait to"
    print(f"opengait-local3d synth: {state} {result.root}\n"
          f"  dataset_root: {result.root}\n  dataset_partition: {result.partition}")
    return 0
