"""Cameras and projection: 3D solids -> 2D convex outlines, vectorised over frames and solids.

Convention:
    CASIA-B's view angle: the camera sits at azimuth 0 in front of the walker (who walks towards it),
    90 degrees at the walker's left side, 180 behind. Image coordinates ``(u, v)`` are in statures,
    ``u`` to the right and ``v`` up, centred on the walker; a point ``depth`` statures nearer the
    camera than the walker's centre is magnified by ``distance / (distance - depth)`` (perspective).
    Solids are outlined with a weak-perspective scale per capsule end and per ellipsoid centre.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .figure import Figure


@dataclass(frozen=True)
class Camera:
    """A camera following a walker: ``azimuth`` ``[T]`` (the view drifts as the walker passes)."""

    azimuth: np.ndarray
    elevation: float
    distance: float

    def basis(self) -> np.ndarray:
        """``[T, 3, 3]`` rows: image right, image up, towards the camera."""
        azimuth = np.asarray(self.azimuth, dtype=np.float64)
        ca, sa = np.cos(azimuth), np.sin(azimuth)
        ce, se = np.cos(self.elevation), np.sin(self.elevation)
        zero = np.zeros_like(azimuth)
        right = np.stack([-sa, ca, zero], -1)
        up = np.stack([-ca * se, -sa * se, np.full_like(azimuth, ce)], -1)
        toward = np.stack([ca * ce, sa * ce, np.full_like(azimuth, se)], -1)
        return np.stack([right, up, toward], -2)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``points [T, ..., 3] -> (uv [T, ..., 2], magnification [T, ...])``."""
        basis = self.basis()
        flat = points.reshape(points.shape[0], -1, 3)
        camera_coords = np.einsum("tij,tkj->tki", basis, flat).reshape(points.shape)
        magnification = self.distance / (self.distance - camera_coords[..., 2])
        return camera_coords[..., :2] * magnification[..., None], magnification


def capsule_outlines(start: np.ndarray, end: np.ndarray, start_radius: np.ndarray, end_radius: np.ndarray,
                     points_per_end: int = 8) -> np.ndarray:
    """Convex outlines ``[..., 2 * points_per_end, 2]`` of 2D capsules (hull of two discs).

    ``start``/``end`` are ``[..., 2]`` centres, the radii ``[...]``. The outline follows the two outer
    tangents, so a tapered capsule stays exactly convex; a disc inside the other degenerates to it.
    """
    delta = end - start
    length = np.maximum(np.linalg.norm(delta, axis=-1), 1e-9)
    direction = np.arctan2(delta[..., 1], delta[..., 0])
    half_arc = np.arccos(np.clip((start_radius - end_radius) / length, -1.0, 1.0))  # [...]
    steps = np.linspace(-1.0, 1.0, points_per_end)
    end_angles = direction[..., None] + half_arc[..., None] * steps
    start_angles = direction[..., None] + np.pi + (np.pi - half_arc[..., None]) * steps
    end_points = end[..., None, :] + end_radius[..., None, None] * _unit(end_angles)
    start_points = start[..., None, :] + start_radius[..., None, None] * _unit(start_angles)
    return np.concatenate([end_points, start_points], -2)


def ellipse_outlines(centre: np.ndarray, linear: np.ndarray, points: int = 16) -> np.ndarray:
    """Outlines ``[..., points, 2]`` of the ellipses ``centre + linear @ x`` for ``|x| <= 1`` in 3D.

    ``centre`` is ``[..., 2]``, ``linear`` ``[..., 2, 3]`` (projection times semi-axes): the image of
    the unit ball is the ellipse with shape matrix ``linear @ linear.T``, traced by its Cholesky factor.
    """
    shape = linear @ np.swapaxes(linear, -1, -2) + 1e-12 * np.eye(2)
    factor = np.linalg.cholesky(shape)
    circle = _unit(np.linspace(0, 2 * np.pi, points, endpoint=False))  # [K, 2]
    return centre[..., None, :] + np.einsum("...ij,kj->...ki", factor, circle)


def _unit(angles: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(angles), np.sin(angles)], -1)


def figure_outlines(figure: Figure, camera: Camera) -> tuple[np.ndarray, list[np.ndarray]]:
    """Project ``figure``: convex outlines ``[T, S, K, 2]`` and hull clouds (each ``[T, K', 2]``)."""
    start, start_mag = camera.project(figure.capsule_start)
    end, end_mag = camera.project(figure.capsule_end)
    capsules = capsule_outlines(start, end, figure.capsule_radii[:, 0] * start_mag,
                                figure.capsule_radii[:, 1] * end_mag)
    centre, centre_mag = camera.project(figure.ellipsoid_centre)
    linear = camera.basis()[:, None, :2] @ figure.ellipsoid_axes * centre_mag[..., None, None]
    ellipses = ellipse_outlines(centre, linear, points=capsules.shape[-2])
    hulls = [camera.project(cloud)[0] for cloud in figure.hulls]
    return np.concatenate([capsules, ellipses], 1), hulls
