"""``opengait-local3d quickstart``: SynthGait -> train Local3DCNN -> test -> visualise, on CPU, in minutes.

The quick-start runs, which ``compare`` repeats for every model and seed, live in one output folder ``OUT``::

    OUT/data/SynthGait/               the generated dataset (reused when complete)
    OUT/configs/<config>.yaml          the exact config each run used (rerun it with python -m opengait_local3d.main)
    OUT/output/SynthGait/<model>/<save_name>/   checkpoints, logs, tensorboard summaries, evaluation tables

Training resumes from the newest checkpoint of an interrupted run, a finished one is not trained again, and a
checkpoint tested before is not tested again (its figures are kept by content hash).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..datasets.synthgait import SynthGaitOutput, generate
from ..engine.checkpoint import checkpoint_path, saved_iterations
from ..engine.config.loading import read_yaml
from ..engine.config.paths import output_path
from ..engine.errors import EngineError
from ..engine.launcher import run
from ..resources import CONFIG_DIR
from ..utils.atomic import atomic_write_text
from .arguments import at_least
from .visualize import visualize_run

__all__ = ["register", "quickstart", "SynthModel", "SYNTH_MODELS", "SYNTH_DATA", "CONDITIONS", "SynthRun", "prepare_data",
           "synth_config", "train_and_test"]

@dataclass(frozen=True)
class SynthModel:
    """A model of the quick start: its engine-only config, changes merged over its sections, and the suffix
    that tells its save names and config file apart from the config's own."""

    config: Path
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    suffix: str = ""


