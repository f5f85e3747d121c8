"""Tensorboard entries that show what a :class:`Local3DBlock` attends to, so a collapsing part is visible.

A network adds them to its ``visual_summary`` in training (both hosts log it every ``log_iter``).
"""
from __future__ import annotations

from torch import Tensor

from ..local3d import Local3DBlock


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
    stride = params["stride"].mean((0, 2))
    sigma, gamma = params["sigma"].mean((0, 2)), params["gamma"].mean((0, 2))
    temporal_centre = params["temporal_centre"].mean(0) / frames
    window = params["temporal_extent"].mean(0) / frames
    volumes = None if block.last_volumes is None else block.last_volumes.mean(1, keepdim=True)  # [P, 1, L, N, M]
    summary: dict[str, Tensor] = {}
    for index, (part, prior) in enumerate(zip(block.part_names, block.priors)):
        if volumes is not None:
            summary[f"image/local3d/{name}/{part}"] = normalise_per_image(volumes[index]).transpose(0, 1)
        scalars = {
            "offset_x": centre[index, 0] / width - prior.cx,
            "offset_y": centre[index, 1] / height - prior.cy,
            "offset_t": temporal_centre[index] - prior.ct,
            "stride_x": stride[index, 0],
            "stride_y": stride[index, 1],
            "sigma": sigma[index],
            "gamma": gamma[index],
            "window": window[index],
        }
        summary.update({f"scalar/local3d/{name}/{part}/{key}": value for key, value in scalars.items()})
    contribution = block.fusion.last_contribution
    if contribution:
        summary.update({f"scalar/local3d/{name}/{term}_rms": value for term, value in contribution.items()})
        summary[f"scalar/local3d/{name}/local_to_global"] = contribution["local"] / contribution["global"].clamp_min(1e-12)
    return summary
