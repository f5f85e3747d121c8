"""No silent skips: the only skipped tests are those marked ``needs_opengait`` or ``needs_cuda``, each with a twin
that runs here.

A test that needs OpenGait's own source is marked ``@pytest.mark.needs_opengait(twin="[file.py::]test_name")``;
``conftest.py`` skips it unless ``$OPENGAIT_ROOT`` holds the pinned commit. Its twin checks the same thing
against data stored in this repository (recorded names, golden fixtures), so CI without OpenGait still tests it.
A test that needs a GPU is marked ``needs_cuda`` likewise, skipped where torch sees none; its twin checks the same
computation on CPU.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _test_functions(path: Path) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test")}


#: the markers under which a test may be skipped (conftest.py)
SKIPPING_MARKERS = ("pytest.mark.needs_opengait", "pytest.mark.needs_cuda")


def _twin(function: ast.FunctionDef, marker: str) -> str | None:
    """The ``twin`` of the function's ``marker`` ('' if it has none), ``None`` if it does not carry the marker."""
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call else decorator
        if ast.unparse(target) == marker:
            twins = [kw.value.value for kw in (call.keywords if call else []) if kw.arg == "twin"]
            return twins[0] if twins else ""
    return None


@pytest.mark.parametrize("marker,least", [("pytest.mark.needs_opengait", 4), ("pytest.mark.needs_cuda", 3)])
def test_every_marked_test_names_a_twin_that_exists_and_runs_here(marker, least):
    """needs_opengait: at least the names file, the recorded keys, OpenGait's configs and the golden fixtures;
    needs_cuda: at least the block, the block under float16 autocast and the networks."""
    marked = {}
    for path in sorted(TESTS.glob("test_*.py")):
        for name, function in _test_functions(path).items():
            twin = _twin(function, marker)
            if twin is not None:
                marked[f"{path.name}::{name}"] = twin
    assert len(marked) >= least, marked
    for test, twin in marked.items():
        assert twin, f"{test}: {marker} without twin="
        file, _, name = twin.rpartition("::")
        twin_path = TESTS / (file or test.split("::")[0])
        twin_function = _test_functions(twin_path).get(name) if twin_path.is_file() else None
        assert twin_function is not None, f"{test}: its twin {twin} does not exist"
        assert all(_twin(twin_function, m) is None for m in SKIPPING_MARKERS), f"{test}: its twin {twin} may skip too"


def test_no_test_skips_itself():
    """Skips come only from the needs_opengait and needs_cuda markers (conftest.py), never from a test module."""
    for path in sorted(set(TESTS.glob("test_*.py")) - {Path(__file__).resolve()}):
        source = path.read_text()
        for call in ("pytest.skip(", "mark.skipif", "importorskip", "mark.skip(", "mark.xfail"):
            assert call not in source.replace("needs_opengait", ""), f"{path.name} uses {call}"
