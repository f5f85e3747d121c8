"""A run's folder and its checkpoints, read once from the config; a training's hold on it.

:class:`RunFolder` is where a phase writes (``<output_root>/<dataset_name>/<model>/<save_name>``) and the name of
its checkpoints; :class:`RestoreHint` is ``restore_hint`` read once: an iteration of the run, or a checkpoint path.
The launcher builds both and hands them to what needs them.

:func:`claim` holds ``<save_path>/.train.lock`` for a training (rank 0's process under torchrun) and refuses to
start where checkpoints of the run's ``save_name`` exist, unless the training resumes the newest of them (``--iter``
/ ``restore_hint``) or was told to start over (``--restart``: the old run's files move to
``<save_path>.old-<date>``). Damaged checkpoints after the one resumed (see :func:`~.checkpoint.damage`) are renamed
``<name>.damaged`` so that the resumed training saves in their place. The lock file records the owner's pid, host,
start time and command; a lock whose process is gone (same host) is stale and taken over. What was moved or taken
over is returned as notes for the run's log.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..config.paths import output_path
from ..errors import ConfigError, OutputError
from .checkpoint import checkpoint_path, damage, newest_good, saved_iterations, sidecar_path

__all__ = ["RunFolder", "RestoreHint", "claim", "LOCK_NAME", "moved_aside_path"]

LOCK_NAME = ".train.lock"


@dataclass(frozen=True)
class RunFolder:
    """A phase's output folder, ``save_path``, and the name its checkpoints carry, ``save_name``."""

    save_path: Path
    save_name: str

    @classmethod
    def of(cls, cfgs: Mapping[str, Any], training: bool) -> RunFolder:
        """The run folder of the training (``trainer_cfg``) or test phase (``evaluator_cfg``) of ``cfgs``.

        Raises:
            ConfigError: ``data_cfg`` is a list (multi-dataset training).
        """
        engine_cfg = cfgs["trainer_cfg"] if training else cfgs["evaluator_cfg"]
        return cls(output_path(cfgs, training), engine_cfg["save_name"])

    def checkpoint(self, iteration: int) -> Path:
        """The checkpoint of ``iteration``: ``<save_path>/checkpoints/<save_name>-<iteration:05d>.pt``."""
        return checkpoint_path(self.save_path, self.save_name, iteration)

    def saved(self) -> list[int]:
        """The iterations whose checkpoints are saved, ascending."""
        return saved_iterations(self.save_path, self.save_name)

    def newest(self) -> int | None:
        """The newest iteration whose checkpoint is not damaged (``None``: none)."""
        return newest_good(self.save_path, self.save_name)


@dataclass(frozen=True)
class RestoreHint:
    """``restore_hint`` read once: resume ``iteration`` of this run (its sampling included), or start from the
    checkpoint at ``path`` (iterations counted from 0, as OpenGait does); neither: start from scratch."""

    iteration: int = 0
    path: str | None = None

    @classmethod
    def parse(cls, value: Any) -> RestoreHint:
        """The hint a config's ``restore_hint`` gives: an iteration (0, or any value equal to it: none) or a path.

        Raises:
            ConfigError: ``value`` is neither an integer nor a string.
        """
        if not isinstance(value, str) and value == 0:
            return cls()
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"restore_hint: expected an iteration or a checkpoint path, got {value!r}")
        return cls(path=value) if isinstance(value, str) else cls(iteration=value)

    @property
    def restores(self) -> bool:
        """Whether the hint names weights to restore."""
        return bool(self.iteration) or self.path is not None


@contextlib.contextmanager
def claim(folder: RunFolder, hint: RestoreHint, total_iter: int, restart: bool) -> Iterator[list[str]]:
    """Hold the run folder for the block, after checking that the training loses nothing; the block gets the notes
    to log (an old run moved aside, a stale lock taken over).

    Raises:
        OutputError: another live process holds the folder; checkpoints of ``save_name`` exist that the training
            would replace (it neither resumes the newest nor restarts); ``restart`` with an iteration to resume.
    """
    save_path = folder.save_path
    created = not save_path.exists()
    save_path.mkdir(parents=True, exist_ok=True)
    lock = save_path / LOCK_NAME
    try:
        notes = _acquire(lock)
    except OutputError:
        if created:
            save_path.rmdir()
        raise
    try:
        if restart:
            notes += _start_over(save_path, hint)
        else:
            notes += _check_nothing_is_replaced(folder, hint, total_iter)
        yield notes
    finally:
        _release(lock)
        if created and not any(save_path.iterdir()):
            save_path.rmdir()


def moved_aside_path(save_path: Path, when: float) -> Path:
    """Where ``--restart`` moves the old files of ``save_path``: ``<save_path>.old-<YYYYmmdd-HHMMSS>``."""
    return save_path.with_name(f"{save_path.name}.old-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}")


