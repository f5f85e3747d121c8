"""Rasterisation with OpenCV and segmentation-like silhouette noise.

Convention:
    Outlines are in statures (``u`` right, ``v`` up). A :class:`Canvas` maps them to pixels (``x``
    right, ``y`` down) at ``pixels_per_stature`` and is sized once per sequence to hold every frame.
    Polygons are filled with 2 bits of sub-pixel precision. Noise imitates background subtraction:
    one-pixel erosions or dilations of the boundary, holes inside the body, spurious blobs beside it
    and a floor shadow at the feet; optionally (:class:`~.realism.Realism`) large holes, ragged
    edges, a missing limb and limbs merged with each other or the torso.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

SHIFT = 2                   # sub-pixel bits of OpenCV's drawing functions
MARGIN = 4                  # free pixels around the figure
_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_FLIP = np.array([1.0, -1.0])


@dataclass(frozen=True)
class SilhouetteNoise:
    """Noise of one sequence: rates per frame and sizes in statures."""

    edge: float = 0.0       # probability of a one-pixel erosion or dilation
    holes: float = 0.0      # mean number of holes
    blobs: float = 0.0      # mean number of spurious blobs
    shadow: float = 0.0     # half-length of a floor shadow; 0 for none
    shadow_side: float = 1.0  # +1 the shadow extends to the right, -1 to the left
    shadow_thickness: float = 0.012  # half-height of the shadow
    big_holes: float = 0.0  # mean number of large holes
    ragged: float = 0.0     # how far the boundary moves in or out, patch by patch; 0 for clean edges
    drop_limb: float = 0.0  # probability that one droppable limb is missing
    merge_limbs: float = 0.0  # probability of a closing that fills gaps up to merge_width
    merge_width: float = 0.06

    @property
    def segmentation(self) -> bool:
        """Whether any of the optional segmentation noise (large holes and after) is on."""
        return bool(self.big_holes or self.ragged or self.drop_limb or self.merge_limbs)


@dataclass(frozen=True)
class Canvas:
    """Pixel grid ``[height, width]``; stature point ``(u, v)`` lands at ``(u, -v) * scale - corner``."""

    corner: np.ndarray          # [2] top-left corner in scaled image coordinates
    width: int
    height: int
    pixels_per_stature: float

    @classmethod
    def fit(cls, clouds: list[np.ndarray], pixels_per_stature: float, margin: float = MARGIN) -> "Canvas":
        """The smallest canvas holding every point of ``clouds`` (each ``[..., 2]``) with ``margin`` pixels."""
        points = np.concatenate([cloud.reshape(-1, 2) for cloud in clouds]) * _FLIP * pixels_per_stature
        low, high = points.min(0), points.max(0)
        width, height = np.ceil(high - low + 2 * margin).astype(int) + 1
        return cls(low - margin, int(width), int(height), pixels_per_stature)

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """``[..., 2]`` statures -> ``[..., 2]`` float pixel coordinates ``(x, y)``."""
        return points * _FLIP * self.pixels_per_stature - self.corner

    def to_fixed_point(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates with ``SHIFT`` fractional bits, as OpenCV's drawing functions take them."""
        return np.round(self.to_pixels(points) * (1 << SHIFT)).astype(np.int32)


