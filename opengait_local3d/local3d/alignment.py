"""Where the local volumes are sampled from and how they line up with the global map
(docs/design.md, 'Alignment').

Two alignments put the P part volumes on a common ``L x N x M`` grid so that all parts are sampled in
one batched call:

* ``zoom`` (the authors'): every part is sampled onto the global map's canvas, ``M = W'`` columns,
  ``N = H'`` rows, ``L = T'``. The columns cover the part's width, which sets the (isotropic) stride;
  the central ``round(M * part height / part width)`` rows (clipped to ``[1, H']``) sample the part and
  the remaining rows are masked to zero, split evenly above and below (the extra row below).
* ``write`` (DRAW's write): every part is sampled at its own resolution (by default its prior extent in
  input pixels and frames, at least 3 per axis), padded to the largest part with masked (zero) rows,
  columns and frames, and its features are later written back onto the canvas with the transposed
  filterbanks (:func:`~opengait_local3d.local3d.writing.write_volume`). The padding is the layout's only:
  :class:`~opengait_local3d.local3d.Local3DBlock` samples, convolves and writes each run of equal parts at
  exactly its size (:attr:`PartLayout.regions`, :func:`~opengait_local3d.local3d.sampling.sample_groups`).

Sizes are ``(T, H, W)`` of the block input and ``(T', H', W')`` of the canvas (the global output).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from .bounds import LocalizationBounds
from .constants import constant
from .filterbanks import filterbank, grid_centres
from .localization import PartParameters
from .parts import PartPrior
from .sampling import temporal_filterbank

ALIGNMENTS = ("zoom", "write")
#: Smallest part resolution per axis in ``write`` alignment.
MIN_WRITE_SIZE = 3


@dataclass(frozen=True)
class AxisLayout:
    """One axis of the common sampling grid: ``size`` points, of which part p uses
    ``start[p] .. start[p] + count[p] - 1``, spaced ``prior_stride[p]`` input pixels apart at the prior."""

    size: int
    start: tuple[int, ...]
    count: tuple[int, ...]
    prior_stride: tuple[float, ...]


@dataclass(frozen=True)
class PartLayout:
    """The common grid of all parts (axes t, y, x) and their prior variances (pixels^2, frames^2)."""

    t: AxisLayout
    y: AxisLayout
    x: AxisLayout
    prior_sigma2: tuple[float, ...]
    prior_temporal_sigma2: tuple[float, ...]

    def regions(self) -> list[tuple[int, int, int]]:
        """Each part's used ``(L, N, M)`` points, when they start at the grid's origin (``write``)."""
        if any(start for axis in (self.t, self.y, self.x) for start in axis.start):
            raise ValueError("parts do not start at the grid's origin: no corner regions")
        return list(zip(self.t.count, self.y.count, self.x.count))


@dataclass(frozen=True)
class SamplingGrid:
    """Per-sample grids of all parts, in input pixels and frames.

    ``mu_x [n, P, T, M]``, ``mu_y [n, P, T, N]``, ``mu_t [n, P, L]``, ``sigma2 [n, P, T]``,
    ``temporal_sigma2 [n, P]``, ``gamma [n, P, T]``; masks ``[P, size]`` or ``None`` when all points are
    used; ``centre``, ``stride``, ``extent`` ``[n, P, T, 2]`` as (x, y); ``temporal_centre``,
    ``temporal_stride``, ``temporal_extent`` ``[n, P]``.
    """

    mu_x: Tensor
    mu_y: Tensor
    mu_t: Tensor
    sigma2: Tensor
    temporal_sigma2: Tensor
    gamma: Tensor
    mask_x: Tensor | None
    mask_y: Tensor | None
    mask_t: Tensor | None
    centre: Tensor
    stride: Tensor
    extent: Tensor
    temporal_centre: Tensor
    temporal_stride: Tensor
    temporal_extent: Tensor

    def run_of_parts(self, parts: slice, length: int, rows: int, columns: int) -> "SamplingGrid":
        """The grids of a run of equal parts (``write`` alignment, :meth:`PartLayout.regions`) at exactly their size:
        the parts ``parts`` on the first ``length`` frames, ``rows`` rows and ``columns`` columns of the common grid,
        every per-part field sliced, and no masks (each part of the run uses all of these points)."""
        return SamplingGrid(
            mu_x=self.mu_x[:, parts, :, :columns], mu_y=self.mu_y[:, parts, :, :rows],
            mu_t=self.mu_t[:, parts, :length],
            sigma2=self.sigma2[:, parts], temporal_sigma2=self.temporal_sigma2[:, parts], gamma=self.gamma[:, parts],
            mask_x=None, mask_y=None, mask_t=None,
            centre=self.centre[:, parts], stride=self.stride[:, parts], extent=self.extent[:, parts],
            temporal_centre=self.temporal_centre[:, parts], temporal_stride=self.temporal_stride[:, parts],
            temporal_extent=self.temporal_extent[:, parts],
        )


def zoom_layout(priors: Sequence[PartPrior], in_size: Sequence[int], canvas: Sequence[int]) -> PartLayout:
    """Layout of ``zoom`` alignment: each part on the full canvas ``(T', H', W')``."""
    T, H, W = in_size
    frames, rows, columns = canvas
    strides = [p.width * W / columns for p in priors]
    used_rows = [min(max(_round(columns * p.height * H / (p.width * W)), 1), rows) for p in priors]
    temporal_strides = [p.window * T / frames for p in priors]
    return PartLayout(
        t=AxisLayout(frames, (0,) * len(priors), (frames,) * len(priors), tuple(temporal_strides)),
        y=AxisLayout(rows, tuple((rows - r) // 2 for r in used_rows), tuple(used_rows), tuple(strides)),
        x=AxisLayout(columns, (0,) * len(priors), (columns,) * len(priors), tuple(strides)),
        prior_sigma2=tuple((p.sigma_ratio * s) ** 2 for p, s in zip(priors, strides)),
        prior_temporal_sigma2=tuple((p.sigma_ratio * s) ** 2 for p, s in zip(priors, temporal_strides)),
    )


def write_layout(
    priors: Sequence[PartPrior],
    in_size: Sequence[int],
    write_size: Sequence[int] | None = None,
    write_resolution: Sequence[int] | None = None,
) -> PartLayout:
    """Layout of ``write`` alignment: each part at its own resolution ``(L, N, M)``.

    By default each part gets its prior extent in input frames and pixels, rounded, at least
    :data:`MIN_WRITE_SIZE` per axis. ``write_resolution = (H_r, W_r)`` counts the rows and columns on an
    ``H_r x W_r`` map instead (the same part volumes in every block of a network, e.g. the last block's map
    size: coarser, cheaper sampling in the first blocks); ``write_size`` fixes ``(L, N, M)`` for every part.
    """
    T, H, W = in_size
    extents = [(p.window * T, p.height * H, p.width * W) for p in priors]
    if write_size is not None:
        sizes = [tuple(write_size)] * len(priors)
    else:
        rows, columns = (H, W) if write_resolution is None else write_resolution
        points = [(p.window * T, p.height * rows, p.width * columns) for p in priors]
        sizes = [tuple(max(MIN_WRITE_SIZE, _round(e)) for e in extent) for extent in points]
    strides = [tuple(e / s for e, s in zip(extent, size)) for extent, size in zip(extents, sizes)]

    def axis(k: int) -> AxisLayout:
        counts = tuple(size[k] for size in sizes)
        return AxisLayout(max(counts), (0,) * len(priors), counts, tuple(s[k] for s in strides))

    return PartLayout(
        t=axis(0),
        y=axis(1),
        x=axis(2),
        prior_sigma2=tuple(p.sigma_ratio**2 * s[1] * s[2] for p, s in zip(priors, strides)),
        prior_temporal_sigma2=tuple((p.sigma_ratio * s[0]) ** 2 for p, s in zip(priors, strides)),
    )


def sampling_grid(
    layout: PartLayout,
    priors: Sequence[PartPrior],
    params: PartParameters,
    in_size: Sequence[int],
    bounds: LocalizationBounds = LocalizationBounds(),
) -> SamplingGrid:
    """Combine the priors, the layout and the localization outputs into the grids of every part.

    Args:
        layout: the common grid of all parts.
        priors: each part's prior.
        params: the localization outputs (offsets in (-1, 1), scales).
        in_size: ``(T, H, W)`` of the block input.
        bounds: its ``offset_range`` (``temporal_offset`` in time) scales the offsets, and ``min_sigma`` floors
            every Gaussian's sigma (see :class:`~opengait_local3d.local3d.bounds.LocalizationBounds`).
    """
    T, H, W = in_size
    like = params.offset_x

    def per_part(values: Sequence[float]) -> Tensor:
        return constant(values, like)

    stride_x = per_part(layout.x.prior_stride).unsqueeze(-1) * params.scale_x
    stride_y = per_part(layout.y.prior_stride).unsqueeze(-1) * params.scale_y
    stride_t = per_part(layout.t.prior_stride) * params.scale_t
    cx, cy, ct = (per_part([getattr(p, name) for p in priors]) for name in ("cx", "cy", "ct"))
    reach_x, reach_y, reach_t = (
        per_part([2 * limit * getattr(p, name) for p in priors])
        for name, limit in (("width", bounds.offset_range), ("height", bounds.offset_range),
                            ("window", bounds.temporal_offset))
    )
    delta_x, delta_y = reach_x.unsqueeze(-1) * params.offset_x, reach_y.unsqueeze(-1) * params.offset_y
    delta_t = reach_t * params.offset_t
    mu_x = _positions(layout.x, cx.unsqueeze(-1), delta_x, stride_x, W)
    mu_y = _positions(layout.y, cy.unsqueeze(-1), delta_y, stride_y, H)
    mu_t = _positions(layout.t, ct, delta_t, stride_t, T)
    counts = per_part([[x, y] for x, y in zip(layout.x.count, layout.y.count)]).unsqueeze(1)
    stride = torch.stack([stride_x, stride_y], dim=-1)
    centre_x = (cx.unsqueeze(-1) + delta_x / 2) * W
    centre_y = (cy.unsqueeze(-1) + delta_y / 2) * H
    floor = bounds.min_sigma**2
    return SamplingGrid(
        mu_x=mu_x,
        mu_y=mu_y,
        mu_t=mu_t,
        sigma2=floor + per_part(layout.prior_sigma2).unsqueeze(-1) * params.scale_sigma2,
        temporal_sigma2=floor + per_part(layout.prior_temporal_sigma2) * params.scale_t.square(),
        gamma=params.gamma,
        mask_x=_mask(layout.x, like),
        mask_y=_mask(layout.y, like),
        mask_t=_mask(layout.t, like),
        centre=torch.stack([centre_x, centre_y], dim=-1),
        stride=stride,
        extent=stride * counts,
        temporal_centre=(ct + delta_t / 2) * T,
        temporal_stride=stride_t,
        temporal_extent=stride_t * per_part(layout.t.count),
    )


def write_filterbanks(
    grid: SamplingGrid, mode: str, in_size: Sequence[int], canvas: Sequence[int]
) -> tuple[Tensor, Tensor, Tensor]:
    """The sampling filterbanks of ``grid`` evaluated on the canvas, masked rows zeroed.

    Positions (and variances) are rescaled from input to canvas units per axis, so a canvas of another
    spatial size receives the features where the input was sampled. Returns ``g_t [n, P, L, T']``,
    ``g_y [n, P, T', N, H']``, ``g_x [n, P, T', M, W']``.
    """
    scale_t, scale_y, scale_x = (out / size for out, size in zip(canvas, in_size))

    def spatial(mu: Tensor, scale: float, size: int) -> Tensor:
        variance = None if mode == "trilinear" else (grid.sigma2 * scale**2).unsqueeze(-1)
        return filterbank(mu * scale, size, variance)

    g_x = spatial(grid.mu_x, scale_x, canvas[2])
    g_y = spatial(grid.mu_y, scale_y, canvas[1])
    temporal_sigma2 = grid.temporal_sigma2 * scale_t**2 if mode == "gaussian" else None
    g_t = temporal_filterbank(grid.mu_t * scale_t, canvas[0], mode, temporal_sigma2)
    if grid.mask_t is not None:
        g_t = g_t * grid.mask_t.unsqueeze(-1)
    if grid.mask_y is not None:
        g_y = g_y * grid.mask_y[:, None, :, None]
    if grid.mask_x is not None:
        g_x = g_x * grid.mask_x[:, None, :, None]
    return g_t, g_y, g_x


def _positions(axis: AxisLayout, prior: Tensor, offset: Tensor, stride: Tensor, in_size: int) -> Tensor:
    """Eqs. 4-6 for every part on the common grid: ``[n, P, (T,) axis.size]``.

    Part p's used points ``start .. start + count - 1`` are the grid of Eqs. 4-6 with ``count`` points;
    the other points continue it with the same stride (they are masked).
    """
    shift = constant([axis.size / 2 - start - count / 2 for start, count in zip(axis.start, axis.count)], offset)
    shift = shift.view(-1, *([1] * (offset.dim() - 1)))
    return grid_centres(prior, offset, stride, in_size, axis.size) + shift * stride.unsqueeze(-1)


def _mask(axis: AxisLayout, like: Tensor) -> Tensor | None:
    """``[P, size]`` 0/1 mask of each part's used points, or ``None`` when every point is used."""
    if all(start == 0 and count == axis.size for start, count in zip(axis.start, axis.count)):
        return None
    used = [[float(start <= index < start + count) for index in range(axis.size)]
            for start, count in zip(axis.start, axis.count)]
    return constant(used, like)


def check_alignment(alignment: str) -> str:
    """``alignment`` itself, if it is one of :data:`ALIGNMENTS`."""
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {', '.join(ALIGNMENTS)}; got {alignment!r}")
    return alignment


def _round(value: float) -> int:
    """``round(value)`` (halves to even), also for a size that depends on the input's shape while a network is
    exported: a traced 0-d tensor (``torch.jit.trace``) or a symbolic float (``torch.export``), neither of which
    ``round`` takes or exports."""
    if isinstance(value, Tensor):
        return torch.round(value).long()
    if not isinstance(value, torch.SymFloat):
        return round(value)
    floor = math.floor(value)
    return torch.sym_ite(value - floor == 0.5, floor + floor % 2, math.floor(value + 0.5))
