"""Host-free gait networks (Local3DCNN, GaitSet, GaitPart, GaitGL, GaitGLLocal3D) and OpenGait's losses.

A network is a plain ``nn.Module`` built from OpenGait's ``model_cfg`` dict; the engine's ``BaseModel`` and
the OpenGait plugin each bind it as ``self.net``. Its ``forward`` takes OpenGait's input tuple
``(ipts, labs, typs, vies, seqL)`` and returns ``training_feat`` / ``visual_summary`` / ``inference_feat``.

>>> net = build_network({'model': 'GaitPart', 'backbone_cfg': {'type': 'Plain', 'layers_cfg': ['BC-8', 'M', 'FC-8-1']},
...                      'SeparateFCs': {'in_channels': 8, 'out_channels': 4, 'parts_num': 4}, 'bin_num': [4]})
>>> net.init_parameters()
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from ..utils.registry import Registry
from .gaitgl import GaitGL, GaitGLLocal3D
from .gaitpart import GaitPart
from .gaitset import GaitSet
from .local3dcnn import Local3DCNN
from .losses import LOSSES, CrossEntropyLoss, TripletLoss

#: ``model_cfg.model`` -> network class; the other ``model_cfg`` keys are its arguments
NETWORKS = Registry("model", "model", {"Local3DCNN": Local3DCNN, "GaitSet": GaitSet, "GaitPart": GaitPart,
                                       "GaitGL": GaitGL, "GaitGLLocal3D": GaitGLLocal3D})


def build_network(model_cfg: Mapping[str, Any]) -> nn.Module:
    """Build the network named by ``model_cfg['model']`` from the other keys of ``model_cfg``.

    Raises:
        ValueError: naming the key: ``model`` is missing or unknown, a key is unknown to that model (with the
            closest accepted key as a suggestion), a required key is missing, or the values are inconsistent.
    """
    return NETWORKS.build(model_cfg, "model_cfg")


__all__ = ["NETWORKS", "build_network", "Local3DCNN", "GaitSet", "GaitPart", "GaitGL", "GaitGLLocal3D", "TripletLoss",
           "CrossEntropyLoss", "LOSSES"]
