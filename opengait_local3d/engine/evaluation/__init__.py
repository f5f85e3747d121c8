"""Evaluation of gait embeddings under the CASIA-B and OU-MVLP protocols (OpenGait-compatible).

* :func:`evaluate_indoor_dataset`: OpenGait's evaluator (same input, same result keys, extra figures),
  chunked so an OU-MVLP-sized test set fits a small CPU machine, with tables for the log and files.
* :func:`check_test_set`: fails before inference when the test set lacks the gallery or a probe condition.
* :mod:`.functions`: the evaluation functions a config names (``eval_func``), each with its pre-check.
* Lower level: :func:`get_protocol` (the protocols as data), :func:`single_view_rank1` /
  :class:`Rank1Matrices` (probe-view x gallery-view matrices), :func:`cross_view_scores`,
  :func:`distance_matrix` (blocked part-averaged distances).
"""
from .cross_view import CrossViewScores, cross_view_scores
from .distances import METRICS, distance_matrix, prepare_features
from .evaluator import evaluate_indoor_dataset
from .protocols import Protocol, check_test_set, get_protocol
from .single_view import Rank1Matrices, single_view_rank1
from .tables import Provenance
from .testset import TestSet, as_test_set

__all__ = [
    "evaluate_indoor_dataset", "check_test_set", "get_protocol", "Protocol", "METRICS",
    "TestSet", "as_test_set", "single_view_rank1", "Rank1Matrices", "cross_view_scores", "CrossViewScores",
    "distance_matrix", "prepare_features", "Provenance",
]
