"""Train and test a model on SynthGait with a quick-start config: what ``quickstart`` and ``compare`` share.

A run lives in one output folder ``OUT``::

    OUT/data/SynthGait/               the generated dataset (reused when complete)
    OUT/configs/<config>.yaml          the exact config each run used (rerun it with python -m opengait_local3d.main)
    OUT/output/SynthGait/<model>/<save_name>/   checkpoints, logs, tensorboard summaries, evaluation tables

Training resumes from the newest checkpoint of an interrupted run, and a finished one is only tested again.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import CONFIG_DIR
from ..engine.atomic import atomic_write_text
from ..engine.checkpoint import saved_iterations
from ..engine.config.loading import read_yaml
from ..engine.config.paths import output_path
from ..engine.launcher import run
from .synthgait import SynthGaitOutput, generate

__all__ = ["SYNTH_CONFIGS", "SYNTH_DATA", "CONDITIONS", "SynthRun", "prepare_data", "synth_config",
           "train_and_test"]

#: the engine-only quick-start config of each model
SYNTH_CONFIGS: dict[str, Path] = {
    "GaitSet": CONFIG_DIR / "synth" / "gaitset_synth.yaml",
    "GaitPart": CONFIG_DIR / "synth" / "gaitpart_synth.yaml",
    "Local3DCNN": CONFIG_DIR / "synth" / "3dlocal_synth.yaml",
}

#: the SynthGait the quick-start configs are sized for: 30 training and 20 test ids, 11 views, 32x32 px
SYNTH_DATA: dict[str, Any] = {"subjects": 50, "size": 32, "frames": 40, "seed": 0}

#: CASIA-B's walking conditions, as the evaluator names them
CONDITIONS = ("NM", "BG", "CL")


@dataclass(frozen=True)
class SynthRun:
    """One trained and tested model: its config file, output folder, rank-1 per condition and timings."""

    config_path: Path
    save_path: Path
    iteration: int
    rank1: dict[str, float]
    train_seconds: float
    test_seconds: float


def prepare_data(out: Path, workers: int | None = None) -> SynthGaitOutput:
    """Generate the quick-start SynthGait in ``out/data/SynthGait``, or reuse it when complete."""
    return generate(out / "data" / "SynthGait", workers=workers, **SYNTH_DATA)


def synth_config(config: Path, data: SynthGaitOutput, out: Path, *, seed: int | None = None,
                 total_iter: int | None = None) -> tuple[dict[str, Any], Path]:
    """``config`` pointed at ``data`` and ``out``, written to ``out/configs/`` so it can be rerun by hand.

    Args:
        config: a quick-start yaml config.
        data: the generated SynthGait.
        out: the run folder (outputs go to ``out/output``).
        seed: if given, ``engine_cfg.seed``, and ``_seed<S>`` appended to both save names and the file name.
        total_iter: if given, the number of training iterations (checkpoints at it, and at ``save_iter`` before).

    Returns:
        The config and the path it was written to.
    """
    cfgs = copy.deepcopy(read_yaml(config))
    cfgs["data_cfg"]["dataset_root"] = str(data.root.resolve())
    cfgs["data_cfg"]["dataset_partition"] = str(data.partition.resolve())
    cfgs.setdefault("engine_cfg", {})["output_root"] = str((out / "output").resolve())
    name = config.stem
    if seed is not None:
        cfgs["engine_cfg"]["seed"] = int(seed)
        name = f"{name}_seed{seed}"
        for section in ("trainer_cfg", "evaluator_cfg"):
            cfgs[section]["save_name"] = f"{cfgs[section]['save_name']}_seed{seed}"
    if total_iter is not None:
        cfgs["trainer_cfg"]["total_iter"] = int(total_iter)
    path = out / "configs" / f"{name}.yaml"
    atomic_write_text(path, yaml.safe_dump(cfgs, sort_keys=False))
    return cfgs, path


def train_and_test(cfgs: dict[str, Any], config_path: Path) -> SynthRun:
    """Train ``cfgs`` to ``total_iter`` (resuming from its newest checkpoint), then test the last checkpoint."""
    total = int(cfgs["trainer_cfg"]["total_iter"])
    latest = _newest_checkpoint(cfgs)
    started = time.perf_counter()
    if latest < total:
        cfgs = copy.deepcopy(cfgs)
        cfgs["trainer_cfg"]["restore_hint"] = latest
        run(cfgs, "train")
    trained = time.perf_counter()
    result = run(cfgs, "test", iteration=total)
    rank1 = {c: float(result.metrics[f"scalar/test_accuracy/{c}@R1"]) for c in CONDITIONS}
    return SynthRun(config_path, result.save_path, total, rank1, trained - started, time.perf_counter() - trained)


def _newest_checkpoint(cfgs: dict[str, Any]) -> int:
    """The highest iteration saved by this config's training run (0 if none)."""
    return max(saved_iterations(output_path(cfgs, training=True), cfgs["trainer_cfg"]["save_name"]), default=0)

