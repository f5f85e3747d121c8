"""Pictures of what a network's 3D local blocks attend to, like the paper's Fig. 4 (OpenCV, no plotting library).

For one sequence, each :class:`~opengait_local3d.local3d.Local3DBlock` of the network gives:

* ``block<k>_boxes``: every part's box (its learned centre and extent per frame) drawn on the input
  silhouettes, one colour per part, with a legend of each part's temporal window and mean gamma;
* ``block<k>_volumes``: the sampled part volumes (mean over channels), rows = parts, columns = frames;
* ``fusion_weights``: the fusion's mean absolute weight per path (global + each part), per block.

Images are uint8 BGR arrays (``[H, W, 3]``). Training logs them to tensorboard at each save; the
``visualize`` tool writes them as PNG and the boxes of the last block as an MP4.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from ..local3d import Local3DBlock
from .atomic import atomic_write

__all__ = ["PART_COLOURS", "local_blocks", "render_part_visuals", "write_pictures"]

#: BGR colour of each part, in PART_NAMES order
PART_COLOURS = {"head": (60, 60, 230), "torso": (60, 200, 60), "left_arm": (230, 140, 40),
                "right_arm": (40, 200, 230), "left_leg": (200, 60, 200), "right_leg": (200, 200, 60)}
FRAMES_SHOWN = 8
CELL = 96  # pixel height of one frame in the montages
FONT = cv2.FONT_HERSHEY_SIMPLEX


def local_blocks(network: nn.Module) -> list[tuple[str, Local3DBlock]]:
    """``(label, block)`` of each 3D local block, labelled by backbone block number when the network says it
    (``network.local_blocks``), else by order."""
    blocks = [m for m in network.modules() if isinstance(m, Local3DBlock)]
    numbers = list(getattr(network, "local_blocks", range(1, len(blocks) + 1)))
    return [(f"block{n}", b) for n, b in zip(numbers, blocks)]


@torch.no_grad()
def render_part_visuals(network: nn.Module, sequence: Tensor, out_dir: str | os.PathLike | None = None
                        ) -> dict[str, np.ndarray]:
    """Run ``sequence`` through ``network`` and draw each local block's parts.

    Args:
        network: a host-free network (``forward((ipts, labs, typs, vies, seqL))``), e.g. Local3DCNN.
        sequence: ``[s, h, w]`` float silhouettes in [0, 1], transformed as the evaluator does.
        out_dir: if given, the pictures are also written there as ``<name>.png``, and the last block's
            boxes over every frame as ``<label>_boxes.mp4`` (when OpenCV has an ``mp4v`` encoder).

    Returns:
        ``{name: uint8 BGR image}``; empty for a network without 3D local blocks (GaitSet, GaitPart).
    """
    blocks = local_blocks(network)
    if not blocks:
        return {}
    if sequence.ndim != 3:
        raise ValueError(f"sequence: expected [s, h, w] silhouettes, got shape {list(sequence.shape)}")
    input_sizes: dict[int, tuple[int, int]] = {}
    hooks = [block.register_forward_pre_hook(lambda m, args: input_sizes.__setitem__(id(m), args[0].shape[-2:]))
             for _, block in blocks]
    was_training = network.training
    network.eval()
    try:
        x = sequence.float()[None].to(next(network.parameters()).device)
        network(([x], torch.zeros(1, dtype=torch.long, device=x.device), ["-"], ["-"], None))
    finally:
        network.train(was_training)
        for hook in hooks:
            hook.remove()
    frames = (sequence.float().clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)
    pictures: dict[str, np.ndarray] = {}
    scales = {label: frames.shape[1] / input_sizes[id(block)][0] for label, block in blocks}
    for label, block in blocks:
        pictures[f"{label}_boxes"] = _boxes_montage(frames, block, scales[label])
        pictures[f"{label}_volumes"] = _volumes_montage(block)
    pictures["fusion_weights"] = _fusion_chart(blocks)
    if out_dir is not None:
        write_pictures(pictures, out_dir)
        label, block = blocks[-1]
        _write_boxes_video(frames, block, scales[label], Path(out_dir) / f"{label}_boxes.mp4")
    return pictures


def write_pictures(pictures: dict[str, np.ndarray], out_dir: str | os.PathLike) -> list[Path]:
    """Write each picture as ``out_dir/<name>.png`` (atomically); the paths."""
    paths = []
    for name, image in pictures.items():
        ok, encoded = cv2.imencode(".png", image)
        if not ok:
            raise ValueError(f"{name}: OpenCV could not encode the picture as PNG")
        path = Path(out_dir) / f"{name}.png"
        with atomic_write(path) as handle:
            handle.write(encoded.tobytes())
        paths.append(path)
    return paths


def _write_boxes_video(frames: np.ndarray, block: Local3DBlock, scale: float, path: Path, fps: int = 10) -> None:
    """An MP4 of ``block``'s boxes on every frame (skipped if OpenCV has no ``mp4v`` encoder here)."""
    frame_scale = CELL / frames.shape[1]
    images = [_frame_with_boxes(frames[t], block, t, scale * frame_scale, frame_scale) for t in range(len(frames))]
    height, width = images[0].shape[:2]
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        writer = cv2.VideoWriter(str(staged), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            return
        for image in images:
            writer.write(image)
        writer.release()
        os.replace(staged, path)


def _chosen_frames(count: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(FRAMES_SHOWN, count)).round().astype(int))


