"""``opengait-local3d compare``: GaitSet, GaitPart, Local3DCNN, Local3DCNN without its local paths, GaitGL and GaitGL
with 3D local paths on the same SynthGait, side by side, with their learning curves."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..errors import EngineError
from ..experiments.compare import DEFAULT_MODELS, compare, comparison_title, format_comparison, write_comparison
from ..experiments.quickstart import SYNTH_MODELS
from .arguments import at_least

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare", help="GaitSet vs GaitPart vs Local3DCNN vs GaitGL (with and without local paths) on SynthGait",
        description="Train and test the models on the quick-start SynthGait with matched configs "
                    "(configs/synth/*_synth.yaml: same data, input size, batch, clip length, optimizer and "
                    "schedule; each model keeps its own losses; Local3DCNN-no-local is Local3DCNN's config with "
                    "local_blocks: [], GaitGL-Local3D is GaitGL with 3D local paths around its three stages), "
                    "once per seed, and print one table of cross-view rank-1 (mean and sample "
                    "standard deviation over seeds). Every saved checkpoint is tested too, for the learning "
                    "curves. Runs already finished in OUT are reused, interrupted ones resume.",
        epilog="Written: OUT/compare.md and OUT/compare.csv (the table), OUT/learning_curves.csv and "
               "OUT/learning_curves.png (mean rank-1 over NM/BG/CL and seeds against iterations).")
    parser.add_argument("--out", type=Path, default=Path("quickstart"), metavar="DIR",
                        help="folder for the data, configs and outputs (default: ./quickstart, shared with quickstart)")
    parser.add_argument("--seeds", type=at_least(1), default=1, metavar="K", help="training seeds 0..K-1 per model (default: 1)")
    parser.add_argument("--models", nargs="+", choices=list(SYNTH_MODELS), default=list(DEFAULT_MODELS),
                        metavar="MODEL", help=f"models to compare, of {', '.join(SYNTH_MODELS)} "
                                              f"(default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--iter", type=at_least(1), default=None, metavar="N",
                        help="training iterations of every model (default: each config's total_iter)")
    parser.add_argument("--workers", type=at_least(1), default=None, metavar="K",
                        help="processes generating the data (default: CPUs available)")
    parser.add_argument("--size", type=int, choices=(32, 64), default=32,
                        help="32: the quick start's SynthGait and configs (32x24 input; default); 64: the paper's "
                             "64x44 input (block-3 map 16x11), the same networks and schedule, on SynthGait rendered "
                             "at 64 px with the hard realism preset, in OUT/64px")
    parser.add_argument("--carry-optimizer", action="store_true",
                        help="staged models (Local3DCNN, GaitGL-Local3D): phase 2 keeps the Adam state of every "
                             "parameter it restores from phase 1 (optimizer_reset: false), only the new local paths "
                             "start afresh; their runs are saved under the suffix 'carry'. Default: a fresh optimizer, "
                             "as GLN's phase 2 (at 64x44 carrying gained Local3DCNN 1.6 points, at 32 px nothing)")
    parser.add_argument("--warm-fraction", type=float, default=None, metavar="F",
                        help="staged models: the share of the iterations of their first phase, without local paths "
                             "(default: a half; the local paths train the rest; the runs' names say the warm-start "
                             "iterations, e.g. warm100)")
    parser.add_argument("--final-only", action="store_true",
                        help="test only each run's last checkpoint (no learning curves; saves most of the test time)")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    out = args.out / "64px" if args.size == 64 else args.out
    try:
        runs = compare(out, args.models, args.seeds, args.iter, args.workers, args.size, not args.final_only,
                       args.carry_optimizer, args.warm_fraction)
    except (EngineError, FileExistsError) as err:
        print(f"opengait-local3d compare: error: {err}", file=sys.stderr)
        return 2
    title = comparison_title(args.size, args.carry_optimizer, args.warm_fraction)
    written = ", ".join(map(str, write_comparison(out, runs, title, curves=not args.final_only)))
    print(f"\n{title}\n{format_comparison(runs)}\n\nwritten: {written}")
    return 0
