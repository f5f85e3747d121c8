"""Feature extraction of the local paths (Sec. 3.2.3): one conv3d 3x3x3 + ReLU per part."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class FeatureExtraction(nn.Module):
    """Per-part ``conv3d 3x3x3 + ReLU`` keeping the volume's size.

    Args:
        in_channels: channels of the sampled volumes.
        out_channels: channels of each part's features (half the global path's, Sec. 3.2.3).
        num_parts: number of parts ``P``.

    Shape:
        - Input: volumes ``[n, P, c_in, L, N, M]``.
        - Output: ``P`` tensors ``[n, c_out, L, N, M]``; with ``regions``, part ``p``'s is ``[n, c_out, L_p, N_p, M_p]``.

    With ``regions``, part ``p`` is convolved only over its own ``(L_p, N_p, M_p)`` corner of the common grid
    and only that corner is returned: the same as convolving the whole grid and cropping, when the volume
    is zero outside the region (as :func:`~opengait_local3d.local3d.sample_volume`'s masks make it), because
    the conv's zero padding reads what the masked points hold. Parts smaller than the largest then cost only
    their own size, here and in whatever consumes the features (the block writes each part at its own size).
    """

    def __init__(self, in_channels: int, out_channels: int, num_parts: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv3d(in_channels, out_channels, 3, padding=1) for _ in range(num_parts))
        self.activation = nn.ReLU()

    def forward(self, volumes: Tensor, regions: Sequence[tuple[int, int, int]] | None = None) -> list[Tensor]:
        # unbind, not volumes[:, p]: its backward stacks the P gradients once instead of P zero-filled copies.
        # Channels-last-3d: oneDNN's NDHWC conv3d is faster on CPU, and its output feeds the fusion's GEMMs as is.
        parts = volumes.unbind(1)
        if regions is None:
            return [self.activation(conv(part.contiguous(memory_format=torch.channels_last_3d)))
                    for part, conv in zip(parts, self.convs)]
        corners = (part[..., :length, :rows, :columns] for part, (length, rows, columns) in zip(parts, regions))
        return [self.activation(conv(corner.contiguous(memory_format=torch.channels_last_3d)))
                for corner, conv in zip(corners, self.convs)]
