"""The localization module (Sec. 3.2.1): per-part volume parameters from the global features.

Architecture (DESIGN 3.2): per frame, BN + ReLU on the input, then twice a 2x2 max pooling and a
conv3x3-BN-ReLU (pooling first, as in the authors' code, keeps it cheap on large maps), global max
pooling, and a linear head giving per part and frame
``tanh^-1(dx), tanh^-1(dy), log sx, log sy, log sigma^2, sigmoid^-1(gamma)``; the per-frame features
max-pooled over time feed a second linear head giving per part ``tanh^-1(dt), log st``.

Every output is relative to the part's prior: the log scales are added to the prior's, and gamma's
logit to the prior gamma's, so heads with zero weights and biases put every part exactly at its prior.
:meth:`Localization.reset_to_prior` restores that after a host re-initialises all layers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Log scales are squashed smoothly into [-limit, limit]: strides and variances stay within a factor
#: e^limit of the prior, so extreme head outputs cannot overflow exp() or the filterbanks.
LOG_SCALE_LIMIT = 4.0

_FRAME_OUTPUTS = 6  # dx, dy, log sx, log sy, log sigma^2, gamma logit
_SEQUENCE_OUTPUTS = 2  # dt, log st


@dataclass(frozen=True)
class PartParameters:
    """Localization outputs, relative to the priors. Spatial fields ``[n, P, T]``, temporal ``[n, P]``.

    Attributes:
        offset_x, offset_y: centre offsets Delta of Eqs. 4-5 (fractions of the map, halved there),
            after the centre smoothing when it is on.
        scale_x, scale_y: spatial stride / prior stride.
        scale_sigma2: spatial variance / prior variance.
        gamma: confidence in (0, 1).
        offset_t: temporal centre offset Delta t of Eq. 6.
        scale_t: temporal stride / prior temporal stride.
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

    so the centre fraction :math:`c + \hat\Delta^t / 2` adds the mean displacement of the two previous
    frames to the prior. Non-recursive; frames before 0 contribute 0.

    Example:
        >>> smooth_centres(torch.tensor([0.2, 0.4, 0.0]))
        tensor([0.2000, 0.5000, 0.3000])
    """
    size = offset.shape[-1]
    previous = F.pad(offset, (1, 0))[..., :size]
    before_previous = F.pad(offset, (2, 0))[..., :size]
    return offset + (previous + before_previous) / 2


def bounded_log_scale(raw: Tensor, limit: float = LOG_SCALE_LIMIT) -> Tensor:
    """``limit * tanh(raw / limit)``: the identity near 0, smoothly bounded to ``[-limit, limit]``."""
    return limit * torch.tanh(raw / limit)


class Localization(nn.Module):
    """Per-part, per-frame spatial and per-sequence temporal parameters of the local volumes.

    Args:
        in_channels: channels of the global features it reads.
        gamma_priors: the initial confidence of each part, in (0, 1); its length is the number of parts.
        width: channels of its conv layers.
        smoothing: apply :func:`smooth_centres` to the spatial offsets.

    Shape:
        - Input: global features ``[n, c, T, H, W]`` (detach them: the localization must not send
          gradients into the global path).
        - Output: :class:`PartParameters` with spatial fields ``[n, P, T]`` and temporal ``[n, P]``.

    Example:
        >>> loc = Localization(8, gamma_priors=[0.5, 0.5]).eval()
        >>> out = loc(torch.randn(2, 8, 5, 6, 4))
        >>> out.offset_x.shape, out.scale_t.shape, float(out.gamma.detach().mean())
        (torch.Size([2, 2, 5]), torch.Size([2, 2]), 0.5)
    """

    def __init__(self, in_channels: int, gamma_priors: Sequence[float], *, width: int = 32, smoothing: bool = True):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not gamma_priors or not all(0.0 < g < 1.0 for g in gamma_priors):
            raise ValueError(f"gamma_priors must be a non-empty list of values in (0, 1), got {gamma_priors!r}")
        self.num_parts = len(gamma_priors)
        self.smoothing = smoothing
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
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.frame_head = nn.Linear(width, self.num_parts * _FRAME_OUTPUTS)
        self.sequence_head = nn.Linear(width, self.num_parts * _SEQUENCE_OUTPUTS)
        self.register_buffer("gamma_logit", torch.logit(torch.tensor(gamma_priors, dtype=torch.float32)))
        self.reset_to_prior()

    def reset_to_prior(self) -> None:
        """Zero both heads, which puts every part exactly at its prior."""
        for head in (self.frame_head, self.sequence_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, features: Tensor) -> PartParameters:
        if features.dim() != 5:
            raise ValueError(f"Localization expects features [n, c, T, H, W], got shape {tuple(features.shape)}")
        n, c, T, H, W = features.shape
        frames = features.transpose(1, 2).reshape(n * T, c, H, W)
        per_frame = self.frame_features(frames).view(n, T, -1)
        spatial = self.frame_head(per_frame).view(n, T, self.num_parts, _FRAME_OUTPUTS).permute(3, 0, 2, 1)
        temporal = self.sequence_head(per_frame.amax(1)).view(n, self.num_parts, _SEQUENCE_OUTPUTS)
        offset_x, offset_y = torch.tanh(spatial[0]), torch.tanh(spatial[1])
        if self.smoothing:
            offset_x, offset_y = smooth_centres(offset_x), smooth_centres(offset_y)
        scale_x, scale_y, scale_sigma2 = torch.exp(bounded_log_scale(spatial[2:5])).unbind(0)
        return PartParameters(
            offset_x=offset_x,
            offset_y=offset_y,
            scale_x=scale_x,
            scale_y=scale_y,
            scale_sigma2=scale_sigma2,
            gamma=torch.sigmoid(spatial[5] + self.gamma_logit.unsqueeze(-1)),
            offset_t=torch.tanh(temporal[..., 0]),
            scale_t=torch.exp(bounded_log_scale(temporal[..., 1])),
        )
