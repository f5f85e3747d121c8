"""Embed every sequence of a folder in OpenGait's pkl layout exactly as the test phase does: the evaluator's sampler,
transform and network, with the checkpoint the config's ``evaluator_cfg.restore_hint`` names."""
from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..engine import distributed
from ..config.paths import resolve_path
from ..engine.data.dataset import partition_ids
from ..errors import DataError
from ..engine.host import NetworkHost
from ..engine.messages import get_msg_mgr

__all__ = ["PARTITIONS", "SequenceEmbeddings", "embed_sequences"]

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
    with tempfile.TemporaryDirectory() as tmp, distributed.session(device) as context:
        if partition != "test":  # the test loader reads TEST_SET: a partition whose TEST_SET is what was asked
            partition_file = Path(tmp) / "partition.json"
            partition_file.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": _ids(root, cfgs["data_cfg"],
                                                                                     partition)}))
            cfgs["data_cfg"]["dataset_partition"] = str(partition_file)
        msg_mgr = get_msg_mgr()
        msg_mgr.init_logger(Path(tmp), log_to_file=False, is_main=context.is_main)
        try:
            model = NetworkHost(cfgs, training=False)  # inference only: no evaluation protocol checks the ids
            dataset = model.test_loader.dataset
            if frame_sizes is not None:
                _check_frame_sizes(root, dataset.frame_sizes, frame_sizes, frame_sizes_of)
            model.eval()
            features = model.inference(context.rank)
        finally:
            msg_mgr.close()
    if features is None:
        return None
    return SequenceEmbeddings(features["embeddings"].astype(np.float32), np.array(dataset.label_list),
                              np.array(dataset.types_list), np.array(dataset.views_list),
                              tuple(tuple(map(int, size)) for size in dataset.frame_sizes), model.checkpoint)


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
