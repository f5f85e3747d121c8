"""Identification: each probe sequence's nearest gallery identities, with the evaluator's distance (Euclidean or
cosine, averaged over parts: :func:`~opengait_local3d.engine.evaluation.distance_matrix`), an open-set threshold,
and thresholds calibrated at chosen false-accept rates."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import CheckpointError, DataError
from ..engine.evaluation import distance_matrix, prepare_features
from ..engine.evaluation.distances import PROBE_CHUNK
from .embedding import embed_sequences
from .gallery import Gallery, file_sha256, load_gallery
from .sources import SequenceFolder, sequence_folder

__all__ = ["UNKNOWN", "Identification", "nearest_identities", "identify", "probe_name", "CalibrationPoint",
           "Calibration", "calibrate", "MAX_PAIRS"]

#: the match of a probe whose nearest identity is farther than the threshold
UNKNOWN = "unknown"
#: the most pairs :func:`calibrate` measures (beyond, a seeded sample of the gallery's rows)
MAX_PAIRS = 20_000_000


@dataclass(frozen=True)
class Identification:
    """One probe's ``K`` nearest gallery identities, nearest first.

    Attributes:
        probe: ``<id>/<type>/<view>`` of a probe from a folder, or the path of a sequence given alone.
        id, type, view: the probe's folders (``type`` and ``view`` are ``'-'`` for a sequence given alone).
        identities: the nearest identities (each at its nearest gallery sequence).
        distances: their distances.
        match: ``identities[0]``, or :data:`UNKNOWN` when it is farther than the threshold.
    """

    probe: str
    id: str
    type: str
    view: str
    identities: tuple[str, ...]
    distances: tuple[float, ...]
    match: str


def nearest_identities(gallery: Gallery, probes: np.ndarray, top: int,
                       chunk: int = PROBE_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` nearest identities of each probe embedding ``[n, c, p]`` in ``gallery``.

    An identity's distance is that of its nearest gallery sequence. Identities at equal distances are ordered
    by the first gallery row at that distance, so the first identity is the one of the nearest gallery sequence
    as the evaluator finds it (ties to the first row).

    Returns:
        ``[n, K]`` identities (str) and ``[n, K]`` distances (float32), ``K = min(top, number of identities)``.
    """
    names, codes = np.unique(gallery.ids, return_inverse=True)
    top = min(top, len(names))
    embeddings = torch.from_numpy(np.concatenate([gallery.embeddings, probes]))
    metric = gallery.model.metric
    gallery_features = prepare_features(embeddings, np.arange(len(gallery)), metric, "gallery")
    probe_features = prepare_features(embeddings, np.arange(len(gallery), len(embeddings)), metric, "probe")
    codes = torch.from_numpy(codes.astype(np.int64))
    rows = torch.arange(len(gallery))
    identities = np.empty((len(probes), top), dtype=object)
    distances = np.empty((len(probes), top), dtype=np.float32)
    for start in range(0, len(probes), chunk):
        dist = distance_matrix(gallery_features, probe_features.rows(start, start + chunk)).T  # [b, m]
        index = codes.expand_as(dist)
        nearest = dist.new_full((len(dist), len(names)), float("inf")).scatter_reduce_(1, index, dist, "amin")
        at_nearest = dist == nearest.gather(1, index)
        first_row = torch.full(nearest.shape, len(gallery)).scatter_reduce_(
            1, index, torch.where(at_nearest, rows, len(gallery)), "amin")
        order = torch.sort(first_row, dim=1, stable=True).indices
        order = order.gather(1, torch.sort(nearest.gather(1, order), dim=1, stable=True).indices)[:, :top]
        identities[start:start + len(dist)] = names[order.numpy()]
        distances[start:start + len(dist)] = nearest.gather(1, order).numpy()
    return identities.astype(str), distances


def probe_name(folder: SequenceFolder, id_: str, type_: str, view: str) -> str:
    """How a probe is named in the results: the path of a sequence given alone, else ``<id>/<type>/<view>``."""
    return str(folder.single) if folder.single is not None else f"{id_}/{type_}/{view}"


def identify(gallery: str | os.PathLike | Gallery, probe: str | os.PathLike, top: int = 5,
             threshold: float | None = None, device: str = "auto",
             views: Sequence[str] | None = None) -> tuple[list[Identification], Gallery] | None:
    """Embed the probe sequences with the gallery's model and find each one's ``top`` nearest identities.

    Args:
        gallery: a gallery file (or one loaded).
        probe: a folder of sequences (pkl layout, or ``<id>/<type>/<view>/`` silhouette frames, converted to the
            gallery's frame size as ``pretreat`` does) or one sequence (a pkl file, or a folder of its frames).
        threshold: a probe whose nearest identity is farther is :data:`UNKNOWN` (open set); ``None``: never.
        views: keep only the gallery sequences of these views.

    Returns:
        One :class:`Identification` per probe sequence in dataset order, and the gallery matched against, on rank 0
        (``None`` on the other ranks under torchrun).

    Raises:
        DataError: a gallery file that is not one, an empty or unreadable probe, probes of another frame size, no
            gallery sequence of ``views``. CheckpointError: the gallery's checkpoint is missing or changed.
    """
    gallery = gallery if isinstance(gallery, Gallery) else load_gallery(gallery)
    if views is not None:
        gallery = _of_views(gallery, views)
    model = gallery.model
    cfgs = {**model.config, "evaluator_cfg": {**model.config["evaluator_cfg"],
                                              "restore_hint": _checked_checkpoint(gallery) or 0}}
    with tempfile.TemporaryDirectory() as workdir:
        folder = sequence_folder(probe, workdir, size=model.frame_sizes[0][0])
        embedded = embed_sequences(cfgs, folder.root, device=device, frame_sizes=model.frame_sizes,
                                   frame_sizes_of="the gallery was enrolled from")
    if embedded is None:
        return None
    identities, distances = nearest_identities(gallery, embedded.embeddings, top)
    results = []
    for k, (id_, type_, view) in enumerate(zip(embedded.ids.tolist(), embedded.types.tolist(),
                                               embedded.views.tolist())):
        unknown = threshold is not None and distances[k, 0] > threshold
        results.append(Identification(probe_name(folder, id_, type_, view), id_, type_, view,
                                      tuple(identities[k].tolist()), tuple(float(d) for d in distances[k]),
                                      UNKNOWN if unknown else str(identities[k, 0])))
    return results, gallery


