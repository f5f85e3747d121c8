"""The localization module (Sec. 3.2.1): per-part volume parameters from the global features.

Architecture (the paper defers it to a supplement; ours): per frame, a max pooling by a power of 2 that
brings the map to at most :data:`ROWS` rows (so every block's localization costs about the same, and the
first blocks' large maps are not normalised at full size), BN + ReLU, then twice a 2x2 max pooling and a
conv3x3-BN-ReLU (pooling first, as in the authors' code), max pooling to a coarse ``pooling x pooling`` grid (which keeps where the content is), and a linear
head giving per part and frame the raw ``dx, dy, log sx, log sy, log sigma^2, sigmoid^-1(gamma)``; a
second linear head reads the same per-frame features and its outputs, averaged over the frames, give per
part the raw ``dt, log st`` of the sequence. With ``output_norm`` each head ends in a BatchNorm1d over its
per-frame outputs (the authors' choice) whose scale starts at zero; normalising per frame keeps it usable
for a single training sequence.

Every output is relative to the part's prior and bounded (Eq. 3's squashing):

* offsets are ``tanh`` of the raw values, after the centre smoothing of Sec. 4.2 (smoothing inside the
  squashing keeps the smoothed centre bounded too); :func:`~.alignment.sampling_grid` scales them by the
  part's own extent, so a centre moves at most a fraction of its part's size;
* strides and variances are ``exp`` of a log scale squashed into ``[-log r, log r]``: within a factor
  ``r`` (``scale_range``, ``temporal_scale_range``) of the prior;
* gamma is ``sigmoid(raw + logit(prior gamma))``.

So a zero raw output is the prior, and :meth:`Localization.reset_to_prior` puts every part exactly there,
also after a host re-initialises all layers. Why the output BN: without it, a zero-initialised head
reading non-negative pooled features moves every output together by about ``lr x (sum of features + 1)``
at Adam's first steps; behind a BatchNorm1d with zero scale, each step moves an output by about ``lr``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .bounds import LocalizationBounds

#: the localization reads each frame max-pooled to at most this many rows (by a power of 2)
ROWS = 16
_FRAME_OUTPUTS = 6  # dx, dy, log sx, log sy, log sigma^2, gamma logit
_SEQUENCE_OUTPUTS = 2  # dt, log st


@dataclass(frozen=True)
class PartParameters:
    """Localization outputs, relative to the priors. Spatial fields ``[n, P, T]``, temporal ``[n, P]``.

    Attributes:
        offset_x, offset_y: centre offsets in (-1, 1), after the centre smoothing when it is on; the centre
            moves by ``offset x offset_range x`` the part's prior width (height).
        scale_x, scale_y: spatial stride / prior stride, in ``[1 / scale_range, scale_range]``.
        scale_sigma2: spatial variance / prior variance, in the same range.
        gamma: confidence in (0, 1).
        offset_t: temporal centre offset in (-1, 1), relative to the part's prior window likewise.
        scale_t: temporal stride / prior temporal stride, in ``[1 / temporal_scale_range, temporal_scale_range]``.
    """

    offset_x: Tensor
    offset_y: Tensor
    scale_x: Tensor
    scale_y: Tensor
    scale_sigma2: Tensor
    gamma: Tensor
    offset_t: Tensor
    scale_t: Tensor


def smooth_centres(offset: Tensor) -> Tensor:
    r"""Centre smoothing of Sec. 4.2: ``offset [..., T] -> [..., T]``.

    .. math:: \hat\Delta^t = \Delta^t + (\Delta^{t-1} + \Delta^{t-2}) / 2

    Non-recursive; frames before 0 contribute 0. :class:`Localization` applies it to the raw offsets,
    before the ``tanh``.

    Example:
        >>> smooth_centres(torch.tensor([0.2, 0.4, 0.0]))
        tensor([0.2000, 0.5000, 0.3000])
    """
    size = offset.shape[-1]
    previous = F.pad(offset, (1, 0))[..., :size]
    before_previous = F.pad(offset, (2, 0))[..., :size]
    return offset + (previous + before_previous) / 2


def bounded_scale(raw: Tensor, scale_range: float) -> Tensor:
    """``exp(log r * tanh(raw / log r))``: 1 at 0, slope 1 there, smoothly bounded to ``[1 / r, r]``."""
    limit = math.log(scale_range)
    return torch.exp(limit * torch.tanh(raw / limit))


class _Head(nn.Sequential):
    """``Linear`` (+ ``BatchNorm1d`` with zero scale): ``[N, c] -> [N, outputs]``, zero at :meth:`reset`."""

    def __init__(self, in_features: int, outputs: int, output_norm: bool):
        layers = [nn.Linear(in_features, outputs)]
        if output_norm:
            layers.append(nn.BatchNorm1d(outputs))
        super().__init__(*layers)
        self.reset()

    def reset(self) -> None:
        # Without the norm, a zero Linear gives zero outputs. With it, the Linear keeps its (random) weights so
        # that the normalised outputs and the norm's scale can learn, and the zero scale and shift give zero.
        nn.init.zeros_(self[-1].weight)
        nn.init.zeros_(self[-1].bias)


class Localization(nn.Module):
    """Per-part, per-frame spatial and per-sequence temporal parameters of the local volumes.

    Args:
        in_channels: channels of the global features it reads.
        gamma_priors: the initial confidence of each part, in (0, 1); its length is the number of parts.
        width: channels of its conv layers.
        pooling: side of the max-pooled grid the heads read (1: global pooling, blind to position).
        smoothing: apply :func:`smooth_centres` to the raw spatial offsets.
        output_norm: end each head with a BatchNorm1d whose scale starts at zero.
        bounds: its ``scale_range`` and ``temporal_scale_range`` bound the strides and variances.

    Shape:
        - Input: global features ``[n, c, T, H, W]`` (detach them: the localization must not send
          gradients into the global path).
        - Output: :class:`PartParameters` with spatial fields ``[n, P, T]`` and temporal ``[n, P]``.

    Attributes:
        lr_scale: learning-rate factor for its parameters, read by
            :func:`~opengait_local3d.local3d.parameter_groups` (1.0 unless set).

    Example:
        >>> loc = Localization(8, gamma_priors=[0.5, 0.5]).eval()
        >>> out = loc(torch.randn(2, 8, 5, 6, 4))
        >>> out.offset_x.shape, out.scale_t.shape, float(out.gamma.detach().mean())
        (torch.Size([2, 2, 5]), torch.Size([2, 2]), 0.5)
    """

    def __init__(
        self,
        in_channels: int,
        gamma_priors: Sequence[float],
        *,
        width: int = 32,
        pooling: int = 2,
        smoothing: bool = True,
        output_norm: bool = True,
        bounds: LocalizationBounds = LocalizationBounds(),
    ):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width), ("pooling", pooling)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not gamma_priors or not all(0.0 < g < 1.0 for g in gamma_priors):
            raise ValueError(f"gamma_priors must be a non-empty list of values in (0, 1), got {gamma_priors!r}")
        self.num_parts = len(gamma_priors)
        self.smoothing = smoothing
        self.bounds = bounds
        self.lr_scale = 1.0
        self.frame_features = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(pooling),
            nn.Flatten(),
        )
        features = width * pooling * pooling
        self.frame_head = _Head(features, self.num_parts * _FRAME_OUTPUTS, output_norm)
        self.sequence_head = _Head(features, self.num_parts * _SEQUENCE_OUTPUTS, output_norm)
        self.register_buffer("gamma_logit", torch.logit(torch.tensor(gamma_priors, dtype=torch.float32)))

    def reset_to_prior(self) -> None:
        """Zero both heads' outputs, which puts every part exactly at its prior."""
        self.frame_head.reset()
        self.sequence_head.reset()

    def forward(self, features: Tensor) -> PartParameters:
        if features.dim() != 5:
            raise ValueError(f"Localization expects features [n, c, T, H, W], got shape {tuple(features.shape)}")
        n, c, T, H, W = features.shape
        frames = features.transpose(1, 2).reshape(n * T, c, H, W)
        factor = 2 ** max(0, math.ceil(math.log2(H / ROWS)))
        if factor > 1:
            frames = F.max_pool2d(frames, factor, ceil_mode=True)
        per_frame = self.frame_features(frames)
        spatial = self.frame_head(per_frame).view(n, T, self.num_parts, _FRAME_OUTPUTS).permute(3, 0, 2, 1)
        temporal = self.sequence_head(per_frame).view(n, T, self.num_parts, _SEQUENCE_OUTPUTS).mean(1)
        raw_x, raw_y = spatial[0], spatial[1]
        if self.smoothing:
            raw_x, raw_y = smooth_centres(raw_x), smooth_centres(raw_y)
        scale_x, scale_y, scale_sigma2 = bounded_scale(spatial[2:5], self.bounds.scale_range).unbind(0)
        return PartParameters(
            offset_x=torch.tanh(raw_x),
            offset_y=torch.tanh(raw_y),
            scale_x=scale_x,
            scale_y=scale_y,
            scale_sigma2=scale_sigma2,
            gamma=torch.sigmoid(spatial[5] + self.gamma_logit.unsqueeze(-1)),
            offset_t=torch.tanh(temporal[..., 0]),
            scale_t=bounded_scale(temporal[..., 1], self.bounds.temporal_scale_range),
        )
