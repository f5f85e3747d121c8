"""``opengait-local3d quickstart``: SynthGait -> train Local3DCNN -> test -> visualise, on CPU, in minutes
(:mod:`opengait_local3d.experiments.quickstart`)."""
from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

from ..errors import EngineError
from ..experiments.quickstart import CONDITIONS, SYNTH_DATA, quickstart
from .arguments import at_least

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quickstart`` subcommand."""
    parser = subparsers.add_parser(
        "quickstart", help="synthetic data -> train -> test -> visualise, on CPU",
        description="Generate a small SynthGait (50 subjects x 10 walks x 11 views, 32x32 px; reused when "
                    "complete), train Local3DCNN on its 30 training subjects with configs/synth/3dlocal_synth.yaml "
                    "(the first half of the iterations without local paths, then with them), "
                    "test it on the other 20 with the CASIA-B protocol, print the rank-1 table and draw the "
                    "learned part volumes of one test sequence. About 2-4 minutes on 2 CPU cores. Running it "
                    "again resumes an interrupted training and reuses a finished one.",
        epilog="Then: tensorboard --logdir OUT/output; the configs of the two phases are "
               "OUT/configs/3dlocal_synth_nolocal.yaml and OUT/configs/3dlocal_synth_warm200.yaml "
               "(python -m opengait_local3d.main --cfgs OUT/configs/3dlocal_synth_warm200.yaml --phase test).")
    parser.add_argument("--out", type=Path, default=Path("quickstart"), metavar="DIR",
                        help="folder for the data, configs and outputs (default: ./quickstart)")
    parser.add_argument("--iter", type=at_least(1), default=None, metavar="N",
                        help="training iterations (default: the config's total_iter)")
    parser.add_argument("--workers", type=at_least(1), default=None, metavar="K",
                        help="processes generating the data (default: CPUs available)")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        result, pictures = quickstart(args.out, args.iter, args.workers)
    except (EngineError, FileExistsError) as err:
        print(f"opengait-local3d quickstart: error: {err}", file=sys.stderr)
        return 2
    minutes = (time.perf_counter() - started) / 60
    scores = ", ".join(f"{c} {result.rank1[c]:.1f}%" for c in CONDITIONS)
    print(f"\nQuick start done in {minutes:.1f} min. Local3DCNN on SynthGait "
          f"({SYNTH_DATA['subjects']} subjects, {SYNTH_DATA['size']} px), cross-view rank-1: {scores}.\n"
          f"  config:        {result.config_path}\n"
          f"  outputs:       {result.save_path} (checkpoints/, "
          f"rank1_CASIA-B_euc-{result.save_path.name}-{result.iteration:05d}.md, summary/)\n"
          f"  visualisation: {pictures[0].parent if pictures else '(none)'}\n"
          f"  tensorboard:   tensorboard --logdir {args.out / 'output'}")
    return 0
