"""Paths a config names: the output folder of a run and the files it reads."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..resources import CONFIG_ROOT
from ..errors import ConfigError

__all__ = ["output_path", "resolve_path"]


def output_path(cfgs: Mapping[str, Any], training: bool) -> Path:
    """``<output_root>/<dataset_name>/<model>/<save_name>``, relative to the working directory like OpenGait."""
    data_cfg = cfgs["data_cfg"]
    if not isinstance(data_cfg, Mapping):
        raise ConfigError("data_cfg: a list of datasets (multi-dataset training) is not supported by this engine")
    engine_cfg = cfgs["trainer_cfg"] if training else cfgs["evaluator_cfg"]
    return (Path(cfgs["engine_cfg"]["output_root"]) / str(data_cfg["dataset_name"])
            / str(cfgs["model_cfg"]["model"]) / str(engine_cfg["save_name"]))


def resolve_path(value: str | Path, key: str) -> Path:
    """A path from the config: as given if it exists (relative to the working directory, like OpenGait),
    else relative to the folder holding the package's configs (so ``configs/partitions/...`` works from
    anywhere, installed or in a checkout; see :mod:`opengait_local3d.resources`).

    Raises:
        ConfigError: naming ``key`` and both places tried, if neither exists.
    """
    path = Path(value).expanduser()
    if path.exists():
        return path
    if not path.is_absolute() and (CONFIG_ROOT / path).exists():
        return CONFIG_ROOT / path
    places = dict.fromkeys([path.resolve()] + ([] if path.is_absolute() else [(CONFIG_ROOT / path).resolve()]))
    tried = " or ".join(map(str, places))
    raise ConfigError(f"{key}: {value} does not exist (looked for {tried})")
