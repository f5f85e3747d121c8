"""No silent skips: the only skipped tests are those marked ``needs_opengait``, each with a twin that runs here.

A test that needs OpenGait's own source is marked ``@pytest.mark.needs_opengait(twin="[file.py::]test_name")``;
``conftest.py`` skips it unless ``$OPENGAIT_ROOT`` holds the pinned commit. Its twin checks the same thing
against data stored in this repository (recorded names, golden fixtures), so CI without OpenGait still tests it.
"""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _test_functions(path: Path) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test")}


def _needs_opengait_twin(function: ast.FunctionDef) -> str | None:
    """The ``twin`` of the function's ``needs_opengait`` marker ('' if it has none), ``None`` if unmarked."""
    for decorator in function.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call else decorator
        if ast.unparse(target) == "pytest.mark.needs_opengait":
            twins = [kw.value.value for kw in (call.keywords if call else []) if kw.arg == "twin"]
            return twins[0] if twins else ""
    return None


def test_every_test_needing_opengait_names_a_twin_that_exists():
    marked = {}
    for path in sorted(TESTS.glob("test_*.py")):
        for name, function in _test_functions(path).items():
            twin = _needs_opengait_twin(function)
            if twin is not None:
                marked[f"{path.name}::{name}"] = twin
    assert len(marked) >= 4, marked  # the names file, the recorded keys, OpenGait's configs, the golden fixtures
    for test, twin in marked.items():
        assert twin, f"{test}: needs_opengait without twin="
        file, _, name = twin.rpartition("::")
        twin_path = TESTS / (file or test.split("::")[0])
        twin_function = _test_functions(twin_path).get(name) if twin_path.is_file() else None
        assert twin_function is not None, f"{test}: its twin {twin} does not exist"
        assert _needs_opengait_twin(twin_function) is None, f"{test}: its twin {twin} needs OpenGait too"


def test_no_test_skips_itself():
    """Skips come only from the needs_opengait marker (conftest.py), never from a test module."""
    for path in sorted(set(TESTS.glob("test_*.py")) - {Path(__file__).resolve()}):
        source = path.read_text()
        for call in ("pytest.skip(", "mark.skipif", "importorskip", "mark.skip(", "mark.xfail"):
            assert call not in source.replace("needs_opengait", ""), f"{path.name} uses {call}"
