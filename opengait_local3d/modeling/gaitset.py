"""GaitSet (Chao et al., AAAI 2019): gait as a set of frames, pooled by max over the set."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from ..utils.checks import require
from ..utils.registry import build_from_cfg
from .backbones import make_layers
from .init import opengait_init
from . import layers
from .network import GaitNetwork
from .pooling import HorizontalPooling


def _set_block(in_channels: int, out_channels: int, first_kernel_size: int, pool: bool) -> nn.Sequential:
    """Two convs with LeakyReLU, then optionally a 2x2 max pooling."""
    specs = [f"BC-{out_channels}"] * 2 + (["M"] if pool else [])
    layers, _ = make_layers(specs, in_channels, first_kernel_size, "GaitSet block")
    return nn.Sequential(*layers)


class GaitSet(GaitNetwork):
    """GaitSet with OpenGait's ``model_cfg`` keys.

    Frame-level blocks run on every frame; after each block the frames are max-pooled into a set-level map
    that a parallel chain of set blocks refines (the "global" pipeline); horizontal pyramid pooling of the
    last frame-level set map and of the global map gives ``2 * sum(bin_num)`` parts, each mapped by its own FC.

    Example ``model_cfg`` (OpenGait's ``configs/gaitset/gaitset.yaml``)::

        model: GaitSet
        in_channels: [1, 32, 64, 128]
        SeparateFCs: {in_channels: 128, out_channels: 256, parts_num: 62}
        bin_num: [16, 8, 4, 2, 1]

    Forward: ``inputs = (ipts, labs, typs, vies, seqL)`` -> embeddings ``[n, out_channels, parts_num]``
    under ``training_feat.triplet`` and ``inference_feat``.
    """

    def __init__(self, in_channels: Sequence[int], SeparateFCs: Mapping, bin_num: Sequence[int]):  # noqa: N803
        super().__init__()
        require(len(in_channels) == 4, f"GaitSet: in_channels must list 4 channel counts, got {in_channels!r}")
        c0, c1, c2, c3 = in_channels
        self.set_block1 = _set_block(c0, c1, 5, pool=True)
        self.set_block2 = _set_block(c1, c2, 3, pool=True)
        self.set_block3 = _set_block(c2, c3, 3, pool=False)
        self.gl_block2 = _set_block(c1, c2, 3, pool=True)
        self.gl_block3 = _set_block(c2, c3, 3, pool=False)
        for block in (self.set_block1, self.set_block2, self.set_block3, self.gl_block2, self.gl_block3):
            layers.use_channels_last(block)
        self.hpp = HorizontalPooling(bin_num)
        self.head = build_from_cfg(layers.SeparateFCs, SeparateFCs, "SeparateFCs of GaitSet")
        require(self.head.fc_bin.shape[1] == c3,
                f"GaitSet: SeparateFCs.in_channels must equal in_channels[-1] = {c3}")
        require(self.head.parts_num == 2 * self.hpp.parts_num,
                f"GaitSet: SeparateFCs.parts_num must be 2 * sum(bin_num) = {2 * self.hpp.parts_num}")

    def init_parameters(self) -> None:
        """OpenGait's Xavier scheme (see :func:`opengait_init`)."""
        opengait_init(self)

    def encode(self, sils: Tensor) -> Tensor:
        """Set features of fixed-length clips: ``[n, s, h, w] -> [n, c3, 2 * sum(bin_num)]``."""
        n, s, h, w = sils.shape
        frames = self.set_block1(sils.reshape(n * s, 1, h, w))
        glob = self.gl_block2(_set_max(frames, n))
        frames = self.set_block2(frames)
        glob = self.gl_block3(glob + _set_max(frames, n))
        pooled = _set_max(self.set_block3(frames), n)
        glob = glob + pooled
        return torch.cat([self.hpp(pooled), self.hpp(glob)], -1)

    def heads(self, features: Tensor) -> tuple[Tensor, None]:
        """One FC per part: ``[n, c3, p] -> [n, out_channels, p]``; no logits."""
        return self.head(features), None


def _set_max(frames: Tensor, n: int) -> Tensor:
    """Max over the frames of each clip: ``[n * s, c, h, w] -> [n, c, h, w]``."""
    return frames.view(n, -1, *frames.shape[1:]).amax(1)

