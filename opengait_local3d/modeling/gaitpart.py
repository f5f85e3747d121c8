"""GaitPart (Fan et al., CVPR 2020): focal-conv frame features, horizontal parts, micro-motion capture."""
from __future__ import annotations

from typing import Mapping, Sequence

from torch import Tensor

from ..utils.checks import require
from ..utils.registry import build_from_cfg
from . import layers
from .backbones import build_backbone
from .init import opengait_init
from .network import GaitNetwork
from .pooling import HorizontalPooling
from .temporal import MicroMotionCapture


class GaitPart(GaitNetwork):
    """GaitPart with OpenGait's ``model_cfg`` keys.

    A per-frame Plain backbone (with focal convs), horizontal pooling into ``sum(bin_num)`` strips per frame,
    the micro-motion capture module over time, and one FC per part.

    Example ``model_cfg`` (OpenGait's ``configs/gaitpart/gaitpart.yaml``)::

        model: GaitPart
        backbone_cfg:
          type: Plain
          in_channels: 1
          layers_cfg: [BC-32, BC-32, M, FC-64-2, FC-64-2, M, FC-128-3, FC-128-3]
        SeparateFCs: {in_channels: 128, out_channels: 128, parts_num: 16}
        bin_num: [16]

    Forward: ``inputs = (ipts, labs, typs, vies, seqL)`` -> embeddings ``[n, out_channels, parts_num]``
    under ``training_feat.triplet`` and ``inference_feat``.
    """

    def __init__(self, backbone_cfg: Mapping, SeparateFCs: Mapping, bin_num: Sequence[int]):  # noqa: N803
        super().__init__()
        self.backbone = layers.use_channels_last(build_backbone(backbone_cfg, "backbone_cfg of GaitPart"))
        self.hpp = HorizontalPooling(bin_num)
        self.head = build_from_cfg(layers.SeparateFCs, SeparateFCs, "SeparateFCs of GaitPart")
        channels, parts = self.head.fc_bin.shape[1], self.head.parts_num
        require(self.backbone.out_channels == channels,
                f"GaitPart: SeparateFCs.in_channels must equal the backbone's {self.backbone.out_channels} channels")
        require(self.hpp.parts_num == parts, f"GaitPart: SeparateFCs.parts_num must be sum(bin_num) = {self.hpp.parts_num}")
        self.mcm = MicroMotionCapture(channels, parts)

    def init_parameters(self) -> None:
        """OpenGait's Xavier scheme, with per-part fans for the MCM convs (see :func:`opengait_init`)."""
        opengait_init(self)

    def encode(self, sils: Tensor) -> Tensor:
        """Part features of fixed-length clips: ``[n, s, h, w] -> [n, c, p]``."""
        n, s, h, w = sils.shape
        parts = self.hpp(self.backbone(sils.reshape(n * s, 1, h, w)))  # [n * s, c, p]
        return self.mcm(parts.view(n, s, *parts.shape[1:]).transpose(1, 2))

    def heads(self, features: Tensor) -> tuple[Tensor, None]:
        """One FC per part: ``[n, c, p] -> [n, out_channels, p]``; no logits."""
        return self.head(features), None
