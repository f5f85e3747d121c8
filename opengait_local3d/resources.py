"""Where the package finds its configs, installed from a wheel or run from a checkout.

The repository's top-level ``configs/`` is the source. Building a wheel copies it into the package as
``opengait_local3d/configs/`` (``setup.py``), so ``pip install .`` and wheels carry every config; an
editable install and a checkout read the top-level folder itself. :data:`CONFIG_DIR` is the first of the
two that exists.

Config values such as ``dataset_partition: configs/partitions/CASIA-B.json`` are relative to the folder
holding ``configs/`` (:data:`CONFIG_ROOT`) when they do not exist relative to the working directory.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIG_DIR", "CONFIG_ROOT"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATES = (_PACKAGE_DIR / "configs", _PACKAGE_DIR.parent / "configs")

#: the configs: the wheel's copy, else the checkout's ``configs/``
CONFIG_DIR: Path = next((path for path in _CANDIDATES if (path / "default.yaml").is_file()), _CANDIDATES[1])
#: the folder that holds :data:`CONFIG_DIR`; config paths like ``configs/partitions/...`` are relative to it
CONFIG_ROOT: Path = CONFIG_DIR.parent
