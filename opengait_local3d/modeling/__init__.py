"""Host-free gait networks (Local3DCNN, GaitSet, GaitPart) and OpenGait's losses.

A network is a plain ``nn.Module`` built from OpenGait's ``model_cfg`` dict; the engine's ``BaseModel`` and
the OpenGait plugin each bind it as ``self.net``. Its ``forward`` takes OpenGait's input tuple
``(ipts, labs, typs, vies, seqL)`` and returns ``training_feat`` / ``visual_summary`` / ``inference_feat``.

>>> net = build_network({'model': 'GaitPart', 'backbone_cfg': {'type': 'Plain', 'layers_cfg': ['BC-8', 'M', 'FC-8-1']},
...                      'SeparateFCs': {'in_channels': 8, 'out_channels': 4, 'parts_num': 4}, 'bin_num': [4]})
>>> net.init_parameters()
"""
from __future__ import annotations

import difflib
from typing import Any, Mapping

from torch import nn

from .config import build_from_cfg
from .gaitpart import GaitPart
from .gaitset import GaitSet
from .local3dcnn import Local3DCNN
from .losses import LOSSES, CrossEntropyLoss, TripletLoss

#: model name (``model_cfg['model']``) -> network class
NETWORKS: dict[str, type[nn.Module]] = {"Local3DCNN": Local3DCNN, "GaitSet": GaitSet, "GaitPart": GaitPart}


def build_network(model_cfg: Mapping[str, Any]) -> nn.Module:
    """Build the network named by ``model_cfg['model']`` from the other keys of ``model_cfg``.

    Raises:
        ValueError: if ``model`` is missing or unknown, or a key is unknown to that model (with the closest
            accepted key as a suggestion), or a required key is missing, or the values are inconsistent.
    """
    if not isinstance(model_cfg, Mapping) or "model" not in model_cfg:
        raise ValueError("model_cfg must be a mapping with a 'model' key naming one of: " + ", ".join(NETWORKS))
    name = model_cfg["model"]
    if name not in NETWORKS:
        close = difflib.get_close_matches(str(name), list(NETWORKS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown model '{name}' in model_cfg{hint} (known: {', '.join(NETWORKS)})")
    kwargs = {key: value for key, value in model_cfg.items() if key != "model"}
    return build_from_cfg(NETWORKS[name], kwargs, f"model_cfg of {name}")


__all__ = ["NETWORKS", "build_network", "Local3DCNN", "GaitSet", "GaitPart", "TripletLoss", "CrossEntropyLoss", "LOSSES"]
