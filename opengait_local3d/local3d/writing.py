"""DRAW's write operation: put features of sampled volumes back where they were sampled from."""
from __future__ import annotations

import torch
from torch import Tensor


def coverage_normalised(bank: Tensor) -> Tensor:
    """Transpose of a filterbank ``[..., K, S] -> [..., S, K]``, each input position's column divided
    by ``max(coverage, 1)`` with ``coverage[p] = sum_i bank[i, p]``."""
    coverage = bank.sum(-2, keepdim=True).clamp_min(1.0)
    return (bank / coverage).transpose(-1, -2)


def write_volume(volumes: Tensor, g_t: Tensor, g_y: Tensor, g_x: Tensor, *, sum_parts: bool = False,
                 onto: Tensor | None = None) -> Tensor:
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
        sum_parts: return the sum over parts ``[n, c, T, H, W]`` (a view over ``[n, T, H, c, W]`` memory),
            computed in the last contraction so the ``P`` written canvases are never built.
        onto: ``sum_parts`` only: a previous ``sum_parts`` result ``[n, c, T, H, W]`` that the sum is added to in
            the same contraction (so parts of different sizes, written group by group, sum without extra passes).

    Returns:
        ``[n, P, c, T, H, W]`` (a view over ``[n, T, P, H, c, W]`` memory), or ``[n, c, T, H, W]`` with
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
    if onto is not None and not sum_parts:
        raise ValueError("onto is only used with sum_parts=True")
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
    # Explicit batched matmuls, laid out so that each one reads the previous result in place: the parts move
    # behind the frames while the volumes are still small, and the rows, written last, sum over the parts.
    n, P, c, L, N, M = volumes.shape
    H, W = g_y.shape[-1], g_x.shape[-1]
    parts = volumes.permute(0, 1, 3, 4, 2, 5).reshape(n * P, L, N * c * M)
    frames = torch.bmm(coverage_normalised(g_t).reshape(n * P, T, L), parts)  # [n P, T, N c M]
    frames = frames.view(n, P, T, N * c, M).transpose(1, 2).reshape(n * T * P, N * c, M)
    columns = coverage_normalised(g_x).transpose(-1, -2).transpose(1, 2).reshape(n * T * P, M, W)
    frames = torch.bmm(frames, columns)  # [n T P, N c, W]
    rows = coverage_normalised(g_y)  # [n, P, T, H, N]
    if sum_parts:
        rows = rows.permute(0, 2, 3, 1, 4).reshape(n * T, H, P * N)
        frames = frames.view(n * T, P * N, c * W)
        if onto is None:
            written = torch.bmm(rows, frames)  # [n T, H, c W]
        else:
            if tuple(onto.shape) != (n, c, T, H, W):
                raise ValueError(f"onto must have shape {(n, c, T, H, W)}, got {tuple(onto.shape)}")
            written = torch.baddbmm(onto.permute(0, 2, 3, 1, 4).reshape(n * T, H, c * W), rows, frames)
        return written.view(n, T, H, c, W).permute(0, 3, 1, 2, 4)
    rows = rows.transpose(1, 2).reshape(n * T * P, H, N)
    written = torch.bmm(rows, frames.view(n * T * P, N, c * W))  # [n T P, H, c W]
    return written.view(n, T, P, H, c, W).permute(0, 2, 4, 1, 3, 5)
