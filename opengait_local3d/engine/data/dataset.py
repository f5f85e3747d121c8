"""Gait sequences in OpenGait's pkl layout: ``root/<id>/<type>/<view>/*.pkl``, each a uint8 ``[T, H, W]``.

A partition JSON ``{"TRAIN_SET": [ids], "TEST_SET": [ids]}`` chooses the ids of each phase. Every
problem with the files is a :class:`~opengait_local3d.errors.DataError` naming the file.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch.utils.data

from ...datasets import silhouette
from ...config.partition import read_partition
from ...config.paths import resolve_path
from ...errors import ConfigError, DataError
from .inspection import inspect_sequences

__all__ = ["GaitDataset", "SampleKey", "Sample", "SequenceInfo", "load_sequence", "partition_ids"]

logger = logging.getLogger(__name__)


class SampleKey(NamedTuple):
    """What a sampler asks of the dataset: a sequence, and the batch it belongs to (for its randomness)."""

    index: int
    batch_index: int = 0
    seed: int = 0


@dataclass(frozen=True)
class SequenceInfo:
    """One sequence: its id (label), type (condition) and view, and its pkl files (one per modality)."""

    label: str
    type: str
    view: str
    paths: tuple[str, ...]


class Sample(NamedTuple):
    """What the dataset returns: the frames of each modality, the sequence's info and the request."""

    frames: list[np.ndarray]
    info: SequenceInfo
    key: SampleKey


def load_sequence(path: str | os.PathLike) -> np.ndarray:
    """The uint8 array ``[T, H, W]`` stored in the pkl ``path``, as
    :func:`opengait_local3d.datasets.silhouette.load_sequence` reads it.

    Raises:
        DataError: naming ``path``, if it is unreadable or corrupt, not an array, not uint8, not of rank 3,
            or empty.
    """
    try:
        return silhouette.load_sequence(path)
    except ValueError as err:
        raise DataError(str(err)) from None


