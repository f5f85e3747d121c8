"""``opengait-local3d visualize``: draw the learned part volumes of one sequence (the paper's Fig. 4)."""
from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import torch

from ..engine.config.loading import load_config
from ..engine.data import apply_to_sequence, get_transform
from ..engine.data.dataset import load_sequence
from ..errors import DataError, EngineError, OutputError
from ..engine.host import load_network
from ..visuals import render_part_visuals
from .arguments import add_checkpoint_arguments

__all__ = ["register", "visualize_run", "read_sequence"]


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


def read_sequence(path: Path, cfgs: Mapping[str, Any]) -> torch.Tensor:
    """The sequence at ``path`` (a pkl, or a folder whose first pkl is taken, as the first input) through the
    evaluator's transform: float ``[s, h, w]``.

    Raises:
        DataError: naming the path, if it is missing, holds no pkl, or the pkl is not a silhouette sequence.
    """
    if path.is_dir():
        pkls = sorted(path.glob("*.pkl"))
        if not pkls:
            raise DataError(f"{path}: no .pkl file in this folder")
        path = pkls[0]
    transform = get_transform(cfgs["evaluator_cfg"].get("transform"), "evaluator_cfg.transform")[0]
    return apply_to_sequence(transform, load_sequence(path))


def visualize_run(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int, sequence_path: str | os.PathLike,
                  out_dir: str | os.PathLike) -> list[Path]:
    """Draw checkpoint ``iteration`` of the run ``cfgs`` (0: untrained) on one sequence into ``out_dir``.

    Returns:
        The files written (PNGs, and the MP4 when OpenCV can encode one); empty for a network without
        3D local blocks (GaitSet, GaitPart).

    Raises:
        ConfigError, CheckpointError, DataError: naming the config key, checkpoint or pkl at fault (a sequence
            whose frames the network cannot take included).
        OutputError: ``out_dir`` is a file.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: a file is there; the pictures go to a folder (created if absent)")
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs))
    network = load_network(cfgs, iteration)
    sequence = read_sequence(Path(sequence_path), cfgs)
    try:
        pictures = render_part_visuals(network, sequence, out_dir)
    except (ValueError, RuntimeError) as err:  # the network's input checks, or torch's (frames too small)
        raise DataError(f"{sequence_path}: {cfgs['model_cfg']['model']} cannot take this sequence "
                        f"({'x'.join(map(str, sequence.shape[-2:]))} pixels after evaluator_cfg.transform): "
                        f"{str(err).splitlines()[0]}") from None
    if not pictures:
        return []
    video = out_dir / f"{[name for name in pictures if name.endswith('_boxes')][-1]}.mp4"
    return [out_dir / f"{name}.png" for name in pictures] + ([video] if video.is_file() else [])


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
