"""The quick start's machinery: SynthGait -> train Local3DCNN (or any quick-start model) -> test -> visualise, on CPU.

The quick-start runs, which ``compare`` repeats for every model and seed, live in one output folder ``OUT``::

    OUT/data/SynthGait/               the generated dataset (reused when complete)
    OUT/configs/<config>.yaml          the exact config each run used (rerun it with python -m opengait_local3d.main)
    OUT/output/SynthGait/<model>/<save_name>/   checkpoints, logs, tensorboard summaries, evaluation tables

Training resumes from the newest checkpoint of an interrupted run, a finished one is not trained again, and a
checkpoint tested before is not tested again (its figures are kept by content hash).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..datasets.synthgait import SynthGaitOutput, generate
from ..deploy.visualization import visualize_run
from ..engine.config.loading import read_yaml
from ..engine.launcher import run
from ..engine.run_folder import RunFolder
from ..errors import EngineError
from ..resources import CONFIG_DIR
from ..utils.atomic import atomic_write_text

__all__ = ["quickstart", "SynthModel", "WarmStart", "SYNTH_MODELS", "SYNTH_DATA", "CONDITIONS", "SynthRun",
           "prepare_data", "at_paper_size", "carrying_optimizer", "synth_config", "warm_start_config", "run_model",
           "train_and_test"]


@dataclass(frozen=True)
class WarmStart:
    """The first phase of a staged model: the quick-start model ``model`` (same seed) trained for ``fraction`` of the
    total iterations; its checkpoint then starts the staged model (``restore_ckpt_strict: false``, a fresh
    schedule), which trains the remaining iterations, so both phases together count the total. With
    ``carry_optimizer`` the optimizer state of the parameters the checkpoint holds carries over (by name), so only
    the new parameters start a fresh Adam; otherwise the whole optimizer starts afresh, as GLN's phase 2 does."""

    model: SynthModel
    fraction: float = 0.5
    carry_optimizer: bool = False


@dataclass(frozen=True)
class SynthModel:
    """A model of the quick start: its engine-only config, changes merged over its sections, the suffix
    that tells its save names and config file apart from the config's own, and its warm start, if staged."""

    config: Path
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    suffix: str = ""
    warm_start: WarmStart | None = None


_NO_LOCAL = SynthModel(CONFIG_DIR / "synth" / "3dlocal_synth.yaml", {"model_cfg": {"local_blocks": []}}, "nolocal")
_GAITGL = SynthModel(CONFIG_DIR / "synth" / "gaitgl_synth.yaml")

#: the models ``compare`` knows; ``Local3DCNN-no-local`` is Local3DCNN's config without 3D local paths, and
#: ``GaitGL-Local3D`` is GaitGL with 3D local paths around its three global-local stages. Local3DCNN and
#: GaitGL-Local3D train as the paper's configs do: their first half without local paths (the no-local or GaitGL
#: run's own first half), then with them
SYNTH_MODELS: dict[str, SynthModel] = {
    "GaitSet": SynthModel(CONFIG_DIR / "synth" / "gaitset_synth.yaml"),
    "GaitPart": SynthModel(CONFIG_DIR / "synth" / "gaitpart_synth.yaml"),
    "Local3DCNN": SynthModel(CONFIG_DIR / "synth" / "3dlocal_synth.yaml", warm_start=WarmStart(_NO_LOCAL)),
    "Local3DCNN-no-local": _NO_LOCAL,
    "GaitGL": _GAITGL,
    "GaitGL-Local3D": SynthModel(CONFIG_DIR / "synth" / "gaitgl_local3d_synth.yaml", warm_start=WarmStart(_GAITGL)),
}

#: the SynthGait the quick-start configs are sized for: 30 training and 20 test ids, 11 views, 32x32 px
SYNTH_DATA: dict[str, Any] = {"subjects": 50, "size": 32, "frames": 40, "seed": 0}
#: the SynthGait of ``compare --size 64``: the same ids, rendered at 64 px with the hard realism preset
#: (segmentation noise, closer identities, varied covariates), so that it ranks models below its ceiling
PAPER_SIZE_DATA: dict[str, Any] = {**SYNTH_DATA, "size": 64, "realism": "hard"}
#: the network input of the quick-start configs (32 px cut 4 columns a side) and of the paper (64 px cut 10 a side),
#: [h, w]: ``write`` alignment's maps grow by their ratio
_SYNTH_INPUT, _PAPER_INPUT = (32, 24), (64, 44)

#: CASIA-B's walking conditions, as the evaluator names them
CONDITIONS = ("NM", "BG", "CL")


