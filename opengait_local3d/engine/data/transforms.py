"""Transforms by OpenGait's names, applied to whole batches on the device.

OpenGait calls each transform once per sequence (``[s, h, w]`` uint8 numpy). Here a transform maps a batch
``x [n, s, h, w]`` (or packed ``[1, sum(s), h, w]`` with ``seqL [1, n]``) at once, with the same meaning per
sequence; the random ones (:mod:`.augmentations`: RandomHorizontalFlip, RandomRotate, RandomPerspective,
RandomAffine, RandomErasing) draw once per sequence from ``generator``. As in OpenGait the batch arrives as
uint8 (so cutting happens before the float conversion) and ``BaseSil*Transform`` turns it into floats.

A transform config is OpenGait's: one entry per input modality (a dict counts as a list of one), each a
``type`` with its arguments; ``Compose`` chains a ``trf_cfg`` list. ``Resize`` is engine-only (OpenGait has
no such transform): configs meant for OpenGait must not use it.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...utils.checks import require
from ...utils.typecheck import NonNegativeInt, PositiveInt
from ...errors import ConfigError
from ...config.registries import section_registry
from .augmentations import RandomAffine, RandomErasing, RandomHorizontalFlip, RandomPerspective, RandomRotate

__all__ = ["TRANSFORMS", "ENGINE_ONLY_TRANSFORMS", "get_transform", "check_transforms", "apply_to_sequence", "Compose",
           "NoOperation", "BaseSilTransform", "BaseSilCuttingTransform", "Resize"]

Transform = Callable[..., Tensor]


class NoOperation:
    """Identity."""

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        return x


class BaseSilTransform:
    """Divide by ``divsor`` (255 maps uint8 silhouettes to [0, 1]); optionally reshape frames to ``img_shape``."""

    def __init__(self, divsor: float = 255.0, img_shape: Sequence[int] | None = None):
        self.divsor = divsor
        self.img_shape = img_shape

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        if self.img_shape is not None:
            x = x.reshape(*x.shape[:2], *self.img_shape)
        return _divided(x, self.divsor)


class BaseSilCuttingTransform:
    """Cut ``cutting`` columns from each side (default ``int(w // 64) * 10``: 64 -> 44), divide by ``divsor``."""

    def __init__(self, divsor: float = 255.0, cutting: NonNegativeInt | None = None):
        self.divsor = divsor
        self.cutting = cutting

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        cutting = int(x.shape[-1] // 64) * 10 if self.cutting is None else self.cutting
        require(2 * cutting < x.shape[-1], f"BaseSilCuttingTransform: cutting {cutting} columns from each side leaves "
                                           f"nothing of frames {x.shape[-1]} pixels wide (cutting must be below "
                                           f"{(x.shape[-1] + 1) // 2})")
        if cutting:
            x = x[..., cutting:-cutting]
        return _divided(x, self.divsor)


def _divided(x: Tensor, divsor: float) -> Tensor:
    """``x / divsor`` as float32 (one new tensor, divided in place)."""
    return x.to(torch.float32, copy=True).div_(divsor)


class Resize:
    """Engine-only: resize every frame to ``size = [h, w]`` (bilinear, antialiased).

    For quick runs on small frames; OpenGait has no such transform.
    """

    def __init__(self, size: Sequence[PositiveInt]):
        require(len(size) == 2, f"size must be [h, w], got {size!r}")
        self.size = (int(size[0]), int(size[1]))

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        # frames as channels: one interpolate call for the whole batch
        return F.interpolate(x.float(), size=self.size, mode="bilinear", antialias=True, align_corners=False)


class Compose:
    """Apply the transforms of ``trf_cfg`` in order."""

    def __init__(self, trf_cfg: Sequence[dict[str, Any]]):
        if not isinstance(trf_cfg, list):
            raise ValueError(f"trf_cfg must be a list of transforms, got {trf_cfg!r}")
        self.transforms = [TRANSFORMS.build(cfg, f"trf_cfg[{i}]") for i, cfg in enumerate(trf_cfg)]

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        for transform in self.transforms:
            x = transform(x, seqL, generator)
        return x


#: ``transform.type`` -> class
TRANSFORMS = section_registry("transform", "type", {cls.__name__: cls for cls in (
    NoOperation, BaseSilTransform, BaseSilCuttingTransform, Resize, Compose, RandomHorizontalFlip, RandomRotate,
    RandomPerspective, RandomAffine, RandomErasing)}, "transform")
#: transforms OpenGait does not define
ENGINE_ONLY_TRANSFORMS = frozenset({"Resize"})


def apply_to_sequence(transform: Transform, frames: np.ndarray) -> Tensor:
    """One stored sequence (uint8 ``[T, H, W]``) as the network sees it at test time: the float ``[s, h, w]``
    that ``transform`` (deterministic, e.g. of ``evaluator_cfg.transform``) makes of it."""
    return transform(torch.from_numpy(np.ascontiguousarray(frames))[None], None, torch.Generator())[0].float()


def check_transforms(transforms: Sequence[Transform], frame_sizes: Sequence[tuple[int, int]], where: str) -> None:
    """Run ``transforms`` (one per input) once on blank frames of the data's ``frame_sizes``, so that a transform
    that cannot take them (``cutting`` as wide as the frame) fails when the data opens, not at a batch.

    Raises:
        ConfigError: naming ``where`` and the frame size, or a count of transforms other than of inputs.
    """
    if len(transforms) != len(frame_sizes):
        raise ConfigError(f"{where}: {len(transforms)} transform(s) for {len(frame_sizes)} input(s) (pkl files per "
                          "sequence); give one transform per input")
    for index, (transform, (height, width)) in enumerate(zip(transforms, frame_sizes)):
        try:
            transform(torch.zeros(1, 1, height, width, dtype=torch.uint8), None, torch.Generator())
        except ValueError as err:
            raise ConfigError(f"{where}[{index}]: the data's frames are {height}x{width}: {err}") from None


def get_transform(trf_cfg: Any, where: str) -> list[Transform]:
    """One transform per input modality from OpenGait's transform config (``None`` -> identity)."""
    if trf_cfg is None:
        return [NoOperation()]
    entries = [trf_cfg] if isinstance(trf_cfg, dict) else trf_cfg
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: expected a transform or a list of them (one per input), got {trf_cfg!r}")
    return [TRANSFORMS.build(cfg, f"{where}[{i}]") for i, cfg in enumerate(entries)]
