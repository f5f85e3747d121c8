"""Part-averaged distances between gait embeddings, computed block by block.

Convention (OpenGait's, so figures compare with its logs):
    Embeddings are ``[n, c, p]``: ``p`` parts (strips) of ``c`` features. The distance between two
    sequences averages the per-part distances:

    * ``'euc'``: ``mean_p ||x_p - y_p||``, each computed as ``sqrt(max(|x_p|^2 + |y_p|^2 - 2 x_p.y_p, 0))``;
    * ``'cos'``: ``1 - mean_p <x_p / |x_p|, y_p / |y_p|>``.

    Nothing here ever holds an ``[N, N]`` matrix: a caller asks for the distances of a chunk of probes
    (:func:`distance_matrix`), computed against ``GALLERY_BLOCK`` gallery sequences at a time. The matrix
    is gallery-major (``[m, b]``) so that each block's part sum writes contiguous rows in place.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...config.sections import METRICS

__all__ = ["METRICS", "SIDES", "PROBE_CHUNK", "GALLERY_BLOCK", "Features", "prepare_features", "distance_matrix"]

SIDES = ("probe", "gallery")

#: Probes per chunk and gallery sequences per block. A Euclidean block is one
#: ``[p, GALLERY_BLOCK, PROBE_CHUNK]`` tensor (16 MiB at p = 16). On a quiet 2-core CPU, blocks of
#: 8-16 MiB ran at the same rate (above the plain GEMM rate, the elementwise passes running from cache);
#: on a busy one, each parallel op pays a scheduling delay, so fewer, larger blocks won
#: (``benchmarks/evaluation.py --sweep`` prints the rate of other sizes).
PROBE_CHUNK = 512
GALLERY_BLOCK = 512
#: Rows per chunk when gathering embeddings into the blocked layout.
GATHER_ROWS = 4096


@dataclass(frozen=True)
class Features:
    """Embeddings laid out for blocked matrix products.

    Attributes:
        metric: ``'euc'`` or ``'cos'``.
        side: ``'probe'`` or ``'gallery'`` (the Euclidean augmentation differs).
        values: ``'euc'``: ``[p, n, c + 2]``, a view of ``[n, p, c + 2]`` memory, each part augmented
            so that one batched product gives squared distances: a probe part is ``[x, |x|^2, 1]``, a
            gallery part ``[-2 y, 1, |y|^2]``, and their dot product ``|x|^2 + |y|^2 - 2 x.y``.
            ``'cos'``: ``[n, p * c]``, each part unit-normalised, so that one matrix product sums the
            per-part cosines.
        num_parts: ``p``.
    """

    metric: str
    side: str
    values: torch.Tensor
    num_parts: int

    def __len__(self) -> int:
        return self.values.shape[1 if self.metric == "euc" else 0]

    def rows(self, start: int, stop: int) -> Features:
        """The sequences ``start:stop`` (a view, no copy)."""
        values = self.values[:, start:stop] if self.metric == "euc" else self.values[start:stop]
        return Features(self.metric, self.side, values, self.num_parts)


def _gather_parts(embeddings: torch.Tensor, index: torch.Tensor, extra: int) -> torch.Tensor:
    """Rows ``index`` of ``[N, c, p]`` as a contiguous ``[n, p, c + extra]`` copy (extra columns unset).

    Copied ``GATHER_ROWS`` rows at a time: each chunk's transpose runs in cache and the temporary stays
    small (gathering through a permuted view reads with a stride of ``p`` and was several times slower).
    """
    _, c, p = embeddings.shape
    out = torch.empty((len(index), p, c + extra), dtype=embeddings.dtype, device=embeddings.device)
    for start in range(0, len(index), GATHER_ROWS):
        rows = embeddings.index_select(0, index[start:start + GATHER_ROWS])  # [GATHER_ROWS, c, p]
        out[start:start + GATHER_ROWS, :, :c] = rows.transpose(1, 2)
    return out


def prepare_features(embeddings: torch.Tensor, index: Sequence[int] | torch.Tensor, metric: str,
                     side: str) -> Features:
    """Gather the sequences ``index`` of ``embeddings`` ``[N, c, p]`` into the layout ``metric`` needs.

    One copy of the selected rows is made (the input is never modified).

    Raises:
        ValueError: for a metric other than ``'euc'`` / ``'cos'`` or a side other than ``'probe'`` /
            ``'gallery'``.

    Example:
        >>> f = prepare_features(torch.ones(5, 3, 2), [0, 4], 'euc', 'probe')  # x = (1, 1, 1) per part
        >>> f.values.shape, f.values[0, 0].tolist()
        (torch.Size([2, 2, 5]), [1.0, 1.0, 1.0, 3.0, 1.0])
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    index = torch.as_tensor(index, dtype=torch.long, device=embeddings.device)
    c = embeddings.shape[1]
    if metric == "cos":
        parts = _gather_parts(embeddings, index, 0)
        # Each part unit-normalised, then flattened: the flat dot product sums the per-part cosines.
        return Features(metric, side, F.normalize(parts, dim=2, out=parts).flatten(1), parts.shape[1])
    parts = _gather_parts(embeddings, index, 2)
    squared_norms = torch.linalg.vector_norm(parts[..., :c], dim=-1).square_()
    if side == "probe":
        parts[..., c], parts[..., c + 1] = squared_norms, 1
    else:
        parts[..., :c].mul_(-2)
        parts[..., c], parts[..., c + 1] = 1, squared_norms
    # [p, n, c + 2] as a view: batched products accept its row stride without a copy.
    return Features(metric, side, parts.permute(1, 0, 2), parts.shape[1])


