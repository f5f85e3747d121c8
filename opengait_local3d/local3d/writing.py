"""DRAW's write operation: put features of sampled volumes back where they were sampled from."""
from __future__ import annotations

import functools
from typing import Sequence

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .constants import built_constant
from .custom_backward import is_traced, uses_custom_backward
from .sampling import part_row_blocks


def coverage_normalised(bank: Tensor) -> Tensor:
    """Transpose of a filterbank ``[..., K, S] -> [..., S, K]``, each input position's column divided
    by ``max(coverage, 1)`` with ``coverage[p] = sum_i bank[i, p]``."""
    return _divided_by_coverage(bank).transpose(-1, -2)


def _divided_by_coverage(bank: Tensor) -> Tensor:
    """:func:`coverage_normalised` before its transpose: ``[..., K, S]``."""
    return bank / bank.sum(-2, keepdim=True).clamp_min(1.0)


def _normalised_together(banks: Sequence[Tensor]) -> Tensor:
    """The filterbanks of one axis of several groups of parts, each ``[n, P_g, *mid, K_g, S]`` (``mid``: the canvas
    frame of a spatial filterbank, nothing for a temporal one), each divided by its parts' coverage as
    :func:`coverage_normalised` divides it (not transposed), packed point by point: ``[n, *mid, sum P_g K_g, S]``.

    The coverage of every part of every group comes from two matmuls with the points' 0/1 part membership instead of
    three operations per group (on a GPU each is a kernel launch); one group, or a traced network (whose sizes may
    then depend on the input's length), divides each bank by its own coverage.
    """
    def packed(of: Sequence[Tensor]) -> Tensor:
        return torch.cat([bank.movedim(1, -3).flatten(-3, -2) for bank in of], dim=-2)

    if len(banks) == 1 or is_traced():
        return packed([_divided_by_coverage(bank) for bank in banks])
    flat = packed(banks)
    membership = built_constant(_part_membership, tuple((bank.shape[1], bank.shape[-2]) for bank in banks),
                                flat)  # [K, P]
    with torch.autocast(flat.device.type, enabled=False):
        coverage = torch.matmul(membership.t(), flat).clamp_min(1.0)  # [n, *mid, P, S]
        return flat / torch.matmul(membership, coverage)


def _part_membership(parts_and_points: tuple[tuple[int, int], ...]) -> list[list[float]]:
    """``[sum P_g K_g, sum P_g]`` for groups of ``(P_g, K_g)`` parts and points: 1 where a point (group by group, part by
    part) belongs to a part, else 0."""
    part_of_point = [part for part, points in enumerate(points for count, points in parts_and_points
                                                         for _ in range(count)) for _ in range(points)]
    parts = sum(count for count, _ in parts_and_points)
    return [[float(part == column) for column in range(parts)] for part in part_of_point]


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
    columns, frames = _column_operands(volumes, _divided_by_coverage(g_t), _divided_by_coverage(g_x))
    written_columns = torch.bmm(columns, frames).view(P, N, n * T, W * c)
    written_columns = written_columns.permute(2, 0, 1, 3).reshape(n * T * P, N, W * c)
    rows = coverage_normalised(g_y).transpose(1, 2).reshape(n * T * P, H, N)
    written = torch.bmm(rows, written_columns)  # [n T P, H, W c]
    return written.view(n, T, P, H, W, c).permute(0, 2, 5, 1, 3, 4)


