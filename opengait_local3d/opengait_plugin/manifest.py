"""What install-plugin wrote into a checkout: one JSON file of paths and content hashes.

The manifest is how the installer knows a file is its own: it overwrites or removes a file only when
the file's hash still equals the hash it recorded, so nothing a user wrote or edited is lost.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..utils.atomic import atomic_write_text
from .checkout import PluginError

MANIFEST_NAME = ".opengait_local3d_plugin.json"


def text_hash(text: str) -> str:
    """SHA-256 of ``text`` as written (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(root: Path) -> dict[str, str]:
    """``{path relative to root (posix): sha256}`` of the files recorded; empty when none is.

    Raises:
        PluginError: the manifest exists but cannot be read.
    """
    path = root / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PluginError(
            f"{path}: unreadable ({error}); it records which files install-plugin wrote. Restore it, or "
            "delete it together with the files install-plugin wrote (opengait/modeling/models/"
            "opengait_local3d_plugin.py, configs/3dlocal/ and configs/3dlocal_*.yaml)."
        ) from error
    if not isinstance(files, dict):
        raise PluginError(f"{path}: 'files' should map paths to hashes, got {type(files).__name__}")
    return files


def write_manifest(root: Path, files: dict[str, str], version: str) -> None:
    """Record ``files``; remove the manifest when there is nothing left to record."""
    path = root / MANIFEST_NAME
    if not files:
        path.unlink(missing_ok=True)
        return
    record = {"written_by": f"opengait-local3d {version} install-plugin", "files": dict(sorted(files.items()))}
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")
