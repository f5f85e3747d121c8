"""Retrieval over chunks of probes: nearest gallery sequence per gallery view, and ranked matches.

Probes are processed :data:`~.distances.PROBE_CHUNK` at a time against the whole gallery, so memory
stays ``O(chunk x gallery)`` whatever the test-set size.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from .distances import PROBE_CHUNK, Features, distance_matrix

__all__ = ["nearest_per_view", "rank1_and_average_precision"]


def _chunks(total: int, chunk: int, desc: str):
    """``(start, stop)`` pairs covering ``range(total)``, with a progress bar on a terminal."""
    with tqdm(total=total, desc=desc, unit="probe", leave=False, disable=None) as bar:
        for start in range(0, total, chunk):
            stop = min(start + chunk, total)
            yield start, stop
            bar.update(stop - start)


def nearest_per_view(probe: Features, gallery: Features, view_offsets: np.ndarray,
                     chunk: int = PROBE_CHUNK) -> np.ndarray:
    """Index of each probe's nearest gallery sequence within each gallery view.

    Args:
        probe: ``n`` probe sequences.
        gallery: ``m`` gallery sequences sorted by view, so that view ``v`` holds the rows
            ``view_offsets[v]:view_offsets[v + 1]``.
        view_offsets: ``[V + 1]`` int, non-decreasing, ``view_offsets[-1] == m``.
        chunk: probes per distance computation.

    Returns:
        ``[n, V]`` int64 gallery row indices; ``-1`` for a view without gallery sequences. Ties go to
        the first row, as ``numpy.argmin``.
    """
    num_views = len(view_offsets) - 1
    nearest = np.full((len(probe), num_views), -1, dtype=np.int64)
    views = [(v, int(view_offsets[v]), int(view_offsets[v + 1])) for v in range(num_views)
             if view_offsets[v + 1] > view_offsets[v]]
    for start, stop in _chunks(len(probe), chunk, "rank-1 per gallery view"):
        dist = distance_matrix(gallery, probe.rows(start, stop))  # [m, b]: a view is a block of rows
        for v, lo, hi in views:
            # min(dim).indices, not argmin: same first-index rule, several times faster on CPU.
            nearest[start:stop, v] = (dist[lo:hi].min(dim=0).indices + lo).cpu().numpy()
    return nearest


def rank1_and_average_precision(probe: Features, gallery: Features,
                                probe_ids: torch.Tensor, gallery_ids: torch.Tensor,
                                probe_views: torch.Tensor, gallery_views: torch.Tensor,
                                chunk: int = PROBE_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Cross-view-gallery retrieval: each probe against the whole gallery.

    The probe subject's own gallery sequences at the probe's view are left out (OpenGait's
    cross-view-gallery rule); every other sequence of the same subject is a correct match.

    Args:
        probe, gallery: ``n`` and ``m`` sequences.
        probe_ids, gallery_ids: ``[n]``, ``[m]`` integer subject codes.
        probe_views, gallery_views: ``[n]``, ``[m]`` integer view codes.
        chunk: probes per distance computation.

    Returns:
        ``correct`` ``[n]`` bool (the nearest kept gallery sequence is the same subject) and
        ``average_precision`` ``[n]`` float in [0, 1], NaN for probes without any correct match.
    """
    correct = np.zeros(len(probe), dtype=bool)
    average_precision = np.full(len(probe), np.nan)
    positions = torch.arange(1, len(gallery) + 1, dtype=torch.float64)
    for start, stop in _chunks(len(probe), chunk, "cross-view retrieval"):
        dist = distance_matrix(gallery, probe.rows(start, stop)).T.cpu()  # [b, m]
        same_id = probe_ids[start:stop, None] == gallery_ids[None, :]
        left_out = same_id & (probe_views[start:stop, None] == gallery_views[None, :])
        dist.masked_fill_(left_out, float("inf"))
        matches = same_id & ~left_out
        order = dist.argsort(dim=1, stable=True)
        ranked = matches.gather(1, order)
        correct[start:stop] = ranked[:, 0].numpy()
        hits = ranked.sum(dim=1)
        precision_at_hits = (ranked.cumsum(dim=1) / positions) * ranked
        ap = precision_at_hits.sum(dim=1) / hits
        average_precision[start:stop] = torch.where(hits > 0, ap, torch.nan).numpy()
    return correct, average_precision
