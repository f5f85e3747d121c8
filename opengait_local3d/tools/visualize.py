"""``opengait-local3d visualize``: draw the learned part volumes of one sequence (the paper's Fig. 4)."""
from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import torch

from ..engine.checkpoint import checkpoint_path, load_checkpoint
from ..engine.config.loading import load_config
from ..engine.config.paths import output_path
from ..engine.data import get_transform
from ..engine.data.dataset import load_sequence
from ..engine.errors import DataError, EngineError
from ..engine.part_visuals import render_part_visuals
from ..modeling import build_network

__all__ = ["register", "visualize_run", "load_network", "read_sequence"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``visualize`` subcommand."""
    parser = subparsers.add_parser(
        "visualize", help="draw the learned part volumes of one sequence",
        description="Run one sequence through a trained Local3DCNN and draw, for each 3D local block, every "
                    "part's box per frame on the silhouettes with its temporal window and gamma, the sampled "
                    "part volumes over time, and the fusion weight of each path (PNG), plus an MP4 of the "
                    "last block's boxes.",
        epilog="Example: opengait-local3d visualize --cfgs configs/3dlocal_casiab.yaml --iter 120000 "
               "--sequence CASIA-B-pkl/075/nm-05/090 --out vis")
    parser.add_argument("--cfgs", required=True, metavar="CFG", help="the run's yaml config")
    parser.add_argument("--iter", type=int, required=True, metavar="N",
                        help="checkpoint iteration of the run (0: the untrained network)")
    parser.add_argument("--sequence", required=True, type=Path, metavar="PATH",
                        help="one sequence: its pkl file, or its folder <id>/<type>/<view>/")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the pictures")
    parser.set_defaults(func=partial(_run, parser))


def load_network(cfgs: Mapping[str, Any], iteration: int) -> torch.nn.Module:
    """The config's network with the weights of its checkpoint ``iteration`` (evaluator's save_name), in
    eval mode on the CPU; ``iteration`` 0 keeps the initialisation."""
    network = build_network(cfgs["model_cfg"])
    network.init_parameters()
    if iteration:
        save_name = cfgs["evaluator_cfg"]["save_name"]
        state = load_checkpoint(checkpoint_path(output_path(cfgs, training=False), save_name, iteration))["model"]
        network.load_state_dict({k.removeprefix("net."): v for k, v in state.items()})
    return network.eval()


def read_sequence(path: Path, cfgs: Mapping[str, Any]) -> torch.Tensor:
    """The sequence at ``path`` (a pkl, or a folder whose first pkl is taken) through the evaluator's
    transform: float ``[s, h, w]``."""
    if path.is_dir():
        pkls = sorted(path.glob("*.pkl"))
        if not pkls:
            raise DataError(f"{path}: no .pkl file in this folder")
        path = pkls[0]
    frames = torch.from_numpy(load_sequence(path))[None]
    transform = get_transform(cfgs["evaluator_cfg"].get("transform"), "evaluator_cfg.transform")[0]
    return transform(frames, None, torch.Generator())[0].float()


def visualize_run(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int, sequence_path: str | os.PathLike,
                  out_dir: str | os.PathLike) -> list[Path]:
    """Draw checkpoint ``iteration`` of the run ``cfgs`` on one sequence into ``out_dir``; the files written.

    Raises:
        ConfigError, CheckpointError, DataError: naming the config, checkpoint or pkl at fault.
    """
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs))
    network = load_network(cfgs, iteration)
    sequence = read_sequence(Path(sequence_path), cfgs)
    out_dir = Path(out_dir)
    pictures = render_part_visuals(network, sequence, out_dir)
    return sorted(p for p in out_dir.glob("*") if p.stem in pictures or p.suffix == ".mp4")


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.iter < 0:
        parser.error(f"--iter must be >= 0, got {args.iter}")
    try:
        files = visualize_run(args.cfgs, args.iter, args.sequence, args.out)
    except EngineError as err:
        print(f"opengait-local3d visualize: error: {err}", file=sys.stderr)
        return 2
    if not files:
        print(f"opengait-local3d visualize: {load_config(args.cfgs)['model_cfg']['model']} has no 3D local blocks: "
              "nothing to draw", file=sys.stderr)
        return 1
    state = "untrained network" if args.iter == 0 else f"iteration {args.iter}"
    print(f"opengait-local3d visualize ({state}): wrote\n  " + "\n  ".join(str(f) for f in files))
    return 0
