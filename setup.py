"""Build hook: ship the repository's top-level ``configs/`` inside the package as ``opengait_local3d/configs/``.

Metadata, dependencies and the console script are in setup.cfg. ``configs/`` stays the one source in the
repository; building a wheel (or ``pip install .``) copies it into the package, where
:mod:`opengait_local3d.resources` finds it, so every command runs from any folder without a checkout.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONFIGS = Path(__file__).resolve().parent / "configs"


class BuildWithConfigs(build_py):
    """``build_py``, then a copy of ``configs/`` into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "opengait_local3d" / "configs"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(CONFIGS, target)


setup(cmdclass={"build_py": BuildWithConfigs})
