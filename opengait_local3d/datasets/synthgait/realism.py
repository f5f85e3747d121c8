"""How close to real segmented silhouettes, and how hard, SynthGait is: the :class:`Realism` options.

Convention:
    ``Realism()`` ("clean") is SynthGait as first published, byte for byte. Each field moves one
    aspect towards real background subtraction or a harder identification problem; the named
    presets are :data:`PRESETS`. Sizes are in statures, rates per frame unless stated otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["CLEAN", "HARD", "PRESETS", "Realism"]


@dataclass(frozen=True)
class Realism:
    """Segmentation noise, identity spread and covariate variety of a SynthGait.

    Attributes:
        identity_spread: factor on the between-subject range of every body and gait parameter (1 = as
            drawn; 0.5 = every range halved around its centre, so subjects look more alike while
            their walks vary as much as before).
        varied_covariates: more covariate variety: walking speed over +-20% instead of +-7%, bags of
            four kinds (a front pouch besides backpack, shoulder and hand bag) over wider sizes,
            coats from a short jacket to a long coat below the knee.
        shadow_rate: fraction of recordings with a floor shadow at the feet.
        shadow_thickness: half-height of that shadow.
        holes: mean number of large holes per frame, anywhere on the body (clothes that match the
            background), radii 0.02-0.06.
        ragged: how far the boundary moves in or out: the mask is eroded in some patches and dilated
            in others (a random field with cells of three times this size, thresholded at 0.5), so
            edges are wavy and thin parts break up; 0 for clean edges.
        drop_limb: probability per frame that one forearm-and-hand or shin-and-foot is missing.
        merge_limbs: probability per frame that gaps narrower than ``merge_width`` (between the legs,
            between an arm and the torso) are filled, as when limbs merge in a mask.
        merge_width: width of the gaps that merge.
    """

    identity_spread: float = 1.0
    varied_covariates: bool = False
    shadow_rate: float = 0.3
    shadow_thickness: float = 0.012
    holes: float = 0.0
    ragged: float = 0.0
    drop_limb: float = 0.0
    merge_limbs: float = 0.0
    merge_width: float = 0.06

    def __post_init__(self) -> None:
        if not 0 < self.identity_spread <= 1:
            raise ValueError(f"identity_spread must be in (0, 1], got {self.identity_spread}")
        for name in ("shadow_rate", "drop_limb", "merge_limbs"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        for name, high in (("shadow_thickness", 0.1), ("holes", 20.0), ("ragged", 0.1), ("merge_width", 0.3)):
            if not 0 <= getattr(self, name) <= high:
                raise ValueError(f"{name} must be in [0, {high}], got {getattr(self, name)}")

    @classmethod
    def preset(cls, name: str, **overrides: float | bool) -> "Realism":
        """The preset ``name`` (``clean`` or ``hard``) with some fields replaced."""
        if name not in PRESETS:
            raise ValueError(f"realism preset must be one of {', '.join(PRESETS)}, got {name!r}")
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown realism option(s): {', '.join(sorted(unknown))}")
        return replace(PRESETS[name], **overrides)


#: SynthGait as first published (the default; the quick start's figures were measured on it)
CLEAN = Realism()

#: closer identities, more covariate variety and segmentation noise of real masks (for 64x44 comparisons)
HARD = Realism(identity_spread=0.5, varied_covariates=True, shadow_rate=0.8, shadow_thickness=0.03, holes=1.5,
               ragged=0.012, drop_limb=0.15, merge_limbs=0.3)

PRESETS = {"clean": CLEAN, "hard": HARD}
