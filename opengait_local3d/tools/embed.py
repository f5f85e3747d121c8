"""``opengait-local3d embed``: one embedding per sequence of a pkl dataset, with its id, type and view (npz)."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..deploy.embedding import PARTITIONS, embed
from ..errors import EngineError
from .arguments import add_checkpoint_arguments

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``embed`` subcommand."""
    parser = subparsers.add_parser(
        "embed", help="export one embedding per sequence (npz)",
        description="Run every sequence of a dataset in OpenGait's pkl layout (DIR/<id>/<type>/<view>/*.pkl) "
                    "through a trained model, exactly as the test phase does (the evaluator's sampler, "
                    "transform and network), and write FILE (npz) with embeddings [N, c, p] float32 and the "
                    "str arrays ids, types, views, one row per sequence in dataset order (ids, then types, "
                    "views and pkl names sorted). The checkpoint is the one the test phase loads for --iter: "
                    "output_root/<dataset_name>/<model>/<evaluator save_name>/checkpoints/. Load it with "
                    "numpy.load(FILE).",
        epilog="Example: opengait-local3d embed --cfgs configs/3dlocal_casiab.yaml --iter 60000 "
               "--data my-pkl --out my-embeddings.npz")
    add_checkpoint_arguments(parser)
    parser.add_argument("--data", required=True, type=Path, metavar="DIR",
                        help="dataset root in the pkl layout (replaces data_cfg.dataset_root)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="the .npz to write")
    parser.add_argument("--partition", choices=PARTITIONS, default="all",
                        help="which ids of DIR: all (default) every id folder, for data of your own with "
                             "no partition file; train or test: the TRAIN_SET or TEST_SET ids of the config's "
                             "data_cfg.dataset_partition (test gives exactly the features the test phase "
                             "evaluates)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        result = embed(args.cfgs, args.iter, args.data, args.out, args.partition, args.device)
    except EngineError as err:
        print(f"opengait-local3d embed: error: {err}", file=sys.stderr)
        return 2
    if result:
        shape = "x".join(str(d) for d in result["embeddings"].shape)
        print(f"opengait-local3d embed: wrote {args.out} ({shape} embeddings of {len(set(result['ids']))} ids)")
    return 0