class GaitDataset(torch.utils.data.Dataset):
    """The sequences of the training or the test ids of a partition, in a stable order.

    Order: ids as listed in the partition, then types, views and pkl files sorted by name (OpenGait's), so
    the test features come out in this order. Attributes follow OpenGait's ``DataSet``: ``label_list``,
    ``types_list``, ``views_list`` (one entry per sequence), ``label_set`` (sorted ids), ``indices_dict``
    (id -> sequence indices).

    Args:
        data_cfg: OpenGait's ``data_cfg`` (``dataset_root``, ``dataset_partition``, ``cache``, ``data_in_use``).
        training: use ``TRAIN_SET`` (else ``TEST_SET``).

    Every file is checked when the dataset opens (:mod:`.inspection`: frame size, dtype and frame count from
    the pkl headers, or from the arrays the cache loads); ``frame_sizes`` holds the ``(h, w)`` of each input.
    What the scan passes over (a pkl outside ``<id>/<type>/<view>/``, a view folder without pkl, an id without
    sequences) is listed in ``skipped`` and logged as a warning.

    Raises:
        DataError: missing root, unreadable partition, partition ids absent from the root, no sequences, and
            every file that is unreadable or differs from the others (each named).
        ConfigError: missing ``data_cfg`` keys.
    """

    def __init__(self, data_cfg: Mapping[str, Any], training: bool):
        for key in ("dataset_root", "dataset_partition"):
            if key not in data_cfg:
                raise ConfigError(f"data_cfg.{key} is missing")
        self.dataset_name = str(data_cfg.get("dataset_name", ""))
        self.root = Path(data_cfg["dataset_root"]).expanduser()
        if not self.root.is_dir():
            raise DataError(f"data_cfg.dataset_root: {self.root} is not a directory "
                            f"(expected OpenGait's pkl layout root/<id>/<type>/<view>/*.pkl)")
        self.data_in_use = data_cfg.get("data_in_use")
        set_name = "TRAIN_SET" if training else "TEST_SET"
        ids = partition_ids(resolve_path(data_cfg["dataset_partition"], "data_cfg.dataset_partition"), set_name,
                             self.root)
        self.skipped: list[str] = []
        self.seqs_info = self._scan(ids)
        if not self.seqs_info:
            raise DataError(f"{self.root}: no .pkl sequences for the {len(ids)} ids of {set_name}")
        if self.skipped:
            logger.warning("%s: skipped %d entr%s of %s: %s", self.root, len(self.skipped),
                           "y" if len(self.skipped) == 1 else "ies", set_name, "; ".join(self.skipped))
        self.label_list = [info.label for info in self.seqs_info]
        self.types_list = [info.type for info in self.seqs_info]
        self.views_list = [info.view for info in self.seqs_info]
        self.label_set = sorted(set(self.label_list))
        self.indices_dict: dict[str, list[int]] = {label: [] for label in self.label_set}
        for index, label in enumerate(self.label_list):
            self.indices_dict[label].append(index)
        self.cache = bool(data_cfg.get("cache", False))
        inspection = inspect_sequences(self.root, [info.paths for info in self.seqs_info], set_name, self.cache)
        self.lengths, self.frame_sizes = inspection.lengths, inspection.frame_sizes
        self.seqs_data: list[list[np.ndarray] | None] = inspection.arrays or [None] * len(self)
        logger.info("%s: %d sequences of %d ids (%s)", self.root, len(self), len(self.label_set), set_name)

    def __len__(self) -> int:
        return len(self.seqs_info)

    def __getitem__(self, key: SampleKey | int) -> Sample:
        key = SampleKey(key) if isinstance(key, int) else key
        frames = self.seqs_data[key.index] or self._load(key.index)
        return Sample(frames, self.seqs_info[key.index], key)

    def _load(self, index: int) -> list[np.ndarray]:
        return [load_sequence(path) for path in self.seqs_info[index].paths]

    def longest_sequence(self) -> tuple[int, str]:
        """(frames, path) of the longest sequence (from the lengths read when the dataset opened)."""
        index = int(np.argmax(self.lengths))
        return int(self.lengths[index]), self.seqs_info[index].paths[0]

    def _scan(self, ids: Sequence[str]) -> list[SequenceInfo]:
        """The sequences of ``ids``; what does not fit the layout goes to :attr:`skipped`."""
        infos = []
        for label in ids:
            found = len(infos)
            types, stray = _entries(self.root / label)
            self.skipped += [f"{label}/{name}: a pkl outside <id>/<type>/<view>/" for name in stray]
            for typ in types:
                views, stray = _entries(self.root / label / typ)
                self.skipped += [f"{label}/{typ}/{name}: a pkl outside <id>/<type>/<view>/" for name in stray]
                for view in views:
                    folder = self.root / label / typ / view
                    files = self._select(_entries(folder)[1], folder)
                    if files:
                        infos.append(SequenceInfo(label, typ, view, tuple(str(folder / f) for f in files)))
                    else:
                        self.skipped.append(f"{label}/{typ}/{view}: no .pkl file")
            if len(infos) == found:
                self.skipped.append(f"{label}: no sequence, the id is left out")
        return infos

    def _select(self, files: list[str], folder: Path) -> list[str]:
        """The pkl files ``data_in_use`` keeps: a bool mask or a list of indices over the sorted files."""
        use = self.data_in_use
        if use is None:
            return files
        if isinstance(use, list) and all(isinstance(u, bool) for u in use):
            if len(use) != len(files):
                raise DataError(f"{folder}: {len(files)} pkl files but data_cfg.data_in_use has {len(use)} flags")
            return [f for f, keep in zip(files, use) if keep]
        if isinstance(use, list) and all(isinstance(u, int) for u in use):
            return [files[i] for i in use if i < len(files)]
        raise ConfigError(f"data_cfg.data_in_use: expected a list of bools or of indices, got {use!r}")


def _entries(path: Path) -> tuple[list[str], list[str]]:
    """(sub-folders, pkl files) of ``path``, each sorted by name."""
    entries = list(os.scandir(path))
    return (sorted(e.name for e in entries if e.is_dir()),
            sorted(e.name for e in entries if e.is_file() and e.name.endswith(".pkl")))


def partition_ids(path: Path, set_name: str, root: Path) -> list[str]:
    """The ids of ``set_name`` in the partition JSON ``path``, all present under ``root``."""
    ids = read_partition(path, set_name)
    if not ids:
        raise DataError(f"{path}: {set_name} is empty")
    present = {entry.name for entry in os.scandir(root) if entry.is_dir()}
    missing = [i for i in ids if i not in present]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise DataError(f"{path}: {len(missing)} of the {len(ids)} {set_name} ids are absent from "
                        f"data_cfg.dataset_root {root}: {shown}")
    return ids
