"""The engine's bindings of the host-free networks: ``model_cfg['model']`` -> a :class:`BaseModel` subclass.

Each binding holds its network as ``self.net`` (so checkpoints hold ``net.*`` keys, as with the OpenGait
plugin's binding) and forwards to it.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..modeling import build_network
from .base_model import BaseModel
from .errors import ConfigError, did_you_mean

__all__ = ["NetworkModel", "Local3DCNN", "GaitSet", "GaitPart", "MODELS", "get_model_class"]


class NetworkModel(BaseModel):
    """A :class:`BaseModel` whose network is ``build_network(model_cfg)`` from :mod:`opengait_local3d.modeling`."""

    def build_network(self, model_cfg: Mapping[str, Any]) -> None:
        try:
            self.net = build_network(model_cfg)
        except ValueError as err:
            raise ConfigError(f"model_cfg: {err}") from None

    def init_parameters(self) -> None:
        """The network's own initialisation scheme."""
        self.net.init_parameters()

    def forward(self, inputs: tuple) -> dict[str, Any]:
        try:
            return self.net(inputs)
        except ValueError as err:  # the network's own input checks, e.g. a map height the strips do not divide
            sils = inputs[0][0]
            raise ConfigError(f"model_cfg: {type(self.net).__name__} cannot take the silhouettes the data and "
                              f"transforms give ({'x'.join(map(str, sils.shape[-2:]))} pixels): {err}") from None


class Local3DCNN(NetworkModel):
    """The 3D Local CNN gait model (Huang et al., ICCV 2021)."""


class GaitSet(NetworkModel):
    """GaitSet (Chao et al., AAAI 2019), configured like OpenGait's ``gaitset.yaml``."""


class GaitPart(NetworkModel):
    """GaitPart (Fan et al., CVPR 2020), configured like OpenGait's ``gaitpart.yaml``."""


#: ``model_cfg['model']`` -> binding
MODELS: dict[str, type[BaseModel]] = {cls.__name__: cls for cls in (Local3DCNN, GaitSet, GaitPart)}


def get_model_class(name: Any) -> type[BaseModel]:
    """The binding called ``name``."""
    if not isinstance(name, str) or name not in MODELS:
        raise ConfigError(f"model_cfg.model: unknown model {name!r}{did_you_mean(str(name), MODELS)} "
                          f"(known: {', '.join(MODELS)})")
    return MODELS[name]
