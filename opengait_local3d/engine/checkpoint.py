"""Checkpoints at OpenGait's path, ``<save_path>/checkpoints/<save_name>-<iteration:05d>.pt``, written atomically,
each with a sidecar ``<name>.pt.sha256`` (its size and SHA-256, written after it) that says whether it is whole.

A checkpoint holds OpenGait's keys ``model``, ``optimizer``, ``scheduler``, ``iteration`` and the engine's
``sampler`` (``next_batch``, ``seed``, ``world_size``: where sampling resumes), ``scaler`` (AMP) and
``model_cfg`` (what the network was built from, so that a misfit can say what differs).

A checkpoint that does not match its sidecar (truncated, damaged), or, without a sidecar (saved by an older
version, or a crash between the two writes), whose zip records fail their CRC, is *damaged*: restoring it says so
and names the newest good checkpoint before it. A save that fails (disk full, unwritable folder) leaves the
earlier checkpoints as they were and says how much space the checkpoint needs.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
import zipfile
from pathlib import Path
from typing import IO, Any, Mapping

import torch
from torch import nn

from ..utils.atomic import atomic_write, atomic_write_text
from ..utils.state_keys import adopt_keys
from ..errors import CheckpointError, OutputError

__all__ = ["checkpoint_path", "saved_iterations", "save_checkpoint", "load_checkpoint", "load_weights",
           "MISFITS_SHOWN", "sidecar_path", "damage", "newest_good", "resume_hint", "prune"]

#: the keys of each kind a misfit message lists (the rest are counted)
MISFITS_SHOWN = 10
#: how the files torch.save writes begin: a zip archive, or (before torch 1.6) a pickle
_TORCH_SAVE_FORMATS = (b"PK\x03\x04", b"\x80")
_HASH_CHUNK = 1 << 20


def checkpoint_path(save_path: str | Path, save_name: str, iteration: int) -> Path:
    """OpenGait's checkpoint file of ``iteration``."""
    return Path(save_path) / "checkpoints" / f"{save_name}-{iteration:05d}.pt"


def saved_iterations(save_path: str | Path, save_name: str) -> list[int]:
    """The iterations of the checkpoints :func:`checkpoint_path` names under ``save_path``, ascending."""
    pattern = re.compile(rf"{re.escape(save_name)}-(\d+)\.pt")
    folder = Path(save_path) / "checkpoints"
    return sorted(int(m.group(1)) for p in folder.glob("*.pt") if (m := pattern.fullmatch(p.name)))