def _frame_with_boxes(frame: np.ndarray, block: Local3DBlock, t: int, box_scale: float, frame_scale: float
                      ) -> np.ndarray:
    """One silhouette frame, enlarged ``frame_scale`` times, with every part's box at frame ``t``
    (box coordinates are in the block's input pixels, ``box_scale`` display pixels each)."""
    height, width = frame.shape
    image = cv2.resize(frame, (round(width * frame_scale), round(height * frame_scale)), interpolation=cv2.INTER_NEAREST)
    image = cv2.cvtColor(image // 2, cv2.COLOR_GRAY2BGR)
    params = block.last_parameters
    for p, name in enumerate(block.part_names):
        (cx, cy), (ex, ey) = params["centre"][0, p, t].tolist(), params["extent"][0, p, t].tolist()
        top_left = (round((cx - ex / 2) * box_scale), round((cy - ey / 2) * box_scale))
        bottom_right = (round((cx + ex / 2) * box_scale), round((cy + ey / 2) * box_scale))
        cv2.rectangle(image, top_left, bottom_right, PART_COLOURS.get(name, (255, 255, 255)), 1)
    return image


def _boxes_montage(frames: np.ndarray, block: Local3DBlock, scale: float) -> np.ndarray:
    """Chosen frames side by side with the boxes, and a legend: part, temporal window (frames), mean gamma."""
    frame_scale = CELL / frames.shape[1]
    row = np.concatenate([_frame_with_boxes(frames[t], block, int(t), scale * frame_scale, frame_scale)
                          for t in _chosen_frames(len(frames))], axis=1)
    params = block.last_parameters
    lines = []
    for p, name in enumerate(block.part_names):
        centre, extent = params["temporal_centre"][0, p].item(), params["temporal_extent"][0, p].item()
        gamma = params["gamma"][0, p].mean().item()
        lines.append((f"{name}: frames {centre - extent / 2:.1f}-{centre + extent / 2:.1f}, gamma {gamma:.2f}",
                      PART_COLOURS.get(name, (255, 255, 255))))
    return np.concatenate([row, _legend(lines, row.shape[1])], axis=0)


def _volumes_montage(block: Local3DBlock) -> np.ndarray:
    """Rows = parts, columns = chosen output frames: the sampled volume's channel mean, each part scaled to
    its own range, with the part name on the left."""
    volumes = block.last_volumes.float().mean(dim=1).cpu().numpy()  # [P, L, N, M]
    rows = []
    for p, name in enumerate(block.part_names):
        volume = volumes[p]
        low, high = volume.min(), volume.max()
        normalised = ((volume - low) / max(high - low, 1e-12) * 255).astype(np.uint8)
        cell_w = max(1, round(CELL * volume.shape[2] / max(volume.shape[1], 1)))
        cells = [cv2.resize(normalised[t], (cell_w, CELL), interpolation=cv2.INTER_NEAREST)
                 for t in _chosen_frames(len(volume))]
        row = cv2.cvtColor(np.concatenate(cells, axis=1), cv2.COLOR_GRAY2BGR)
        label = np.zeros((CELL, 90, 3), np.uint8)
        cv2.putText(label, name, (4, CELL // 2), FONT, 0.4, PART_COLOURS.get(name, (255, 255, 255)), 1)
        rows.append(np.concatenate([label, row], axis=1))
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)


def _fusion_chart(blocks: Sequence[tuple[str, Local3DBlock]]) -> np.ndarray:
    """Horizontal bars of each path's mean |fusion weight|, one group per block, scaled to the largest."""
    entries = [(f"{label} {path}", weight) for label, block in blocks for path, weight in block.fusion_weights().items()]
    largest = max((w for _, w in entries), default=1.0) or 1.0
    bar_space, row_h = 240, 16
    image = np.full((row_h * len(entries) + 24, 160 + bar_space + 60, 3), 255, np.uint8)
    cv2.putText(image, "fusion: mean |weight| per path", (4, 14), FONT, 0.4, (0, 0, 0), 1)
    for k, (name, weight) in enumerate(entries):
        y = 24 + k * row_h
        path = name.split(" ", 1)[1]
        colour = PART_COLOURS.get(path, (128, 128, 128))
        cv2.putText(image, name, (4, y + 11), FONT, 0.35, (0, 0, 0), 1)
        cv2.rectangle(image, (160, y + 2), (160 + round(bar_space * weight / largest), y + row_h - 3), colour, -1)
        cv2.putText(image, f"{weight:.3f}", (164 + bar_space, y + 11), FONT, 0.35, (0, 0, 0), 1)
    return image


def _legend(lines: Sequence[tuple[str, tuple[int, int, int]]], width: int) -> np.ndarray:
    legend = np.zeros((14 * len(lines) + 6, width, 3), np.uint8)
    for k, (text, colour) in enumerate(lines):
        cv2.putText(legend, text, (4, 14 * k + 14), FONT, 0.4, colour, 1)
    return legend
