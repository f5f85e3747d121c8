"""GaitPart's micro-motion capture module (MCM, OpenGait's ``TemporalFeatureAggregator``).

Each part has its own two micro-motion template builders (MTB). Instead of one small module per part, the
parts are stacked on the channel axis and every per-part conv1d becomes one grouped conv1d (``groups = p``),
which computes exactly the same function in one call.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GroupedConv1d(nn.Conv1d):
    """Bias-free ``groups``-way conv1d whose Xavier init uses the fans of one group (one part's conv)."""

    def __init__(self, groups: int, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(groups * in_channels, groups * out_channels, kernel_size,
                         padding=kernel_size // 2, groups=groups, bias=False)

    def init_parameters(self) -> None:
        """Xavier-uniform as if each group were its own ``nn.Conv1d(in, out, k)`` (OpenGait's per-part convs)."""
        out_total, in_per_group, kernel = self.weight.shape
        fan_in = in_per_group * kernel
        fan_out = out_total // self.groups * kernel
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        nn.init.uniform_(self.weight, -bound, bound)


class MotionTemplate(nn.Module):
    """One MTB for all parts: ``[n, p*c, s] -> [n, p*c, s]``.

    The template is ``avg_pool + max_pool`` over a window of ``pool_kernel`` frames (zero/-inf padded, as
    torch's pooling), weighted by sigmoid scores from ``conv(3) -> LeakyReLU -> conv(score_kernel)``.
    """

    def __init__(self, parts_num: int, channels: int, hidden: int, score_kernel: int, pool_kernel: int):
        super().__init__()
        self.squeeze = GroupedConv1d(parts_num, channels, hidden, 3)
        self.expand = GroupedConv1d(parts_num, hidden, channels, score_kernel)
        self.pool_kernel = pool_kernel

    def forward(self, x: Tensor) -> Tensor:
        scores = torch.sigmoid(self.expand(F.leaky_relu(self.squeeze(x))))
        k = self.pool_kernel
        frames = x.unsqueeze(2)  # [n, p*c, 1, s]: the 2D poolings export with a dynamic frame count, the 1D max does not
        template = (F.avg_pool2d(frames, (1, k), stride=1, padding=(0, k // 2))
                    + F.max_pool2d(frames, (1, k), stride=1, padding=(0, k // 2))).squeeze(2)
        return template * scores


class MicroMotionCapture(nn.Module):
    """GaitPart's MCM: two MTBs (windows 3 and 5) summed, then max over time. ``[n, c, s, p] -> [n, c, p]``.

    Args:
        in_channels: ``c``.
        parts_num: ``p``.
        squeeze: hidden width of the score convs is ``c // squeeze``.
    """

    def __init__(self, in_channels: int, parts_num: int = 16, squeeze: int = 4):
        super().__init__()
        hidden = in_channels // squeeze
        if hidden < 1:
            raise ValueError(f"MicroMotionCapture: in_channels {in_channels} // squeeze {squeeze} must be >= 1")
        self.in_channels, self.parts_num = in_channels, parts_num
        self.short_term = MotionTemplate(parts_num, in_channels, hidden, score_kernel=1, pool_kernel=3)
        self.long_term = MotionTemplate(parts_num, in_channels, hidden, score_kernel=3, pool_kernel=5)

    def forward(self, x: Tensor) -> Tensor:
        n, c, s, p = x.shape
        if (c, p) != (self.in_channels, self.parts_num):
            raise ValueError(
                f"MicroMotionCapture expects [n, {self.in_channels}, s, {self.parts_num}], got {tuple(x.shape)}"
            )
        stacked = x.permute(0, 3, 1, 2).reshape(n, p * c, s)
        motion = self.short_term(stacked) + self.long_term(stacked)
        return motion.amax(-1).view(n, p, c).transpose(1, 2)