def rasterise(outlines: np.ndarray, hulls: list[np.ndarray], anchors: np.ndarray, canvas: Canvas,
              noise: SilhouetteNoise, rng: np.random.Generator,
              limbs: Sequence[tuple[int, ...]] = ()) -> list[np.ndarray]:
    """Fill the convex outlines of each frame and add noise.

    Args:
        outlines: ``[T, S, K, 2]`` convex polygons in statures.
        hulls: point clouds ``[T, K', 2]`` whose convex hull is filled.
        anchors: ``[T, J, 2]`` body points that holes and blobs are drawn around.
        canvas: the pixel grid (see :meth:`Canvas.fit`).
        noise: the sequence's noise levels.
        rng: source of the per-frame noise (the optional segmentation noise is drawn after the rest).
        limbs: indices into ``S`` of the outlines of each limb that ``noise.drop_limb`` may drop.

    Returns:
        ``T`` frames ``uint8 [canvas.height, canvas.width]`` with values 0 and 255.
    """
    frame_count = outlines.shape[0]
    polygons = canvas.to_fixed_point(outlines)
    hull_points = [canvas.to_fixed_point(hull) for hull in hulls]
    anchor_pixels = canvas.to_pixels(anchors)
    draws = _draw_noise(rng, noise, frame_count, anchors.shape[1], canvas.pixels_per_stature)
    segmentation = _draw_segmentation(rng, noise, frame_count, anchors.shape[1], canvas, len(limbs))
    members = np.zeros((len(limbs) + 1, polygons.shape[1]), bool)  # [limbs + 1, S]; the last row, none
    for index, group in enumerate(limbs):
        members[index, list(group)] = True
    shown = ~members[segmentation.drop]                   # [T, S]; drop -1 picks the empty last row
    frames = []
    for t in range(frame_count):
        image = np.zeros((canvas.height, canvas.width), np.uint8)
        for polygon in polygons[t][shown[t]]:
            cv2.fillConvexPoly(image, polygon, 255, cv2.LINE_8, SHIFT)
        for hull in hull_points:
            cv2.fillConvexPoly(image, cv2.convexHull(hull[t]), 255, cv2.LINE_8, SHIFT)
        if segmentation.merge[t]:
            cv2.morphologyEx(image, cv2.MORPH_CLOSE, segmentation.merge_kernel, dst=image)
        _apply_noise(image, draws, t, anchor_pixels[t], polygons[t], noise, canvas.pixels_per_stature)
        _apply_segmentation(image, segmentation, t, anchor_pixels[t])
        frames.append(image)
    return frames


@dataclass
class _NoiseDraws:
    """All random numbers of a sequence's noise, drawn up front (``T`` frames)."""

    edge: np.ndarray        # [T] -1 erode, 0 nothing, +1 dilate
    holes: list[np.ndarray]  # per frame [n, 5]: anchor index, dx, dy, rx, ry (pixels)
    blobs: list[np.ndarray]
    shadow_jitter: np.ndarray  # [T]


def _draw_noise(rng: np.random.Generator, noise: SilhouetteNoise, frame_count: int, anchor_count: int,
                pixels_per_stature: float) -> _NoiseDraws:
    edge = np.where(rng.random(frame_count) < noise.edge, rng.choice([-1, 1], frame_count), 0)

    def spots(rate: float, spread: float, low: float, high: float) -> list[np.ndarray]:
        counts = rng.poisson(rate, frame_count)
        total = int(counts.sum())
        table = np.column_stack([rng.integers(0, anchor_count, total),
                                 rng.normal(0, spread, (total, 2)) * pixels_per_stature,
                                 rng.uniform(low, high, (total, 2)) * pixels_per_stature])
        return np.split(table, np.cumsum(counts)[:-1])

    return _NoiseDraws(edge, spots(noise.holes, 0.02, 0.008, 0.03), spots(noise.blobs, 0.06, 0.01, 0.035),
                       rng.uniform(0.8, 1.2, frame_count))


