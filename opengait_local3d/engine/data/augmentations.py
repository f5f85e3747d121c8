"""OpenGait's silhouette augmentations, by its names and arguments, on whole batches (kornia).

OpenGait calls each augmentation on one sequence ``[s, h, w]`` at a time: one random draw per sequence
(whether to apply it, with probability ``prob``, and its parameters), the same for every frame of the
sequence. Here a batch ``x [n, s, h, w]`` (or packed ``[1, sum(s), h, w]`` with ``seqL [1, n]``) is transformed
at once: each class's ``draw`` makes the per-sequence draws from ``generator`` (on the CPU, so a run is
reproducible on any device), the parameters are repeated over each sequence's frames, and the chosen
frames are warped in one batched call of ``kornia.geometry`` (bilinear, zeros outside, OpenCV's pixel
convention: pixel centres at integer coordinates), as OpenGait warps each frame with OpenCV. uint8 frames
stay uint8 (rounded), as OpenCV returns them; float frames stay float.

Where OpenGait mixes up a frame's height and width (the rotation centre ``(h // 2, w // 2)`` given as
``(x, y)``, RandomAffine's corner points), the two agree on square frames, which is where OpenGait's own
configs use them; on other frames this module uses the geometry OpenGait means (the centre
``(w // 2, h // 2)``, the frame's own corners). Ranges that OpenGait leaves empty on small frames (random
choice from an empty range, an error there) are a :class:`ConfigError` here, naming the transform and size.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from kornia.geometry.transform import get_perspective_transform, get_rotation_matrix2d, warp_affine, warp_perspective
from torch import Tensor

from ...utils.typecheck import Probability
from ...errors import ConfigError

__all__ = ["sequence_index", "RandomHorizontalFlip", "RandomRotate", "RandomPerspective", "RandomAffine",
           "RandomErasing", "Rectangles"]


def sequence_index(x: Tensor, seqL: Tensor | None) -> Tensor:
    """The sequence each frame of ``x`` belongs to, for its frames in memory order: ``[n * s]`` or ``[sum(s)]``.

    >>> sequence_index(torch.zeros(2, 3, 4, 4), None).tolist()
    [0, 0, 0, 1, 1, 1]
    >>> sequence_index(torch.zeros(1, 5, 4, 4), torch.tensor([[2, 3]])).tolist()
    [0, 0, 1, 1, 1]
    """
    if seqL is None:
        return torch.arange(x.shape[0]).repeat_interleave(x.shape[1])
    return torch.arange(seqL.shape[-1]).repeat_interleave(seqL.reshape(-1).cpu())


def _sequence_count(x: Tensor, seqL: Tensor | None) -> int:
    return x.shape[0] if seqL is None else seqL.shape[-1]


def _chosen(count: int, prob: float, generator: torch.Generator | None) -> Tensor:
    """Which of ``count`` sequences an augmentation applies to: each with probability ``prob``."""
    return torch.rand(count, generator=generator) < prob


def _uniform(low: float, high: float, size: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    return low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)


def _warped(x: Tensor, seqL: Tensor | None, chosen: Tensor, matrices: Tensor, perspective: bool) -> Tensor:
    """``x`` with the frames of each chosen sequence ``i`` warped by ``matrices[i]`` (``[n, 3, 3]``, source
    pixel -> destination pixel, OpenCV's convention); the other frames untouched."""
    height, width = x.shape[-2:]
    frames = x.reshape(-1, height, width)
    owner = sequence_index(x, seqL)
    selected = chosen[owner]
    if not selected.any():
        return x
    matrix = matrices[owner[selected]].to(x.device, torch.float32)
    source = frames[selected.to(x.device)].unsqueeze(1).float()
    if perspective:
        warped = warp_perspective(source, matrix, (height, width), align_corners=True)
    else:
        warped = warp_affine(source, matrix[:, :2], (height, width), align_corners=True)
    warped = warped.squeeze(1)
    if not x.dtype.is_floating_point:
        warped = warped.round().clamp(0, torch.iinfo(x.dtype).max)
    out = frames.clone()
    out[selected.to(x.device)] = warped.to(x.dtype)
    return out.reshape(x.shape)


class RandomHorizontalFlip:
    """Mirror whole sequences left-right, each with probability ``prob``."""

    def __init__(self, prob: Probability = 0.5):
        self.prob = prob

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        flip = _chosen(_sequence_count(x, seqL), self.prob, generator)[sequence_index(x, seqL)]
        frames = x.reshape(-1, *x.shape[-2:])
        return torch.where(flip.to(x.device)[:, None, None], frames.flip(-1), frames).reshape(x.shape)


class RandomRotate:
    """Rotate whole sequences, each with probability ``prob``, by an angle uniform in ``[-degree, degree]``
    degrees about the frame centre ``(w // 2, h // 2)`` (counter-clockwise for positive angles, as OpenCV's
    ``getRotationMatrix2D``)."""

    def __init__(self, prob: Probability = 0.5, degree: float = 10):
        self.prob, self.degree = prob, degree

    def draw(self, count: int, height: int, width: int, generator: torch.Generator | None = None
             ) -> tuple[Tensor, Tensor, Tensor]:
        """(chosen ``[count]`` bool, angles ``[count]`` in degrees, matrices ``[count, 3, 3]``)."""
        chosen = _chosen(count, self.prob, generator)
        angles = _uniform(-self.degree, self.degree, (count,), generator)
        centre = torch.tensor([[width // 2, height // 2]], dtype=torch.float64).expand(count, 2)
        rotation = get_rotation_matrix2d(centre, angles, torch.ones(count, 2, dtype=torch.float64))
        return chosen, angles, _homogeneous(rotation)

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        chosen, _, matrices = self.draw(_sequence_count(x, seqL), *x.shape[-2:], generator)
        return _warped(x, seqL, chosen, matrices, perspective=False)


class RandomPerspective:
    """Stretch a random trapezoid of whole sequences to the full frame, each with probability ``prob``.

    OpenGait's draw: with ``c = int(w // 44) * 10`` columns, the top-left and bottom-left corners of the
    source quadrilateral get an integer x in ``[0, c)``, the top-right and bottom-right ones an integer x in
    ``[w - c, w)`` (all four independent), at y = 0 and y = h; it is mapped onto ``(0, 0), (w, 0), (w, h),
    (0, h)``. Frames narrower than 44 pixels leave no range (``c = 0``).
    """

    def __init__(self, prob: Probability = 0.5):
        self.prob = prob

    def draw(self, count: int, height: int, width: int, generator: torch.Generator | None = None
             ) -> tuple[Tensor, Tensor, Tensor]:
        """(chosen ``[count]``, source corners ``[count, 4, 2]`` as (x, y) in the order top-left, top-right,
        bottom-right, bottom-left, matrices ``[count, 3, 3]``)."""
        cutting = int(width // 44) * 10
        if cutting == 0:
            raise ConfigError(f"RandomPerspective: frames {width} pixels wide leave it no columns to move "
                              "(OpenGait moves each corner within int(w // 44) * 10 columns: w must be >= 44)")
        chosen = _chosen(count, self.prob, generator)
        left = torch.randint(0, cutting, (count, 2), generator=generator)
        right = torch.randint(width - cutting, width, (count, 2), generator=generator)
        top, bottom = torch.zeros(count), torch.full((count,), float(height))
        source = torch.stack([torch.stack([left[:, 0], top], -1), torch.stack([right[:, 0], top], -1),
                              torch.stack([right[:, 1], bottom], -1), torch.stack([left[:, 1], bottom], -1)], 1)
        canvas = torch.tensor([[0, 0], [width, 0], [width, height], [0, height]], dtype=torch.float64)
        matrices = get_perspective_transform(source.double(), canvas.expand(count, 4, 2))
        return chosen, source.double(), matrices

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        chosen, _, matrices = self.draw(_sequence_count(x, seqL), *x.shape[-2:], generator)
        return _warped(x, seqL, chosen, matrices, perspective=True)


class RandomAffine:
    """Warp whole sequences by a random affine map, each with probability ``prob``.

    OpenGait's draw: three points near the top-left, top-right and bottom-left corners, each coordinate moved
    inwards by an integer in ``[0, int(h // 64 * 10))``, are mapped onto three points drawn the same way.
    ``degree`` is accepted and unused, as in OpenGait. Frames lower than 64 pixels leave no range.
    """

    def __init__(self, prob: Probability = 0.5, degree: float = 10):
        self.prob, self.degree = prob, degree

    def draw(self, count: int, height: int, width: int, generator: torch.Generator | None = None
             ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(chosen ``[count]``, source and destination points ``[count, 3, 2]`` as (x, y), matrices
        ``[count, 3, 3]`` mapping the source points onto the destination points)."""
        max_shift = int(height // 64 * 10)
        if max_shift == 0:
            raise ConfigError(f"RandomAffine: frames {height} pixels high leave it no shift to draw "
                              "(OpenGait shifts corners by up to int(h // 64 * 10) - 1 pixels: h must be >= 64)")
        chosen = _chosen(count, self.prob, generator)
        corners = torch.tensor([[0, 0], [width, 0], [0, height]], dtype=torch.float64)
        inwards = torch.tensor([[1, 1], [-1, 1], [1, -1]], dtype=torch.float64)
        points = [corners + inwards * torch.randint(0, max_shift, (count, 3, 2), generator=generator)
                  for _ in range(2)]
        return chosen, points[0], points[1], _homogeneous(_affine_through(points[0], points[1]))

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        chosen, _, _, matrices = self.draw(_sequence_count(x, seqL), *x.shape[-2:], generator)
        return _warped(x, seqL, chosen, matrices, perspective=False)


class Rectangles(NamedTuple):
    """Per-sequence erasing rectangles: ``chosen`` (erased at all), ``top``, ``left``, ``height``, ``width``."""

    chosen: Tensor
    top: Tensor
    left: Tensor
    height: Tensor
    width: Tensor


class RandomErasing:
    """Zero a random rectangle of whole sequences (of each frame with ``per_frame``), with probability ``prob``.

    OpenGait's draw: up to 100 tries of an area ``U(sl, sh) * h * w`` and an aspect ratio ``U(r1, 1 / r1)``,
    giving ``round(sqrt(area * ratio))`` rows and ``round(sqrt(area / ratio))`` columns; the first try that
    fits strictly inside the frame is placed at a uniform integer position (nothing is erased if none fits).
    """

    ATTEMPTS = 100

    def __init__(self, prob: Probability = 0.5, sl: Probability = 0.05, sh: Probability = 0.2, r1: float = 0.3,
                 per_frame: bool = False):
        self.prob, self.sl, self.sh, self.r1, self.per_frame = prob, sl, sh, r1, per_frame

    def draw(self, count: int, height: int, width: int, generator: torch.Generator | None = None) -> Rectangles:
        """The rectangles of ``count`` sequences (or frames), in pixels."""
        chosen = _chosen(count, self.prob, generator)
        area = _uniform(self.sl, self.sh, (count, self.ATTEMPTS), generator) * height * width
        ratio = _uniform(self.r1, 1 / self.r1, (count, self.ATTEMPTS), generator)
        rows, cols = (area * ratio).sqrt().round().long(), (area / ratio).sqrt().round().long()
        fits = (rows < height) & (cols < width)
        first = fits.long().argmax(1)[:, None]  # the first try that fits (0 when none does; then not chosen)
        rows, cols = rows.gather(1, first)[:, 0], cols.gather(1, first)[:, 0]
        top = (torch.rand(count, generator=generator, dtype=torch.float64) * (height - rows + 1)).long()
        left = (torch.rand(count, generator=generator, dtype=torch.float64) * (width - cols + 1)).long()
        return Rectangles(chosen & fits.any(1), top, left, rows, cols)

    def __call__(self, x: Tensor, seqL: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        height, width = x.shape[-2:]
        frames = x.reshape(-1, height, width)
        owner = torch.arange(len(frames)) if self.per_frame else sequence_index(x, seqL)
        count = len(frames) if self.per_frame else _sequence_count(x, seqL)
        box = Rectangles(*(value[owner].to(x.device) for value in self.draw(count, height, width, generator)))
        rows = torch.arange(height, device=x.device)
        cols = torch.arange(width, device=x.device)
        inside_rows = (rows >= box.top[:, None]) & (rows < (box.top + box.height)[:, None])
        inside_cols = (cols >= box.left[:, None]) & (cols < (box.left + box.width)[:, None])
        erased = box.chosen[:, None, None] & inside_rows[:, :, None] & inside_cols[:, None, :]
        return frames.masked_fill(erased, 0).reshape(x.shape)


def _homogeneous(affine: Tensor) -> Tensor:
    """``[n, 2, 3]`` affine matrices as ``[n, 3, 3]``."""
    bottom = torch.tensor([0.0, 0.0, 1.0], dtype=affine.dtype).expand(len(affine), 1, 3)
    return torch.cat([affine, bottom], 1)


def _affine_through(source: Tensor, target: Tensor) -> Tensor:
    """The ``[n, 2, 3]`` affine maps taking the three points ``source [n, 3, 2]`` onto ``target [n, 3, 2]``
    (OpenCV's ``getAffineTransform``)."""
    homogeneous = torch.cat([source, torch.ones_like(source[..., :1])], -1)  # [n, 3, 3]: rows (x, y, 1)
    return torch.linalg.solve(homogeneous, target).transpose(1, 2)
