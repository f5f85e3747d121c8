"""Which config keys exist: the engine's own keys plus those OpenGait's configs use.

A key that is neither is a misspelling and an error naming the key, its section and the file, with the
closest known key as a suggestion. A key OpenGait's configs use that this engine does not implement is
accepted and reported once (so OpenGait's yaml files load).
:data:`~opengait_local3d.config.sections.ENGINE_SCHEMA` gives each engine key of the plain sections its type and
range (checked by :mod:`.validation`); ``model_cfg`` is checked by
:func:`opengait_local3d.modeling.build_network`; the entries of typed sections (losses, optimizer,
scheduler, samplers, transforms) by their :class:`~opengait_local3d.utils.registry.Registry`.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

from ...config.opengait_keys import OPENGAIT_KEYS
from ...config.optimizers import OPTIMIZERS, SCHEDULERS
from ...config.sections import ENGINE_SCHEMA
from ...errors import ConfigError
from ...utils.registry import Registry
from ...utils.suggestions import did_you_mean
from ..data.samplers import SAMPLERS
from ..data.transforms import TRANSFORMS
from ..loss_aggregator import LOSS_REGISTRY

__all__ = ["ENGINE_KEYS", "check_keys"]

logger = logging.getLogger(__name__)

#: Keys the engine implements, per plain section ("" = top level).
ENGINE_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"data_cfg", "loss_cfg", "model_cfg", "optimizer_cfg", "scheduler_cfg", *ENGINE_SCHEMA}),
    **{section: frozenset(keys) for section, keys in ENGINE_SCHEMA.items()},
}

#: (section, key) of typed entries -> the registry that knows their keys
_TYPED: dict[tuple[str, str], Registry] = {
    ("trainer_cfg", "sampler"): SAMPLERS,
    ("evaluator_cfg", "sampler"): SAMPLERS,
    ("trainer_cfg", "transform"): TRANSFORMS,
    ("evaluator_cfg", "transform"): TRANSFORMS,
    ("", "loss_cfg"): LOSS_REGISTRY,
    ("", "optimizer_cfg"): OPTIMIZERS,
    ("", "scheduler_cfg"): SCHEDULERS,
}


def check_keys(cfgs: Mapping[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` for the first unknown key of ``cfgs`` (read from ``source``).

    Logs, once, the OpenGait keys present that this engine ignores.
    """
    if not isinstance(cfgs, Mapping):
        raise ConfigError(f"{source}: a config must be a mapping of sections, got {type(cfgs).__name__}")
    ignored: list[str] = []
    ignored += _check_section(cfgs, "", source)
    for section in ("data_cfg", "trainer_cfg", "evaluator_cfg", "engine_cfg"):
        value = cfgs.get(section)
        # OpenGait allows a list of data_cfg (multi-dataset); the engine refuses it when it runs
        for entry in value if section == "data_cfg" and isinstance(value, list) else [value]:
            if entry is None:
                continue
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{source}: {section} must be a mapping, got {entry!r}")
            ignored += _check_section(entry, section, source)
    for (section, key), registry in _TYPED.items():
        parent = cfgs if section == "" else cfgs.get(section) or {}
        where = f"{section}.{key}" if section else key
        for index, entry in _typed_entries(parent.get(key)):
            _check_entry(entry, registry, f"{where}{index}", source)
    if ignored:
        logger.info("%s: OpenGait keys without effect in this engine: %s", source, ", ".join(dict.fromkeys(ignored)))


def _check_section(mapping: Mapping[str, Any], section: str, source: str) -> list[str]:
    """Check one plain section; return its OpenGait-only keys (``section.key``)."""
    ours, opengait = ENGINE_KEYS[section], OPENGAIT_KEYS.get(section, frozenset())
    ignored = []
    for key in mapping:
        if key in ours:
            continue
        name = f"{section}.{key}" if section else key
        if key in opengait:
            ignored.append(name)
            continue
        where = f"section {section}" if section else "the top level"
        raise ConfigError(f"{source}: unknown key '{key}' in {where}{did_you_mean(key, ours | opengait)}")
    return ignored


def _typed_entries(value: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(index suffix, entry) for a typed section given as one dict or a list of dicts (and ``trf_cfg``)."""
    if isinstance(value, Mapping):
        yield "", value
        for index, entry in _typed_entries(value.get("trf_cfg")):
            yield f".trf_cfg{index}", entry
    elif isinstance(value, list):
        for position, item in enumerate(value):
            for index, entry in _typed_entries(item):
                yield f"[{position}]{index}", entry


def _check_entry(entry: Mapping[str, Any], registry: Registry, where: str, source: str) -> None:
    known = registry.known_keys()
    for key in entry:
        if key not in known:
            raise ConfigError(f"{source}: unknown key '{key}' in {where}{did_you_mean(key, known)}")
