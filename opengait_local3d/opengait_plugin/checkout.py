"""Find an OpenGait checkout and make sure it is one.

Convention:
    The checkout is the folder that holds ``opengait/`` and ``configs/`` (a clone of
    github.com/ShiqiYu/OpenGait); it is given as ``--opengait PATH`` or, failing that, by the
    environment variable ``OPENGAIT_ROOT``.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

OPENGAIT_ROOT_ENV = "OPENGAIT_ROOT"

#: Files every OpenGait checkout has; the plugin relies on each.
REQUIRED_FILES = (
    "opengait/main.py",
    "opengait/modeling/base_model.py",
    "opengait/modeling/models/__init__.py",
    "configs/default.yaml",
)
#: The registry's package: install-plugin writes its shim there.
REGISTRY_DIR = Path("opengait/modeling/models")


class PluginError(Exception):
    """install-plugin / uninstall-plugin refused; the message says why and what to do."""


def resolve_opengait_root(path: str | os.PathLike | None) -> Path:
    """The OpenGait checkout at ``path``, or at ``$OPENGAIT_ROOT`` when ``path`` is None.

    Raises:
        PluginError: neither is given, the folder does not exist, it lacks one of
            :data:`REQUIRED_FILES`, or its registry does not import every module of its folder
            (then a shim there would never be imported).
    """
    if path is None:
        path = os.environ.get(OPENGAIT_ROOT_ENV)
        if not path:
            raise PluginError(f"no OpenGait checkout given: pass --opengait PATH or set {OPENGAIT_ROOT_ENV}")
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise PluginError(f"{root}: no such folder (expected an OpenGait checkout)")
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise PluginError(
            f"{root} is not an OpenGait checkout: it lacks {', '.join(missing)}. Give the folder that holds "
            "opengait/ and configs/ (a clone of https://github.com/ShiqiYu/OpenGait)."
        )
    registry = (root / REGISTRY_DIR / "__init__.py").read_text(encoding="utf-8")
    if "iter_modules" not in registry:
        raise PluginError(
            f"{root / REGISTRY_DIR / '__init__.py'} no longer imports every module of its folder "
            "(no iter_modules); this plugin was written for a registry that does. See third_party/README.md."
        )
    return root


def checkout_commit(root: Path) -> str | None:
    """The commit checked out at ``root``, or None when it is not a git work tree (or git is absent)."""
    if not (root / ".git").exists():  # else git would answer for an enclosing repository
        return None
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None
