"""DRAW's write operation: put features of sampled volumes back where they were sampled from."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def coverage_normalised(bank: Tensor) -> Tensor:
    """Transpose of a filterbank ``[..., K, S] -> [..., S, K]``, each input position's column divided
    by ``max(coverage, 1)`` with ``coverage[p] = sum_i bank[i, p]``."""
    coverage = bank.sum(-2, keepdim=True).clamp_min(1.0)
    return (bank / coverage).transpose(-1, -2)


def write_volume(volumes: Tensor, g_t: Tensor, g_y: Tensor, g_x: Tensor, *, sum_parts: bool = False) -> Tensor:
    """Write volumes back with the transposed filterbanks, normalised by coverage (docs/design.md, 'Alignment').

    Each axis's transposed filterbank is divided by ``max(coverage, 1)``: a constant volume writes back
    that constant inside the attended region and fades to 0 outside it, with no gain of 1/stride.
    The temporal write comes first, then each canvas frame ``t`` is written with its own spatial grid
    (the adjoint order of :func:`~opengait_local3d.local3d.sampling.sample_volume`, without gamma): columns,
    then rows, which is the cheaper order when parts are smaller than the canvas.

    Args:
        volumes: ``[n, P, c, L, N, M]``.
        g_t: temporal filterbank ``[n, P, L, T]``.
        g_y: row filterbanks per canvas frame ``[n, P, T, N, H]``.
        g_x: column filterbanks per canvas frame ``[n, P, T, M, W]``.
        sum_parts: return the sum over parts ``[n, c, T, H, W]`` (a view over ``[n, T, H, W, c]`` memory),
            computed in the last contraction so the ``P`` written canvases are never built.

    Returns:
        ``[n, P, c, T, H, W]`` (a view over ``[n, T, P, H, W, c]`` memory), or ``[n, c, T, H, W]`` with
        ``sum_parts``.

    Raises:
        ValueError: the filterbank sizes do not match ``volumes`` or each other.

    Example:
        >>> one_frame = torch.ones(1, 1, 1, 1)                      # g_t: L = T = 1
        >>> first_pixel = torch.tensor([1.0, 0.0, 0.0]).view(1, 1, 1, 1, 3)
        >>> out = write_volume(torch.full((1, 1, 1, 1, 1, 1), 2.0), one_frame, first_pixel, first_pixel)
        >>> out[0, 0, 0, 0]
        tensor([[2., 0., 0.],
                [0., 0., 0.],
                [0., 0., 0.]])
    """
    if sum_parts:
        return write_summed([(volumes, g_t, g_y, g_x)])
    _check_banks(volumes, g_t, g_y, g_x)
    n, P, c, _, N, _ = volumes.shape
    T, H, W = g_t.shape[-1], g_y.shape[-1], g_x.shape[-1]
    frames = _temporal_and_columns(volumes, g_t, g_x)
    rows = coverage_normalised(g_y).transpose(1, 2).reshape(n * T * P, H, N)
    written = torch.bmm(rows, frames.view(n * T * P, N, W * c))  # [n T P, H, W c]
    return written.view(n, T, P, H, W, c).permute(0, 2, 5, 1, 3, 4)


def write_summed(groups: Sequence[tuple[Tensor, Tensor, Tensor, Tensor]], bias: Tensor | None = None) -> Tensor:
    """Groups of parts, each of its own size, written back (as :func:`write_volume`) and summed over all parts:
    ``[n, c, T, H, W]`` (a view over ``[n, T, H, W, c]`` memory: channels-last, the layout of the fusion's GEMM, so
    adding it to the global term and its gradient need no copy).

    Each group is ``(volumes, g_t, g_y, g_x)`` as :func:`write_volume` takes them, ``volumes [n, P_g, c, L_g, N_g,
    M_g]``; all groups share ``n``, ``c`` and the canvas ``T, H, W``. The temporal and column writes run per group
    at exactly its size, and the rows of every group are contracted in one GEMM over their ``sum P_g N_g`` rows,
    which also sums the parts: parts of different sizes cost no padding, and the canvas is built once.

    ``bias [c]``, if given, is added to every voxel of the canvas within the same GEMM (one more contraction row:
    ones on the canvas rows times the bias repeated along the columns), which costs no pass over the canvas; its
    gradient comes out of the GEMM's backward likewise.

    Raises:
        ValueError: no groups, a group whose filterbanks do not match its volumes, or groups of different
            ``n``, ``c`` or canvas.
    """
    if not groups:
        raise ValueError("write_summed needs at least one group of parts")
    for group in groups:
        _check_banks(*group)
    shapes = [(v.shape[0], v.shape[2], t.shape[-1], y.shape[-1], x.shape[-1]) for v, t, y, x in groups]
    n, c, T, H, W = shapes[0]
    if any(shape != shapes[0] for shape in shapes[1:]):  # a list, not a set: sizes may be symbolic when exported
        raise ValueError(f"groups must share n, c and the canvas (n, c, T, H, W); got {shapes}")
    frames, rows = [], []
    for volumes, g_t, g_y, g_x in groups:
        parts_rows = volumes.shape[1] * volumes.shape[4]
        frames.append(_temporal_and_columns(volumes, g_t, g_x).view(n, T, parts_rows, W * c))
        rows.append(coverage_normalised(g_y).permute(0, 2, 3, 1, 4).reshape(n, T, H, parts_rows))
    if bias is not None:
        frames.append(bias.to(frames[0].dtype).repeat(W).expand(n, T, 1, W * c))
        rows.append(rows[0].new_ones(()).expand(n, T, H, 1))
    rows_all, frames_all = _cat(rows, -1), _cat(frames, 2)
    written = torch.bmm(rows_all.view(n * T, H, -1), frames_all.view(n * T, -1, W * c))  # [n T, H, W c]
    return written.view(n, T, H, W, c).permute(0, 4, 1, 2, 3)


def _temporal_and_columns(volumes: Tensor, g_t: Tensor, g_x: Tensor) -> Tensor:
    """The temporal write, then each canvas frame's columns: ``[n, P, c, L, N, M] -> [n T P, N, W c]``.

    Explicit batched matmuls, laid out so that each one reads the previous result in place, the channels innermost
    (the canvas comes out channels-last): the parts move behind the frames while the volumes are still small, and
    each row of a part is written with its frame's column filterbank (copied per row: a part-sized tensor).
    """
    n, P, c, L, N, M = volumes.shape
    T, W = g_t.shape[-1], g_x.shape[-1]
    parts = volumes.permute(0, 1, 3, 4, 5, 2).reshape(n * P, L, N * M * c)
    frames = torch.bmm(coverage_normalised(g_t).reshape(n * P, T, L), parts)  # [n P, T, N M c]
    frames = frames.view(n, P, T, N * M * c).transpose(1, 2).reshape(n * T * P * N, M, c)
    columns = coverage_normalised(g_x).transpose(1, 2).unsqueeze(3).expand(n, T, P, N, W, M)
    return torch.bmm(columns.reshape(n * T * P * N, W, M), frames).view(n * T * P, N, W * c)  # [n T P, N, W c]


def _cat(tensors: list[Tensor], dim: int) -> Tensor:
    """``torch.cat``, without its copy when there is one tensor."""
    return tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim)


def _check_banks(volumes: Tensor, g_t: Tensor, g_y: Tensor, g_x: Tensor) -> None:
    if volumes.dim() != 6:
        raise ValueError(f"volumes must be [n, P, c, L, N, M], got shape {tuple(volumes.shape)}")
    n, P, _, L, N, M = volumes.shape
    T = g_t.shape[-1]
    expected = {
        "g_t": (g_t, (n, P, L, T)),
        "g_y": (g_y, (n, P, T, N, g_y.shape[-1])),
        "g_x": (g_x, (n, P, T, M, g_x.shape[-1])),
    }
    for name, (bank, shape) in expected.items():
        if tuple(bank.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} for volumes {tuple(volumes.shape)}, got {tuple(bank.shape)}"
            )
