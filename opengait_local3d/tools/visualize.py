"""``opengait-local3d visualize``: draw the learned part volumes of one sequence (the paper's Fig. 4)."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..deploy.visualization import visualize_run
from ..engine.config.loading import load_config
from ..errors import EngineError
from .arguments import add_checkpoint_arguments

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``visualize`` subcommand."""
    parser = subparsers.add_parser(
        "visualize", help="draw the learned part volumes of one sequence",
        description="Run one sequence through a trained Local3DCNN (the checkpoint the test phase would load "
                    "for --iter) and draw, for each 3D local block: every part's box per frame on the "
                    "silhouettes (<block>_boxes.png), its temporal window and gamma per frame "
                    "(<block>_timeline.png), the sampled part volumes over time (<block>_volumes.png), and "
                    "the fusion weight of each path (fusion_weights.png); plus an MP4 of the last block's "
                    "boxes over every frame. The sequence goes through evaluator_cfg.transform first.",
        epilog="Example: opengait-local3d visualize --cfgs configs/3dlocal_casiab.yaml --iter 60000 "
               "--sequence CASIA-B-pkl/075/nm-05/090 --out vis")
    add_checkpoint_arguments(parser)
    parser.add_argument("--sequence", required=True, type=Path, metavar="PATH",
                        help="one sequence: its pkl file, or its folder <id>/<type>/<view>/ (first pkl)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the pictures")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        files = visualize_run(args.cfgs, args.iter, args.sequence, args.out)
    except EngineError as err:
        print(f"opengait-local3d visualize: error: {err}", file=sys.stderr)
        return 2
    if not files:
        print(f"opengait-local3d visualize: {load_config(args.cfgs)['model_cfg']['model']} has no 3D local blocks: "
              "nothing to draw", file=sys.stderr)
        return 1
    state = "the untrained network (--iter 0)" if args.iter == 0 else f"iteration {args.iter}"
    print(f"opengait-local3d visualize: {state}; wrote\n  " + "\n  ".join(str(f) for f in files))
    return 0
