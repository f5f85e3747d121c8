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
        n, c, h, w = x.shape
        if h % strips:
            raise ValueError(f"FocalConv2d: {strips} strips (halving {self.halving}) do not divide the map height {h}")
        stacked = x.reshape(n, c, strips, h // strips, w).transpose(1, 2).reshape(n * strips, c, h // strips, w)
        out = self.conv(stacked)
        c_out, h_out, w_out = out.shape[1:]
        return out.reshape(n, strips, c_out, h_out, w_out).transpose(1, 2).reshape(n, c_out, strips * h_out, w_out)

    def extra_repr(self) -> str:
        return f"halving={self.halving}"


def use_channels_last(module: nn.Module) -> nn.Module:
    """Store ``module``'s 4-D weights channels-last, so its 2-D convs run (and output) NHWC.

    Why: on CPU, oneDNN's NHWC convolutions are about twice as fast as NCHW at the gait backbones' shapes
    (measured in ``benchmarks/model_step.py``), and focal-conv strip stacking becomes a free view in NHWC.
    """
    return module.to(memory_format=torch.channels_last)
