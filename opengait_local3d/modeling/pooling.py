"""Horizontal (strip) pooling: GaitSet's HPP and GaitPart's horizontal pooling, GaitGL's GeM over strips."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
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
    if _pools_with_windows(x):
        _check_strips(x, bins)
        return torch.cat([_window_mean_plus_max(x, b) for b in bins], -1)
    return torch.cat([z.mean(-1) + z.amax(-1) for z in _strips(x, bins)], -1)


def _pools_with_windows(x: Tensor) -> bool:
    """Whether to pool the strips with pooling windows rather than ``mean`` and ``amax`` over them: for 4-D and 5-D
    maps whose width is not innermost in memory (channels-last, as the 3D local block's fusion leaves them). There
    the strips are strided, and ``amax``'s backward builds and sums its mask of ties on them, about twice the
    time of max pooling's index-based backward, which runs on channels-last memory natively."""
    return x.dim() in (4, 5) and x.stride(-1) != 1


def _window_mean_plus_max(x: Tensor, bins: int) -> Tensor:
    """``mean + max`` over each of ``bins`` strips with avg and max pooling windows of ``h / bins x w``:
    ``[n, c, h, w]`` or ``[n, c, s, h, w] -> [..., bins]``. Where a strip's max is tied (a strip of zeros after a
    ReLU), its gradient goes to one of the tied positions instead of being split among them: both are gradients of
    the max almost everywhere, and the values are those of ``amax``."""
    window = (x.shape[-2] // bins, x.shape[-1])
    if x.dim() == 5:
        window = (1, *window)
        pooled = F.avg_pool3d(x, window) + F.max_pool3d(x, window)
    else:
        pooled = F.avg_pool2d(x, window) + F.max_pool2d(x, window)
    return pooled.squeeze(-1)


def checked_bins(bin_num: Sequence[int]) -> list[int]:
    """``bin_num`` as a list, if it is a non-empty list of positive ints (``ValueError`` otherwise)."""
    require(not isinstance(bin_num, int) and bool(bin_num) and all(isinstance(b, int) and b > 0 for b in bin_num),
            f"bin_num must be a non-empty list of positive ints, got {bin_num!r}")
    return list(bin_num)


def _strips(x: Tensor, bins: Sequence[int]) -> list[Tensor]:
    """``[..., h, w] -> [..., b, h / b * w]`` for every ``b`` in ``bins``: the values of each strip of rows."""
    _check_strips(x, bins)
    return [x.reshape(*x.shape[:-2], b, -1) for b in bins]


def _check_strips(x: Tensor, bins: Sequence[int]) -> None:
    """``ValueError`` unless every strip count in ``bins`` divides the map height ``x.shape[-2]``."""
    height = x.shape[-2]
    for bin_count in bins:
        if bin_count < 1 or height % bin_count:
            raise ValueError(f"bin_num {list(bins)}: {bin_count} strips do not divide the feature map height {height}")


def gem_pooling(x: Tensor, bins: Sequence[int], p: Tensor | float, eps: float = 1e-6) -> Tensor:
    """Generalized-mean (GeM) pooling of horizontal strips (GaitGL's head).

    Convention:
        The strips are those of :func:`horizontal_pooling`; strip ``j`` of ``b`` gives
        ``mean(clamp(v, min=eps) ** p) ** (1 / p)`` over its ``h / b * w`` values ``v``: the mean for ``p = 1``,
        tending to the max as ``p`` grows. (OpenGait cuts the flattened ``h * w`` map into ``b`` equal runs, the
        same strips when ``b`` divides ``h``; other ``b`` are refused here rather than cutting rows apart.)

    Args:
        x: feature maps ``[..., h, w]``, e.g. ``[n, c, h, w]``.
        bins: strip counts, each dividing ``h``.
        p: the exponent (a learnable one-element tensor in :class:`GeMPooling`).
        eps: floor of the values before the power.

    Returns:
        ``[..., sum(bins)]``.

    Example:
        >>> x = torch.tensor([[[[1., 3.], [2., 2.]]]])
        >>> gem_pooling(x, [2], 1.0)
        tensor([[[2., 2.]]])
    """
    return torch.cat([z.clamp(min=eps).pow(p).mean(-1).pow(1 / p) for z in _strips(x, bins)], -1)


class HorizontalPooling(nn.Module):
    """Module form of :func:`horizontal_pooling`: ``[..., h, w] -> [..., sum(bin_num)]``."""

    def __init__(self, bin_num: Sequence[int]):
        super().__init__()
        self.bin_num = checked_bins(bin_num)

    @property
    def parts_num(self) -> int:
        return sum(self.bin_num)

    def forward(self, x: Tensor) -> Tensor:
        return horizontal_pooling(x, self.bin_num)

    def extra_repr(self) -> str:
        return f"bin_num={self.bin_num}"


class GeMPooling(nn.Module):
    """:func:`gem_pooling` with a learnable exponent: ``[..., h, w] -> [..., sum(bin_num)]``.

    Args:
        bin_num: strip counts (GaitGL: 64).
        p: initial exponent (GaitGL: 6.5); one parameter shared by every strip and channel.
        eps: floor of the values before the power.
    """

    def __init__(self, bin_num: Sequence[int], p: float = 6.5, eps: float = 1e-6):
        super().__init__()
        self.bin_num = checked_bins(bin_num)
        self.p_init, self.eps = float(p), float(eps)
        self.p = nn.Parameter(torch.full((1,), self.p_init))

    @property
    def parts_num(self) -> int:
        return sum(self.bin_num)

    def init_parameters(self) -> None:
        """The exponent back at its initial value."""
        with torch.no_grad():
            self.p.fill_(self.p_init)

    def forward(self, x: Tensor) -> Tensor:
        return gem_pooling(x, self.bin_num, self.p, self.eps)

    def extra_repr(self) -> str:
        return f"bin_num={self.bin_num}, p={self.p_init}, eps={self.eps}"
