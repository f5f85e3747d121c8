"""Real OpenGait trains and tests our configs after install-plugin (``third_party/opengait_smoke.py``, on a copy
of the checkout at ``$OPENGAIT_ROOT``). Skipped unless OpenGait's model registry imports in this Python (it
needs OpenGait's requirements: torchvision, einops and those of its other models)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parent.parent / "third_party" / "opengait_smoke.py"
ROOT = os.environ.get("OPENGAIT_ROOT")
_PROBE = ("import sys; sys.path.insert(0, sys.argv[1]); from opengait_smoke import import_torchvision; "
          "import_torchvision(); sys.path.insert(0, sys.argv[2]); import modeling.models")


def _why_not_runnable() -> str | None:
    if not ROOT or not (Path(ROOT) / "opengait" / "main.py").is_file():
        return "no OpenGait checkout at $OPENGAIT_ROOT"
    probe = subprocess.run([sys.executable, "-c", _PROBE, str(SMOKE.parent), str(Path(ROOT) / "opengait")],
                           capture_output=True, text=True)
    if probe.returncode:
        return f"OpenGait's models do not import in this Python: {probe.stderr.strip().splitlines()[-1]}"
    return None


REASON = _why_not_runnable()


@pytest.mark.skipif(REASON is not None, reason=str(REASON))
@pytest.mark.parametrize("config", ["3dlocal_casiab.yaml", "gaitgl_local3d_casiab.yaml"])
def test_opengait_trains_and_tests_the_installed_config(config, tmp_path):
    checkout = Path(shutil.copytree(ROOT, tmp_path / "OpenGait", ignore=shutil.ignore_patterns("output")))
    result = subprocess.run([sys.executable, str(SMOKE), "--opengait", str(checkout),
                             "--config", f"configs/3dlocal/{config}"],
                            capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "rank-1 (%)  OpenGait  engine, same checkpoint" in result.stdout
