"""Checkpoints at OpenGait's path, ``<save_path>/checkpoints/<save_name>-<iteration:05d>.pt``, written atomically.

A checkpoint holds OpenGait's keys ``model``, ``optimizer``, ``scheduler``, ``iteration`` and the engine's
``sampler`` (``next_batch``, ``seed``, ``world_size``: where sampling resumes) and ``scaler`` (AMP).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..utils.atomic import atomic_write
from .errors import CheckpointError

__all__ = ["checkpoint_path", "saved_iterations", "save_checkpoint", "load_checkpoint", "load_weights"]


def checkpoint_path(save_path: str | Path, save_name: str, iteration: int) -> Path:
    """OpenGait's checkpoint file of ``iteration``."""
    return Path(save_path) / "checkpoints" / f"{save_name}-{iteration:05d}.pt"


def saved_iterations(save_path: str | Path, save_name: str) -> list[int]:
    """The iterations of the checkpoints :func:`checkpoint_path` names under ``save_path``, ascending."""
    pattern = re.compile(rf"{re.escape(save_name)}-(\d+)\.pt")
    folder = Path(save_path) / "checkpoints"
    return sorted(int(m.group(1)) for p in folder.glob("*.pt") if (m := pattern.fullmatch(p.name)))


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename: ``path`` is never half written."""
    with atomic_write(path) as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """The checkpoint at ``path`` (tensors and plain values only: no code is unpickled).

    Raises:
        CheckpointError: if the file is missing (listing the iterations saved beside it), unreadable, or
            holds no ``model`` state.
    """
    path = Path(path)
    if not path.is_file():
        folder = path.parent
        saved = sorted(p.name for p in folder.glob("*.pt")) if folder.is_dir() else []
        hint = f" (saved there: {', '.join(saved)})" if saved else f" (no checkpoints in {folder})"
        raise CheckpointError(f"{path}: checkpoint not found{hint}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch.load raises many types on a truncated or foreign file
        raise CheckpointError(f"{path}: cannot read the checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path}: not a checkpoint (expected a dict with a 'model' state)")
    return state


def load_weights(module: nn.Module, path: str | Path, *, strict: bool, described: str, prefix: str = "",
                 map_location: torch.device | str = "cpu") -> tuple[dict[str, Any], Any]:
    """Load the ``model`` state of the checkpoint at ``path`` into ``module``.

    Args:
        strict: every key must fit (else what fits is loaded and the mismatch returned).
        described: what ``module`` is, for the message (the model name).
        prefix: removed from the checkpoint's keys (``"net."`` to load a host's checkpoint into its network).

    Returns:
        The checkpoint (optimizer, scheduler, iteration...) and ``load_state_dict``'s missing and unexpected keys.

    Raises:
        CheckpointError: as :func:`load_checkpoint`, or the state does not fit ``module`` (naming the file).
    """
    checkpoint = load_checkpoint(path, map_location=map_location)
    state = {key.removeprefix(prefix): value for key, value in checkpoint["model"].items()}
    try:
        result = module.load_state_dict(state, strict=strict)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: does not fit {described} as configured ({str(err).splitlines()[0]}); "
                              "set restore_ckpt_strict: false to load what fits") from None
    return checkpoint, result
