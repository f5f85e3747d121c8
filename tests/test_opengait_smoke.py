"""Real OpenGait trains and tests our configs after install-plugin (``third_party/opengait_smoke.py``, on a copy
of OpenGait's source at the pinned commit, from ``$OPENGAIT_ROOT``). Marked ``needs_opengait``: skipped without
that repository; with it, this Python must import OpenGait's model registry (OpenGait's requirements:
torchvision, einops and those of its other models), else the test fails saying what is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parent.parent / "third_party" / "opengait_smoke.py"
_PROBE = ("import sys; sys.path.insert(0, sys.argv[1]); from opengait_smoke import import_torchvision; "
          "import_torchvision(); sys.path.insert(0, sys.argv[2]); import modeling.models")


@pytest.mark.needs_opengait(twin="test_plugin_binding.py::test_a_checkpoint_of_either_host_loads_in_the_other")
@pytest.mark.parametrize("config", ["3dlocal_casiab.yaml", "gaitgl_local3d_casiab.yaml"])
def test_opengait_trains_and_tests_the_installed_config(config, opengait_source, tmp_path):
    probe = subprocess.run([sys.executable, "-c", _PROBE, str(SMOKE.parent), str(opengait_source / "opengait")],
                           capture_output=True, text=True)
    assert probe.returncode == 0, ("$OPENGAIT_ROOT is set: OpenGait's models must import in this Python "
                                   f"({probe.stderr.strip().splitlines()[-1:]})")
    checkout = Path(shutil.copytree(opengait_source, tmp_path / "OpenGait"))
    result = subprocess.run([sys.executable, str(SMOKE), "--opengait", str(checkout),
                             "--config", f"configs/3dlocal/{config}"],
                            capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "rank-1 (%)  OpenGait  engine, same checkpoint" in result.stdout
