"""3D Local CNN for gait recognition (Huang et al., ICCV 2021).

Layers, each importing only the ones before it:

* :mod:`opengait_local3d.local3d`: the 3D local operation (framework-free, torch only).
* :mod:`opengait_local3d.utils`: small shared helpers (checks, registries, atomic writes) for the layers below.
* :mod:`opengait_local3d.modeling`: host-free gait networks (Local3DCNN, GaitSet, GaitPart, GaitGL, GaitGLLocal3D)
  and losses;
  :mod:`opengait_local3d.visuals`: what their 3D local blocks attend to, drawn and summarised.
* :mod:`opengait_local3d.datasets`: silhouettes in OpenGait's pkl layout, and SynthGait.
* :mod:`opengait_local3d.engine`: the embedded OpenGait-compatible host (CPU or GPU, torchrun).
* :mod:`opengait_local3d.opengait_plugin`: the same networks as a plugin of an OpenGait checkout.
* :mod:`opengait_local3d.tools`: the ``opengait-local3d`` commands; :mod:`opengait_local3d.resources`: the configs.
"""

__version__ = "0.1.0"
