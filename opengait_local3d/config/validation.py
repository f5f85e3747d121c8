"""The validation pass both hosts share, over a merged config, before any model is built or any data is read.

It checks, and reports every failure as one line naming the section, key, value and what is allowed:

* types and ranges of the plain sections' keys (:data:`~.sections.ENGINE_SCHEMA`: iterations and intervals are
  positive integers, ``metric`` is ``euc`` or ``cos``...);
* ``model_cfg`` against its network's signature and annotations (``channels: 16`` where a list is expected);
* the optimizer and scheduler, built on a stand-in parameter, so torch's own checks run (a negative learning rate);
* the rules between keys that the partition file decides (read from the JSON alone): ``class_num`` covers the
  training ids, a batch's P ids exist, and no id is in both TRAIN_SET and TEST_SET.

A number YAML 1.1 reads as a string (``lr: 2e-3``) is named as such, with the spelling that works.
:func:`check_shared_config` is what the OpenGait plugin's host runs (OpenGait resolves its own losses, samplers,
transforms and evaluators); the engine adds its own checks to the same report
(:func:`opengait_local3d.engine.config.validation.check_config`). Only torch and :mod:`opengait_local3d.modeling`
are imported, so OpenGait's process does not load the engine.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, Mapping

import torch

from ..errors import ConfigError, EngineError
from ..modeling import NETWORKS
from ..utils.typecheck import mismatch
from .optimizers import OPTIMIZERS, SCHEDULERS
from .partition import read_partition
from .paths import resolve_path
from .sections import ENGINE_SCHEMA

__all__ = ["Check", "check_shared_config", "report", "value_checks", "partition_checks", "section"]

#: one check of a config: returns (or raises as an :class:`EngineError`) its failures, one line each
Check = Callable[[], list[str]]


def check_shared_config(cfgs: Mapping[str, Any], training: bool) -> None:
    """Check the merged config of a phase as the OpenGait plugin's host needs; sections the config lacks are
    skipped (OpenGait's host may pass a partial one).

    Raises:
        ConfigError: listing every failure, one per line.
    """
    report([*value_checks(cfgs, training), *partition_checks(cfgs, training)])


def report(checks: Iterable[Check]) -> None:
    """Run every check; raise one :class:`ConfigError` listing all their failures (none: return).

    Raises:
        ConfigError: one failure as its line, several as ``N problems:`` and one indented line each.
    """
    problems: list[str] = []
    for check in checks:
        try:
            problems += check()
        except EngineError as err:
            problems.append(str(err))
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"{len(problems)} problems:\n" + "\n".join(f"  {problem}" for problem in problems))


def value_checks(cfgs: Mapping[str, Any], training: bool) -> list[Check]:
    """The checks of the config's own values, in report order: types, ``model_cfg``, optimizer and scheduler."""
    checks: list[Check] = [lambda: _types(cfgs)]
    if "model_cfg" in cfgs:
        checks.append(lambda: _model(cfgs["model_cfg"]))
    if training and "optimizer_cfg" in cfgs:
        checks.append(lambda: _optimizer(cfgs["optimizer_cfg"], cfgs.get("scheduler_cfg")))
    return checks


def partition_checks(cfgs: Mapping[str, Any], training: bool) -> list[Check]:
    """The checks against the partition file (reported last)."""
    if isinstance(cfgs.get("data_cfg"), Mapping) and "dataset_partition" in cfgs["data_cfg"]:
        return [lambda: _partition(cfgs, training)]
    return []


def section(cfgs: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``cfgs[name]`` if it is a mapping, else an empty one."""
    value = cfgs.get(name)
    return value if isinstance(value, Mapping) else {}


def _types(cfgs: Mapping[str, Any]) -> list[str]:
    """Every key of the plain sections against :data:`ENGINE_SCHEMA`."""
    problems = []
    for name, rules in ENGINE_SCHEMA.items():
        values = section(cfgs, name)
        for key, annotation in rules.items():
            problem = mismatch(values[key], annotation) if key in values else None
            if problem:
                problems.append(f"{name}.{key}: {problem}")
    return problems


def _model(model_cfg: Any) -> list[str]:
    """``model_cfg``'s keys and value types against the network's signature (nothing is built)."""
    try:
        NETWORKS.resolve(model_cfg, "model_cfg")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return []


def _optimizer(optimizer_cfg: Any, scheduler_cfg: Any) -> list[str]:
    """The optimizer, and the scheduler on it, built for a stand-in parameter: torch's own checks run."""
    built = OPTIMIZERS.build(optimizer_cfg, "optimizer_cfg", params=[torch.nn.Parameter(torch.zeros(1))])
    if scheduler_cfg is not None:
        SCHEDULERS.build(scheduler_cfg, "scheduler_cfg", optimizer=built)
    return []


def _partition(cfgs: Mapping[str, Any], training: bool) -> list[str]:
    """The rules the partition decides: disjoint sets, ``class_num`` and the batch's P against TRAIN_SET."""
    path = resolve_path(cfgs["data_cfg"]["dataset_partition"], "data_cfg.dataset_partition")
    train, test = (read_partition(path, name) for name in ("TRAIN_SET", "TEST_SET"))
    problems = []
    shared = sorted(set(train) & set(test))
    if shared:
        shown = ", ".join(shared[:10]) + (", ..." if len(shared) > 10 else "")
        problems.append(f"data_cfg.dataset_partition: {path}: {len(shared)} id(s) in both TRAIN_SET and TEST_SET "
                        f"({shown}); the sets must be disjoint (a test on training ids overstates accuracy)")
    if not training or not train:
        return problems
    ids = len(set(train))
    class_num = _class_num(section(cfgs, "model_cfg"))
    if isinstance(class_num, int) and class_num < ids:
        problems.append(f"model_cfg.class_num: {class_num}, but TRAIN_SET of {path} has {ids} ids (one class "
                        f"each): class_num must be >= {ids}")
    batch_size = section(section(cfgs, "trainer_cfg"), "sampler").get("batch_size")
    if isinstance(batch_size, list) and batch_size and isinstance(batch_size[0], int) and batch_size[0] > ids:
        problems.append(f"trainer_cfg.sampler.batch_size: P = {batch_size[0]} ids per batch, but TRAIN_SET of "
                        f"{path} has {ids} ids: P must be <= {ids}")
    return problems


def _class_num(model_cfg: Mapping[str, Any]) -> Any:
    """``model_cfg.class_num``, or the network's default for it (``None`` for a network without one)."""
    if "class_num" in model_cfg:
        return model_cfg["class_num"]
    network = NETWORKS.entries.get(model_cfg.get("model"))
    parameter = inspect.signature(network).parameters.get("class_num") if network else None
    return None if parameter is None or parameter.default is parameter.empty else parameter.default