@dataclass(frozen=True)
class SynthRun:
    """One trained and tested model: its config file, output folder, the iteration tested (of its own run),
    rank-1 per condition, timings, the learning curve and the iterations trained in all (a warm start's included);
    the curve is keyed by those total iterations."""

    config_path: Path
    save_path: Path
    iteration: int
    rank1: dict[str, float]
    train_seconds: float
    test_seconds: float
    curve: dict[int, dict[str, float]] = field(default_factory=dict)
    total_iterations: int = 0


def prepare_data(out: Path, workers: int | None = None, paper_size: bool = False) -> SynthGaitOutput:
    """Generate the quick-start SynthGait (``paper_size``: :data:`PAPER_SIZE_DATA`) in ``out/data/SynthGait``, or
    reuse it when complete."""
    return generate(out / "data" / "SynthGait", workers=workers, **(PAPER_SIZE_DATA if paper_size else SYNTH_DATA))


def at_paper_size(model: SynthModel) -> SynthModel:
    """``model`` at the paper's 64x44 input: its quick-start network and schedule, the silhouettes cut as OpenGait
    cuts 64 px (10 columns a side) and, in ``write`` alignment, part sizes measured on the same map as at 32x24,
    now larger (Local3DCNN's block-3 map 8x6 -> 16x11, GaitGL's last stage 16x12 -> 32x22); its warm start
    likewise. The model's own overrides apply on top. (The CASIA-B configs' channels cost about four
    times as much again, hours per run on a CPU.)"""
    synth = read_yaml(model.config)
    overrides = {section: dict(values) for section, values in model.overrides.items()}
    local3d = dict(overrides.get("model_cfg", {}).get("local3d", synth["model_cfg"].get("local3d", {})))
    if "write_resolution" in local3d:
        grown = [round(size * paper_side / synth_side) for size, paper_side, synth_side in
                 zip(local3d["write_resolution"], _PAPER_INPUT, _SYNTH_INPUT)]
        overrides.setdefault("model_cfg", {})["local3d"] = {**local3d, "write_resolution": grown}
    for section in ("trainer_cfg", "evaluator_cfg"):
        overrides.setdefault(section, {})["transform"] = _cut(synth[section]["transform"], 10)
    warm_start = model.warm_start and dataclasses.replace(model.warm_start, model=at_paper_size(model.warm_start.model))
    return dataclasses.replace(model, overrides=overrides, warm_start=warm_start)


def carrying_optimizer(model: SynthModel) -> SynthModel:
    """``model`` with its second phase carrying the optimizer state of the parameters its warm start restores
    (:attr:`WarmStart.carry_optimizer`), its configs and runs told apart by the suffix ``carry``; a model that is
    not staged, as it is."""
    if model.warm_start is None:
        return model
    return dataclasses.replace(model, suffix="_".join(filter(None, (model.suffix, "carry"))),
                               warm_start=dataclasses.replace(model.warm_start, carry_optimizer=True))


def warming_for(model: SynthModel, fraction: float) -> SynthModel:
    """``model`` with its first phase ``fraction`` of the total iterations (its runs already told apart by the
    warm-start iterations in their names); a model that is not staged, as it is.

    Raises:
        EngineError: ``fraction`` is not strictly between 0 and 1.
    """
    if not 0 < fraction < 1:
        raise EngineError(f"a warm start's fraction of the iterations must be between 0 and 1, got {fraction:g}")
    if model.warm_start is None:
        return model
    return dataclasses.replace(model, warm_start=dataclasses.replace(model.warm_start, fraction=fraction))


def _cut(transforms: list[dict[str, Any]], cutting: int) -> list[dict[str, Any]]:
    """``transforms`` (a config's list, ``Compose`` nested) with every ``BaseSilCuttingTransform`` cutting ``cutting``
    columns from each side."""
    return [{**t, "trf_cfg": _cut(t["trf_cfg"], cutting)} if "trf_cfg" in t else
            {**t, "cutting": cutting} if t.get("type") == "BaseSilCuttingTransform" else dict(t) for t in transforms]