#: the models ``compare`` knows; ``Local3DCNN-no-local`` is Local3DCNN's config without 3D local paths, and
#: ``GaitGL-Local3D`` is GaitGL with 3D local paths around its three global-local stages
SYNTH_MODELS: dict[str, SynthModel] = {
    "GaitSet": SynthModel(CONFIG_DIR / "synth" / "gaitset_synth.yaml"),
    "GaitPart": SynthModel(CONFIG_DIR / "synth" / "gaitpart_synth.yaml"),
    "Local3DCNN": SynthModel(CONFIG_DIR / "synth" / "3dlocal_synth.yaml"),
    "Local3DCNN-no-local": SynthModel(CONFIG_DIR / "synth" / "3dlocal_synth.yaml",
                                      {"model_cfg": {"local_blocks": []}}, "nolocal"),
    "GaitGL": SynthModel(CONFIG_DIR / "synth" / "gaitgl_synth.yaml"),
    "GaitGL-Local3D": SynthModel(CONFIG_DIR / "synth" / "gaitgl_local3d_synth.yaml"),
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
    curve: dict[int, dict[str, float]] = field(default_factory=dict)


def prepare_data(out: Path, workers: int | None = None) -> SynthGaitOutput:
    """Generate the quick-start SynthGait in ``out/data/SynthGait``, or reuse it when complete."""
    return generate(out / "data" / "SynthGait", workers=workers, **SYNTH_DATA)


def synth_config(model: SynthModel, data: SynthGaitOutput, out: Path, *, seed: int | None = None,
                 total_iter: int | None = None) -> tuple[dict[str, Any], Path]:
    """``model``'s config pointed at ``data`` and ``out``, written to ``out/configs/`` so it can be rerun by hand.

    Args:
        model: a quick-start model (config and overrides).
        data: the generated SynthGait.
        out: the run folder (outputs go to ``out/output``).
        seed: if given, ``engine_cfg.seed``, and ``_seed<S>`` appended to both save names and the file name.
        total_iter: if given, the number of training iterations (checkpoints at it, and at ``save_iter`` before).

    Returns:
        The config and the path it was written to.
    """
    cfgs = copy.deepcopy(read_yaml(model.config))
    for section, values in model.overrides.items():
        cfgs.setdefault(section, {}).update(copy.deepcopy(dict(values)))
    cfgs["data_cfg"]["dataset_root"] = str(data.root.resolve())
    cfgs["data_cfg"]["dataset_partition"] = str(data.partition.resolve())
    cfgs.setdefault("engine_cfg", {})["output_root"] = str((out / "output").resolve())
    tags = ([model.suffix] if model.suffix else []) + ([f"seed{seed}"] if seed is not None else [])
    if seed is not None:
        cfgs["engine_cfg"]["seed"] = int(seed)
    for section in ("trainer_cfg", "evaluator_cfg"):
        cfgs[section]["save_name"] = "_".join([cfgs[section]["save_name"], *tags])
    if total_iter is not None:
        cfgs["trainer_cfg"]["total_iter"] = int(total_iter)
    path = out / "configs" / f"{'_'.join([model.config.stem, *tags])}.yaml"
    atomic_write_text(path, yaml.safe_dump(cfgs, sort_keys=False))
    return cfgs, path


def train_and_test(cfgs: dict[str, Any], config_path: Path, curve: bool = False) -> SynthRun:
    """Train ``cfgs`` to ``total_iter`` (resuming from its newest checkpoint), then test the last checkpoint.

    With ``curve``, every saved checkpoint is tested (the learning curve). A checkpoint's rank-1 figures are kept
    in ``<save_path>/rank1_by_checkpoint.json`` under its content hash, so a run tested before is not tested again.
    """
    total = int(cfgs["trainer_cfg"]["total_iter"])
    latest = _newest_checkpoint(cfgs)
    started = time.perf_counter()
    if latest < total:
        cfgs = copy.deepcopy(cfgs)
        cfgs["trainer_cfg"]["restore_hint"] = latest
        run(cfgs, "train")
    trained = time.perf_counter()
    save_path = output_path(cfgs, training=False)
    saved = saved_iterations(save_path, cfgs["evaluator_cfg"]["save_name"])
    tested = [i for i in saved if i <= total] if curve else [total]
    results = {iteration: _rank1(cfgs, save_path, iteration) for iteration in tested}
    return SynthRun(config_path, save_path, total, results[total], trained - started, time.perf_counter() - trained,
                    results if curve else {})


def _rank1(cfgs: dict[str, Any], save_path: Path, iteration: int) -> dict[str, float]:
    """Rank-1 per condition of checkpoint ``iteration``: from the record of its content hash, or tested now."""
    checkpoint = checkpoint_path(save_path, cfgs["evaluator_cfg"]["save_name"], iteration)
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    record_path = save_path / "rank1_by_checkpoint.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if digest not in record:
        metrics = run(cfgs, "test", iteration=iteration).metrics
        record[digest] = {c: float(metrics[f"scalar/test_accuracy/{c}@R1"]) for c in CONDITIONS}
        atomic_write_text(record_path, json.dumps(record, indent=1))
    return record[digest]


def _newest_checkpoint(cfgs: dict[str, Any]) -> int:
    """The highest iteration saved by this config's training run (0 if none)."""
    return max(saved_iterations(output_path(cfgs, training=True), cfgs["trainer_cfg"]["save_name"]), default=0)


#: the test sequence the visualisation shows: the first test subject, a normal walk, side view
VISUALISED = ("nm-05", "090")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quickstart`` subcommand."""
    parser = subparsers.add_parser(
        "quickstart", help="synthetic data -> train -> test -> visualise, on CPU",
        description="Generate a small SynthGait (50 subjects x 10 walks x 11 views, 32x32 px; reused when "
                    "complete), train Local3DCNN on its 30 training subjects with configs/synth/3dlocal_synth.yaml, "
                    "test it on the other 20 with the CASIA-B protocol, print the rank-1 table and draw the "
                    "learned part volumes of one test sequence. About 7 minutes on 2 CPU cores. Running it "
                    "again resumes an interrupted training and reuses a finished one.",
        epilog="Then: tensorboard --logdir OUT/output; the config of the run is OUT/configs/3dlocal_synth.yaml "
               "(python -m opengait_local3d.main --cfgs OUT/configs/3dlocal_synth.yaml --phase test).")
    parser.add_argument("--out", type=Path, default=Path("quickstart"), metavar="DIR",
                        help="folder for the data, configs and outputs (default: ./quickstart)")
    parser.add_argument("--iter", type=at_least(1), default=None, metavar="N",
                        help="training iterations (default: the config's total_iter)")
    parser.add_argument("--workers", type=at_least(1), default=None, metavar="K",
                        help="processes generating the data (default: CPUs available)")
    parser.set_defaults(func=partial(_run, parser))


def quickstart(out: Path, total_iter: int | None = None, workers: int | None = None) -> tuple[SynthRun, list[Path]]:
    """Generate (or reuse) the data, train and test Local3DCNN, and draw its part volumes.

    Returns:
        The run, and the visualisation files written under ``out/visualization``.
    """
    data = prepare_data(out, workers)
    cfgs, config_path = synth_config(SYNTH_MODELS["Local3DCNN"], data, out, total_iter=total_iter)
    result = train_and_test(cfgs, config_path)
    test_id = _first_test_id(data.partition)
    sequence = data.root / test_id / VISUALISED[0] / VISUALISED[1]
    pictures = visualize_run(config_path, result.iteration, sequence, out / "visualization")
    return result, pictures


def _first_test_id(partition: Path) -> str:
    return json.loads(partition.read_text())["TEST_SET"][0]


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        result, pictures = quickstart(args.out, args.iter, args.workers)
    except (EngineError, FileExistsError) as err:
        print(f"opengait-local3d quickstart: error: {err}", file=sys.stderr)
        return 2
    minutes = (time.perf_counter() - started) / 60
    scores = ", ".join(f"{c} {result.rank1[c]:.1f}%" for c in CONDITIONS)
    print(f"\nQuick start done in {minutes:.1f} min. Local3DCNN on SynthGait "
          f"({SYNTH_DATA['subjects']} subjects, {SYNTH_DATA['size']} px), cross-view rank-1: {scores}.\n"
          f"  config:        {result.config_path}\n"
          f"  outputs:       {result.save_path} (checkpoints/, "
          f"rank1_CASIA-B_euc-{result.save_path.name}-{result.iteration:05d}.md, summary/)\n"
          f"  visualisation: {pictures[0].parent if pictures else '(none)'}\n"
          f"  tensorboard:   tensorboard --logdir {args.out / 'output'}")
    return 0