def write_summed(groups: Sequence[tuple[Tensor, Tensor, Tensor, Tensor]], bias: Tensor | None = None, *,
                 voxels: bool = False) -> Tensor:
    """Groups of parts, each of its own size, written back (as :func:`write_volume`) and summed over all parts:
    ``[n, c, T, H, W]`` (a view over ``[n, T, H, W, c]`` memory: channels-last, the layout of the fusion's GEMM, so
    adding it to the global term and its gradient need no copy).

    Each group is ``(volumes, g_t, g_y, g_x)`` as :func:`write_volume` takes them, ``volumes [n, P_g, c, L_g, N_g,
    M_g]``; all groups share ``n``, ``c`` and the canvas ``T, H, W``. The temporal and column writes run per group
    at exactly its size, and the rows of every group are contracted in one GEMM over their ``sum P_g N_g`` rows,
    which also sums the parts: parts of different sizes cost no padding, and the canvas is built once.

    ``bias [c]``, if given, is added to every voxel of the canvas within the same GEMM (one more contraction row:
    ones on the canvas rows times the bias repeated along the columns), which costs no pass over the canvas; its
    gradient comes out of the GEMM's backward likewise. With ``voxels`` the canvas is returned as its voxels by
    channels ``[n T H W, c]``: a tensor of its own (not a view, not kept for the backward), on which the fusion may
    accumulate its global term in place.

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
    volumes = [group[0] for group in groups]
    temporal = _normalised_together([group[1] for group in groups])  # [n, sum P_g L_g, T]
    columns = _normalised_together([group[3] for group in groups])  # [n, T, sum P_g M_g, W]
    operands = []
    for part_volumes, g_t, g_x in zip(volumes, temporal.split([v.shape[1] * v.shape[3] for v in volumes], 1),
                                      columns.split([v.shape[1] * v.shape[5] for v in volumes], 2)):
        parts = part_volumes.shape[1]
        operands.extend(_column_operands(part_volumes, g_t.unflatten(1, (parts, -1)),
                                         g_x.unflatten(2, (parts, -1)).movedim(2, 1)))
    rows_all = _normalised_together([group[2] for group in groups]).transpose(-1, -2)  # [n, T, H, sum P_g N_g]
    if bias is not None:
        rows_all = torch.cat([rows_all, rows_all.new_ones(()).expand(n, T, H, 1)], -1)
    dtype = _matmul_dtype(rows_all, bias, *operands)
    canvas = _summed_write(rows_all.reshape(n * T, H, -1).to(dtype), None if bias is None else bias.to(dtype),
                           [operand.to(dtype) for operand in operands])  # [n T H W, c]
    return canvas if voxels else canvas.view(n, T, H, W, c).permute(0, 4, 1, 2, 3)


def _column_operands(volumes: Tensor, g_t: Tensor, g_x: Tensor) -> tuple[Tensor, Tensor]:
    """The temporal write, then the operands of the column write, ordered by (part, part row, sample, canvas frame):
    ``[n, P, c, L, N, M] -> columns [P N n T, W, M], frames [P N n T, M, c]``; ``bmm(columns, frames)`` writes each
    row of a part with its frame's column filterbank. ``g_t [n, P, L, T]`` and ``g_x [n, P, T, M, W]`` are already
    divided by their coverage (:func:`_normalised_together`).

    The temporal write reads the volumes in place when they are laid out parts first, channels innermost (as
    :meth:`~opengait_local3d.local3d.fusion.Fusion.project_parts` writes them); the part rows then move before the
    samples while the volumes are still small, so that each part row's written columns are one contiguous block
    ``[n T, W c]`` of the row GEMM's operand (:class:`_SummedWrite`). Both operands are part-sized copies: the
    filterbank is repeated per part row.
    """
    n, P, c, L, N, M = volumes.shape
    T, W = g_t.shape[-1], g_x.shape[-1]
    parts = volumes.permute(1, 0, 3, 4, 5, 2).reshape(P * n, L, N * M * c)  # a view of Fusion.project_parts' output
    frames = torch.bmm(g_t.permute(1, 0, 3, 2).reshape(P * n, T, L), parts)  # [P n, T, N M c]
    frames = frames.view(P, n, T, N, M, c).permute(0, 3, 1, 2, 4, 5).reshape(P * N * n * T, M, c)
    columns = g_x.transpose(-1, -2).transpose(0, 1).unsqueeze(1).expand(P, N, n, T, W, M)
    return columns.reshape(P * N * n * T, W, M), frames


def _matmul_dtype(*tensors: Tensor | None) -> torch.dtype:
    """The dtype of :func:`write_summed`'s matmuls: autocast's, where it is on for the tensors' device (the dtype the
    matmuls would run in as separate operators), else the tensors' promoted dtype."""
    present = [t for t in tensors if t is not None]
    device = present[0].device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return functools.reduce(torch.promote_types, (t.dtype for t in present))


#: Canvas rows per batched GEMM of the row write on CPU (see :func:`_canvas_rows_per_gemm`).
_CPU_ROWS_PER_GEMM = 32


def _canvas_rows_per_gemm(rows: Tensor) -> int:
    """How many canvas rows each batched GEMM of the row write computes: all of them, except on CPU, where torch's
    batched GEMM of the first block's 64-row canvases ran 1.9x faster at one thread as two GEMMs of 32 rows each, into
    the halves of the canvas (28 -> 15 ms a step, ``[240, 64, 30] @ [240, 30, 1408]``; no change at two threads, and
    none for 16 and 32 rows)."""
    return _CPU_ROWS_PER_GEMM if rows.device.type == "cpu" else rows.shape[1]


