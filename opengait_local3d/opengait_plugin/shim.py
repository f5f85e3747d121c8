"""The module install-plugin writes into OpenGait's model registry.

OpenGait's ``opengait/modeling/models/__init__.py`` imports every module of its folder and exposes
every class each one holds, under the name it has in that module. The shim therefore holds exactly the
binding :class:`~opengait_local3d.opengait_plugin.binding.OpenGaitHost`, imported from the installed package
once under each name of :data:`REGISTERED_MODELS` (what ``model_cfg.model`` says); exposing our GaitSet,
GaitPart or GaitGL there would replace OpenGait's own. No model code is copied into the checkout.
"""
from __future__ import annotations

SHIM_FILENAME = "opengait_local3d_plugin.py"
#: the names under which the shim exposes the binding in OpenGait's registry (``model_cfg.model``); each names a
#: network of :data:`opengait_local3d.modeling.NETWORKS` that OpenGait lacks. OpenGait's own GaitSet, GaitPart
#: and GaitGL stay OpenGait's: GaitGL with 3D local paths is ``GaitGLLocal3D``.
REGISTERED_MODELS = ("Local3DCNN", "GaitGLLocal3D")

_TEMPLATE = '''"""Local3DCNN (3D Local CNN for gait recognition, ICCV 2021) and GaitGLLocal3D (GaitGL with 3D local
paths) for OpenGait's model registry.

Written by `opengait-local3d install-plugin` (opengait-local3d {version}); remove it with
`opengait-local3d uninstall-plugin`. The models live in the installed opengait_local3d package.
It must hold no other class: the registry exposes every class a module holds, by the name it has here.
"""
try:
{imports}
except ImportError as error:
    import warnings

    warnings.warn(
        f"{names} are not available to OpenGait: {{error}}. Install opengait-local3d "
        "into the Python that runs OpenGait (pip install -e /path/to/opengait-local3d), or remove this plugin "
        "with `opengait-local3d uninstall-plugin`.",
        stacklevel=2,
    )
'''


def render_shim(version: str) -> str:
    """Source text of the shim for package version ``version``."""
    imports = "\n".join(f"    from opengait_local3d.opengait_plugin.binding import OpenGaitHost as {model}"
                        for model in REGISTERED_MODELS)
    return _TEMPLATE.format(version=version, names=" and ".join(REGISTERED_MODELS), imports=imports)
