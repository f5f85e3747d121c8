"""Vectorised random draws of positions, shared by the sampler (sequences) and the collate (frames)."""
from __future__ import annotations

import numpy as np

__all__ = ["random_positions", "batch_seed"]


def batch_seed(seed: int, batch_index: int, rank: int) -> int:
    """The seed of batch ``batch_index`` on ``rank``: a pure function, so a resumed run draws the same."""
    return int(np.random.SeedSequence([seed, batch_index, rank]).generate_state(1)[0])


def random_positions(pool_sizes: np.ndarray, counts: np.ndarray | int, rng: np.random.Generator) -> np.ndarray:
    """For each row ``i``, ``counts[i]`` random positions in ``[0, pool_sizes[i])``, in random order.

    Convention:
        A row draws without replacement when its pool holds enough positions, else with replacement (as
        OpenGait does for short sequences and for labels with few sequences).

    Args:
        pool_sizes: ``[n]`` positive ints.
        counts: ``[n]`` or one int: how many positions each row needs.
        rng: the generator; the same generator state gives the same draws.

    Returns:
        ``[n, max(counts)]`` int64; in row ``i`` only the first ``counts[i]`` columns are meaningful.

    Example:
        >>> rows = random_positions(np.array([5, 2]), 3, np.random.default_rng(0))
        >>> rows.shape, len(set(rows[0])) == 3, bool(rows[1].max() < 2)
        ((2, 3), True, True)
    """
    pool_sizes = np.asarray(pool_sizes, dtype=np.int64)
    counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), pool_sizes.shape)
    n, width = len(pool_sizes), int(counts.max(initial=0))
    # distinct positions: argsort of random keys, keys outside a row's pool pushed last
    span = max(int(pool_sizes.max(initial=0)), width)
    keys = rng.random((n, span))
    keys[np.arange(span) >= pool_sizes[:, None]] = np.inf
    distinct = np.argsort(keys, axis=1)[:, :width]
    repeated = np.floor(rng.random((n, width)) * pool_sizes[:, None]).astype(np.int64)
    return np.where((pool_sizes >= counts)[:, None], distinct, repeated)
