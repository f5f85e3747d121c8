"""Differentiable sampling of local 3D volumes (Eq. 10): ``V = gamma G_X G_Y T_T I``.

Convention (docs/design.md, 'Sampling conventions'):
    Spatial parameters are per *input* frame: frame ``t`` is filtered with its own grid and multiplied
    by its ``gamma``; the temporal filter then maps the ``T`` filtered frames to ``L`` output frames.
    Coordinates put the centre of index ``p`` at ``p + 0.5`` (``align_corners=False``), in input
    pixels and frames. Modes: ``gaussian`` (Gaussian in x, y, t), ``trilinear`` (linear in x, y, t; the
    spatial part is ``grid_sample``), ``mixture`` (Gaussian in x, y, linear in t; the paper's choice).

All parts are sampled from the same input in one batched computation: the y filter of every part is a
single batched matmul over frames (parts stacked as rows) that reads the clip in place when it is channels-last
(as the blocks' outputs are), the x filter one batched matmul over (sample, frame, part, row), and the temporal
filter one batched matmul over (sample, part). The channels stay innermost throughout, so the volumes come out
channels-last (the layout the feature extraction's conv3d takes) and the clip's gradient comes back in the layout of
the clip (the global path's convs' gradient adds to it without a copy). Parts of different sizes go through
:func:`sample_groups`: each group of one size at exactly its size, the clip laid out once for all groups.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from .constants import built_constant
from .custom_backward import is_traced, uses_custom_backward
from .filterbanks import gaussian_filterbank, linear_filterbank

MODES = ("gaussian", "trilinear", "mixture")

__all__ = ["MODES", "PartFilterbanks", "PartGroup", "part_filterbanks", "run_filterbanks", "sample_volume",
           "sample_groups", "temporal_filterbank"]

#: A normalised grid_sample coordinate whose two interpolation taps both fall off the map.
_OFF_MAP = -3.0


def sample_volume(
    x: Tensor,
    mu_x: Tensor,
    mu_y: Tensor,
    mu_t: Tensor,
    sigma2: Tensor,
    gamma: Tensor | float,
    mode: str = "mixture",
    *,
    temporal_sigma2: Tensor | float | None = None,
    mask_x: Tensor | None = None,
    mask_y: Tensor | None = None,
    mask_t: Tensor | None = None,
) -> Tensor:
    r"""Sample ``L x N x M`` volumes from a clip with per-frame spatial grids (Eq. 10).

    .. math:: V[c, l, i, j] = \sum_t \mathcal{T}[l, t]\,\gamma_t \sum_{h, w}
              \mathcal{G}^t_Y[i, h]\,\mathcal{G}^t_X[j, w]\, I[c, t, h, w]

    Convention:
        Positions are in input pixels/frames with index ``p`` centred at ``p + 0.5``. With a parts
        dimension ``P`` every argument below gains it after ``n`` and the result is
        ``[n, P, c, L, N, M]``; all parts are sampled in one batched computation.

    Args:
        x: input clip ``[n, c, T, H, W]``.
        mu_x: column positions per input frame ``[n, (P,) T, M]``.
        mu_y: row positions per input frame ``[n, (P,) T, N]``.
        mu_t: output frame positions ``[n, (P,) L]``.
        sigma2: spatial variance per input frame ``[n, (P,) T]`` (unused in ``trilinear``).
        gamma: confidence, broadcastable to ``[n, (P,) T]``.
        mode: ``'gaussian'``, ``'trilinear'`` or ``'mixture'``.
        temporal_sigma2: ``gaussian`` only: temporal variance in frames squared, broadcastable to
            ``[n, (P,)]``; default ``(0.5 x grid spacing)^2`` (1 frame spacing when ``L = 1``), not
            differentiated.
        mask_x, mask_y, mask_t: optional 0/1 masks broadcastable to ``[n, (P,) M]``, ``[n, (P,) N]``,
            ``[n, (P,) L]``: masked columns/rows/frames of the output are exactly zero.

    Returns:
        volumes ``[n, (P,) c, L, N, M]`` (a non-contiguous view: each part's volume is a channels-last
        ``[n, c, L, N, M]`` block of a ``[P, n, L, N, M, c]`` buffer).

    Raises:
        ValueError: an argument has the wrong rank or a size that does not match ``x`` or the others,
            ``mode`` is unknown, or ``temporal_sigma2`` is given outside ``gaussian`` mode.

    Example:
        >>> x = torch.arange(16.0).view(1, 1, 1, 4, 4)
        >>> mu = torch.tensor([[[1.0, 3.0]]])             # [n=1, T=1, 2]
        >>> v = sample_volume(x, mu, mu, torch.tensor([[0.5]]), torch.ones(1, 1), 1.0, "trilinear")
        >>> v.shape, v[0, 0, 0]
        (torch.Size([1, 1, 1, 2, 2]), tensor([[ 2.5000,  4.5000],
                [10.5000, 12.5000]]))
    """
    has_parts = _check_arguments(x, mu_x, mu_y, mu_t, sigma2, mode, temporal_sigma2)
    if not has_parts:
        mu_x, mu_y, mu_t, sigma2 = (v.unsqueeze(1) for v in (mu_x, mu_y, mu_t, sigma2))
    n, T = x.shape[0], x.shape[2]
    P, L, N, M = mu_x.shape[1], mu_t.shape[-1], mu_y.shape[-1], mu_x.shape[-1]
    gamma = _broadcast("gamma", gamma, (n, T), (n, P, T), has_parts, x)
    mask_x, mask_y, mask_t = (
        None if mask is None else _broadcast(name, mask, (n, size), (n, P, size), has_parts, x)
        for name, mask, size in (("mask_x", mask_x, M), ("mask_y", mask_y, N), ("mask_t", mask_t, L))
    )
    if temporal_sigma2 is not None:
        temporal_sigma2 = _broadcast("temporal_sigma2", temporal_sigma2, (n,), (n, P), has_parts, x)

    group = PartGroup(mu_x, mu_y, mu_t, sigma2, gamma, temporal_sigma2)
    banks = part_filterbanks(group, x.shape[2:], mode)
    if mask_t is not None:
        banks = banks._replace(temporal=banks.temporal * mask_t.unsqueeze(-1))
    if mode == "trilinear":
        frames = _bilinear_frames(_clip_layout(x, mode), x.shape, mu_x, mu_y, mask_x, mask_y)
    else:
        if mask_x is not None:
            banks = banks._replace(columns=banks.columns * mask_x[:, :, None, :, None])
        if mask_y is not None:
            banks = banks._replace(rows=banks.rows * mask_y[:, :, None, :, None])
        (frames,) = _gaussian_frames(_clip_layout(x, mode), x.shape, [banks])
    volumes = _temporal_filter(frames, banks.temporal * gamma.unsqueeze(-2))
    return volumes if has_parts else volumes.squeeze(1)


class PartGroup(NamedTuple):
    """The grids of a group of parts sampled at one size ``(L, N, M)``: ``mu_x [n, P, T, M]``, ``mu_y [n, P, T, N]``,
    ``mu_t [n, P, L]``, ``sigma2 [n, P, T]``, ``gamma`` broadcastable to ``[n, P, T]`` and, in ``gaussian`` mode
    only, ``temporal_sigma2`` broadcastable to ``[n, P]`` (as :func:`sample_volume` takes them)."""

    mu_x: Tensor
    mu_y: Tensor
    mu_t: Tensor
    sigma2: Tensor
    gamma: Tensor | float
    temporal_sigma2: Tensor | float | None = None

    def run_of_parts(self, parts: slice, points: Sequence[int]) -> "PartGroup":
        """The parts ``parts`` on their first ``points = (L, N, M)`` points of this group's grid (a run of equal parts
        cut from the common grid): every per-part field sliced, a gamma or temporal variance without a parts
        dimension kept as it is."""
        length, rows, columns = points

        def of_parts(value: Tensor | float | None, dims: int) -> Tensor | float | None:
            return value[:, parts] if isinstance(value, Tensor) and value.dim() == dims else value

        return PartGroup(self.mu_x[:, parts, :, :columns], self.mu_y[:, parts, :, :rows],
                         self.mu_t[:, parts, :length], self.sigma2[:, parts], of_parts(self.gamma, 3),
                         of_parts(self.temporal_sigma2, 2))


class PartFilterbanks(NamedTuple):
    """The filterbanks with which a group of parts reads a clip ``[n, c, T, H, W]`` (Eq. 10): ``temporal [n, P, L, T]``
    (without gamma), ``rows [n, P, T, N, H]`` and ``columns [n, P, T, M, W]``, the spatial ones ``None`` in
    ``trilinear`` mode (``grid_sample`` filters the frames). DRAW's write onto a canvas of the clip's size uses the
    same filterbanks (:func:`~opengait_local3d.local3d.writing.write_summed`)."""

    temporal: Tensor
    rows: Tensor | None
    columns: Tensor | None


def part_filterbanks(group: PartGroup, size: Sequence[int], mode: str) -> PartFilterbanks:
    """The filterbanks of ``group`` (parts dimension included) on a clip of ``size = (T, H, W)``."""
    T, H, W = size
    temporal = temporal_filterbank(group.mu_t, T, mode, group.temporal_sigma2)
    if mode == "trilinear":
        return PartFilterbanks(temporal, None, None)
    variance = group.sigma2.unsqueeze(-1)
    return PartFilterbanks(temporal, gaussian_filterbank(group.mu_y, variance, H),
                           gaussian_filterbank(group.mu_x, variance, W))


def run_filterbanks(common: PartGroup, runs: Sequence[tuple[slice, Sequence[int]]], size: Sequence[int],
                    mode: str) -> list[PartFilterbanks]:
    """The filterbanks of runs of equal parts on a clip of ``size = (T, H, W)``: each run ``(parts, (L, N, M))`` is the
    parts ``parts`` of ``common`` (every part on a common grid: ``mu_x [n, P, T, M']``, ``mu_y [n, P, T, N']``, ``mu_t
    [n, P, L']``, ``sigma2 [n, P, T]`` and, in ``gaussian`` mode, ``temporal_sigma2 [n, P]``) on its first ``L``,
    ``N`` and ``M`` points; per run, the :func:`part_filterbanks` of that run alone, as views.

    Each filterbank row depends on its own point only, so the points of all runs are packed along one axis and each
    axis's filterbank is computed once for all runs: on a GPU a filterbank is a dozen small kernels and their
    launches bound the step (README, Performance), and the split's backward is one concatenation. While a network
    is traced or exported (:func:`~.custom_backward.is_traced`) each run is computed apart: the runs' sizes then
    depend on the input's length, and index tensors made at trace time would hold one length's points.

    Raises:
        ValueError: ``gaussian`` mode without ``temporal_sigma2``.
    """
    if is_traced():
        return [part_filterbanks(common.run_of_parts(parts, points), size, mode) for parts, points in runs]
    T, H, W = size
    n = common.mu_t.shape[0]
    spans = tuple((parts.start, parts.stop, tuple(points)) for parts, points in runs)
    like = common.mu_t
    t_parts, t_points = _packed_points(spans, 0, like)
    mu_t = common.mu_t[:, t_parts, t_points]  # [n, K_t]
    if mode == "gaussian":
        if common.temporal_sigma2 is None:
            raise ValueError("run_filterbanks needs temporal_sigma2 in gaussian mode")
        temporal_sigma2 = torch.as_tensor(common.temporal_sigma2, dtype=like.dtype, device=like.device)
        temporal = gaussian_filterbank(mu_t, temporal_sigma2.expand(n, common.mu_t.shape[1])[:, t_parts], T)
    else:
        temporal = linear_filterbank(mu_t, T)  # [n, K_t, T]
    counts = [stop - start for start, stop, _ in spans]
    runs_of_bank = temporal.split(_packed_sizes(spans, 0), 1)
    temporal = [run.view(n, count, sizes[0], T) for run, count, (_, _, sizes) in zip(runs_of_bank, counts, spans)]
    if mode == "trilinear":
        return [PartFilterbanks(bank, None, None) for bank in temporal]
    spatial = []
    for axis, mu, width in ((1, common.mu_y, H), (2, common.mu_x, W)):
        parts, points = _packed_points(spans, axis, like)
        bank = gaussian_filterbank(mu[:, parts, :, points].permute(1, 2, 0),
                                   common.sigma2[:, parts].transpose(1, 2), width)  # [n, T, K, width]
        runs_of_bank = bank.split(_packed_sizes(spans, axis), 2)
        spatial.append([run.view(n, T, count, sizes[axis], width).transpose(1, 2)
                        for run, count, (_, _, sizes) in zip(runs_of_bank, counts, spans)])
    return [PartFilterbanks(*banks) for banks in zip(temporal, *spatial)]


def _packed_points(spans: tuple[tuple[int, int, tuple[int, ...]], ...], axis: int, like: Tensor) -> Tensor:
    """The points of every run along ``axis`` (0: frames, 1: rows, 2: columns), run by run, part by part: ``[2, K]``,
    each point's part and its index on the part's common grid, a (cached) index tensor on ``like``'s device."""
    return built_constant(_packed_indices, (spans, axis), like, torch.long)


def _packed_indices(spans_and_axis: tuple[tuple[tuple[int, int, tuple[int, ...]], ...], int]) -> list[list[int]]:
    """:func:`_packed_points`' values: the part and the point index of every point."""
    spans, axis = spans_and_axis
    parts = [part for start, stop, sizes in spans for part in range(start, stop) for _ in range(sizes[axis])]
    points = [point for start, stop, sizes in spans for _ in range(start, stop) for point in range(sizes[axis])]
    return [parts, points]


def _packed_sizes(spans: tuple[tuple[int, int, tuple[int, ...]], ...], axis: int) -> list[int]:
    """How many packed points (:func:`_packed_points`) each run has along ``axis``."""
    return [(stop - start) * sizes[axis] for start, stop, sizes in spans]


def sample_groups(x: Tensor, groups: Sequence[PartGroup], mode: str = "mixture",
                  filterbanks: Sequence[PartFilterbanks] | None = None) -> list[Tensor]:
    """Groups of parts, each of its own size, sampled from one clip: per group ``[n, P_g, c, L_g, N_g, M_g]``, equal to
    :func:`sample_volume` on the group.

    In one call of :func:`sample_volume`, parts of different sizes share the largest grid and mask the rest; here
    every group costs exactly its size, and the clip is laid out for the spatial filters once for all groups.
    ``filterbanks``: each group's :func:`part_filterbanks` on this clip, when the caller has them (to use them again,
    as DRAW's write does); by default they are computed here.

    Raises:
        ValueError: no groups, a group as :func:`sample_volume` would refuse it (each group needs its parts
            dimension), or not one set of filterbanks per group.

    Example:
        >>> x = torch.rand(2, 3, 5, 8, 6)
        >>> small = PartGroup(torch.rand(2, 1, 5, 2) * 6, torch.rand(2, 1, 5, 3) * 8, torch.rand(2, 1, 4) * 5,
        ...                   torch.ones(2, 1, 5), 1.0)
        >>> large = PartGroup(torch.rand(2, 2, 5, 4) * 6, torch.rand(2, 2, 5, 6) * 8, torch.rand(2, 2, 5) * 5,
        ...                   torch.ones(2, 2, 5), 1.0)
        >>> [tuple(v.shape) for v in sample_groups(x, [small, large])]
        [(2, 1, 3, 4, 3, 2), (2, 2, 3, 5, 6, 4)]
    """
    if not groups:
        raise ValueError("sample_groups needs at least one group of parts")
    if filterbanks is not None and len(filterbanks) != len(groups):
        raise ValueError(f"sample_groups needs one set of filterbanks per group: {len(groups)} groups, "
                         f"{len(filterbanks)} filterbanks")
    checked = []
    for group in groups:
        if not _check_arguments(x, group.mu_x, group.mu_y, group.mu_t, group.sigma2, mode, group.temporal_sigma2):
            raise ValueError(f"each group's mu_x must be [n, P, T, M], got shape {tuple(group.mu_x.shape)}")
        n, P = group.mu_x.shape[:2]
        temporal_sigma2 = group.temporal_sigma2
        if temporal_sigma2 is not None:
            temporal_sigma2 = _broadcast("temporal_sigma2", temporal_sigma2, (n,), (n, P), True, x)
        gamma = _broadcast("gamma", group.gamma, (n, x.shape[2]), (n, P, x.shape[2]), True, x)
        checked.append(group._replace(gamma=gamma, temporal_sigma2=temporal_sigma2))
    if filterbanks is None:
        filterbanks = [part_filterbanks(group, x.shape[2:], mode) for group in checked]
    layout = _clip_layout(x, mode)
    if mode == "trilinear":
        frames = [_bilinear_frames(layout, x.shape, group.mu_x, group.mu_y, None, None) for group in checked]
    else:
        frames = _gaussian_frames(layout, x.shape, filterbanks)
    return [_temporal_filter(part_frames, banks.temporal * group.gamma.unsqueeze(-2))
            for part_frames, banks, group in zip(frames, filterbanks, checked)]


def _temporal_filter(frames: Tensor, temporal: Tensor) -> Tensor:
    """The temporal filter of a group of parts (its filterbank ``temporal [n, P, L, T]``, gamma and any mask applied):
    ``frames [P, n, T, N, M, c] -> [n, P, c, L, N, M]``, each part's volumes a channels-last block of a
    ``[P, n, L, N, M, c]`` buffer (the feature extraction's layout)."""
    P, n, T, N, M, c = frames.shape
    L = temporal.shape[-2]
    # The linear filter has only 2 taps per output frame, but this dense matmul beats a gather + lerp of the two taps
    # on CPU at every length measured (T = 30..200, benchmarks/local3d.py): both are memory-bound and the gather
    # writes two temporaries.
    volumes = torch.bmm(temporal.transpose(0, 1).reshape(P * n, L, T), frames.view(P * n, T, N * M * c))
    return volumes.view(P, n, L, N, M, c).permute(1, 0, 5, 2, 3, 4)


def _clip_layout(x: Tensor, mode: str) -> Tensor:
    """``x [n, c, T, H, W]`` in the layout the spatial filters read: ``[n T, H, W c]`` (the Gaussian's row filter) or
    ``[n T, c, H, W]`` (``grid_sample``, trilinear); views without a copy when ``x`` is channels-last."""
    n, c, T, H, W = x.shape
    if mode == "trilinear":
        return x.transpose(1, 2).reshape(n * T, c, H, W)
    return x.permute(0, 2, 3, 4, 1).reshape(n * T, H, W * c)


def temporal_filterbank(
    mu_t: Tensor, size: int, mode: str, temporal_sigma2: Tensor | float | None = None
) -> Tensor:
    """The temporal filter of ``mode``: ``mu_t [..., L] -> [..., L, size]``.

    Linear in ``mixture`` and ``trilinear``; Gaussian in ``gaussian``, with ``temporal_sigma2``
    (broadcastable to ``mu_t.shape[:-1]``) or, if ``None``, half the grid spacing as sigma.
    """
    if mode != "gaussian":
        return linear_filterbank(mu_t, size)
    if temporal_sigma2 is None:
        spacing = (mu_t[..., 1] - mu_t[..., 0]).abs() if mu_t.shape[-1] > 1 else mu_t.new_ones(())
        temporal_sigma2 = (0.5 * spacing.detach()).square()
    sigma2 = torch.as_tensor(temporal_sigma2, dtype=mu_t.dtype, device=mu_t.device)
    return gaussian_filterbank(mu_t, sigma2.unsqueeze(-1), size)


def _gaussian_frames(clip: Tensor, shape: torch.Size, filterbanks: Sequence[PartFilterbanks]) -> list[Tensor]:
    """Filter every frame for every part of every group with its row and column filterbanks (``rows [n, P, T, N, H]``,
    ``columns [n, P, T, M, W]``): ``clip [n T, H, W c]`` (of a clip of ``shape [n, c, T, H, W]``) ``->`` per group
    ``[P, n, T, N, M, c]``.

    The row filters of all groups run as one GEMM per frame, their part rows stacked (:class:`_SpatialFilters`);
    each group's columns are then filtered per (part, part row, frame), the part's filterbank repeated per row.
    """
    n, c, T, H, W = shape
    rows = torch.cat([banks.rows.permute(0, 2, 1, 3, 4).reshape(n * T, -1, H) for banks in filterbanks], 1)
    columns = []
    for banks in filterbanks:
        P, N, M = banks.columns.shape[1], banks.rows.shape[-2], banks.columns.shape[-2]
        columns.append(banks.columns.transpose(0, 1).unsqueeze(1).expand(P, N, n, T, M, W).reshape(P * N * n * T, M, W))
    filtered = _spatial_filters(rows, clip, columns)  # per group [P N n T, M, c]
    # Parts first, frames before rows: the temporal filter's matmul per (part, sample) reads them in place, and each
    # part's volumes come out as one channels-last block. A copy at the parts' size.
    return [part_frames.view(banks.columns.shape[1], -1, n, T, part_frames.shape[1], c).permute(0, 2, 3, 1, 4, 5)
            .contiguous() for part_frames, banks in zip(filtered, filterbanks)]


def _spatial_filters(rows: Tensor, clip: Tensor, columns: Sequence[Tensor]) -> list[Tensor]:
    """The row filter of every part row of every group, then each group's column filter: ``rows [n T, K, H]`` (``K``:
    all groups' part rows), ``clip [n T, H, W c]`` and per group ``columns [P_g N_g n T, M_g, W]`` ``->`` per group
    ``[P_g N_g n T, M_g, c]``.

    The row filter is one GEMM per frame for all groups, written part rows outermost ``[K, n T, W c]``, so that each
    group's rows are one contiguous block that its column filter reads in place. In training :class:`_SpatialFilters`
    computes it with its backward written out (see :func:`~.custom_backward.uses_custom_backward`): the clip's gradient
    comes out of one GEMM too (one per group would each write a gradient of the clip's size, which autograd then adds
    up), and each group's gradient is written into its block, with no copies. The matmuls run in the inputs' dtype.
    The row filter's output, a strided view, is computed one frame after another on one thread (torch's batched GEMM
    on CPU), which costs it the second thread's gain at two threads (about 5 ms of a step)."""
    if uses_custom_backward(rows, clip, *columns):
        return list(_SpatialFilters.apply(rows, clip, *columns))
    if is_traced():  # standard operators only: the row filter's output by frame, each group's block copied out of it
        blocks = part_row_blocks(torch.bmm(rows, clip).transpose(0, 1), columns)  # [P_g N_g, n T, W c] each
        return [torch.bmm(group, block.reshape(group.shape[0], group.shape[2], -1))
                for group, block in zip(columns, blocks)]
    return _spatial_filters_forward(rows, clip, columns)[0]


def _spatial_filters_forward(rows: Tensor, clip: Tensor, columns: Sequence[Tensor]) -> tuple[list[Tensor], Tensor]:
    """:func:`_spatial_filters`, with the row filter's output ``[K, n T, W c]`` that the backward reads."""
    nT, K, _ = rows.shape
    W = columns[0].shape[2]
    c = clip.shape[2] // W
    with torch.autocast(clip.device.type, enabled=False):
        filtered = clip.new_empty(K, nT, W * c)
        torch.bmm(rows, clip, out=filtered.transpose(0, 1))
        outputs = [torch.bmm(group_columns, block.view(-1, W, c))
                   for group_columns, block in zip(columns, part_row_blocks(filtered, columns))]
    return outputs, filtered


class _SpatialFilters(torch.autograd.Function):
    """:func:`_spatial_filters` with its backward written out."""

    @staticmethod
    def forward(ctx, rows: Tensor, clip: Tensor, *columns: Tensor) -> tuple[Tensor, ...]:
        outputs, filtered = _spatial_filters_forward(rows, clip, columns)
        ctx.save_for_backward(rows, clip, filtered, *columns)
        return tuple(outputs)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        rows, clip, filtered, *columns = ctx.saved_tensors
        W = columns[0].shape[2]
        c = clip.shape[2] // W
        grad_filtered = torch.zeros_like(filtered) if any(g is None for g in grads) else torch.empty_like(filtered)
        grad_columns = []
        for index, (group_columns, block, grad_block, grad) in enumerate(
                zip(columns, part_row_blocks(filtered, columns), part_row_blocks(grad_filtered, columns), grads)):
            if grad is None:
                grad_columns.append(None)
                continue
            needs_columns = ctx.needs_input_grad[2 + index]
            grad_columns.append(torch.bmm(grad, block.view(-1, W, c).transpose(1, 2)) if needs_columns else None)
            torch.bmm(group_columns.transpose(1, 2), grad, out=grad_block.view(-1, W, c))
        by_frame = grad_filtered.transpose(0, 1)  # [n T, K, W c]
        grad_rows = torch.bmm(by_frame, clip.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        grad_clip = torch.bmm(rows.transpose(1, 2), by_frame) if ctx.needs_input_grad[1] else None
        return (grad_rows, grad_clip, *grad_columns)


def part_row_blocks(by_part_row: Tensor, columns: Sequence[Tensor]) -> list[Tensor]:
    """The blocks of a tensor laid out part rows outermost, ``[K, n T, ...]``: each group's part rows
    ``[P_g N_g, n T, ...]`` (its column filterbanks ``columns [P_g N_g n T, ...]`` say how many), then the rest (the
    write's bias row, or nothing), all contiguous when ``by_part_row`` is."""
    sizes = [group.shape[0] // by_part_row.shape[1] for group in columns]
    return list(by_part_row.split([*sizes, by_part_row.shape[0] - sum(sizes)]))


def _bilinear_frames(
    frames: Tensor, shape: torch.Size, mu_x: Tensor, mu_y: Tensor, mask_x: Tensor | None, mask_y: Tensor | None
) -> Tensor:
    """Bilinearly sample every frame for every part with ``grid_sample``: ``frames [n T, c, H, W]`` (of a clip of
    ``shape [n, c, T, H, W]``) ``-> [P, n, T, N, M, c]``."""
    n, c, T, H, W = shape
    P, N, M = mu_x.shape[1], mu_y.shape[-1], mu_x.shape[-1]
    grid_x = mu_x * (2.0 / W) - 1.0
    grid_y = mu_y * (2.0 / H) - 1.0
    # Masked columns/rows read from off the map, where zeros padding makes them exactly 0.
    if mask_x is not None:
        grid_x = torch.where(mask_x[:, :, None, :] > 0, grid_x, _OFF_MAP)
    if mask_y is not None:
        grid_y = torch.where(mask_y[:, :, None, :] > 0, grid_y, _OFF_MAP)
    grid = torch.stack(torch.broadcast_tensors(grid_x.unsqueeze(-2), grid_y.unsqueeze(-1)), dim=-1)
    grid = grid.transpose(1, 2).reshape(n * T, P * N, M, 2)
    sampled = F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return sampled.view(n, T, c, P, N, M).permute(3, 0, 1, 4, 5, 2).contiguous()


def _check_arguments(
    x: Tensor, mu_x: Tensor, mu_y: Tensor, mu_t: Tensor, sigma2: Tensor, mode: str, temporal_sigma2: object
) -> bool:
    """Validate ranks and sizes; return whether the arguments carry a parts dimension."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if temporal_sigma2 is not None and mode != "gaussian":
        raise ValueError(f"temporal_sigma2 is only used in 'gaussian' mode, not {mode!r}")
    if not isinstance(x, Tensor) or x.dim() != 5 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor [n, c, T, H, W], got {_describe(x)}")
    for name, value in (("mu_x", mu_x), ("mu_y", mu_y), ("mu_t", mu_t), ("sigma2", sigma2)):
        if not isinstance(value, Tensor) or value.dtype != x.dtype or value.device != x.device:
            raise ValueError(f"{name} must be a {x.dtype} tensor on {x.device} like x, got {_describe(value)}")
    if mu_x.dim() not in (3, 4):
        raise ValueError(f"mu_x must be [n, T, M] or [n, P, T, M], got {_describe(mu_x)}")
    has_parts = mu_x.dim() == 4
    n, _, T = x.shape[:3]
    lead = (n, mu_x.shape[1]) if has_parts else (n,)
    expected = {
        "mu_x": (mu_x, (*lead, T, None), "[n, (P,) T, M]"),
        "mu_y": (mu_y, (*lead, T, None), "[n, (P,) T, N]"),
        "mu_t": (mu_t, (*lead, None), "[n, (P,) L]"),
        "sigma2": (sigma2, (*lead, T), "[n, (P,) T]"),
    }
    for name, (value, shape, text) in expected.items():
        matches = value.dim() == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape))
        if not matches:
            raise ValueError(
                f"{name} must be {text} with n={n}, T={T}"
                + (f", P={lead[1]}" if has_parts else "")
                + f" (from x {tuple(x.shape)} and mu_x {tuple(mu_x.shape)}), got {tuple(value.shape)}"
            )
    return has_parts


def _broadcast(
    name: str, value: Tensor | float, plain: tuple[int, ...], parted: tuple[int, ...], has_parts: bool, like: Tensor
) -> Tensor:
    """``value`` broadcast to ``parted`` (or to ``plain`` with a unit parts dim), in ``like``'s dtype."""
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    try:
        if has_parts:
            return torch.broadcast_to(value, parted)
        return torch.broadcast_to(value, plain).unsqueeze(1)
    except RuntimeError:
        shape = parted if has_parts else plain
        raise ValueError(f"{name} of shape {tuple(value.shape)} does not broadcast to {shape}") from None


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"{value.dtype} tensor of shape {tuple(value.shape)} on {value.device}"
    return type(value).__name__
