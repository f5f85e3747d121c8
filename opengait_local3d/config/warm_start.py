"""A training that warm-starts from another run's checkpoint (``trainer_cfg.restore_hint`` a path) whose checkpoint
does not exist yet: one message naming the run that makes it and the command to train it.

The staged recipes (``configs/3dlocal_casiab_phase1.yaml`` then ``configs/3dlocal_casiab.yaml``) restore OpenGait's
checkpoint path ``<output_root>/<dataset>/<model>/<save_name>/checkpoints/<save_name>-<iteration>.pt``; the config
that writes it is the one whose ``trainer_cfg.save_name`` is that ``save_name``, looked for beside the training's
own config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import CheckpointError

__all__ = ["check_warm_start", "ENGINE_TRAIN_COMMAND"]

#: how the message says to train a config in this package's engine
ENGINE_TRAIN_COMMAND = "python -m opengait_local3d.main --cfgs {config} --phase train"


def check_warm_start(cfgs: Mapping[str, Any], source: str, command: str = ENGINE_TRAIN_COMMAND) -> None:
    """Raise if the training's ``restore_hint`` is a checkpoint path that does not exist.

    Args:
        cfgs: the full config of a training.
        source: the config file it was read from (``<dict>`` for an in-memory config); the config that makes the
            checkpoint is looked for in its folder.
        command: the command that trains a config, ``{config}`` standing for its path.

    Raises:
        CheckpointError: the message names the missing file, the run it belongs to and, when a config beside
            ``source`` trains that run, the command that makes it.
    """
    hint = (cfgs.get("trainer_cfg") or {}).get("restore_hint")
    if not isinstance(hint, str) or Path(hint).is_file():
        return
    path = Path(hint)
    save_name, _, iteration = path.stem.rpartition("-")
    if path.parent.name != "checkpoints" or not save_name or not iteration.isdigit():
        raise CheckpointError(f"trainer_cfg.restore_hint: {hint}: checkpoint not found")
    maker = _config_saving(save_name, Path(source).parent if source != "<dict>" else None)
    how = (command.format(config=maker) if maker else
           f"train the config whose trainer_cfg.save_name is {save_name!r}")
    raise CheckpointError(f"trainer_cfg.restore_hint: {hint} does not exist yet: this training starts from "
                          f"iteration {int(iteration)} of the run {save_name!r} (a warm start). Make it first:\n  {how}")


def _config_saving(save_name: str, folder: Path | None) -> Path | None:
    """The yaml config in ``folder`` or one level below whose ``trainer_cfg.save_name`` is ``save_name``."""
    candidates = sorted([*folder.glob("*.yaml"), *folder.glob("*/*.yaml")]) if folder and folder.is_dir() else []
    for candidate in candidates:
        try:
            cfgs = yaml.safe_load(candidate.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(cfgs, dict) and (cfgs.get("trainer_cfg") or {}).get("save_name") == save_name:
            return candidate
    return None
