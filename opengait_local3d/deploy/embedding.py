"""Embed every sequence of a folder in OpenGait's pkl layout exactly as the test phase does: the evaluator's sampler,
transform and network, with the checkpoint the config's ``evaluator_cfg.restore_hint`` names; :func:`embed` writes
them to an npz file."""
from __future__ import annotations

import copy
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..config.paths import resolve_path
from ..engine.config.loading import load_config
from ..engine.data.dataset import partition_ids
from ..engine.inference import inference_session
from ..errors import DataError
from ..utils.atomic import atomic_write

__all__ = ["PARTITIONS", "SequenceEmbeddings", "embed_sequences", "embed"]

#: which ids of a folder to embed: every id folder, or the config's TRAIN_SET or TEST_SET
PARTITIONS = ("all", "train", "test")


@dataclass(frozen=True)
class SequenceEmbeddings:
    """One embedding per sequence, in dataset order (ids, then types, views and pkl names sorted).

    Attributes:
        embeddings: ``[N, c, p]`` float32.
        ids, types, views: ``[N]`` str arrays.
        frame_sizes: ``(h, w)`` of the frames of each input (one per pkl file of a sequence).
        checkpoint: the checkpoint the weights came from (``None``: the untrained network).
    """

    embeddings: np.ndarray
    ids: np.ndarray
    types: np.ndarray
    views: np.ndarray
    frame_sizes: tuple[tuple[int, int], ...]
    checkpoint: Path | None


def embed_sequences(cfgs: Mapping[str, Any], root: str | Path, partition: str = "all", device: str = "auto",
                    frame_sizes: Sequence[Sequence[int]] | None = None,
                    frame_sizes_of: str = "") -> SequenceEmbeddings | None:
    """Embed the sequences of ``partition`` under ``root`` with the network and checkpoint of ``cfgs``.

    Args:
        cfgs: a loaded config (:func:`~opengait_local3d.engine.config.loading.load_config`); not modified.
            ``evaluator_cfg.restore_hint`` chooses the weights (an iteration of the run, a checkpoint path, or 0).
        root: a dataset root in the pkl layout ``<id>/<type>/<view>/*.pkl``.
        partition: ``'all'`` (every id folder), ``'train'`` or ``'test'`` (the ids of the config's partition).
        frame_sizes: when given, the frame size every input must have (checked before any inference);
            ``frame_sizes_of`` says whose size it is, for the message (default: "the model takes").

    Returns:
        The embeddings, on rank 0 (``None`` on the other ranks under torchrun).

    Raises:
        ConfigError, CheckpointError, DataError: naming the config key, checkpoint or file at fault.
    """
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
    cfgs = copy.deepcopy(dict(cfgs))
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: the dataset folder does not exist")
    cfgs["data_cfg"]["dataset_root"] = str(root)
    with tempfile.TemporaryDirectory() as tmp:
        if partition != "test":  # the test loader reads TEST_SET: a partition whose TEST_SET is what was asked
            partition_file = Path(tmp) / "partition.json"
            partition_file.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": _ids(root, cfgs["data_cfg"],
                                                                                     partition)}))
            cfgs["data_cfg"]["dataset_partition"] = str(partition_file)
        with inference_session(cfgs, device, log_folder=Path(tmp)) as model:  # no evaluation pre-check of the ids
            dataset = model.test_loader.dataset
            if frame_sizes is not None:
                _check_frame_sizes(root, dataset.frame_sizes, frame_sizes, frame_sizes_of)
            features = model.test_features()
    if features is None:
        return None
    return SequenceEmbeddings(features["embeddings"].astype(np.float32), np.array(dataset.label_list),
                              np.array(dataset.types_list), np.array(dataset.views_list),
                              tuple(tuple(map(int, size)) for size in dataset.frame_sizes), model.checkpoint)


def embed(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int, data: str | os.PathLike,
          out: str | os.PathLike, partition: str = "all", device: str = "auto") -> dict[str, np.ndarray]:
    """Embed every sequence of ``partition`` under ``data`` with checkpoint ``iteration`` and write ``out``
    (:func:`embed_sequences`).

    Returns:
        What was written: ``embeddings [N, c, p]`` float32, ``ids``, ``types``, ``views`` (str arrays).

    Raises:
        ConfigError, CheckpointError, DataError: naming the config key, checkpoint or file at fault.
    """
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs))
    cfgs["evaluator_cfg"]["restore_hint"] = iteration  # 0 means untrained, whatever the config says
    embedded = embed_sequences(cfgs, data, partition, device)
    if embedded is None:
        return {}
    result = {"embeddings": embedded.embeddings, "ids": embedded.ids, "types": embedded.types,
              "views": embedded.views}
    with atomic_write(out) as handle:
        np.savez(handle, **result)
    return result


def _ids(root: Path, data_cfg: Mapping[str, Any], partition: str) -> list[str]:
    """The ids of ``partition`` ('all' or 'train'): every id folder of ``root``, or the config's TRAIN_SET."""
    if partition == "train":
        return partition_ids(resolve_path(data_cfg["dataset_partition"], "data_cfg.dataset_partition"), "TRAIN_SET",
                             root)
    ids = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not ids:
        raise DataError(f"{root}: no id folders (expected <id>/<type>/<view>/*.pkl)")
    return ids


def _check_frame_sizes(root: Path, found: Sequence[Sequence[int]], expected: Sequence[Sequence[int]],
                       whose: str) -> None:
    found = [tuple(map(int, size)) for size in found]
    expected = [tuple(map(int, size)) for size in expected]
    if found != expected:
        def sizes(values: list[tuple[int, ...]]) -> str:
            return ", ".join("x".join(map(str, size)) for size in values)
        raise DataError(f"{root}: frames of {sizes(found)} pixels, but {whose or 'the model takes'} frames of "
                        f"{sizes(expected)} pixels (pretreat the silhouettes to the same size)")
