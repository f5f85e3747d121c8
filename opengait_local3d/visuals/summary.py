"""Tensorboard entries that show what a :class:`Local3DBlock` attends to, so a collapsing part is visible.

A network adds them to its ``visual_summary`` in training (both hosts log it every ``log_iter``).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..local3d import Local3DBlock
from ..local3d.constants import constant

#: the per-part scalars of :func:`local_block_summary`, in the order of its table
PART_SCALARS = ("offset_x", "offset_y", "offset_t", "stride_x", "stride_y", "sigma", "gamma", "window")


def normalise_per_image(volume: Tensor, eps: float = 1e-12) -> Tensor:
    """Min-max scale all of ``volume`` to [0, 1] (a constant volume gives zeros)."""
    low, high = volume.amin(), volume.amax()
    return (volume - low) / (high - low).clamp(min=eps)


def local_block_summary(block: Local3DBlock, name: str, in_size: tuple[int, int, int]) -> dict[str, Tensor]:
    """The batch's mean localization per part, and sample 0's part volumes if the block recorded them
    (:meth:`Local3DBlock.recording`), from the block's last forward.

    Args:
        block: a block that has run a forward pass.
        name: prefix for the keys, e.g. ``'block2'``.
        in_size: the block input's ``(T, H, W)``.

    Returns:
        ``'image/local3d/<name>/<part>'`` (when recorded): the channel-mean sampled volume ``[L, 1, N, M]``,
        scaled to [0, 1] per part; ``'scalar/local3d/<name>/<part>/<what>'`` (0-d tensors, no device sync): ``offset_x``,
        ``offset_y``, ``offset_t`` (centre minus prior centre, as fractions of the map width, height and the
        sequence length), ``stride_x``, ``stride_y``, ``sigma`` (input pixels), ``gamma``, and ``window``
        (attended frames as a fraction of the sequence); after a training forward in ``write`` alignment,
        ``'scalar/local3d/<name>/global_rms'``, ``.../local_rms`` (the fusion's two terms, see
        :attr:`Fusion.last_contribution <opengait_local3d.local3d.fusion.Fusion.last_contribution>`) and their
        ratio ``.../local_to_global``.
    """
    frames, height, width = in_size
    params = block.last_parameters
    centre = params["centre"].mean((0, 2))  # [P, 2]
    prior = constant([[p.cx, p.cy, p.ct] for p in block.priors], centre)  # [P, 3]
    # Every part's scalars as one table [P, 8] (PART_SCALARS): an operator per statistic, not per part and statistic
    # (on a GPU each is a kernel launch, and the summary is made at every training step).
    table = torch.stack([
        centre[:, 0] / width - prior[:, 0],
        centre[:, 1] / height - prior[:, 1],
        params["temporal_centre"].mean(0) / frames - prior[:, 2],
        *params["stride"].mean((0, 2)).unbind(1),
        params["sigma"].mean((0, 2)),
        params["gamma"].mean((0, 2)),
        params["temporal_extent"].mean(0) / frames,
    ], dim=1)
    volumes = None if block.last_volumes is None else block.last_volumes.mean(1, keepdim=True)  # [P, 1, L, N, M]
    summary: dict[str, Tensor] = {}
    for index, (part, scalars) in enumerate(zip(block.part_names, table.unbind(0))):
        if volumes is not None:
            summary[f"image/local3d/{name}/{part}"] = normalise_per_image(volumes[index]).transpose(0, 1)
        summary.update({f"scalar/local3d/{name}/{part}/{key}": value
                        for key, value in zip(PART_SCALARS, scalars.unbind(0))})
    contribution = block.fusion.last_contribution
    if contribution:
        summary.update({f"scalar/local3d/{name}/{term}_rms": value for term, value in contribution.items()})
        summary[f"scalar/local3d/{name}/local_to_global"] = contribution["local"] / contribution["global"].clamp_min(1e-12)
    return summary
