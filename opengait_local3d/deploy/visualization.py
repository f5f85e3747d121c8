"""The learned part volumes of one sequence drawn from a trained model (the paper's Fig. 4): the checkpoint the test
phase loads, the sequence through the evaluator's transform, the pictures of :mod:`opengait_local3d.visuals`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from ..engine.config.loading import load_config
from ..engine.data import apply_to_sequence, get_transform
from ..engine.data.dataset import load_sequence
from ..engine.host import load_network
from ..errors import DataError, OutputError
from ..visuals import render_part_visuals

__all__ = ["visualize_run", "read_sequence"]


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
