"""How far the localization may move each part from its prior: one frozen value, validated once."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalizationBounds:
    """The bounds of Eq. 3's squashing, shared by :class:`~opengait_local3d.local3d.localization.Localization`
    (scales) and :func:`~opengait_local3d.local3d.alignment.sampling_grid` (offsets, sigma floor).

    Attributes:
        offset_range: a part's centre moves at most this fraction of its prior extent along each axis
            (width, height, window): Delta of Eqs. 4-6 is ``2 x offset_range x extent x offset``.
        temporal_offset_range: the same for the temporal centre alone (``None``: ``offset_range``).
        scale_range: spatial strides and variances stay within this factor (> 1) of the prior.
        temporal_scale_range: the temporal stride stays within this factor (> 1) of the prior.
        min_sigma: floor of every Gaussian's sigma, in input pixels (frames in time): the variance is
            ``min_sigma^2 +`` the prior variance times its learned scale, so sampling stays smooth enough to pass
            positional gradients however fine the stride.

    Raises:
        ValueError: a field that is not a number, a negative range or floor, or a scale range not above 1.

    Example:
        >>> LocalizationBounds(offset_range=0.25).temporal_offset
        0.25
    """

    offset_range: float = 0.5
    temporal_offset_range: float | None = None
    scale_range: float = 2.0
    temporal_scale_range: float = 1.5
    min_sigma: float = 0.5

    def __post_init__(self) -> None:
        at_least_zero = {"offset_range": self.offset_range, "min_sigma": self.min_sigma}
        if self.temporal_offset_range is not None:
            at_least_zero["temporal_offset_range"] = self.temporal_offset_range
        for name, value in at_least_zero.items():
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        for name in ("scale_range", "temporal_scale_range"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 1.0:
                raise ValueError(f"{name} must be a number > 1, got {value!r}")

    @property
    def temporal_offset(self) -> float:
        """The temporal centre's offset range: ``temporal_offset_range``, else ``offset_range``."""
        return self.offset_range if self.temporal_offset_range is None else self.temporal_offset_range


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