def _of_views(gallery: Gallery, views: Sequence[str]) -> Gallery:
    kept = gallery.subset(np.isin(gallery.views, list(views)))
    if not len(kept):
        raise DataError(f"the gallery has no sequence of view {', '.join(views)} (its views: "
                        f"{', '.join(sorted(set(gallery.views.tolist())))})")
    return kept


def _checked_checkpoint(gallery: Gallery) -> str | None:
    """The gallery's checkpoint path, checked to hold what it held at enrolment (``None``: untrained)."""
    model = gallery.model
    if model.checkpoint is None:
        return None
    path = Path(model.checkpoint)
    if not path.is_file():
        raise CheckpointError(f"{path}: the checkpoint this gallery was enrolled with is missing; the probes must be "
                              "embedded by the same weights")
    if file_sha256(path) != model.checkpoint_sha256:
        raise CheckpointError(f"{path}: the checkpoint changed since this gallery was enrolled (sha256 differs); "
                              "re-enroll the gallery with it, or restore the checkpoint it was enrolled with")
    return str(path)


@dataclass(frozen=True)
class CalibrationPoint:
    """A threshold for a false-accept rate: ``far`` asked, ``threshold`` (distances at most it are accepted),
    ``achieved_far`` (the impostor pairs it accepts) and ``genuine_accept`` (the genuine pairs it accepts)."""

    far: float
    threshold: float
    achieved_far: float
    genuine_accept: float


@dataclass(frozen=True)
class Calibration:
    """Thresholds from the distances between a gallery's sequences: pairs of one identity are genuine, pairs of two
    are impostors (``sampled``: the impostor pairs of a seeded sample of rows, when there were over
    :data:`MAX_PAIRS`)."""

    points: list[CalibrationPoint]
    genuine_pairs: int
    impostor_pairs: int
    sampled: bool


def calibrate(gallery: Gallery, fars: Sequence[float], max_pairs: int = MAX_PAIRS, seed: int = 0) -> Calibration:
    """The distance thresholds at false-accept rates ``fars`` (each in ``[0, 1]``), from the gallery's pairs.

    The threshold for a rate ``f`` is the largest distance that accepts at most ``f`` of the impostor pairs (a
    distance is accepted when at most the threshold).

    Raises:
        DataError: the gallery has no identity with two sequences, or a single identity.
    """
    names, codes = np.unique(gallery.ids, return_inverse=True)
    if len(names) < 2 or np.bincount(codes).max() < 2:
        raise DataError("--calibrate needs a gallery of several identities with several sequences each (genuine "
                        f"and impostor pairs); this one has {len(names)} identit{'y' if len(names) == 1 else 'ies'} "
                        f"in {len(gallery)} sequences")
    n = len(gallery)
    rows = np.arange(n)
    sampled = n * (n - 1) // 2 > max_pairs
    if sampled:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=max(2, max_pairs // n), replace=False))
    embeddings = torch.from_numpy(gallery.embeddings)
    metric = gallery.model.metric
    columns = prepare_features(embeddings, np.arange(n), metric, "gallery")
    others = np.arange(n)[None, :]
    genuine, impostor = [], []
    for start in range(0, len(rows), PROBE_CHUNK):
        chunk = rows[start:start + PROBE_CHUNK]
        dist = distance_matrix(columns, prepare_features(embeddings, chunk, metric, "probe")).T.numpy()  # [b, n]
        pair = (others > chunk[:, None]) if not sampled else (others != chunk[:, None])  # each pair once if exact
        same = codes[chunk][:, None] == codes[None, :]
        genuine.append(dist[pair & same])
        impostor.append(dist[pair & ~same])
    genuine, impostor = np.sort(np.concatenate(genuine)), np.sort(np.concatenate(impostor))
    points = []
    for far in fars:
        allowed = int(np.floor(far * len(impostor) + 1e-9))
        if allowed >= len(impostor):
            threshold = float(impostor[-1])
        else:  # below the first impostor distance that must be refused, ties included
            first_refused = np.searchsorted(impostor, impostor[allowed], side="left")
            threshold = float(impostor[first_refused - 1]) if first_refused else float(
                np.nextafter(impostor[0], np.float32(-np.inf)))
        points.append(CalibrationPoint(far, threshold, float(np.mean(impostor <= threshold)),
                                       float(np.mean(genuine <= threshold)) if len(genuine) else float("nan")))
    return Calibration(points, len(genuine), len(impostor), sampled)