def _check_nothing_is_replaced(folder: RunFolder, hint: RestoreHint, total_iter: int) -> list[str]:
    """Refuse a training that would replace good checkpoints; rename the damaged ones it would replace (the notes
    say which)."""
    save_path, save_name = folder.save_path, folder.save_name
    saved = folder.saved()
    resumed = hint.iteration
    replaced = [i for i in saved if i > resumed] if resumed < total_iter else []
    if not replaced:
        return []
    if resumed and all(damage(folder.checkpoint(i)) for i in replaced):
        return [_set_damaged_aside(folder.checkpoint(i)) for i in replaced]
    listed = ", ".join(map(str, saved[-10:]))
    state = (f"resuming iteration {resumed} would replace those after it" if resumed
             else "a new training would replace them")
    raise OutputError(
        f"{save_path}: holds checkpoints of save_name '{save_name}' (iterations {'..., ' * (len(saved) > 10)}"
        f"{listed}); {state}. Resume the newest with --iter {saved[-1]} (trainer_cfg.restore_hint: {saved[-1]}), "
        f"start over with --restart (moves them to {moved_aside_path(save_path, time.time()).name}/), or set "
        "another trainer_cfg.save_name")


def _set_damaged_aside(path: Path) -> str:
    """Rename a damaged checkpoint (and its sidecar) to ``<name>.damaged``; the note to log."""
    aside = path.with_name(f"{path.name}.damaged")
    path.rename(aside)
    if sidecar_path(path).exists():
        sidecar_path(path).rename(sidecar_path(aside))
    return f"{path}: damaged; renamed {aside.name} (the resumed training saves in its place)"


def _start_over(save_path: Path, hint: RestoreHint) -> list[str]:
    """Move every file of ``save_path`` but the lock to :func:`moved_aside_path` (nothing to move: nothing done)."""
    if hint.iteration:
        raise OutputError(f"--restart starts the training over, but restore_hint / --iter asks to resume iteration "
                          f"{hint.iteration}: give one or the other")
    if hint.path is not None and Path(hint.path).resolve().is_relative_to(save_path.resolve()):
        raise OutputError(f"restore_hint: {hint.path} is inside the run folder that --restart moves aside; "
                          "copy the checkpoint elsewhere and point restore_hint at the copy")
    entries = [entry for entry in save_path.iterdir() if entry.name != LOCK_NAME]
    if not entries:
        return []
    aside = moved_aside_path(save_path, time.time())
    aside.mkdir()
    for entry in entries:
        entry.rename(aside / entry.name)
    return [f"--restart: the previous run's files are now in {aside}"]


def _acquire(lock: Path) -> list[str]:
    """Create ``lock`` holding this process's record, atomically; take over a stale one (said in the notes)."""
    record = {"pid": os.getpid(), "host": socket.gethostname(), "process_start": _process_start(os.getpid()),
              "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv),
              "launch": os.environ.get("TORCHELASTIC_RUN_ID")}
    draft = lock.with_name(f"{lock.name}.{uuid.uuid4().hex}")
    draft.write_text(json.dumps(record))
    notes = []
    try:
        for _ in range(3):
            try:
                os.link(draft, lock)  # fails if the lock exists: no two processes get it
                return notes
            except FileExistsError:
                owner = _read(lock)
                if not _stale(owner):
                    raise OutputError(_held_message(lock, owner)) from None
                notes += _take_over(lock, owner)
        raise OutputError(f"{lock}: could not take over this stale lock; remove it if no training runs there")
    finally:
        draft.unlink()


def _release(lock: Path) -> None:
    """Remove ``lock`` if this process still owns it."""
    owner = _read(lock)
    if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        lock.unlink(missing_ok=True)


def _read(lock: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _stale(owner: dict[str, Any] | None) -> bool:
    """Whether the lock's process is gone: an unreadable lock, or one of this host whose pid is not running
    (or runs a process started at another time: the pid was reused)."""
    if owner is None:
        return True
    if owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return False
    started = _process_start(owner["pid"])
    if started is None:
        return not _running(owner["pid"])
    return owner.get("process_start") not in (None, started)


def _take_over(lock: Path, owner: dict[str, Any] | None) -> list[str]:
    """Rename a stale lock away (one process wins the rename); the note says whose it was."""
    stale = lock.with_name(f"{lock.name}.stale-{uuid.uuid4().hex}")
    try:
        lock.rename(stale)
    except FileNotFoundError:  # another process took it over first; try again
        return []
    stale.unlink()
    who = f"pid {owner.get('pid')} on {owner.get('host')}, started {owner.get('started')}" if owner else "unreadable"
    return [f"{lock}: took over the lock of a training that is no longer running ({who})"]


def _held_message(lock: Path, owner: dict[str, Any] | None) -> str:
    where = "this host" if owner.get("host") == socket.gethostname() else f"host {owner.get('host')}"
    return (f"{lock.parent}: another training is writing to this run folder (pid {owner.get('pid')} on {where}, "
            f"started {owner.get('started')}: {owner.get('command')}). Wait for it, set another "
            f"trainer_cfg.save_name, or, if no such training runs any more, remove {lock}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc), or ``None`` if unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]
