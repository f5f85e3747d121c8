"""``evaluate_indoor_dataset``: OpenGait's evaluator for CASIA-B and OU-MVLP, chunked, with tables."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .cross_view import cross_view_scores
from .distances import METRICS
from .protocols import Protocol, check_test_set, get_protocol
from .report import SINGLE_VIEW_FIGURES, cross_view_tables, matrix_tables, single_view_tables
from .single_view import Rank1Matrices, single_view_rank1
from ...utils.atomic import atomic_write_texts
from .tables import Provenance, Table, format_csv, format_markdown, format_text
from .testset import as_test_set

__all__ = ["evaluate_indoor_dataset", "check_indoor_dataset"]

logger = logging.getLogger(__name__)

_KEY = "scalar/test_accuracy/"
#: figure of SINGLE_VIEW_FIGURES -> suffix of its result key (the first is OpenGait's own key)
_SINGLE_VIEW_SUFFIX = {"identical-excluded": "@R1", "identical-included": "@R1-identical-included",
                       "gallery-matched": "@R1-gallery-matched"}


def evaluate_indoor_dataset(data: Mapping, dataset: str, metric: str = "euc", cross_view_gallery: bool = False,
                            output_dir: str | os.PathLike | None = None,
                            produced_by: Provenance | None = None) -> dict[str, float]:
    """Rank-1 evaluation of a CASIA-B or OU-MVLP test set, with OpenGait's input and return format.

    Standard protocol (``cross_view_gallery=False``): for every (probe view, gallery view) pair, the
    probes of each condition are matched against the gallery sequences at that gallery view
    (CASIA-B: gallery nm-01..04, probes NM nm-05/06, BG bg-01/02, CL cl-01/02; OU-MVLP: gallery '01',
    probe '00'). A condition's figure is the mean over probe views of the mean over gallery views,
    identical views excluded. Distances average the per-part distances (see
    :mod:`~opengait_local3d.engine.evaluation.distances`) and are computed in probe chunks, so memory
    stays far below an ``N x N`` matrix.

    Args:
        data: ``{'embeddings': [N, c, p] float (numpy or torch), 'labels', 'types', 'views'}``, the
            last three of length N.
        dataset: ``'CASIA-B'`` or ``'OUMVLP'`` (case and punctuation ignored; ``'SynthGait'`` uses CASIA-B's).
        metric: ``'euc'`` (Euclidean) or ``'cos'`` (cosine).
        cross_view_gallery: OpenGait's cross-view-gallery protocol instead: each probe (CASIA-B nm-01,
            bg-01, cl-01; OU-MVLP '00') against the gallery of all views (CASIA-B nm-02, bg-02, cl-02;
            OU-MVLP '01'), leaving out the probe subject's sequences at the probe's view; rank-1 and mAP.
        output_dir: when given, the tables are also written there (all or none, each atomically; an earlier file of
            the same name is kept, renamed with its date, see :func:`~opengait_local3d.utils.atomic.set_aside`):
            ``rank1_<dataset>_<metric>.md``, ``..._summary.csv`` (figure, condition, one column per probe view,
            mean) and ``..._matrices.csv`` (condition, probe view, one column per gallery view); for the
            cross-view protocol ``cross_view_<dataset>_<metric>.md`` and ``..._summary.csv``.
        produced_by: what produced the features (checkpoint, iteration, config, date): the file names end with its
            :attr:`~.tables.Provenance.tag` (``rank1_CASIA-B_euc-<save_name>-<iter>.md``), the markdown starts
            with it and the CSVs hold it in trailing columns.

    Returns:
        Standard protocol: ``{'scalar/test_accuracy/<C>@R1': ...}`` for each condition C (NM, BG, CL;
        OU-MVLP: NM), identical views excluded (OpenGait's keys), plus ``<C>@R1-identical-included``
        and ``<C>@R1-gallery-matched`` (probes whose subject has no gallery sequence at the gallery view
        discarded: the paper's OU-MVLP 96.5% figure). Cross-view protocol: OpenGait's
        ``<C>-Rank@1`` and ``<C>-mAP``. Values are percentages (floats).

    Raises:
        ValueError: for malformed ``data`` (missing key, wrong shape, non-finite embeddings, length
            mismatch), an unknown dataset or metric, or a test set lacking the gallery or a probe
            condition (see :func:`~opengait_local3d.engine.evaluation.check_test_set`).

    Example:
        >>> import numpy as np
        >>> data = {'embeddings': np.array([[[0.0]], [[1.0]], [[0.1]], [[0.9]]]),  # [N=4, c=1, p=1]
        ...         'labels': ['1', '2', '1', '2'], 'types': ['01', '01', '00', '00'],
        ...         'views': ['000', '090', '090', '000']}
        >>> result = evaluate_indoor_dataset(data, 'OUMVLP')
        >>> result['scalar/test_accuracy/NM@R1'], result['scalar/test_accuracy/NM@R1-identical-included']
        (100.0, 50.0)
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    test_set = as_test_set(data)
    protocol = check_test_set(dataset, test_set.types, np.asarray(test_set.view_names)[test_set.views],
                              cross_view_gallery)
    started = time.perf_counter()
    if cross_view_gallery:
        scores = cross_view_scores(test_set, protocol, metric)
        summary, matrices = cross_view_tables(scores, protocol, metric), []
        results = {f"{_KEY}{c}-{key}": float(v) for key, figure in (("Rank@1", "rank1"), ("mAP", "mean_ap"))
                   for c, v in zip(scores.conditions, scores.mean(figure))}
    else:
        rank1 = single_view_rank1(test_set, protocol, metric)
        _warn_empty_cells(rank1)
        summary, matrices = single_view_tables(rank1, protocol, metric), matrix_tables(rank1, protocol)
        results = {f"{_KEY}{c}{_SINGLE_VIEW_SUFFIX[name]}": float(v)
                   for name, (identical, matched, _) in SINGLE_VIEW_FIGURES.items()
                   for c, v in zip(rank1.conditions, rank1.mean(identical, matched))}
    logger.info("%s evaluation of %d sequences (%d views, metric %s) took %.1f s",
                protocol.dataset, len(test_set.types), len(test_set.view_names), metric,
                time.perf_counter() - started)
    for table in summary:
        logger.info("\n%s", format_text(table))
    for table in matrices:
        logger.debug("\n%s", format_text(table))
    if output_dir is not None:
        _write_tables(Path(output_dir), protocol, metric, summary, matrices, produced_by)
    return results


def check_indoor_dataset(dataset: str, types: Sequence[str] | None = None, views: Sequence[str] | None = None,
                         cross_view_gallery: bool = False) -> None:
    """:func:`evaluate_indoor_dataset`'s pre-check: the protocol of ``dataset`` exists and, given the test set's
    ``types`` and ``views`` (one per sequence), the test set holds what it reads (:func:`.check_test_set`).

    Raises:
        ValueError: an unknown dataset, or what the test set lacks.
    """
    if types is None or views is None:
        get_protocol(str(dataset), bool(cross_view_gallery))
    else:
        check_test_set(dataset, types, views, bool(cross_view_gallery))


def _warn_empty_cells(rank1: Rank1Matrices) -> None:
    """Say which conditions have cross-view cells without probes or gallery (the means skip them)."""
    off_diagonal = ~np.eye(len(rank1.views), dtype=bool)
    for name, accuracy in zip(rank1.conditions, rank1.accuracy):
        empty = int(np.isnan(accuracy[off_diagonal]).sum())
        if empty:
            logger.warning("%s: %d of %d cross-view (probe view, gallery view) cells have no probes or no "
                           "gallery sequences; the means are over the other cells", name, empty,
                           int(off_diagonal.sum()))


def _write_tables(output_dir: Path, protocol: Protocol, metric: str, summary: list[Table],
                  matrices: list[Table], produced_by: Provenance | None) -> None:
    """Markdown with every table, a summary CSV, and (single-view) a matrices CSV; earlier files kept."""
    stem = f"{'cross_view' if protocol.cross_view else 'rank1'}_{protocol.dataset}_{metric}"
    fields = produced_by.fields() if produced_by else {}
    if produced_by:
        stem += f"-{produced_by.tag}"
    sections = [f"# {protocol.dataset} evaluation, metric {metric}",
                *(["\n".join(f"- {key}: {value}" for key, value in fields.items())] if fields else []),
                *map(format_markdown, summary)]
    if matrices:
        sections += ["## Probe view x gallery view", *map(format_markdown, matrices)]
    files = {f"{stem}.md": "\n\n".join(sections) + "\n",
             f"{stem}_summary.csv": format_csv(summary, "figure", extra=fields)}
    if matrices:
        files[f"{stem}_matrices.csv"] = format_csv(matrices, "condition", extra=fields)
    kept = atomic_write_texts({output_dir / name: text for name, text in files.items()}, keep_earlier=True)
    for path, earlier in kept.items():
        logger.warning("%s: an earlier evaluation's file; kept as %s", path, earlier.name)
    logger.info("evaluation tables written to %s", ", ".join(str(output_dir / name) for name in files))
