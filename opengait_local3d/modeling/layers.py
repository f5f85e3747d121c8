"""Small layers shared by the gait networks: per-part FCs and GaitPart's focal convolution."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils.checks import integer_at_least


class SeparateFCs(nn.Module):
    """One linear map per part (GaitSet's HPM FCs): ``[n, c_in, p] -> [n, c_out, p]``.

    Args:
        parts_num: number of parts ``p``.
        in_channels: ``c_in``.
        out_channels: ``c_out``.
        norm: L2-normalise each part's weight columns before use (OpenGait's option).

    The weight ``fc_bin`` is ``[p, c_in, c_out]`` (OpenGait's layout, so checkpoints map one to one).
    """

    def __init__(self, parts_num: int, in_channels: int, out_channels: int, norm: bool = False):
        super().__init__()
        self.parts_num = parts_num
        self.norm = norm
        self.fc_bin = nn.Parameter(torch.empty(parts_num, in_channels, out_channels))
        self.init_parameters()

    def init_parameters(self) -> None:
        """Xavier-uniform over the 3-D weight, with torch's fans of a ``[p, c_in, c_out]`` tensor, as OpenGait."""
        nn.init.xavier_uniform_(self.fc_bin)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1:] != (self.fc_bin.shape[1], self.parts_num):
            raise ValueError(
                f"SeparateFCs expects [n, {self.fc_bin.shape[1]}, {self.parts_num}], got {tuple(x.shape)}"
            )
        weight = F.normalize(self.fc_bin, dim=1) if self.norm else self.fc_bin
        return torch.bmm(x.permute(2, 0, 1), weight).permute(1, 2, 0)

    def extra_repr(self) -> str:
        p, c_in, c_out = self.fc_bin.shape
        return f"parts_num={p}, in_channels={c_in}, out_channels={c_out}, norm={self.norm}"


class FocalConv2d(nn.Module):
    """GaitPart's focal convolution: the same conv applied to each of ``2**halving`` horizontal strips alone.

    Padding never reads across a strip boundary, so each strip sees only its own rows.
    ``[N, c_in, h, w] -> [N, c_out, h, w]`` (stride 1); ``halving = 0`` is a plain bias-free conv.

    Raises:
        ValueError: in forward, if ``2**halving`` does not divide the map height.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, halving: int, padding: int = 0):
        super().__init__()
        integer_at_least(halving, 0, "FocalConv2d: halving")
        self.halving = halving
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.halving == 0:
            return self.conv(x)
        strips = 2**self.halving
        return merge_strips(self.conv(split_strips(x, strips, f"FocalConv2d (halving {self.halving})")), strips)

    def extra_repr(self) -> str:
        return f"halving={self.halving}"


def split_strips(x: Tensor, strips: int, where: str) -> Tensor:
    """Cut the map into ``strips`` horizontal strips, stacked on the batch axis, top strip first.

    ``[n, c, ..., h, w] -> [n * strips, c, ..., h / strips, w]``; :func:`merge_strips` puts them back. A layer
    applied to the stacked strips sees each strip alone (its padding never reads across a strip boundary).
    On a channels-last map this is a view.

    Raises:
        ValueError: naming ``where``, if ``strips`` does not divide the map height.

    Example:
        >>> x = torch.arange(8.).view(1, 1, 4, 2)
        >>> split_strips(x, 2, "example")[:, 0].tolist()
        [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]
        >>> torch.equal(merge_strips(split_strips(x, 2, "example"), 2), x)
        True
    """
    height = x.shape[-2]
    if height % strips:
        raise ValueError(f"{where}: {strips} strips do not divide the map height {height}")
    return x.unflatten(-2, (strips, height // strips)).movedim(-3, 1).flatten(0, 1)


def merge_strips(x: Tensor, strips: int) -> Tensor:
    """Inverse of :func:`split_strips`: ``[n * strips, c, ..., h', w] -> [n, c, ..., strips * h', w]``."""
    return x.unflatten(0, (-1, strips)).movedim(1, -3).flatten(-3, -2)


def use_channels_last(module: nn.Module) -> nn.Module:
    """Store ``module``'s 4-D weights channels-last, so its 2-D convs run (and output) NHWC.

    Why: on CPU, oneDNN's NHWC convolutions are about twice as fast as NCHW at the gait backbones' shapes
    (measured in ``benchmarks/model_step.py``), and focal-conv strip stacking becomes a free view in NHWC.
    """
    return module.to(memory_format=torch.channels_last)