def _apply_noise(image: np.ndarray, draws: _NoiseDraws, t: int, anchors: np.ndarray, polygons: np.ndarray,
                 noise: SilhouetteNoise, pixels_per_stature: float) -> None:
    """Add frame ``t``'s noise to ``image`` in place."""
    if noise.shadow > 0:
        corners = polygons.reshape(-1, 2)
        lowest = corners[corners[:, 1].argmax()] / (1 << SHIFT)
        length = noise.shadow * draws.shadow_jitter[t] * pixels_per_stature
        centre = (int(lowest[0] + noise.shadow_side * length), int(lowest[1]))
        thickness = max(1, int(noise.shadow_thickness * pixels_per_stature))
        cv2.ellipse(image, centre, (int(length), thickness), 0, 0, 360, 255, -1)
    for spots, value in ((draws.blobs[t], 255), (draws.holes[t], 0)):
        _fill_spots(image, spots, anchors, value)
    if draws.edge[t] < 0:
        cv2.erode(image, _KERNEL, dst=image)
    elif draws.edge[t] > 0:
        cv2.dilate(image, _KERNEL, dst=image)


def _fill_spots(image: np.ndarray, spots: np.ndarray, anchors: np.ndarray, value: int) -> None:
    """Fill the ellipses ``spots`` ``[n, 5]`` (anchor index, dx, dy, rx, ry in pixels) with ``value``."""
    for anchor, dx, dy, rx, ry in spots:
        centre = anchors[int(anchor)] + (dx, dy)
        cv2.ellipse(image, (int(centre[0]), int(centre[1])), (max(1, int(rx)), max(1, int(ry))), 0, 0, 360,
                    value, -1)


@dataclass
class _SegmentationDraws:
    """The optional segmentation noise of a sequence (``T`` frames), drawn up front."""

    drop: np.ndarray                    # [T] index of the dropped limb, -1 for none
    merge: np.ndarray                   # [T] bool: close the gaps up to the merge width
    merge_kernel: np.ndarray | None = None
    holes: list[np.ndarray] = field(default_factory=list)  # per frame [n, 5] as _NoiseDraws.holes
    ragged: np.ndarray | None = None    # [T, h, w] float32 coarse field in [0, 1): dilate where >= 0.5, else erode
    band_kernel: np.ndarray | None = None


def _draw_segmentation(rng: np.random.Generator, noise: SilhouetteNoise, frame_count: int, anchor_count: int,
                       canvas: Canvas, limb_count: int) -> _SegmentationDraws:
    """Draw the optional segmentation noise; draws nothing (and changes nothing) when it is off."""
    if not noise.segmentation:
        return _SegmentationDraws(np.full(frame_count, -1), np.zeros(frame_count, bool))
    scale = canvas.pixels_per_stature
    drops = rng.random(frame_count) < (noise.drop_limb if limb_count else 0.0)
    drop = np.where(drops, rng.integers(0, max(limb_count, 1), frame_count), -1)
    merge = rng.random(frame_count) < noise.merge_limbs
    width = max(3, int(round(noise.merge_width * scale)) | 1)
    counts = rng.poisson(noise.big_holes, frame_count)
    total = int(counts.sum())
    holes = np.column_stack([rng.integers(0, anchor_count, total), rng.normal(0, 0.04, (total, 2)) * scale,
                             rng.uniform(0.02, 0.06, (total, 2)) * scale])
    draws = _SegmentationDraws(drop, merge, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width)),
                               np.split(holes, np.cumsum(counts)[:-1]))
    if noise.ragged > 0:
        radius = max(1, int(round(noise.ragged * scale)))
        cell = 3.0 * radius
        shape = (frame_count, int(np.ceil(canvas.height / cell)) + 1, int(np.ceil(canvas.width / cell)) + 1)
        draws.ragged = rng.random(shape, np.float32)
        draws.band_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return draws


def _apply_segmentation(image: np.ndarray, draws: _SegmentationDraws, t: int, anchors: np.ndarray) -> None:
    """Add frame ``t``'s large holes and ragged edges to ``image`` in place (merging and dropping come earlier)."""
    if draws.holes:
        _fill_spots(image, draws.holes[t], anchors, 0)
    if draws.ragged is not None:
        grown = cv2.resize(draws.ragged[t], (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5
        image[...] = np.where(grown, cv2.dilate(image, draws.band_kernel), cv2.erode(image, draws.band_kernel))