def _summed_write(rows: Tensor, bias: Tensor | None, operands: Sequence[Tensor]) -> Tensor:
    """The column writes of every group and the row GEMM that sums them, with the bias row: ``rows [n T, H, K]``
    (``K = sum P_g N_g`` (+ 1 for the bias)), ``bias [c]`` or ``None``, then each group's :func:`_column_operands`
    ``columns [P_g N_g n T, W, M_g], frames [P_g N_g n T, M_g, c]`` ``-> [n T H W, c]``.

    The row GEMM's operand ``[K, n T, W c]`` (part rows outermost) is built by writing each group's columns straight
    into its rows' block (no concatenation). In training :class:`_SummedWrite` computes it with its backward written
    out (see :func:`~.custom_backward.uses_custom_backward`): the operand's gradient is computed into the same layout,
    where each group's block is contiguous again for the column write's backward (no copies). On CPU this row layout
    also makes the row GEMM faster (the blocks' canvases, 16-32 rows: 1.3-1.8x at one thread), but torch runs a batched
    GEMM whose output is such a strided view one matrix after another, each on one thread: the two matmuls that write
    into the layout gain less from a second thread than the contiguous ones. The result is a tensor of its own, which
    the fusion accumulates on in place. Every matmul runs in the inputs' dtype, one for all of them (see
    :func:`write_summed`)."""
    if uses_custom_backward(rows, *operands, *([] if bias is None else [bias])):
        return _SummedWrite.apply(rows, bias, *operands)
    if is_traced():  # standard operators only: the operand concatenated, then one row GEMM
        nT, W, c = rows.shape[0], operands[0].shape[1], operands[1].shape[2]
        blocks = [torch.bmm(columns, frames).view(-1, nT, W * c)
                  for columns, frames in zip(operands[0::2], operands[1::2])]
        if bias is not None:
            blocks.append(bias.repeat(W).expand(1, nT, W * c))
        return torch.bmm(rows, torch.cat(blocks).transpose(0, 1)).view(-1, c)
    return _summed_write_forward(rows, bias, operands)[0]


def _summed_write_forward(rows: Tensor, bias: Tensor | None, operands: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """:func:`_summed_write`, with the row GEMM's operand ``[K, n T, W c]`` that the backward reads."""
    nT, H, K = rows.shape
    W, c = operands[0].shape[1], operands[1].shape[2]
    with torch.autocast(rows.device.type, enabled=False):
        written_columns = rows.new_empty(K, nT, W * c)
        blocks = part_row_blocks(written_columns, operands[0::2])
        for columns, frames, block in zip(operands[0::2], operands[1::2], blocks):
            torch.bmm(columns, frames, out=block.view(-1, W, c))
        if bias is not None:
            blocks[-1].view(nT, W, c).copy_(bias.expand(nT, W, c))
        canvas = rows.new_empty(nT * H * W, c)
        rows_written = canvas.view(nT, H, W * c)
        step = _canvas_rows_per_gemm(rows)
        for first in range(0, H, step):
            torch.bmm(rows[:, first:first + step], written_columns.transpose(0, 1),
                      out=rows_written[:, first:first + step])
    return canvas, written_columns


class _SummedWrite(torch.autograd.Function):
    """:func:`_summed_write` with its backward written out."""

    @staticmethod
    def forward(ctx, rows: Tensor, bias: Tensor | None, *operands: Tensor) -> Tensor:
        canvas, written_columns = _summed_write_forward(rows, bias, operands)
        ctx.save_for_backward(rows, written_columns, *operands)
        return canvas

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        rows, written_columns, *operands = ctx.saved_tensors
        nT, H, _ = rows.shape
        W, c = operands[0].shape[1], operands[1].shape[2]
        grad = grad.contiguous().view(nT, H, W * c)
        grad_rows = torch.bmm(grad, written_columns.permute(1, 2, 0)) if ctx.needs_input_grad[0] else None
        grad_columns_written = torch.empty_like(written_columns)
        torch.bmm(rows.transpose(1, 2), grad, out=grad_columns_written.transpose(0, 1))
        blocks = part_row_blocks(grad_columns_written, operands[0::2])
        grads = []
        for index, (columns, frames, block) in enumerate(zip(operands[0::2], operands[1::2], blocks)):
            block = block.view(-1, W, c)
            needs_columns, needs_frames = ctx.needs_input_grad[2 + 2 * index: 4 + 2 * index]
            grads.append(torch.bmm(block, frames.transpose(1, 2)) if needs_columns else None)
            grads.append(torch.bmm(columns.transpose(1, 2), block) if needs_frames else None)
        grad_bias = blocks[-1].view(nT * W, c).sum(0) if ctx.needs_input_grad[1] else None
        return (grad_rows, grad_bias, *grads)


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
