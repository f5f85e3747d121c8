"""The standard single-view-gallery protocol: rank-1 for every (probe view, gallery view) pair.

For condition ``c``, probe view ``i`` and gallery view ``j``, the cell ``accuracy[c, i, j]`` is the
percentage of the condition's probes at view ``i`` whose nearest sequence among the gallery sequences
at view ``j`` has the probe's label. The reported figure of a condition is the mean over probe views of
the mean over gallery views ``j != i`` (identical views excluded), as in the paper's Tables 1-2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .distances import PROBE_CHUNK, prepare_features
from .groups import nanmean, percent, probe_groups
from .protocols import Protocol
from .retrieval import nearest_per_view
from .testset import TestSet

__all__ = ["Rank1Matrices", "single_view_rank1"]


@dataclass(frozen=True)
class Rank1Matrices:
    """Rank-1 accuracy per condition, probe view and gallery view.

    Attributes:
        conditions: condition names, e.g. ``['NM', 'BG', 'CL']``.
        views: view names; rows (probe views) and columns (gallery views) of every matrix.
        accuracy: ``[C, V, V]`` percent; NaN where the cell has no probes or no gallery sequences.
        matched_accuracy: ``[C, V, V]`` percent over the probes whose subject has a gallery sequence at
            that gallery view (the others are discarded, as in the paper's OU-MVLP 96.5% figure);
            NaN where no probe is left.
        probe_counts: ``[C, V]`` probes per condition and probe view.
        matched_counts: ``[C, V, V]`` probes kept for ``matched_accuracy``.
    """

    conditions: list[str]
    views: list[str]
    accuracy: np.ndarray
    matched_accuracy: np.ndarray
    probe_counts: np.ndarray
    matched_counts: np.ndarray

    def per_probe_view(self, include_identical: bool = False, matched: bool = False) -> np.ndarray:
        """``[C, V]``: each probe view's mean over gallery views (over the defined cells)."""
        cells = (self.matched_accuracy if matched else self.accuracy).copy()
        if not include_identical:
            diagonal = np.arange(len(self.views))
            cells[:, diagonal, diagonal] = np.nan
        return nanmean(cells, axis=2)

    def mean(self, include_identical: bool = False, matched: bool = False) -> np.ndarray:
        """``[C]``: the mean over probe views of :meth:`per_probe_view`: the reported figure."""
        return nanmean(self.per_probe_view(include_identical, matched), axis=1)


def single_view_rank1(test_set: TestSet, protocol: Protocol, metric: str,
                      chunk: int = PROBE_CHUNK) -> Rank1Matrices:
    """Rank-1 matrices of every probe condition of ``protocol`` (single-view gallery).

    All probes of all conditions go through one chunked pass over the view-sorted gallery; each
    probe's nearest gallery sequence is tracked separately for each gallery view.
    """
    num_views, num_conditions = len(test_set.view_names), len(protocol.conditions)
    gallery = test_set.of_types(protocol.gallery_types)
    gallery = gallery[np.argsort(test_set.views[gallery], kind="stable")]
    gallery_views = test_set.views[gallery]
    offsets = np.searchsorted(gallery_views, np.arange(num_views + 1))
    probes, group = probe_groups(test_set, protocol)

    nearest = nearest_per_view(prepare_features(test_set.embeddings, probes, metric, "probe"),
                               prepare_features(test_set.embeddings, gallery, metric, "gallery"), offsets, chunk)
    gallery_subjects = np.append(test_set.subjects[gallery], -1)  # row -1: a view without gallery
    probe_subjects = test_set.subjects[probes]
    correct = gallery_subjects[nearest] == probe_subjects[:, None]  # [n, V]
    has_gallery = np.zeros((test_set.subjects.max() + 1, num_views), dtype=bool)
    has_gallery[test_set.subjects[gallery], gallery_views] = True
    matched = has_gallery[probe_subjects]  # [n, V]

    shape = (num_conditions, num_views, num_views)
    correct_counts = np.zeros((num_conditions * num_views, num_views))
    matched_counts = np.zeros((num_conditions * num_views, num_views))
    np.add.at(correct_counts, group, correct)
    np.add.at(matched_counts, group, matched)
    correct_counts, matched_counts = correct_counts.reshape(shape), matched_counts.reshape(shape)
    probe_counts = np.bincount(group, minlength=num_conditions * num_views).reshape(shape[:2])
    gallery_present = np.diff(offsets) > 0
    return Rank1Matrices(
        list(protocol.conditions), list(test_set.view_names),
        percent(correct_counts, probe_counts[:, :, None] * gallery_present),
        percent(correct_counts, matched_counts), probe_counts, matched_counts.astype(np.int64))
