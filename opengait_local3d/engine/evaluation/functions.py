"""The evaluation functions a config names (``evaluator_cfg.eval_func``), each with its pre-check.

An evaluation is a function ``evaluate(data, dataset, **keys, output_dir, produced_by) -> metrics`` and its
pre-check ``check(dataset, types=None, views=None, **keys)``, which raises ``ValueError`` when the dataset (at
config time, without ``types`` and ``views``) or the test set (before any feature is extracted) cannot be
evaluated. ``keys`` are the ``evaluator_cfg`` keys each one's signature names. A new protocol is one module
holding the two functions and one line in each table below.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...config.registries import section_registry
from .evaluator import check_indoor_dataset, evaluate_indoor_dataset
from .tables import Provenance

__all__ = ["EVAL_FUNCTIONS", "PRE_CHECKS", "DEFAULT_EVAL_FUNCTION", "eval_function_name", "pre_check", "evaluate"]

#: ``evaluator_cfg.eval_func`` -> function(data, dataset, ..., output_dir, produced_by)
EVAL_FUNCTIONS = section_registry("evaluation function", "eval_func",
                                  {"evaluate_indoor_dataset": evaluate_indoor_dataset}, "evaluator_cfg")
#: ``evaluator_cfg.eval_func`` -> its pre-check(dataset, types, views, ...)
PRE_CHECKS: Mapping[str, Callable[..., None]] = {"evaluate_indoor_dataset": check_indoor_dataset}
#: the evaluation of a config without ``eval_func``
DEFAULT_EVAL_FUNCTION = "evaluate_indoor_dataset"


def eval_function_name(evaluator_cfg: Mapping[str, Any]) -> str:
    """The configured ``eval_func``.

    Raises:
        ConfigError: an unknown name (with the closest known one).
    """
    name = evaluator_cfg.get("eval_func", DEFAULT_EVAL_FUNCTION)
    EVAL_FUNCTIONS.lookup(name, "evaluator_cfg.eval_func")
    return name


def pre_check(evaluator_cfg: Mapping[str, Any], dataset: str, types: Sequence[str] | None = None,
              views: Sequence[str] | None = None) -> None:
    """Run the configured evaluation's pre-check on ``dataset`` (and, given, the test set's types and views).

    Raises:
        ConfigError: an unknown ``eval_func``. ValueError: what the pre-check finds.
    """
    check = PRE_CHECKS[eval_function_name(evaluator_cfg)]
    check(dataset, types, views, **_configured(check, evaluator_cfg, {"dataset", "types", "views"}))


def evaluate(evaluator_cfg: Mapping[str, Any], data: Mapping[str, Any], dataset: str, output_dir: str,
             produced_by: Provenance) -> dict[str, float]:
    """The configured evaluation of the test features ``data`` (``embeddings [N, c, p]``, ``labels``, ``types``,
    ``views``): its metrics, the tables written to ``output_dir``."""
    function = EVAL_FUNCTIONS.lookup(eval_function_name(evaluator_cfg), "evaluator_cfg.eval_func")
    keys = _configured(function, evaluator_cfg, {"data", "dataset", "output_dir", "produced_by"})
    return function(data, dataset, output_dir=output_dir, produced_by=produced_by, **keys)


def _configured(function: Callable[..., Any], evaluator_cfg: Mapping[str, Any], supplied: set[str]) -> dict[str, Any]:
    """The keys of ``evaluator_cfg`` that ``function`` takes, besides those its caller supplies."""
    accepted = set(inspect.signature(function).parameters) - supplied
    return {key: value for key, value in evaluator_cfg.items() if key in accepted}
