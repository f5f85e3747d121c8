"""Train or test a gait model: ``python -m opengait_local3d.main --cfgs CFG --phase train|test``.

OpenGait's command line (``--cfgs``, ``--phase``, ``--iter``, ``--log_to_file``; ``--local_rank`` is accepted
and ignored), running on CPU or GPU. One process by default; several under torchrun::

    torchrun --nproc_per_node=2 -m opengait_local3d.main --cfgs CFG --phase train
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .engine.distributed import launched_by_torchrun
from .errors import EngineError
from .engine.launcher import run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m opengait_local3d.main",
        description="Train or test Local3DCNN, GaitSet, GaitPart, GaitGL or GaitGLLocal3D from an OpenGait-style "
                    "yaml config (merged over configs/default.yaml). Runs as one process on CPU or GPU; under "
                    "torchrun --nproc_per_node=K as K processes (gloo on CPU, nccl on GPU).",
        epilog="Outputs (checkpoints, logs, tensorboard summaries, evaluation tables) go to "
               "output/<dataset_name>/<model>/<save_name>/ under the working directory "
               "(engine_cfg.output_root changes 'output').")
    parser.add_argument("--cfgs", required=True, metavar="CFG", help="the yaml config of the run")
    parser.add_argument("--phase", default="train", choices=["train", "test"], help="train or test (default: train)")
    parser.add_argument("--iter", type=int, default=0, metavar="N",
                        help="restore the checkpoint of iteration N (overrides both restore_hint keys)")
    parser.add_argument("--log_to_file", action="store_true",
                        help="also log to output/<dataset>/<model>/<save_name>/logs/<datetime>.txt")
    parser.add_argument("--restart", action="store_true",
                        help="train from scratch where checkpoints of this save_name exist: their run's files move "
                             "to <save_name>.old-<date>/ beside it (without it, such a training refuses to start "
                             "unless it resumes the newest checkpoint with --iter)")
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help="auto (CUDA if present, else CPU; the default), cpu, cuda or cuda:N")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args.cfgs, args.phase, iteration=args.iter, log_to_file=args.log_to_file, device=args.device,
            restart=args.restart)
    except EngineError as err:
        print(f"{_rank_prefix()}error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_rank_prefix()}interrupted", file=sys.stderr)
        return 130
    return 0


def _rank_prefix() -> str:
    return f"[rank {os.environ.get('RANK')}] " if launched_by_torchrun() else ""


if __name__ == "__main__":
    sys.exit(main())
