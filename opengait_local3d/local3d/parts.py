"""Body-part priors: where each local path looks before the localization has learned anything.

A prior places a part on the normalised map (fractions of width, height and length). Configs override
any field of any part by name::

    priors = resolve_priors(["head", "left_leg"], {"head": {"cy": 0.08, "window": 0.6}})

The defaults are the authors' (docs/design.md, 'Part priors'): centres and extents on the normalised map, every part
centred in time with a window of 0.4 of the sequence, sigma half the stride, gamma 0.5.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Mapping, Sequence, Union

PART_NAMES = ("head", "torso", "left_arm", "right_arm", "left_leg", "right_leg")


@dataclass(frozen=True)
class PartPrior:
    """Prior volume of one part, on the normalised map.

    Attributes:
        cx, cy: centre as fractions of the map's width and height (0 = left/top, 1 = right/bottom;
            "left" and "right" follow image coordinates).
        height, width: extent as fractions of the map's height and width.
        ct: temporal centre as a fraction of the sequence length.
        window: temporal extent as a fraction of the sequence length.
        sigma_ratio: initial Gaussian sigma as a multiple of the spatial stride.
        gamma: initial confidence, in (0, 1).
    """

    cx: float
    cy: float
    height: float
    width: float
    ct: float = 0.5
    window: float = 0.4
    sigma_ratio: float = 0.5
    gamma: float = 0.5

    def __post_init__(self) -> None:
        for name in ("cx", "cy", "ct"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"PartPrior.{name} must lie in [0, 1], got {value}")
        for name in ("height", "width", "window", "sigma_ratio"):
            value = getattr(self, name)
            if not value > 0.0:
                raise ValueError(f"PartPrior.{name} must be positive, got {value}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"PartPrior.gamma must lie in (0, 1), got {self.gamma}")


DEFAULT_PRIORS: Mapping[str, PartPrior] = {
    "head": PartPrior(cx=0.5, cy=1 / 16, height=1 / 8, width=4 / 11),
    "torso": PartPrior(cx=0.5, cy=3 / 8, height=1 / 2, width=10 / 11),
    "left_arm": PartPrior(cx=0.3, cy=0.5, height=3 / 16, width=3 / 11),
    "right_arm": PartPrior(cx=0.7, cy=0.5, height=3 / 16, width=3 / 11),
    "left_leg": PartPrior(cx=0.3, cy=0.8, height=3 / 8, width=5 / 11),
    "right_leg": PartPrior(cx=0.7, cy=0.8, height=3 / 8, width=5 / 11),
}

PriorOverride = Union[PartPrior, Mapping[str, float]]
_FIELDS = tuple(field.name for field in dataclasses.fields(PartPrior))


def _unknown(kind: str, name: str, known: Sequence[str]) -> ValueError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown {kind} {name!r} (known: {', '.join(known)}){hint}")


def resolve_priors(
    parts: Sequence[str] | None = None, priors: Mapping[str, PriorOverride] | None = None
) -> tuple[tuple[str, ...], tuple[PartPrior, ...]]:
    """The chosen part names, in the given order, and their priors after applying the overrides.

    Args:
        parts: part names from :data:`PART_NAMES`; ``None`` means all six.
        priors: per part name, a :class:`PartPrior` or a dict of the fields to change.

    Raises:
        ValueError: unknown, duplicate or no part names, an override for a part not in ``parts``,
            an unknown field, or a field value out of range.
    """
    names = PART_NAMES if parts is None else tuple(parts)
    if not names:
        raise ValueError("parts is empty: choose at least one of " + ", ".join(PART_NAMES))
    for name in names:
        if name not in PART_NAMES:
            raise _unknown("part in parts", name, PART_NAMES)
    if len(set(names)) != len(names):
        raise ValueError(f"parts lists a part twice: {list(names)}")
    chosen = {name: DEFAULT_PRIORS[name] for name in names}
    for name, override in (priors or {}).items():
        if name not in chosen:
            if name in PART_NAMES:
                raise ValueError(f"priors overrides {name!r}, which is not among parts {list(names)}")
            raise _unknown("part in priors", name, PART_NAMES)
        if isinstance(override, PartPrior):
            chosen[name] = override
            continue
        if not isinstance(override, Mapping):
            raise ValueError(f"priors[{name!r}] must be a PartPrior or a dict of fields, got {override!r}")
        for field in override:
            if field not in _FIELDS:
                raise _unknown(f"field in priors[{name!r}]", field, _FIELDS)
        try:
            chosen[name] = dataclasses.replace(chosen[name], **{k: float(v) for k, v in override.items()})
        except (TypeError, ValueError) as err:
            raise ValueError(f"priors[{name!r}]: {err}") from None
    return names, tuple(chosen[name] for name in names)
