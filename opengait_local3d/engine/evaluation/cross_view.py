"""OpenGait's cross-view-gallery protocol: rank-1 and mAP per probe view against a gallery of all views.

Each probe is matched against every gallery sequence except its own subject's sequences at its own view
(Hou et al., "A Comprehensive Study on the Evaluation of Silhouette-based Gait Recognition").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .distances import PROBE_CHUNK, prepare_features
from .groups import group_mean, nanmean, probe_groups
from .protocols import Protocol
from .retrieval import rank1_and_average_precision
from .testset import TestSet

__all__ = ["CrossViewScores", "cross_view_scores"]


@dataclass(frozen=True)
class CrossViewScores:
    """Per condition and probe view: rank-1 accuracy and mAP, both in percent (NaN: no probes).

    Attributes:
        conditions: condition names.
        views: probe view names (columns).
        rank1: ``[C, V]``.
        mean_ap: ``[C, V]``, over the probes that have at least one correct match.
        probe_counts: ``[C, V]``.
    """

    conditions: list[str]
    views: list[str]
    rank1: np.ndarray
    mean_ap: np.ndarray
    probe_counts: np.ndarray

    def mean(self, figure: str) -> np.ndarray:
        """``[C]``: the mean over probe views of ``'rank1'`` or ``'mean_ap'``: the reported figure."""
        return nanmean(getattr(self, figure), axis=1)


def cross_view_scores(test_set: TestSet, protocol: Protocol, metric: str,
                      chunk: int = PROBE_CHUNK) -> CrossViewScores:
    """Rank-1 and mAP of every probe condition of a cross-view-gallery ``protocol``."""
    gallery = test_set.of_types(protocol.gallery_types)
    probes, group = probe_groups(test_set, protocol)
    codes = [torch.from_numpy(np.ascontiguousarray(a)) for a in (
        test_set.subjects[probes], test_set.subjects[gallery], test_set.views[probes], test_set.views[gallery])]
    correct, average_precision = rank1_and_average_precision(
        prepare_features(test_set.embeddings, probes, metric, "probe"),
        prepare_features(test_set.embeddings, gallery, metric, "gallery"), *codes, chunk=chunk)

    shape = (len(protocol.conditions), len(test_set.view_names))
    num_groups = shape[0] * shape[1]
    return CrossViewScores(
        list(protocol.conditions), list(test_set.view_names),
        100 * group_mean(correct.astype(float), group, num_groups).reshape(shape),
        100 * group_mean(average_precision, group, num_groups).reshape(shape),
        np.bincount(group, minlength=num_groups).reshape(shape))
