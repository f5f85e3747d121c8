"""The networks' initialisation scheme (OpenGait's ``BaseModel.init_parameters``, plus module-specific parts)."""
from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

_XAVIER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def opengait_init(network: nn.Module) -> None:
    """Initialise ``network`` in place.

    First OpenGait's pass: Xavier-uniform weights and zero biases for every conv and Linear, BatchNorm
    weights ~ N(1, 0.02) and zero biases. Then every submodule that defines ``init_parameters()`` re-applies
    its own scheme (per-part Xavier fans, the localization heads' prior init), so the result does not
    depend on what ran before, e.g. OpenGait's host running its own pass first.
    """
    for module in network.modules():
        if isinstance(module, _XAVIER_TYPES):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, _BatchNorm) and module.affine:
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)
    for module in network.modules():
        if module is not network and callable(getattr(module, "init_parameters", None)):
            module.init_parameters()
