"""Horizontal (strip) pooling: GaitSet's HPP and GaitPart's horizontal pooling."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..utils.checks import require


def horizontal_pooling(x: Tensor, bins: Sequence[int]) -> Tensor:
    """Split the map into horizontal strips and pool each strip with mean + max.

    Convention:
        For ``b`` in ``bins`` the ``h`` rows are cut into ``b`` strips of ``h / b`` rows, top first; strip
        ``j`` gives ``mean + max`` over its ``h / b * w`` values. The strips of all bin counts are
        concatenated in ``bins`` order, so the output has ``sum(bins)`` parts.

    Args:
        x: feature maps ``[..., h, w]`` (e.g. ``[n, c, h, w]`` or ``[n, c, s, h, w]``).
        bins: strip counts, each dividing ``h``.

    Returns:
        ``[..., sum(bins)]``.

    Raises:
        ValueError: if a bin count does not divide the map height.

    Example:
        >>> x = torch.arange(8.).view(1, 1, 4, 2)
        >>> horizontal_pooling(x, [2, 1])
        tensor([[[ 4.5000, 12.5000, 10.5000]]])
    """
    height = x.shape[-2]
    for bin_count in bins:
        if bin_count < 1 or height % bin_count:
            raise ValueError(f"bin_num {list(bins)}: {bin_count} strips do not divide the feature map height {height}")
    strips = [x.reshape(*x.shape[:-2], b, -1) for b in bins]
    return torch.cat([z.mean(-1) + z.amax(-1) for z in strips], -1)


class HorizontalPooling(nn.Module):
    """Module form of :func:`horizontal_pooling`: ``[..., h, w] -> [..., sum(bin_num)]``."""

    def __init__(self, bin_num: Sequence[int]):
        super().__init__()
        require(not isinstance(bin_num, int) and bool(bin_num) and all(isinstance(b, int) and b > 0 for b in bin_num),
                f"bin_num must be a non-empty list of positive ints, got {bin_num!r}")
        self.bin_num = list(bin_num)

    @property
    def parts_num(self) -> int:
        return sum(self.bin_num)

    def forward(self, x: Tensor) -> Tensor:
        return horizontal_pooling(x, self.bin_num)

    def extra_repr(self) -> str:
        return f"bin_num={self.bin_num}"
