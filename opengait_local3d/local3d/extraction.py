"""Feature extraction of the local paths (Sec. 3.2.3): conv3d 3x3x3 + ReLU per part, one layer or more."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class FeatureExtraction(nn.Module):
    """Per-part ``conv3d 3x3x3 + ReLU``, ``depth`` times, keeping the volume's size.

    Args:
        in_channels: channels of the sampled volumes.
        out_channels: channels of each part's features (half the global path's, Sec. 3.2.3).
        num_parts: number of parts ``P``.
        depth: layers per part: 1 as the paper describes, 2 as the authors' release has (``convs`` holds every
            part's first layer, ``deeper_convs[p]`` the layers after it (none at depth 1), ``out_channels`` to ``out_channels``).

    Shape:
        - Input: volumes ``[n, P, c_in, L, N, M]``, or ``P`` volumes ``[n, c_in, L_p, N_p, M_p]`` of their own sizes.
        - Output: ``P`` tensors ``[n, c_out, L_p, N_p, M_p]``, each the size of its volume.
    """

    def __init__(self, in_channels: int, out_channels: int, num_parts: int, depth: int = 1):
        super().__init__()
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"extraction_depth must be an int >= 1, got {depth!r}")
        self.convs = nn.ModuleList(nn.Conv3d(in_channels, out_channels, 3, padding=1) for _ in range(num_parts))
        self.deeper_convs = nn.ModuleList(
            nn.ModuleList(nn.Conv3d(out_channels, out_channels, 3, padding=1) for _ in range(depth - 1))
            for _ in range(num_parts)
        )
        self.activation = nn.ReLU()

    def forward(self, volumes: Tensor | Sequence[Tensor]) -> list[Tensor]:
        # unbind, not volumes[:, p]: its backward stacks the P gradients once instead of P zero-filled copies.
        # Channels-last-3d: oneDNN's NDHWC conv3d is faster on CPU, and its output feeds the fusion's GEMMs as is.
        parts = volumes.unbind(1) if isinstance(volumes, Tensor) else volumes
        if len(parts) != len(self.convs):
            raise ValueError(f"FeatureExtraction has {len(self.convs)} parts, got {len(parts)} volumes")
        features = []
        for part, first, later in zip(parts, self.convs, self.deeper_convs):
            feature = self.activation(first(part.contiguous(memory_format=torch.channels_last_3d)))
            for conv in later:
                feature = self.activation(conv(feature))
            features.append(feature)
        return features
