"""``opengait-local3d embed``: one embedding per sequence of a pkl dataset, with its id, type and view (npz)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..engine import distributed
from ..utils.atomic import atomic_write
from ..engine.config.loading import load_config
from ..engine.config.paths import resolve_path
from ..engine.data.dataset import partition_ids
from ..engine.errors import DataError, EngineError
from ..engine.messages import get_msg_mgr
from ..engine.host import NetworkHost
from .arguments import add_checkpoint_arguments

__all__ = ["register", "embed"]

PARTITIONS = ("all", "train", "test")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``embed`` subcommand."""
    parser = subparsers.add_parser(
        "embed", help="export one embedding per sequence (npz)",
        description="Run every sequence of a dataset in OpenGait's pkl layout (DIR/<id>/<type>/<view>/*.pkl) "
                    "through a trained model, exactly as the test phase does (the evaluator's sampler, "
                    "transform and network), and write FILE (npz) with embeddings [N, c, p] float32 and the "
                    "str arrays ids, types, views, one row per sequence in dataset order (ids, then types, "
                    "views and pkl names sorted). The checkpoint is the one the test phase loads for --iter: "
                    "output_root/<dataset_name>/<model>/<evaluator save_name>/checkpoints/. Load it with "
                    "numpy.load(FILE).",
        epilog="Example: opengait-local3d embed --cfgs configs/3dlocal_casiab.yaml --iter 120000 "
               "--data my-pkl --out my-embeddings.npz")
    add_checkpoint_arguments(parser)
    parser.add_argument("--data", required=True, type=Path, metavar="DIR",
                        help="dataset root in the pkl layout (replaces data_cfg.dataset_root)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="the .npz to write")
    parser.add_argument("--partition", choices=PARTITIONS, default="all",
                        help="which ids of DIR: all (default) every id folder, for data of your own with "
                             "no partition file; train or test: the TRAIN_SET or TEST_SET ids of the config's "
                             "data_cfg.dataset_partition (test gives exactly the features the test phase "
                             "evaluates)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.set_defaults(func=partial(_run, parser))


def embed(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int, data: str | os.PathLike,
          out: str | os.PathLike, partition: str = "all", device: str = "auto") -> dict[str, np.ndarray]:
    """Embed every sequence of ``partition`` under ``data`` with checkpoint ``iteration`` and write ``out``.

    Returns:
        What was written: ``embeddings [N, c, p]`` float32, ``ids``, ``types``, ``views`` (str arrays).

    Raises:
        ConfigError, CheckpointError, DataError: naming the config key, checkpoint or file at fault.
    """
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs))  # a fresh dict: ours to edit
    cfgs["evaluator_cfg"]["restore_hint"] = iteration  # 0 means untrained, whatever the config says
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"{root}: the dataset folder does not exist")
    cfgs["data_cfg"]["dataset_root"] = str(root)
    with tempfile.TemporaryDirectory() as tmp, distributed.session(device) as context:
        if partition != "test":  # the test loader reads TEST_SET: a partition whose TEST_SET is what was asked
            ids = _ids(root, cfgs["data_cfg"], partition)
            cfgs["data_cfg"]["dataset_partition"] = str(_write_partition(Path(tmp), ids))
        msg_mgr = get_msg_mgr()
        msg_mgr.init_logger(Path(tmp), log_to_file=False, is_main=context.is_main)
        try:
            model = NetworkHost(cfgs, training=False)  # inference only: no evaluation protocol checks the ids
            model.eval()
            features = model.inference(context.rank)
        finally:
            msg_mgr.close()
        dataset = model.test_loader.dataset
        if features is None:
            return {}
        result = {"embeddings": features["embeddings"].astype(np.float32), "ids": np.array(dataset.label_list),
                  "types": np.array(dataset.types_list), "views": np.array(dataset.views_list)}
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


def _write_partition(folder: Path, ids: list[str]) -> Path:
    path = folder / "partition.json"
    path.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": ids}))
    return path


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        result = embed(args.cfgs, args.iter, args.data, args.out, args.partition, args.device)
    except EngineError as err:
        print(f"opengait-local3d embed: error: {err}", file=sys.stderr)
        return 2
    if result:
        shape = "x".join(str(d) for d in result["embeddings"].shape)
        print(f"opengait-local3d embed: wrote {args.out} ({shape} embeddings of {len(set(result['ids']))} ids)")
    return 0
