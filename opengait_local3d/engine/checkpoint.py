"""Checkpoints at OpenGait's path, ``<save_path>/checkpoints/<save_name>-<iteration:05d>.pt``, written atomically.

A checkpoint holds OpenGait's keys ``model``, ``optimizer``, ``scheduler``, ``iteration`` and the engine's
``sampler`` (``next_batch``, ``seed``, ``world_size``: where sampling resumes), ``scaler`` (AMP) and
``model_cfg`` (what the network was built from, so that a misfit can say what differs).
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..utils.atomic import atomic_write
from ..utils.state_keys import adopt_keys
from .errors import CheckpointError

__all__ = ["checkpoint_path", "saved_iterations", "save_checkpoint", "load_checkpoint", "load_weights", "describe_warm_start",
           "MISFITS_SHOWN"]

#: the keys of each kind a misfit message lists (the rest are counted)
MISFITS_SHOWN = 10
#: how the files torch.save writes begin: a zip archive, or (before torch 1.6) a pickle
_TORCH_SAVE_FORMATS = (b"PK\x03\x04", b"\x80")


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
        CheckpointError: if the file is missing (listing the iterations saved beside it), is not a file
            ``torch.save`` writes, holds objects other than tensors and plain values, or holds no ``model`` state.
    """
    path = Path(path)
    if not path.is_file():
        folder = path.parent
        saved = sorted(p.name for p in folder.glob("*.pt")) if folder.is_dir() else []
        hint = f" (saved there: {', '.join(saved)})" if saved else f" (no checkpoints in {folder})"
        raise CheckpointError(f"{path}: checkpoint not found{hint}")
    with path.open("rb") as handle:
        head = handle.read(16)
    if not head.startswith(_TORCH_SAVE_FORMATS):
        raise CheckpointError(f"{path}: not a checkpoint (torch.save writes a zip archive or a pickle; this file "
                              f"begins with {head!r})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:  # an object other than tensors and plain values; torch's advice is
        found = re.search(r"GLOBAL (\S+)", str(err))  # for code that trusts the file, not for this command
        raise CheckpointError(f"{path}: not a checkpoint of tensors and plain values (it holds "
                              f"{found[1] if found else 'Python objects'}); only those are loaded") from None
    except Exception as err:  # torch.load raises many types on a truncated or damaged file
        raise CheckpointError(f"{path}: cannot read the checkpoint ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else 'damaged file'})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path}: not a checkpoint (expected a dict with a 'model' state)")
    return state


def load_weights(module: nn.Module, path: str | Path, *, strict: bool, model_cfg: Mapping[str, Any],
                 prefix: str = "", map_location: torch.device | str = "cpu") -> tuple[dict[str, Any], Any]:
    """Load the ``model`` state of the checkpoint at ``path`` into ``module``.

    Keys of a related layout are renamed first, as ``module``'s own ``load_state_dict`` would
    (:func:`~opengait_local3d.utils.state_keys.adopt_keys`: a network without local paths, or GaitPart, warm-starts
    the global path of one with them).

    Args:
        strict: every key must fit. Otherwise (a warm start) the checkpoint's tensors must all find a place in
            ``module`` and the module's tensors that the checkpoint lacks keep their initial values (returned as
            missing keys): a tensor of the checkpoint is never skipped.
        model_cfg: the config ``module`` was built from, compared with the one the checkpoint records.
        prefix: removed from the checkpoint's keys (``"net."`` to load a host's checkpoint into its network).

    Returns:
        The checkpoint (optimizer, scheduler, iteration...) and ``load_state_dict``'s missing and unexpected keys.

    Raises:
        CheckpointError: as :func:`load_checkpoint`, or the state does not fit ``module``: the message lists the
            missing and unexpected keys and the tensors of other shapes, says which model (and ``model_cfg``) the
            checkpoint was saved with, and suggests ``restore_ckpt_strict: false`` only where it would load.
    """
    checkpoint = load_checkpoint(path, map_location=map_location)
    state = adopt_keys(module, {key.removeprefix(prefix): value for key, value in checkpoint["model"].items()})
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    reshaped = [f"{key}: checkpoint {list(state[key].shape)}, model {list(expected[key].shape)}"
                for key in expected if key in state and torch.is_tensor(state[key])
                and state[key].shape != expected[key].shape]
    if reshaped or unexpected or (strict and missing):
        raise CheckpointError(_misfit(path, model_cfg, checkpoint.get("model_cfg"), missing, unexpected, reshaped,
                                      len(expected) - len(missing) - len(reshaped), strict))
    return checkpoint, module.load_state_dict(state, strict=strict)


def describe_warm_start(tensors: int, missing: list[str], depth: int = 4) -> str:
    """What a non-strict restore of a network of ``tensors`` tensors did, ``missing`` those the checkpoint lacked:
    ``'loaded 40 tensor(s); new, not in the checkpoint: net.blocks.2.localization (12), net.classifier (1)'``
    (new tensors grouped by the first ``depth`` names of their keys)."""
    groups: dict[str, int] = {}
    for key in missing:
        module = ".".join(key.split(".")[:-1][:depth]) or key
        groups[module] = groups.get(module, 0) + 1
    fresh = ", ".join(f"{module} ({count})" for module, count in groups.items())
    return f"loaded {tensors - len(missing)} tensor(s); new, not in the checkpoint: {fresh or 'none'}"


def _misfit(path: Path | str, model_cfg: Mapping[str, Any], saved_cfg: Any, missing: list[str], unexpected: list[str],
            reshaped: list[str], fitting: int, strict: bool) -> str:
    """The message of a checkpoint that does not fit: what was expected and found, and what would help."""
    model = model_cfg.get("model")
    lines = [f"{path}: does not fit {model} as model_cfg configures it"]
    if isinstance(saved_cfg, Mapping):
        changed = [f"{key}: {saved_cfg.get(key)!r} (now {model_cfg.get(key)!r})"
                   for key in sorted(set(saved_cfg) | set(model_cfg)) if saved_cfg.get(key) != model_cfg.get(key)]
        lines.append("  it was saved with model_cfg " + ("; ".join(changed) if changed else "as now"))
    else:
        lines.append("  it does not record the model_cfg it was saved with (not saved by this engine)")
    for title, keys in (("missing from the checkpoint", missing), ("not in the model", unexpected),
                        ("of other shapes", reshaped)):
        if keys:
            shown = "; ".join(keys[:MISFITS_SHOWN]) + (f"; ... {len(keys) - MISFITS_SHOWN} more"
                                                       if len(keys) > MISFITS_SHOWN else "")
            lines.append(f"  {len(keys)} tensor(s) {title}: {shown}")
    if reshaped or unexpected:
        advice = "does not help" if not strict else "would not help"
        lines.append(f"  restore_ckpt_strict: false {advice} (it leaves tensors missing from the checkpoint as "
                     "initialised, never skips a tensor of the checkpoint or one of another shape): use the model_cfg "
                     "the checkpoint was trained with")
    else:
        lines.append(f"  restore_ckpt_strict: false loads the {fitting} tensor(s) that fit and leaves the others as "
                     "initialised")
    return "\n".join(lines)