def synth_config(model: SynthModel, data: SynthGaitOutput, out: Path, *, seed: int | None = None,
                 total_iter: int | None = None) -> tuple[dict[str, Any], Path]:
    """``model``'s config pointed at ``data`` and ``out``, written to ``out/configs/`` so it can be rerun by hand.

    Args:
        model: a quick-start model (config and overrides). A staged model's config is its second phase: it
            restores its warm start's checkpoint (see :func:`warm_start_config`) and trains the iterations left.
        data: the generated SynthGait.
        out: the run folder (outputs go to ``out/output``).
        seed: if given, ``engine_cfg.seed``, and ``_seed<S>`` appended to both save names and the file name
            (after a staged model's ``_warm<N>``, N its first phase's iterations).
        total_iter: if given, the number of training iterations (checkpoints at it, and at ``save_iter`` before);
            for a staged model, of both phases together.

    Returns:
        The config and the path it was written to.
    """
    cfgs = copy.deepcopy(read_yaml(model.config))
    for section, values in model.overrides.items():
        cfgs.setdefault(section, {}).update(copy.deepcopy(dict(values)))
    cfgs["data_cfg"]["dataset_root"] = str(data.root.resolve())
    cfgs["data_cfg"]["dataset_partition"] = str(data.partition.resolve())
    cfgs.setdefault("engine_cfg", {})["output_root"] = str((out / "output").resolve())
    if total_iter is not None:
        cfgs["trainer_cfg"]["total_iter"] = int(total_iter)
    first = model.warm_start and warm_start_config(model, data, out, seed=seed, total_iter=total_iter)[0]
    tags = ([model.suffix] if model.suffix else []) + ([f"warm{first['trainer_cfg']['total_iter']}"] if first else [])
    tags += [f"seed{seed}"] if seed is not None else []
    if seed is not None:
        cfgs["engine_cfg"]["seed"] = int(seed)
    for section in ("trainer_cfg", "evaluator_cfg"):
        cfgs[section]["save_name"] = "_".join([cfgs[section]["save_name"], *tags])
    if first:
        _second_phase(cfgs, first, carry_optimizer=model.warm_start.carry_optimizer)
    path = out / "configs" / f"{'_'.join([model.config.stem, *tags])}.yaml"
    atomic_write_text(path, yaml.safe_dump(cfgs, sort_keys=False))
    return cfgs, path


def warm_start_config(model: SynthModel, data: SynthGaitOutput, out: Path, *, seed: int | None = None,
                      total_iter: int | None = None) -> tuple[dict[str, Any], Path]:
    """The config of staged ``model``'s first phase: its warm start's model trained ``fraction`` of the total.

    Raises:
        EngineError: ``model`` is not staged, or its first phase would get no iterations or all of them.
    """
    if model.warm_start is None:
        raise EngineError(f"{model.config.name}: not a staged model (no warm start)")
    total = int(total_iter if total_iter is not None else read_yaml(model.config)["trainer_cfg"]["total_iter"])
    warm = round(total * model.warm_start.fraction)
    if not 0 < warm < total:
        raise EngineError(f"{model.config.name}'s warm start over {total} iterations: its {model.warm_start.fraction:g} "
                          f"share is {warm} iterations, and each phase needs at least one")
    return synth_config(model.warm_start.model, data, out, seed=seed, total_iter=warm)


def _second_phase(cfgs: dict[str, Any], first: Mapping[str, Any], *, carry_optimizer: bool) -> None:
    """Make ``cfgs`` (total iterations of both phases) the second phase after ``first``, in place: it restores
    ``first``'s last checkpoint non-strictly with a fresh schedule and a fresh optimizer (``carry_optimizer``:
    the restored parameters' optimizer state carried over), trains the iterations left, and keeps the learning-rate
    schedule of one run of the total (milestones shifted; the rate of those already passed applied from the
    start)."""
    warm = int(first["trainer_cfg"]["total_iter"])
    trainer, scheduler = cfgs["trainer_cfg"], cfgs["scheduler_cfg"]
    trainer.update({"total_iter": int(trainer["total_iter"]) - warm, "restore_ckpt_strict": False,
                    "optimizer_reset": not carry_optimizer, "scheduler_reset": True,
                    "restore_hint": str(RunFolder.of(first, training=True).checkpoint(warm))})
    milestones = [int(m) for m in scheduler.get("milestones", [])]
    passed = sum(m <= warm for m in milestones)
    scheduler["milestones"] = [m - warm for m in milestones if m > warm]
    cfgs["optimizer_cfg"]["lr"] = float(cfgs["optimizer_cfg"]["lr"]) * float(scheduler.get("gamma", 0.1)) ** passed


