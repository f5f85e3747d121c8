"""Pictures of what a network's 3D local blocks attend to, like the paper's Fig. 4 (OpenCV, no plotting library).

For one sequence, each :class:`~opengait_local3d.local3d.Local3DBlock` of the network gives:

* ``block<k>_boxes``: every part's box (its learned centre and extent per frame) drawn on the input
  silhouettes, one colour per part, with a legend: part, temporal window (input frames), mean gamma;
* ``block<k>_timeline``: per part, the temporal window over the input frames (a band, with a tick at the
  input position each output frame is sampled from) and gamma per input frame (bars);
* ``block<k>_volumes``: the sampled part volumes (mean over channels), rows = parts, columns = frames;
* ``fusion_weights``: the fusion's mean absolute weight per path (global + each part), per block.

Images are uint8 BGR arrays ``[H, W, 3]``. The engine's training logs them to tensorboard at each save
(:func:`tensorboard_pictures`); the ``visualize`` command writes them as PNG, and the last block's boxes
over every frame as an MP4.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from ..local3d import Local3DBlock, grid_centres, named_local_blocks
from ..utils.atomic import atomic_write

__all__ = ["PART_COLOURS", "recording", "render_part_visuals", "tensorboard_images",
           "tensorboard_pictures", "write_pictures"]

logger = logging.getLogger(__name__)

#: BGR colour of each part, in PART_NAMES order
PART_COLOURS = {"head": (60, 60, 230), "torso": (60, 200, 60), "left_arm": (230, 140, 40),
                "right_arm": (40, 200, 230), "left_leg": (200, 60, 200), "right_leg": (200, 200, 60)}
FRAMES_SHOWN = 8
CELL = 96  # pixel height of one frame in the montages
VIDEO_HEIGHT = 192  # pixel height of the MP4's frames
FRAME_HEADER = 14  # pixel height of the frame numbers above the boxes
LABEL_WIDTH = 90  # pixel width of the part-name column
TIMELINE_ROW = 34  # pixel height of one part in the timeline: the window band, then the gamma bars
WINDOW_BAND = 12
GAMMA_BARS = 18
TIMELINE_HEADER = 30
FONT = cv2.FONT_HERSHEY_SIMPLEX


@contextlib.contextmanager
def recording(network: nn.Module) -> Iterator[None]:
    """Within the block, every 3D local block of ``network`` keeps sample 0's sampled volumes
    (:meth:`Local3DBlock.recording`)."""
    with contextlib.ExitStack() as stack:
        for block in named_local_blocks(network).values():
            stack.enter_context(block.recording())
        yield


@torch.no_grad()
def render_part_visuals(network: nn.Module, sequence: Tensor, out_dir: str | os.PathLike | None = None
                        ) -> dict[str, np.ndarray]:
    """Run ``sequence`` through ``network`` and draw each local block's parts.

    One no-grad forward in eval mode, its blocks recording; the network's training mode is restored afterwards.

    Args:
        network: a host-free network (``forward((ipts, labs, typs, vies, seqL))``), e.g. Local3DCNN.
        sequence: ``[s, h, w]`` float silhouettes in [0, 1], transformed as the evaluator does.
        out_dir: if given, the pictures are also written there as ``<name>.png``, and the last block's
            boxes over every frame as ``<label>_boxes.mp4`` (skipped, with a logged warning, when OpenCV has
            no ``mp4v`` encoder here).

    Returns:
        ``{name: uint8 BGR image [H, W, 3]}``; empty for a network without 3D local blocks (GaitSet,
        GaitPart), and then nothing is written.

    Raises:
        ValueError: ``sequence`` is not ``[s, h, w]``.
    """
    blocks = list(named_local_blocks(network).items())
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
        with recording(network):
            network(([x], torch.zeros(1, dtype=torch.long, device=x.device), ["-"], ["-"], None))
    finally:
        network.train(was_training)
        for hook in hooks:
            hook.remove()
    frames = (sequence.float().clamp(0, 1).cpu().numpy() * 255).astype(np.uint8)
    pictures: dict[str, np.ndarray] = {}
    scales = {label: frames.shape[1] / input_sizes[id(block)][0] for label, block in blocks}
    steps = {label: _frame_step(len(frames), block) for label, block in blocks}
    for label, block in blocks:
        pictures[f"{label}_boxes"] = _boxes_montage(frames[::steps[label]], block, scales[label], steps[label])
        pictures[f"{label}_timeline"] = _timeline(block, label)
        pictures[f"{label}_volumes"] = _volumes_montage(block)
    pictures["fusion_weights"] = _fusion_chart(blocks)
    if out_dir is not None:
        write_pictures(pictures, out_dir)
        label, block = blocks[-1]
        _write_boxes_video(frames[::steps[label]], block, scales[label], Path(out_dir) / f"{label}_boxes.mp4")
    return pictures


def _frame_step(frames: int, block: Local3DBlock) -> int:
    """Sequence frames per frame of the block's input: 1, or about the temporal stride of the layers before it
    (GaitGL's LTA: 3). Frame ``t`` of the block is drawn on sequence frame ``t * step``."""
    return max(1, frames // block.last_parameters["centre"].shape[2])


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


def tensorboard_images(pictures: dict[str, np.ndarray]) -> dict[str, Tensor]:
    """``{'image/part_visuals/<name>': [1, 3, H, W] float RGB in [0, 1]}``, the message manager's summary form."""
    return {f"image/part_visuals/{name}": torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1)[None] / 255.0
            for name, image in pictures.items()}


def tensorboard_pictures(network: nn.Module, sequence: Tensor) -> dict[str, Tensor]:
    """:func:`render_part_visuals` of ``sequence`` (``[s, h, w]``) in :func:`tensorboard_images` form; empty
    for a network without 3D local blocks."""
    return tensorboard_images(render_part_visuals(network, sequence))


def _write_boxes_video(frames: np.ndarray, block: Local3DBlock, scale: float, path: Path, fps: int = 10) -> None:
    """An MP4 of ``block``'s boxes on every frame of its input, drawn on ``frames`` (one per block frame;
    skipped, with a warning, without an ``mp4v`` encoder)."""
    frame_scale = VIDEO_HEIGHT / frames.shape[1]
    count = block.last_parameters["centre"].shape[2]
    images = [_frame_with_boxes(frames[t], block, t, scale * frame_scale, frame_scale) for t in range(count)]
    height, width = images[0].shape[:2]
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        writer = cv2.VideoWriter(str(staged), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            logger.warning("%s: not written (this OpenCV build has no mp4v encoder); the PNGs are complete", path)
            return
        for image in images:
            writer.write(image)
        writer.release()
        os.replace(staged, path)


def _chosen_frames(count: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(FRAMES_SHOWN, count)).round().astype(int))


def _colour(name: str) -> tuple[int, int, int]:
    return PART_COLOURS.get(name, (255, 255, 255))


def _frame_with_boxes(frame: np.ndarray, block: Local3DBlock, t: int, box_scale: float, frame_scale: float
                      ) -> np.ndarray:
    """One silhouette frame, enlarged ``frame_scale`` times (nearest), with every part's box at frame ``t``
    (box coordinates are in the block's input pixels, ``box_scale`` display pixels each)."""
    height, width = frame.shape
    image = cv2.resize(frame, (round(width * frame_scale), round(height * frame_scale)), interpolation=cv2.INTER_NEAREST)
    image = cv2.cvtColor(image // 2, cv2.COLOR_GRAY2BGR)
    params = block.last_parameters
    for p, name in enumerate(block.part_names):
        (cx, cy), (ex, ey) = params["centre"][0, p, t].tolist(), params["extent"][0, p, t].tolist()
        top_left = (round((cx - ex / 2) * box_scale), round((cy - ey / 2) * box_scale))
        bottom_right = (round((cx + ex / 2) * box_scale), round((cy + ey / 2) * box_scale))
        cv2.rectangle(image, top_left, bottom_right, _colour(name), 1)
    return image


def _boxes_montage(frames: np.ndarray, block: Local3DBlock, scale: float, step: int = 1) -> np.ndarray:
    """Chosen frames side by side with the boxes, their numbers above, and a legend below: part, temporal
    window, mean gamma. ``frames`` holds one sequence frame per frame of the block's input, ``step`` sequence
    frames apart; numbers and windows are in sequence frames."""
    frame_scale = CELL / frames.shape[1]
    chosen = _chosen_frames(block.last_parameters["centre"].shape[2])
    row = np.concatenate([_frame_with_boxes(frames[t], block, int(t), scale * frame_scale, frame_scale)
                          for t in chosen], axis=1)
    header = np.zeros((FRAME_HEADER, row.shape[1], 3), np.uint8)
    for k, t in enumerate(chosen):
        cv2.putText(header, f"frame {t * step}", (row.shape[1] // len(chosen) * k + 4, FRAME_HEADER - 4), FONT,
                    0.35, (200, 200, 200), 1)
    lines = []
    for p, name in enumerate(block.part_names):
        start, end = _temporal_window(block, p)
        gamma = block.last_parameters["gamma"][0, p].mean().item()
        lines.append((f"{name}: frames {start * step:.1f}-{end * step:.1f}, gamma {gamma:.2f}", _colour(name)))
    return np.concatenate([header, row, _legend(lines, row.shape[1])], axis=0)


def _timeline(block: Local3DBlock, label: str) -> np.ndarray:
    """Per part (a row): the temporal window over the input frames as a band in the part's colour, a white
    tick at the input position each output frame samples (Eq. 6 with the learned centre and stride), and
    below it gamma per input frame as bars (full height = 1). Input frame t spans ``[t, t + 1)`` (the
    pixel-centre convention), drawn ``_timeline_cell(T)`` pixels wide; the band is clipped to the sequence
    (the legend of ``block<k>_boxes`` gives the unclipped window)."""
    params = block.last_parameters
    gamma = params["gamma"][0].float().cpu().numpy()  # [P, T]
    frames = gamma.shape[1]
    outputs = block.last_volumes.shape[2]
    ticks = grid_centres(params["temporal_centre"][0] / frames, 0.0, params["temporal_stride"][0], frames, outputs)
    cell = _timeline_cell(frames)
    width = max(LABEL_WIDTH + frames * cell + 8, 470)  # room for the title
    image = np.zeros((TIMELINE_HEADER + TIMELINE_ROW * len(block.part_names), width, 3), np.uint8)
    cv2.putText(image, f"{label}: temporal window (band; ticks = output frames), gamma per frame (bars)",
                (4, 12), FONT, 0.35, (255, 255, 255), 1)
    for t in range(0, frames, 5):
        cv2.putText(image, str(t), (LABEL_WIDTH + t * cell, TIMELINE_HEADER - 6), FONT, 0.3, (200, 200, 200), 1)
    for p, name in enumerate(block.part_names):
        top = TIMELINE_HEADER + p * TIMELINE_ROW
        colour = _colour(name)
        cv2.putText(image, name, (4, top + WINDOW_BAND + 4), FONT, 0.4, colour, 1)
        start, end = _temporal_window(block, p)
        left = LABEL_WIDTH + round(min(max(start, 0.0), frames) * cell)
        right = LABEL_WIDTH + round(min(max(end, 0.0), frames) * cell)
        cv2.rectangle(image, (LABEL_WIDTH, top), (LABEL_WIDTH + frames * cell - 1, top + WINDOW_BAND - 1), (70, 70, 70), 1)
        if right > left:
            image[top:top + WINDOW_BAND, left:right] = colour
        for tick in ticks[p].tolist():
            if 0 <= tick < frames:
                x = LABEL_WIDTH + int(tick * cell)
                image[top + 2:top + WINDOW_BAND - 2, x] = 255
        base = top + WINDOW_BAND + 2 + GAMMA_BARS
        cv2.putText(image, "gamma", (14, base - 2), FONT, 0.3, (150, 150, 150), 1)
        for t, value in enumerate(gamma[p]):
            height = round(float(np.clip(value, 0, 1)) * GAMMA_BARS)
            x = LABEL_WIDTH + t * cell
            image[base - height:base, x + 1:x + cell - 1] = colour
        image[base, LABEL_WIDTH:LABEL_WIDTH + frames * cell] = 90
    return image


def _temporal_window(block: Local3DBlock, part: int) -> tuple[float, float]:
    """Sample 0's temporal window of ``part``: first and last input frame position (unclipped)."""
    centre = block.last_parameters["temporal_centre"][0, part].item()
    extent = block.last_parameters["temporal_extent"][0, part].item()
    return centre - extent / 2, centre + extent / 2


def _timeline_cell(frames: int) -> int:
    """Display width of one input frame in the timeline: legible for short sequences, bounded for long ones."""
    return int(np.clip(600 // max(frames, 1), 4, 24))


def _volumes_montage(block: Local3DBlock) -> np.ndarray:
    """Rows = parts, columns = chosen output frames (nearest upscaling, grey separators): the sampled volume's
    channel mean, each part scaled to its own range, with the part name on the left."""
    volumes = block.last_volumes.float().mean(dim=1).cpu().numpy()  # [P, L, N, M]
    rows = []
    for p, name in enumerate(block.part_names):
        volume = volumes[p]
        low, high = volume.min(), volume.max()
        normalised = ((volume - low) / max(high - low, 1e-12) * 255).astype(np.uint8)
        cell_w = max(1, round(CELL * volume.shape[2] / max(volume.shape[1], 1)))
        cells = [np.pad(cv2.resize(normalised[t], (cell_w, CELL), interpolation=cv2.INTER_NEAREST), ((0, 0), (0, 2)),
                        constant_values=60) for t in _chosen_frames(len(volume))]
        row = cv2.cvtColor(np.concatenate(cells, axis=1), cv2.COLOR_GRAY2BGR)
        label = np.zeros((CELL, LABEL_WIDTH, 3), np.uint8)
        cv2.putText(label, name, (4, CELL // 2), FONT, 0.4, _colour(name), 1)
        rows.append(np.concatenate([label, row], axis=1))
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)


def _fusion_chart(blocks: Sequence[tuple[str, Local3DBlock]]) -> np.ndarray:
    """Horizontal bars of each path's mean |fusion weight|, one group per block, scaled to the largest."""
    entries = [(label, path, weight) for label, block in blocks for path, weight in block.fusion_weights().items()]
    largest = max((w for _, _, w in entries), default=1.0) or 1.0
    bar_space, row_h = 240, 16
    image = np.full((row_h * len(entries) + 24, 160 + bar_space + 60, 3), 255, np.uint8)
    cv2.putText(image, "fusion: mean |weight| per path", (4, 14), FONT, 0.4, (0, 0, 0), 1)
    for k, (label, path, weight) in enumerate(entries):
        y = 24 + k * row_h
        cv2.putText(image, f"{label} {path}", (4, y + 11), FONT, 0.35, (0, 0, 0), 1)
        cv2.rectangle(image, (160, y + 2), (160 + round(bar_space * weight / largest), y + row_h - 3),
                      PART_COLOURS.get(path, (128, 128, 128)), -1)
        cv2.putText(image, f"{weight:.3f}", (164 + bar_space, y + 11), FONT, 0.35, (0, 0, 0), 1)
    return image


def _legend(lines: Sequence[tuple[str, tuple[int, int, int]]], width: int) -> np.ndarray:
    legend = np.zeros((14 * len(lines) + 6, width, 3), np.uint8)
    for k, (text, colour) in enumerate(lines):
        cv2.putText(legend, text, (4, 14 * k + 14), FONT, 0.4, colour, 1)
    return legend
