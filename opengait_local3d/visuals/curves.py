"""Learning curves as a picture: one line per model, a metric against training iterations (OpenCV).

Convention:
    The x axis runs from 0 to the largest iteration, the y axis over the values rounded out to tens (a
    percentage). Each model gets a colour of :data:`CURVE_COLOURS` (BGR) in the order given, a line through
    its points, a dot on each and a legend entry.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from ..utils.atomic import atomic_write

__all__ = ["CURVE_COLOURS", "learning_curves_image", "write_learning_curves"]

#: BGR colours of the curves, in the order the models are given
CURVE_COLOURS = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140))
WIDTH, HEIGHT = 720, 440
#: the plot area inside the picture: left, top, right, bottom
AREA = (70, 40, 700, 380)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def learning_curves_image(curves: Mapping[str, Mapping[int, float]], title: str = "") -> np.ndarray:
    """Draw ``curves`` (per model, value by iteration) on a white ``[HEIGHT, WIDTH, 3]`` uint8 BGR picture.

    Raises:
        ValueError: no model has a point, or there are more models than :data:`CURVE_COLOURS`.

    Example:
        >>> image = learning_curves_image({"A": {100: 40.0, 200: 55.0}, "B": {100: 30.0, 200: 60.0}})
        >>> image.shape, image.dtype
        ((440, 720, 3), dtype('uint8'))
    """
    points = [(i, v) for curve in curves.values() for i, v in curve.items()]
    if not points:
        raise ValueError("learning_curves_image: no points to draw")
    if len(curves) > len(CURVE_COLOURS):
        raise ValueError(f"learning_curves_image: at most {len(CURVE_COLOURS)} curves, got {len(curves)}")
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    left, top, right, bottom = AREA
    x_max = max(i for i, _ in points)
    y_low = 10 * math.floor(min(v for _, v in points) / 10)
    y_high = max(10 * math.ceil(max(v for _, v in points) / 10), y_low + 10)

    def position(iteration: float, value: float) -> tuple[int, int]:
        x = left + (right - left) * iteration / x_max
        y = bottom - (bottom - top) * (value - y_low) / (y_high - y_low)
        return round(x), round(y)

    for value in range(y_low, y_high + 1, 10):
        _, y = position(0, value)
        cv2.line(image, (left, y), (right, y), (225, 225, 225), 1)
        cv2.putText(image, str(value), (left - 40, y + 5), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for iteration in sorted({i for i, _ in points} | {0}):
        x, _ = position(iteration, y_low)
        cv2.line(image, (x, bottom), (x, bottom + 5), (0, 0, 0), 1)
        cv2.putText(image, str(iteration), (x - 12, bottom + 20), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (right, bottom), (0, 0, 0), 1)
    cv2.putText(image, "iteration", ((left + right) // 2 - 30, bottom + 45), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, title, (left, top - 15), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for index, (model, curve) in enumerate(curves.items()):
        colour = CURVE_COLOURS[index]
        line = np.array([position(i, v) for i, v in sorted(curve.items())], np.int32)
        cv2.polylines(image, [line], False, colour, 2, cv2.LINE_AA)
        for point in line:
            cv2.circle(image, tuple(int(c) for c in point), 4, colour, -1, cv2.LINE_AA)
        legend_y = top + 20 + 20 * index
        cv2.line(image, (left + 12, legend_y - 4), (left + 36, legend_y - 4), colour, 2, cv2.LINE_AA)
        cv2.putText(image, model, (left + 44, legend_y), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def write_learning_curves(path: str | Path, curves: Mapping[str, Mapping[int, float]], title: str = "") -> Path:
    """:func:`learning_curves_image` written to ``path`` (PNG), atomically."""
    ok, encoded = cv2.imencode(".png", learning_curves_image(curves, title))
    if not ok:
        raise RuntimeError(f"{path}: OpenCV could not encode the learning curves")
    with atomic_write(path) as handle:
        handle.write(encoded.tobytes())
    return Path(path)
