"""3D Local CNN for gait recognition (Huang et al., ICCV 2021).

Layers, each importing only the ones before it:

* :mod:`opengait_local3d.local3d`: the 3D local operation (framework-free, torch only).
* :mod:`opengait_local3d.modeling`: host-free gait networks (Local3DCNN, GaitSet, GaitPart) and losses.
* :mod:`opengait_local3d.engine`: the embedded OpenGait-compatible host (CPU or GPU, torchrun).
* :mod:`opengait_local3d.tools`: command-line tools (SynthGait, pretreatment, visualisation, plugin).
"""
from pathlib import Path

__version__ = "0.1.0"

#: Repository root of an editable install; ``configs/`` lives there.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "configs"
