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
        - Input: volumes ``[n, P, c_in, L, N, M]``, or ``P`` volumes ``[n, c_in, L_p, N_p, M_p]`` of their own sizes.
        - Output: ``P`` tensors ``[n, c_out, L_p, N_p, M_p]``, each the size of its volume.
    """

    def __init__(self, in_channels: int, out_channels: int, num_parts: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv3d(in_channels, out_channels, 3, padding=1) for _ in range(num_parts))
        self.activation = nn.ReLU()

    def forward(self, volumes: Tensor | Sequence[Tensor]) -> list[Tensor]:
        # unbind, not volumes[:, p]: its backward stacks the P gradients once instead of P zero-filled copies.
        # Channels-last-3d: oneDNN's NDHWC conv3d is faster on CPU, and its output feeds the fusion's GEMMs as is.
        parts = volumes.unbind(1) if isinstance(volumes, Tensor) else volumes
        if len(parts) != len(self.convs):
            raise ValueError(f"FeatureExtraction has {len(self.convs)} parts, got {len(parts)} volumes")
        return [self.activation(conv(part.contiguous(memory_format=torch.channels_last_3d)))
                for part, conv in zip(parts, self.convs)]