def distance_matrix(gallery: Features, probe: Features, block: int = GALLERY_BLOCK) -> torch.Tensor:
    """Distances of every gallery sequence to every probe, ``[m, b]`` (gallery-major), averaged over parts.

    Computed ``block`` gallery sequences at a time, so the per-part intermediate stays
    ``[p, block, b]``; keep ``b`` (the probe chunk) modest, e.g. :data:`PROBE_CHUNK`.

    Raises:
        ValueError: when the two sets were prepared for other metrics or sides.

    Example:
        >>> x = torch.tensor([[[0.0], [0.0]], [[3.0], [4.0]]])  # two sequences, c = 2, p = 1
        >>> gallery, probe = prepare_features(x, [0, 1], 'euc', 'gallery'), prepare_features(x, [0], 'euc', 'probe')
        >>> distance_matrix(gallery, probe)
        tensor([[0.],
                [5.]])
    """
    if (gallery.side, probe.side) != SIDES[::-1] or gallery.metric != probe.metric:
        raise ValueError(f"distance_matrix needs gallery and probe features of one metric, got "
                         f"{gallery.side}/{gallery.metric} and {probe.side}/{probe.metric}")
    out = torch.empty((len(gallery), len(probe)), dtype=probe.values.dtype, device=probe.values.device)
    if probe.metric == "cos":
        # p - sum_p cos: one matrix product per block, written in place.
        for start in range(0, len(gallery), block):
            torch.addmm(out.new_full((), probe.num_parts), gallery.values[start:start + block], probe.values.T,
                        alpha=-1, out=out[start:start + block])
        return out.div_(probe.num_parts)
    probe_t = probe.values.transpose(1, 2)  # [p, c + 2, b]
    buffer = out.new_empty((probe.num_parts, min(block, len(gallery)), len(probe)))
    for start in range(0, len(gallery), block):
        rows = gallery.values[:, start:start + block]
        squared = torch.bmm(rows, probe_t, out=buffer[:, :rows.shape[1]])  # [p, block, b]
        torch.sum(squared.clamp_min_(0).sqrt_(), dim=0, out=out[start:start + block])
    return out.div_(probe.num_parts)
