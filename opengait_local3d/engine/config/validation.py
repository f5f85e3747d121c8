"""One validation pass over a merged config, before any model is built or any data is read.

It checks, and reports every failure as one line naming the section, key, value and what is allowed:

* types and ranges of the plain sections' keys (:data:`~.schema.ENGINE_SCHEMA`: iterations and intervals are
  positive integers, ``metric`` is ``euc`` or ``cos``...);
* every named entry against its factory's signature and annotations (:mod:`opengait_local3d.utils.registry`):
  ``model_cfg`` (``channels: 16`` where a list is expected), the optimizer and scheduler (built on a stand-in
  parameter, so torch's own checks run: a negative learning rate), and for the engine's host also the losses,
  samplers, transforms (``prob`` in [0, 1]), evaluation function and protocol;
* the rules between keys that the partition file decides (read from the JSON alone): ``class_num`` covers the
  training ids, a batch's P ids exist, and no id is in both TRAIN_SET and TEST_SET.

A number YAML 1.1 reads as a string (``lr: 2e-3``) is named as such, with the spelling that works.
The OpenGait plugin's host runs the checks that do not depend on this engine's own registries
(``host="opengait"``): OpenGait resolves its own losses, samplers, transforms and evaluators.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator, Mapping

import torch

from ...modeling import NETWORKS
from ...utils.typecheck import mismatch
from ..base_model import EVAL_FUNCTIONS
from ..data import SAMPLERS, CollateFn, get_transform
from ..data.dataset import read_partition
from ..errors import ConfigError, EngineError
from ..evaluation.protocols import get_protocol
from ..loss_aggregator import LossAggregator
from ..optim import OPTIMIZERS, SCHEDULERS
from .paths import resolve_path
from .schema import ENGINE_SCHEMA

__all__ = ["check_config", "HOSTS"]

#: the hosts whose configs are checked: this engine, and OpenGait through the plugin
HOSTS = ("engine", "opengait")


def check_config(cfgs: Mapping[str, Any], training: bool, host: str = "engine") -> None:
    """Check the merged config of a phase; sections the config lacks are skipped (OpenGait's host may pass
    a partial one).

    Raises:
        ConfigError: listing every failure, one per line.
    """
    if host not in HOSTS:
        raise ValueError(f"host must be one of {HOSTS}, got {host!r}")
    problems: list[str] = []
    for check in _checks(cfgs, training, host):
        try:
            problems += check()
        except EngineError as err:
            problems.append(str(err))
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"{len(problems)} problems:\n" + "\n".join(f"  {problem}" for problem in problems))


def _checks(cfgs: Mapping[str, Any], training: bool, host: str) -> Iterator[Callable[[], list[str]]]:
    """The independent checks of the config, each returning (or raising) its failures."""
    sections = ["trainer_cfg"] if training else ["evaluator_cfg"]
    if training and _section(cfgs, "trainer_cfg").get("with_test"):
        sections.append("evaluator_cfg")
    yield lambda: _types(cfgs)
    if "model_cfg" in cfgs:
        yield lambda: _model(cfgs["model_cfg"])
    if training and "optimizer_cfg" in cfgs:
        yield lambda: _optimizer(cfgs["optimizer_cfg"], cfgs.get("scheduler_cfg"))
    if host == "engine":
        if training:
            yield lambda: _built(LossAggregator, cfgs["loss_cfg"])
        for section in sections:
            yield lambda section=section: _loading(cfgs[section], section)
        if "evaluator_cfg" in sections:
            yield lambda: _evaluation(cfgs)
    if isinstance(cfgs.get("data_cfg"), Mapping) and "dataset_partition" in cfgs["data_cfg"]:
        yield lambda: _partition(cfgs, training)


def _section(cfgs: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = cfgs.get(name)
    return section if isinstance(section, Mapping) else {}


def _types(cfgs: Mapping[str, Any]) -> list[str]:
    """Every key of the plain sections against :data:`ENGINE_SCHEMA`."""
    problems = []
    for section, rules in ENGINE_SCHEMA.items():
        values = _section(cfgs, section)
        for key, annotation in rules.items():
            problem = mismatch(values[key], annotation) if key in values else None
            if problem:
                problems.append(f"{section}.{key}: {problem}")
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
    optimizer = OPTIMIZERS.build(optimizer_cfg, "optimizer_cfg", params=[torch.nn.Parameter(torch.zeros(1))])
    if scheduler_cfg is not None:
        SCHEDULERS.build(scheduler_cfg, "scheduler_cfg", optimizer=optimizer)
    return []


def _built(factory: Callable[..., Any], *args: Any) -> list[str]:
    factory(*args)
    return []


def _loading(engine_cfg: Mapping[str, Any], section: str) -> list[str]:
    """The sampler (and its sample type and frame counts) and the transforms of ``section``."""
    sampler_cfg = engine_cfg.get("sampler")
    SAMPLERS.resolve(sampler_cfg, f"{section}.sampler")
    CollateFn([], sampler_cfg, f"{section}.sampler")
    get_transform(engine_cfg.get("transform"), f"{section}.transform")
    return []


def _evaluation(cfgs: Mapping[str, Any]) -> list[str]:
    """The evaluation function, and the protocol of the test set when it is this engine's evaluator."""
    evaluator_cfg, data_cfg = cfgs["evaluator_cfg"], _section(cfgs, "data_cfg")
    name = evaluator_cfg.get("eval_func", "evaluate_indoor_dataset")
    EVAL_FUNCTIONS.lookup(name, "evaluator_cfg.eval_func")
    if name == "evaluate_indoor_dataset":
        key = "test_dataset_name" if data_cfg.get("test_dataset_name") else "dataset_name"
        try:
            get_protocol(str(data_cfg.get(key)), bool(evaluator_cfg.get("cross_view_gallery", False)))
        except ValueError as err:
            return [f"data_cfg.{key}: {err}"]
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
    class_num = _class_num(_section(cfgs, "model_cfg"))
    if isinstance(class_num, int) and class_num < ids:
        problems.append(f"model_cfg.class_num: {class_num}, but TRAIN_SET of {path} has {ids} ids (one class "
                        f"each): class_num must be >= {ids}")
    batch_size = _section(_section(cfgs, "trainer_cfg"), "sampler").get("batch_size")
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
