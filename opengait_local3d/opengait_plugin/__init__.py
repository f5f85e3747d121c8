"""Local3DCNN and GaitGLLocal3D (GaitGL with 3D local paths) as registry plugins of an OpenGait checkout.

* :mod:`.checkout`: find an OpenGait checkout (``--opengait PATH`` or ``$OPENGAIT_ROOT``) and check it is one.
* :mod:`.names`: the names OpenGait defines at the pinned commit (``config/opengait_names.json``) and a config check.
* :mod:`.shim`: the module written into ``opengait/modeling/models/``, holding the binding under our model names.
* :mod:`.configs`: our OpenGait-meant configs as placed in the checkout (``configs/3dlocal/``, and the paper's
  main configs at ``configs/``).
* :mod:`.manifest`: what was written, with hashes, so no user file is ever overwritten or removed.
* :mod:`.installer`: :func:`install` and :func:`uninstall`.
* :mod:`.binding`: our networks on OpenGait's ``BaseModel`` (``OpenGaitHost``, registered as ``Local3DCNN`` and
  ``GaitGLLocal3D``);
  imported only inside OpenGait's process, so this package does not import it.
"""
from .checkout import OPENGAIT_ROOT_ENV, PluginError, resolve_opengait_root
from .installer import Action, install, uninstall
from .names import OpenGaitNames, config_problems, load_opengait_names

__all__ = [
    "OPENGAIT_ROOT_ENV",
    "Action",
    "OpenGaitNames",
    "PluginError",
    "config_problems",
    "install",
    "load_opengait_names",
    "resolve_opengait_root",
    "uninstall",
]
