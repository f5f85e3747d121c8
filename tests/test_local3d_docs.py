"""The docstring examples of the local3d modules run and print what they show."""
import doctest
import importlib

import pytest

MODULES = ["block", "filterbanks", "localization", "sampling", "writing"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"opengait_local3d.local3d.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