def sidecar_path(path: str | Path) -> Path:
    """The file beside checkpoint ``path`` that records its size and SHA-256: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(f"{path.name}.sha256")


class _HashingWriter:
    """A write-only file object that hashes and counts what it passes on to ``handle``."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.size, self.digest = handle, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename (``path`` is never half written), then its
    :func:`sidecar_path` (without which the new checkpoint is removed again).

    Raises:
        OutputError: the file system refused the write (full, read-only, not permitted): the message says how much
            space the checkpoint needs and how much is free; the earlier checkpoints are untouched.
    """
    path = Path(path)
    try:
        with atomic_write(path) as handle:
            writer = _HashingWriter(handle)
            torch.save(state, writer)
        try:
            record = {"size": writer.size, "sha256": writer.digest.hexdigest()}
            atomic_write_text(sidecar_path(path), json.dumps(record))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    except (OSError, RuntimeError) as err:  # torch's zip writer turns a failed write into a RuntimeError
        cause = _os_error(err)
        if cause is None:
            raise
        raise OutputError(_unsaved(path, state, cause)) from None


def _os_error(err: BaseException | None) -> OSError | None:
    """The :class:`OSError` that ``err`` is or was raised while handling (``None`` if none)."""
    while err is not None and not isinstance(err, OSError):
        err = err.__cause__ or err.__context__
    return err


def _unsaved(path: Path, state: Mapping[str, Any], err: OSError) -> str:
    """The message of a save the file system refused: what failed, the space needed and free."""
    mb = 1 << 20
    free = f"{shutil.disk_usage(path.parent).free / mb:.1f} MB free" if path.parent.is_dir() else "folder missing"
    return (f"{path}: could not save the checkpoint ({err.strerror or err}); it needs about "
            f"{_state_bytes(state) / mb:.1f} MB ({free} in {path.parent}). The earlier checkpoints are intact; "
            "free some space (trainer_cfg.keep_last bounds how many checkpoints a run keeps) and resume")


def _state_bytes(value: Any) -> int:
    """The bytes of the tensors in a (nested) state: about the size of its checkpoint."""
    if torch.is_tensor(value):
        return value.numel() * value.element_size()
    if isinstance(value, Mapping):
        return sum(_state_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_state_bytes(v) for v in value)
    return 0


def damage(path: str | Path) -> str | None:
    """What is wrong with the checkpoint file at ``path`` (``None``: whole as far as can be told).

    With a sidecar: the size and then the SHA-256 must match it. Without one: a zip archive (what ``torch.save``
    writes) must pass its CRC checks; a legacy pickle checkpoint cannot be checked and counts as whole.
    """
    path = Path(path)
    size = path.stat().st_size
    try:
        record = json.loads(sidecar_path(path).read_text())
    except FileNotFoundError:
        return _zip_damage(path)
    except (OSError, ValueError):
        return f"its sidecar {sidecar_path(path).name} is unreadable"
    if size != record.get("size"):
        return f"{size} bytes where {record.get('size')} were written"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != record.get("sha256"):
        return "its bytes differ from those written (SHA-256 mismatch)"
    return None


def _zip_damage(path: Path) -> str | None:
    with path.open("rb") as handle:
        if not handle.read(4).startswith(_TORCH_SAVE_FORMATS[0]):
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f"not a whole zip archive ({err}): truncated?"
    return None if bad is None else f"its record {bad} fails its CRC check"


def newest_good(save_path: str | Path, save_name: str, before: int | None = None) -> int | None:
    """The newest iteration (below ``before`` if given) whose checkpoint is not damaged; ``None`` if there is none."""
    for iteration in reversed(saved_iterations(save_path, save_name)):
        if (before is None or iteration < before) and damage(checkpoint_path(save_path, save_name, iteration)) is None:
            return iteration
    return None


def resume_hint(save_path: str | Path, save_name: str, before: int | None = None) -> str:
    """A sentence naming the newest good checkpoint (before iteration ``before``) and how to resume it."""
    good = newest_good(save_path, save_name, before)
    before_it = "" if before is None else " before it"
    if good is None:
        return f"There is no good checkpoint{before_it} to resume: start over"
    return (f"The newest good checkpoint{before_it} is {checkpoint_path(save_path, save_name, good)}: resume it with "
            f"--iter {good} (trainer_cfg.restore_hint: {good})")


def prune(save_path: str | Path, save_name: str, keep_last: int) -> list[Path]:
    """Remove all but the newest ``keep_last`` checkpoints of ``save_name`` (0 keeps all) and their sidecars;
    returns the removed checkpoints."""
    saved = saved_iterations(save_path, save_name)
    removed = [checkpoint_path(save_path, save_name, i) for i in (saved[:-keep_last] if keep_last else [])]
    for path in removed:
        sidecar_path(path).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    return removed


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
    problem = damage(path)
    if problem:
        raise CheckpointError(f"{path}: damaged checkpoint ({problem}). {_earlier_hint(path)}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:  # an object other than tensors and plain values; torch's advice is
        found = re.search(r"GLOBAL (\S+)", str(err))  # for code that trusts the file, not for this command
        raise CheckpointError(f"{path}: not a checkpoint of tensors and plain values (it holds "
                              f"{found[1] if found else 'Python objects'}); only those are loaded") from None
    except Exception as err:  # torch.load raises many types on a truncated or damaged file
        raise CheckpointError(f"{path}: cannot read the checkpoint ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else 'damaged file'}). "
                              f"{_earlier_hint(path)}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path}: not a checkpoint (expected a dict with a 'model' state)")
    return state


def _earlier_hint(path: Path) -> str:
    """:func:`resume_hint` for the checkpoints saved before the run checkpoint ``path`` (any other file: none)."""
    named = re.fullmatch(r"(.+)-(\d+)\.pt", path.name)
    if not named or path.parent.name != "checkpoints":
        return "Restore another checkpoint"
    return resume_hint(path.parent.parent, named[1], before=int(named[2]))


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
