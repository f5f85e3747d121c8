"""One camera's recording of one walk: view nuisance, render, normalise.

Convention:
    Per-view nuisance (drawn from the view's own random stream): the start phase, the camera's
    azimuth offset and its drift while the walker passes, elevation, distance, drawing scale, the
    number of frames and the silhouette noise (:class:`~.realism.Realism` sets its optional parts).
    The output goes through the same normalisation as ``opengait-local3d pretreat``.
"""
from __future__ import annotations

import numpy as np

from ..silhouette import normalize_sequence
from .body import DEG, Walk
from .camera import Camera, figure_outlines
from .figure import droppable_capsules, walking_figure
from .kinematics import TAU
from .realism import CLEAN, Realism
from .render import MARGIN, Canvas, SilhouetteNoise, rasterise


def sample_noise(rng: np.random.Generator, realism: Realism = CLEAN) -> SilhouetteNoise:
    """Draw the silhouette noise of one recording (a shadow in ``realism.shadow_rate`` of them)."""
    u = rng.uniform
    shadow = u(0.08, 0.2) if rng.random() < realism.shadow_rate else 0.0
    return SilhouetteNoise(edge=u(0.0, 0.5), holes=u(0.0, 1.0), blobs=u(0.0, 0.5), shadow=shadow,
                           shadow_side=1.0 if rng.random() < 0.5 else -1.0,
                           shadow_thickness=realism.shadow_thickness, big_holes=realism.holes,
                           ragged=realism.ragged, drop_limb=realism.drop_limb, merge_limbs=realism.merge_limbs,
                           merge_width=realism.merge_width)


def render_sequence(walk: Walk, view_degrees: float, frames: int, size: int,
                    rng: np.random.Generator, realism: Realism = CLEAN) -> np.ndarray:
    """Render ``walk`` seen from ``view_degrees``: ``uint8 [T, size, size]``, ``frames <= T <= 1.25 frames``.

    Example:
        >>> from opengait_local3d.datasets.synthgait.body import sample_subject, sample_walk
        >>> rng = np.random.default_rng(0)
        >>> walk = sample_walk(rng, sample_subject(rng), "nm")
        >>> render_sequence(walk, 90, 8, 32, rng).shape[1:]
        (32, 32)
    """
    u = rng.uniform
    count = frames + int(rng.integers(0, frames // 4 + 1))
    phase = u(0, TAU) + TAU * np.arange(count) / walk.subject.period
    drift = u(6, 20) * DEG * (np.linspace(-0.5, 0.5, count))
    camera = Camera(azimuth=view_degrees * DEG + rng.normal(0, 2) * DEG + drift, elevation=u(0, 8) * DEG,
                    distance=u(4, 8))
    pixels_per_stature = size * u(1.3, 2.2)
    noise = sample_noise(rng, realism)
    figure = walking_figure(walk, phase)
    outlines, hulls = figure_outlines(figure, camera)
    anchors = camera.project(figure.anchors)[0]
    canvas = Canvas.fit([outlines, *hulls, anchors], pixels_per_stature,
                        margin=MARGIN + 2.4 * noise.shadow * pixels_per_stature)  # room for the shadow
    silhouettes = rasterise(outlines, hulls, anchors, canvas, noise, rng, droppable_capsules())
    return normalize_sequence(silhouettes, size).frames
