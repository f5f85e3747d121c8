"""Every module's docstring examples run and show what they print."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import opengait_local3d

#: imported only inside an OpenGait process (its ``modeling.base_model`` must be importable)
OPENGAIT_ONLY = {"opengait_local3d.opengait_plugin.binding"}
MODULES = sorted(info.name for info in pkgutil.walk_packages(opengait_local3d.__path__, "opengait_local3d.")
                 if info.name not in OPENGAIT_ONLY)


def test_every_module_is_collected():
    assert {"opengait_local3d.local3d.block", "opengait_local3d.engine.data.transforms",
            "opengait_local3d.utils.registry"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
