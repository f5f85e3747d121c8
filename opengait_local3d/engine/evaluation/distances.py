"""Part-averaged distances between gait embeddings, computed block by block.

Convention (OpenGait's, so figures compare with its logs):
    Embeddings are ``[n, c, p]``: ``p`` parts (strips) of ``c`` features. The distance between two
    sequences averages the per-part distances:

    * ``'euc'``: ``mean_p ||x_p - y_p||``, each computed as ``sqrt(max(|x_p|^2 + |y_p|^2 - 2 x_p.y_p, 0))``;
    * ``'cos'``: ``1 - mean_p <x_p / |x_p|, y_p / |y_p|>``.

    Nothing here ever holds an ``[N, N]`` matrix: a caller asks for the rows of a chunk of probes
    (:func:`distance_rows`), which are computed against ``GALLERY_BLOCK`` gallery columns at a time.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["METRICS", "PROBE_CHUNK", "GALLERY_BLOCK", "Features", "prepare_features", "distance_rows"]

METRICS = ("euc", "cos")

#: Probes per chunk and gallery sequences per block. A Euclidean block is one
#: ``[p, PROBE_CHUNK, GALLERY_BLOCK]`` tensor (8 MiB at p = 16): small enough for its four elementwise
#: passes to run from cache, large enough for efficient matrix products. 16 MiB blocks were about 20%
#: slower on a 2-core CPU with 2 MiB of L2 per core (``benchmarks/evaluation.py --sweep``).
PROBE_CHUNK = 256
GALLERY_BLOCK = 512
#: Rows per chunk when gathering embeddings into the blocked layout.
GATHER_ROWS = 4096


@dataclass(frozen=True)
class Features:
    """Embeddings laid out for blocked matrix products.

    Attributes:
        metric: ``'euc'`` or ``'cos'``.
        values: ``'euc'``: ``[p, n, c]`` (one matrix per part, a view of ``[n, p, c]`` memory);
            ``'cos'``: ``[n, p * c]``, each part unit-normalised, so that one matrix product sums the
            per-part cosines.
        squared_norms: ``'euc'`` only: ``[p, n]``, ``|x_p|^2``.
        num_parts: ``p``.
    """

    metric: str
    values: torch.Tensor
    squared_norms: torch.Tensor | None
    num_parts: int

    def __len__(self) -> int:
        return self.values.shape[1 if self.metric == "euc" else 0]

    def rows(self, start: int, stop: int) -> Features:
        """The sequences ``start:stop`` (views, no copy)."""
        if self.metric == "euc":
            return Features(self.metric, self.values[:, start:stop], self.squared_norms[:, start:stop],
                            self.num_parts)
        return Features(self.metric, self.values[start:stop], None, self.num_parts)


def _gather_parts(embeddings: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index`` of ``[N, c, p]`` as a contiguous ``[n, p, c]`` copy.

    Copied ``GATHER_ROWS`` rows at a time: each chunk's transpose runs in cache and the temporary stays
    small (gathering through a permuted view reads with a stride of ``p`` and was several times slower).
    """
    _, c, p = embeddings.shape
    out = torch.empty((len(index), p, c), dtype=embeddings.dtype, device=embeddings.device)
    for start in range(0, len(index), GATHER_ROWS):
        rows = embeddings.index_select(0, index[start:start + GATHER_ROWS])  # [GATHER_ROWS, c, p]
        out[start:start + GATHER_ROWS] = rows.transpose(1, 2)
    return out


def prepare_features(embeddings: torch.Tensor, index: Sequence[int] | torch.Tensor, metric: str) -> Features:
    """Gather the sequences ``index`` of ``embeddings`` ``[N, c, p]`` into the layout ``metric`` needs.

    One copy of the selected rows is made (the input is never modified).

    Raises:
        ValueError: for a metric other than ``'euc'`` / ``'cos'``.

    Example:
        >>> f = prepare_features(torch.ones(5, 3, 2), [0, 4], 'euc')
        >>> f.values.shape, f.squared_norms.tolist()
        (torch.Size([2, 2, 3]), [[3.0, 3.0], [3.0, 3.0]])
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    index = torch.as_tensor(index, dtype=torch.long, device=embeddings.device)
    parts = _gather_parts(embeddings, index)  # [n, p, c]
    num_parts = parts.shape[1]
    if metric == "cos":
        # Each part unit-normalised, then flattened: the flat dot product sums the per-part cosines.
        return Features(metric, F.normalize(parts, dim=2, out=parts).flatten(1), None, num_parts)
    # [p, n, c] as a view: batched products accept its row stride p * c without a copy.
    parts = parts.permute(1, 0, 2)
    return Features(metric, parts, torch.linalg.vector_norm(parts, dim=-1).square_(), num_parts)


def _euclidean_block(probe: Features, gallery: Features) -> torch.Tensor:
    """Sum over parts of the per-part Euclidean distances: ``[b, m]``."""
    squared = torch.baddbmm(gallery.squared_norms[:, None, :], probe.values, gallery.values.transpose(1, 2),
                            alpha=-2)
    squared.add_(probe.squared_norms[:, :, None]).clamp_min_(0)
    return squared.sqrt_().sum(0)


def _cosine_block(probe: Features, gallery: Features) -> torch.Tensor:
    """Sum over parts of the per-part cosine distances: ``[b, m]``."""
    return torch.addmm(torch.full((), float(probe.num_parts), dtype=probe.values.dtype,
                                  device=probe.values.device),
                       probe.values, gallery.values.T, alpha=-1)


def distance_rows(probe: Features, gallery: Features, block: int = GALLERY_BLOCK) -> torch.Tensor:
    """Distances of every probe to every gallery sequence, ``[b, m]``, averaged over parts.

    Computed ``block`` gallery columns at a time, so the per-part intermediate stays
    ``[p, b, block]``; keep ``b`` (the probe chunk) modest, e.g. :data:`PROBE_CHUNK`.

    Example:
        >>> x = torch.tensor([[[0.0], [0.0]], [[3.0], [4.0]]])  # two sequences, c = 2, p = 1
        >>> distance_rows(prepare_features(x, [0], 'euc'), prepare_features(x, [0, 1], 'euc'))
        tensor([[0., 5.]])
    """
    block_fn = _euclidean_block if probe.metric == "euc" else _cosine_block
    out = torch.empty((len(probe), len(gallery)), dtype=probe.values.dtype, device=probe.values.device)
    for start in range(0, len(gallery), block):
        out[:, start:start + block] = block_fn(probe, gallery.rows(start, start + block))
    return out.div_(probe.num_parts)
