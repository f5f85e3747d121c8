"""Tables of a protocol's results, laid out like the paper's Tables 1 and 2.

Summary tables: one row per probe condition, one column per probe view, last column the mean.
Single-view matrices: one table per condition, rows = probe views, columns = gallery views.
"""
from __future__ import annotations

import numpy as np

from .cross_view import CrossViewScores
from .protocols import Protocol
from .single_view import Rank1Matrices
from .tables import Table

__all__ = ["SINGLE_VIEW_FIGURES", "single_view_tables", "matrix_tables", "cross_view_tables"]

#: figure name -> (include_identical, matched, what the title says)
SINGLE_VIEW_FIGURES = {
    "identical-excluded": (False, False, "identical views excluded"),
    "identical-included": (True, False, "identical views included"),
    "gallery-matched": (False, True, "identical views excluded, probes without a same-subject gallery "
                                     "sequence at the gallery view discarded"),
}


def _condition_rows(protocol: Protocol) -> list[str]:
    return [f"{name} ({'/'.join(types)})" for name, types in protocol.conditions.items()]


def _with_mean(per_view: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return np.concatenate([per_view, mean[:, None]], axis=1)


def single_view_tables(result: Rank1Matrices, protocol: Protocol, metric: str) -> list[Table]:
    """The three summary figures (see :data:`SINGLE_VIEW_FIGURES`), rows = conditions."""
    gallery = "/".join(protocol.gallery_types)
    return [Table(name, f"{protocol.dataset} rank-1 accuracy (%), gallery {gallery} per view, metric {metric}: {what}",
                  "Probe", _condition_rows(protocol), [*result.views, "Mean"],
                  _with_mean(result.per_probe_view(identical, matched), result.mean(identical, matched)))
            for name, (identical, matched, what) in SINGLE_VIEW_FIGURES.items()]


def matrix_tables(result: Rank1Matrices, protocol: Protocol) -> list[Table]:
    """Per condition, the probe-view x gallery-view rank-1 matrix; last column: mean excluding identical."""
    per_view = result.per_probe_view()
    return [Table(name, f"{protocol.dataset} {row}: rank-1 accuracy (%), probe view (rows) x gallery view (columns)",
                  "Probe view", result.views, [*result.views, "Mean excl. identical"],
                  np.concatenate([result.accuracy[c], per_view[c][:, None]], axis=1))
            for c, (name, row) in enumerate(zip(result.conditions, _condition_rows(protocol)))]


def cross_view_tables(scores: CrossViewScores, protocol: Protocol, metric: str) -> list[Table]:
    """Rank-1 and mAP tables of the cross-view-gallery protocol, rows = conditions."""
    gallery = "/".join(protocol.gallery_types)
    rows = _condition_rows(protocol)
    return [Table(name, f"{protocol.dataset} {what} (%), cross-view gallery {gallery} (all views), metric {metric}",
                  "Probe", rows, [*scores.views, "Mean"], _with_mean(getattr(scores, figure), scores.mean(figure)))
            for name, what, figure in (("rank-1", "rank-1 accuracy", "rank1"), ("mAP", "mAP", "mean_ap"))]
