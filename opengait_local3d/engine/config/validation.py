"""One validation pass over a merged config, before any model is built or any data is read: the checks both hosts
share (:mod:`opengait_local3d.config.validation`: types, ``model_cfg``, optimizer and scheduler, the partition)
and, in the same report, those of this engine's own registries: the losses, the samplers (and their sample types
and frame counts), the transforms (``prob`` in [0, 1]), the evaluation function and its pre-check of the dataset.
"""
from __future__ import annotations

from typing import Any, Mapping

from ...config.validation import Check, partition_checks, report, section, value_checks
from ..data import SAMPLERS, CollateFn, get_transform
from ..evaluation.functions import eval_function_name, pre_check
from ..loss_aggregator import LossAggregator

__all__ = ["check_config"]


def check_config(cfgs: Mapping[str, Any], training: bool) -> None:
    """Check the merged config of a phase; sections the config lacks are skipped.

    Raises:
        ConfigError: listing every failure, one per line.
    """
    sections = ["trainer_cfg"] if training else ["evaluator_cfg"]
    if training and section(cfgs, "trainer_cfg").get("with_test"):
        sections.append("evaluator_cfg")
    checks: list[Check] = value_checks(cfgs, training)
    if training:
        checks.append(lambda: _losses(cfgs["loss_cfg"]))
    checks += [lambda name=name: _loading(cfgs[name], name) for name in sections]
    if "evaluator_cfg" in sections:
        checks.append(lambda: _evaluation(cfgs))
    report(checks + partition_checks(cfgs, training))


def _losses(loss_cfg: Any) -> list[str]:
    LossAggregator(loss_cfg)
    return []


def _loading(engine_cfg: Mapping[str, Any], name: str) -> list[str]:
    """The sampler (and its sample type and frame counts) and the transforms of section ``name``."""
    sampler_cfg = engine_cfg.get("sampler")
    SAMPLERS.resolve(sampler_cfg, f"{name}.sampler")
    CollateFn([], sampler_cfg, f"{name}.sampler")
    get_transform(engine_cfg.get("transform"), f"{name}.transform")
    return []


def _evaluation(cfgs: Mapping[str, Any]) -> list[str]:
    """The evaluation function, and its pre-check of the test dataset's name."""
    evaluator_cfg, data_cfg = cfgs["evaluator_cfg"], section(cfgs, "data_cfg")
    eval_function_name(evaluator_cfg)
    key = "test_dataset_name" if data_cfg.get("test_dataset_name") else "dataset_name"
    try:
        pre_check(evaluator_cfg, str(data_cfg.get(key)))
    except ValueError as err:
        return [f"data_cfg.{key}: {err}"]
    return []