def run_model(model: SynthModel, data: SynthGaitOutput, out: Path, *, seed: int | None = None,
              total_iter: int | None = None, curve: bool = False) -> SynthRun:
    """Train (both phases of a staged model) and test ``model`` on ``data``; see :func:`train_and_test`.

    A staged model's ``total_iterations`` and training time count both phases, and its curve starts with its
    first phase's checkpoints (the first phase is only trained, not tested, without ``curve``)."""
    cfgs, path = synth_config(model, data, out, seed=seed, total_iter=total_iter)
    if model.warm_start is None:
        return train_and_test(cfgs, path, curve=curve)
    first, first_path = warm_start_config(model, data, out, seed=seed, total_iter=total_iter)
    warm = int(first["trainer_cfg"]["total_iter"])
    if not curve:
        seconds = train(first)
        second = train_and_test(cfgs, path, start=warm)
        return dataclasses.replace(second, train_seconds=seconds + second.train_seconds)
    warm_up = train_and_test(first, first_path, curve=True)
    second = train_and_test(cfgs, path, curve=True, start=warm)
    return dataclasses.replace(second, train_seconds=warm_up.train_seconds + second.train_seconds,
                               test_seconds=warm_up.test_seconds + second.test_seconds,
                               curve={**warm_up.curve, **second.curve})


def train(cfgs: dict[str, Any]) -> float:
    """Train ``cfgs`` to ``total_iter``, resuming from its newest checkpoint (nothing if it is there already); the
    seconds it took."""
    started = time.perf_counter()
    latest = _newest_checkpoint(cfgs)
    if latest < int(cfgs["trainer_cfg"]["total_iter"]):
        cfgs = copy.deepcopy(cfgs)
        if latest:  # resume this run (its own optimizer and schedule), not its warm start
            cfgs["trainer_cfg"].update({"restore_hint": latest, "optimizer_reset": False, "scheduler_reset": False,
                                        "restore_ckpt_strict": True})
        else:  # from scratch, or from its warm start's checkpoint
            cfgs["trainer_cfg"].setdefault("restore_hint", 0)
        run(cfgs, "train")
    return time.perf_counter() - started


def train_and_test(cfgs: dict[str, Any], config_path: Path, curve: bool = False, start: int = 0) -> SynthRun:
    """Train ``cfgs`` to ``total_iter`` (:func:`train`), then test the last checkpoint.

    With ``curve``, every saved checkpoint is tested (the learning curve, keyed by ``start`` + its iteration:
    ``start`` is the iterations of a warm start). A checkpoint's rank-1 figures are kept in
    ``<save_path>/rank1_by_checkpoint.json`` under its content hash, so a run tested before is not tested again.
    """
    total = int(cfgs["trainer_cfg"]["total_iter"])
    seconds = train(cfgs)
    tested_from = time.perf_counter()
    folder = RunFolder.of(cfgs, training=False)
    tested = [i for i in folder.saved() if i <= total] if curve else [total]
    results = {iteration: _rank1(cfgs, folder, iteration) for iteration in tested}
    return SynthRun(config_path, folder.save_path, total, results[total], seconds, time.perf_counter() - tested_from,
                    {start + i: r for i, r in results.items()} if curve else {}, start + total)


def _rank1(cfgs: dict[str, Any], folder: RunFolder, iteration: int) -> dict[str, float]:
    """Rank-1 per condition of checkpoint ``iteration`` of the test phase's ``folder``: from the record of its
    content hash, or tested now."""
    digest = hashlib.sha256(folder.checkpoint(iteration).read_bytes()).hexdigest()
    record_path = folder.save_path / "rank1_by_checkpoint.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if digest not in record:
        metrics = run(cfgs, "test", iteration=iteration).metrics
        record[digest] = {c: float(metrics[f"scalar/test_accuracy/{c}@R1"]) for c in CONDITIONS}
        atomic_write_text(record_path, json.dumps(record, indent=1))
    return record[digest]


def _newest_checkpoint(cfgs: dict[str, Any]) -> int:
    """The highest iteration saved by this config's training run (0 if none)."""
    return max(RunFolder.of(cfgs, training=True).saved(), default=0)


#: the test sequence the visualisation shows: the first test subject, a normal walk, side view
VISUALISED = ("nm-05", "090")


def quickstart(out: Path, total_iter: int | None = None, workers: int | None = None) -> tuple[SynthRun, list[Path]]:
    """Generate (or reuse) the data, train and test Local3DCNN, and draw its part volumes.

    Returns:
        The run, and the visualisation files written under ``out/visualization``.
    """
    data = prepare_data(out, workers)
    result = run_model(SYNTH_MODELS["Local3DCNN"], data, out, total_iter=total_iter)
    test_id = _first_test_id(data.partition)
    sequence = data.root / test_id / VISUALISED[0] / VISUALISED[1]
    pictures = visualize_run(result.config_path, result.iteration, sequence, out / "visualization")
    return result, pictures


def _first_test_id(partition: Path) -> str:
    return json.loads(partition.read_text())["TEST_SET"][0]
