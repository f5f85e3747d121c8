"""install-plugin and uninstall-plugin: write and remove the shim and configs, never a user's file.

Convention:
    * A file is the installer's when the manifest records it. It is overwritten or removed only
      while its hash equals the recorded one; a file the user edited (say, to set dataset_root) is
      kept and reported.
    * A file the manifest does not record is the user's, unless its content is exactly what would be
      written (an install interrupted before its manifest was saved): install refuses, before
      writing anything, to replace one.
    * Installing twice changes nothing; uninstalling twice too.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..resources import CONFIG_DIR
from .checkout import REGISTRY_DIR, PluginError, resolve_opengait_root
from .configs import INSTALL_DIR, installed_paths, opengait_meant_configs, opengait_partitions, translate_config
from ..utils.atomic import atomic_write_text
from .manifest import file_hash, read_manifest, text_hash, write_manifest
from .shim import REGISTERED_MODELS, SHIM_FILENAME, render_shim


@dataclass(frozen=True)
class Action:
    """What happened (or, in a dry run, would happen) to one file, relative to the checkout root.

    ``outcome`` is one of ``wrote``, ``updated``, ``unchanged``, ``removed``, ``kept`` (changed by the
    user since it was written, so left alone) and ``gone`` (recorded, but already deleted).
    """

    path: str
    outcome: str

    def describe(self) -> str:
        notes = {
            "kept": "  (you changed it since install-plugin wrote it; left as it is)",
            "gone": "  (already deleted)",
        }
        return f"{self.outcome:>9}  {self.path}{notes.get(self.outcome, '')}"


def planned_files(root: Path, config_dir: Path = CONFIG_DIR) -> dict[str, str]:
    """``{path relative to root (posix): text}`` that install-plugin writes into the checkout ``root``."""
    files = {(REGISTRY_DIR / SHIM_FILENAME).as_posix(): render_shim(__version__)}
    partitions = opengait_partitions(root)
    for relative in opengait_meant_configs(config_dir):
        for target in installed_paths(relative):
            files[target.as_posix()] = translate_config(config_dir, relative, root, partitions, target)
    return files


def _rival_definitions(root: Path) -> list[str]:
    """Registry modules other than the shim that define a class named like one of ours."""
    pattern = re.compile(rf"^class ({'|'.join(REGISTERED_MODELS)})\b", re.MULTILINE)
    return [
        f"{path.relative_to(root)} defines class {match[1]}"
        for path in sorted((root / REGISTRY_DIR).glob("*.py"))
        if path.name != SHIM_FILENAME
        for match in [pattern.search(path.read_text(encoding="utf-8", errors="replace"))]
        if match
    ]


def _foreign_files(root: Path, planned: dict[str, str], recorded: dict[str, str]) -> list[str]:
    """Planned paths where a file exists that the installer did not write."""
    return [
        path for path, text in planned.items()
        if (root / path).exists() and path not in recorded and file_hash(root / path) != text_hash(text)
    ]


def install(opengait_root: str | os.PathLike | None, config_dir: Path = CONFIG_DIR,
            dry_run: bool = False) -> list[Action]:
    """Make ``Local3DCNN`` and ``GaitGLLocal3D`` visible to the OpenGait checkout's registry and copy our configs
    there.

    Args:
        opengait_root: the checkout; None reads ``$OPENGAIT_ROOT``.
        config_dir: our ``configs/`` folder.
        dry_run: say what would happen, change nothing.

    Returns:
        One :class:`Action` per file.

    Raises:
        PluginError: not an OpenGait checkout; a file in the way that the installer did not write;
            another registry module defining ``Local3DCNN`` or ``GaitGLLocal3D``; a config OpenGait cannot run.
    """
    root = resolve_opengait_root(opengait_root)
    recorded = read_manifest(root)
    planned = planned_files(root, config_dir)
    problems = [f"{path} exists and was not written by install-plugin"
                for path in _foreign_files(root, planned, recorded)]
    problems += _rival_definitions(root)
    if problems:
        raise PluginError(f"refusing to install into {root}, nothing was written:\n  " + "\n  ".join(problems)
                          + "\nMove those files away (or rename the class), then run install-plugin again.")
    actions, keep = [], {}
    for path, text in planned.items():
        target, new_hash = root / path, text_hash(text)
        current = file_hash(target) if target.exists() else None
        if current == new_hash:
            actions.append(Action(path, "unchanged"))
            keep[path] = new_hash
        elif current is None or current == recorded.get(path):
            actions.append(Action(path, "wrote" if current is None else "updated"))
            keep[path] = new_hash
            if not dry_run:
                atomic_write_text(target, text)
        else:
            actions.append(Action(path, "kept"))
            keep[path] = recorded[path]
    stale = {path: digest for path, digest in recorded.items() if path not in planned}
    actions += _remove(root, stale, keep, dry_run)
    if not dry_run:
        write_manifest(root, keep, __version__)
    return actions


def _remove(root: Path, recorded: dict[str, str], keep: dict[str, str], dry_run: bool) -> list[Action]:
    """Remove the recorded files still as written; add the edited ones to ``keep``."""
    actions = []
    for path, digest in sorted(recorded.items()):
        target = root / path
        if not target.exists():
            actions.append(Action(path, "gone"))
        elif file_hash(target) == digest:
            actions.append(Action(path, "removed"))
            if not dry_run:
                target.unlink()
                _remove_empty_folders(root, target.parent)
        else:
            actions.append(Action(path, "kept"))
            keep[path] = digest
    return actions


def _remove_empty_folders(root: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents while empty, within the installer's config folder only."""
    limit = root / INSTALL_DIR
    while (folder == limit or limit in folder.parents) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def uninstall(opengait_root: str | os.PathLike | None, dry_run: bool = False) -> list[Action]:
    """Remove what :func:`install` wrote and the user has not changed since; keep the rest.

    Returns:
        One :class:`Action` per recorded file (none when nothing is installed).
    """
    root = resolve_opengait_root(opengait_root)
    keep: dict[str, str] = {}
    actions = _remove(root, read_manifest(root), keep, dry_run)
    if not dry_run:
        write_manifest(root, keep, __version__)
    return actions
