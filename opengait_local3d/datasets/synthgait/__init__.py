"""SynthGait: procedural walking silhouettes with CASIA-B's exact structure (the ``synth`` command).

An articulated 3D body (ellipsoid head and torso, tapered capsule limbs) walks with periodic joint
angles; each subject has its own proportions and gait style, each walk its own small variations and
covariate (bag or coat), each camera its own view drift, distance and segmentation noise. Frames are
projected, rasterised with OpenCV and normalised exactly as ``opengait-local3d pretreat`` does.
``realism=HARD`` (or ``"hard"``) makes it closer to real masks and harder: see :class:`Realism`.
"""
from .generate import TYPES, VIEWS, SynthGaitOutput, SynthGaitSpec, generate
from .realism import CLEAN, HARD, PRESETS, Realism

__all__ = ["CLEAN", "HARD", "PRESETS", "Realism", "TYPES", "VIEWS", "SynthGaitOutput", "SynthGaitSpec", "generate"]
