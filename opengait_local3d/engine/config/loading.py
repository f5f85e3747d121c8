"""Read a yaml config, merge it over ``configs/default.yaml`` like OpenGait, and check its keys."""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from ...resources import CONFIG_DIR
from ...errors import ConfigError
from .schema import check_keys

__all__ = ["DEFAULT_CONFIG", "load_config", "merge_configs", "read_yaml", "config_source", "config_digest"]

DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in the yaml file ``path`` (an empty file gives ``{}``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections, got {type(data).__name__}")
    return data


def merge_configs(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base`` (a new dict): dicts merge recursively, anything else replaces.

    This is OpenGait's rule, so lists (e.g. ``loss_cfg``, ``transform``) replace the default's list.

    >>> merge_configs({'a': {'x': 1, 'y': [1, 2]}}, {'a': {'y': [3]}, 'b': 2})
    {'a': {'x': 1, 'y': [3]}, 'b': 2}
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_configs(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def config_source(source: str | Path | Mapping[str, Any]) -> str:
    """How error messages name a config: its path, or ``<dict>`` for an in-memory config."""
    return "<dict>" if isinstance(source, Mapping) else str(source)


def load_config(source: str | Path | Mapping[str, Any], *, restore_iteration: int = 0) -> dict[str, Any]:
    """The full config: ``source`` (a yaml path or a dict) merged over ``configs/default.yaml``.

    Args:
        source: the user's config.
        restore_iteration: if non-zero, overrides both ``restore_hint`` keys (``--iter``).

    Raises:
        ConfigError: unreadable file, invalid YAML, or an unknown key (named with its section and file).
    """
    user = copy.deepcopy(dict(source)) if isinstance(source, Mapping) else read_yaml(source)
    check_keys(user, config_source(source))
    cfgs = merge_configs(read_yaml(DEFAULT_CONFIG), user)
    if restore_iteration:
        cfgs["trainer_cfg"]["restore_hint"] = int(restore_iteration)
        cfgs["evaluator_cfg"]["restore_hint"] = int(restore_iteration)
    return cfgs



def config_digest(cfgs: Mapping[str, Any]) -> str:
    """The sha256 (hex) of a merged config, keys sorted: what the result tables and galleries record of it."""
    return hashlib.sha256(json.dumps(cfgs, sort_keys=True, default=str).encode()).hexdigest()
