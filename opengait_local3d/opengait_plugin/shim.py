"""The module install-plugin writes into OpenGait's model registry.

OpenGait's ``opengait/modeling/models/__init__.py`` imports every module of its folder and exposes
every class each one holds, under the name it has in that module. The shim therefore holds exactly one
class, the binding :class:`~opengait_local3d.opengait_plugin.binding.OpenGaitHost` imported from the
installed package under the name ``Local3DCNN`` (what ``model_cfg.model`` says); exposing our GaitSet or
GaitPart there would replace OpenGait's own. No model code is copied into the checkout.
"""
from __future__ import annotations

SHIM_FILENAME = "opengait_local3d_plugin.py"
#: the names under which the shim exposes the binding in OpenGait's registry (``model_cfg.model``); each names a
#: network of :data:`opengait_local3d.modeling.NETWORKS`. OpenGait's own GaitSet and GaitPart stay OpenGait's.
REGISTERED_MODELS = ("Local3DCNN",)

_TEMPLATE = '''"""Local3DCNN (3D Local CNN for gait recognition, ICCV 2021) for OpenGait's model registry.

Written by `opengait-local3d install-plugin` (opengait-local3d {version}); remove it with
`opengait-local3d uninstall-plugin`. The model lives in the installed opengait_local3d package.
This module must hold no class but Local3DCNN: the registry exposes every class a module holds, by the
name it has here.
"""
try:
    from opengait_local3d.opengait_plugin.binding import OpenGaitHost as {model}
except ImportError as error:
    import warnings

    warnings.warn(
        f"Local3DCNN is not available to OpenGait: {{error}}. Install opengait-local3d into the Python "
        "that runs OpenGait (pip install -e /path/to/opengait-local3d), or remove this plugin with "
        "`opengait-local3d uninstall-plugin`.",
        stacklevel=2,
    )
'''


def render_shim(version: str) -> str:
    """Source text of the shim for package version ``version``."""
    (model,) = REGISTERED_MODELS
    return _TEMPLATE.format(version=version, model=model)
