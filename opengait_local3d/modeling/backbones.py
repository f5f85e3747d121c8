"""OpenGait's ``Plain`` backbone, built from ``layers_cfg`` strings.

Layer strings (OpenGait's): ``BC-<c>`` a bias-free conv to ``c`` channels, ``FC-<c>-<halving>`` a focal conv
over ``2**halving`` strips, ``M`` a 2x2 max pooling. Every conv is followed by a LeakyReLU; the first conv
is 5x5 (padding 2), the others 3x3 (padding 1), all stride 1.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

from torch import nn

from ..utils.checks import require
from ..utils.registry import Registry
from .layers import FocalConv2d

_CONV_SPEC = re.compile(r"^(BC)-(\d+)$|^(FC)-(\d+)-(\d+)$")


def parse_conv_spec(spec: str, where: str) -> tuple[int, int]:
    """``'BC-32' -> (32, 0)``, ``'FC-64-2' -> (64, 2)``: output channels and halving.

    Raises:
        ValueError: naming ``where`` if ``spec`` is not ``BC-<c>`` or ``FC-<c>-<halving>``.
    """
    match = _CONV_SPEC.match(str(spec))
    if not match or int(match.group(2) or match.group(4)) < 1:
        raise ValueError(f"{where}: layer '{spec}' is not one of BC-<channels>, FC-<channels>-<halving>, M")
    if match.group(1):
        return int(match.group(2)), 0
    return int(match.group(4)), int(match.group(5))


def make_layers(layers_cfg: Sequence[str], in_channels: int, first_kernel_size: int, where: str) -> tuple[list[nn.Module], int]:
    """Build the layers of ``layers_cfg``; returns them and the output channel count.

    ``first_kernel_size`` applies to the first conv (5 at the network input, 3 inside the network).
    """
    require(not isinstance(layers_cfg, str) and bool(layers_cfg),
            f"{where}: layers_cfg must be a non-empty list of layer strings, got {layers_cfg!r}")
    layers: list[nn.Module] = []
    channels, kernel_size = in_channels, first_kernel_size
    for index, spec in enumerate(layers_cfg):
        if spec == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out_channels, halving = parse_conv_spec(spec, f"{where}[{index}]")
        # In place only on a plain conv's output: a focal conv returns a view of its stacked strips, and an
        # in-place op on a view makes autograd copy the whole gradient map in backward (CopySlices).
        layers += [FocalConv2d(channels, out_channels, kernel_size, halving, padding=kernel_size // 2),
                   nn.LeakyReLU(inplace=halving == 0)]
        channels, kernel_size = out_channels, 3
    return layers, channels


class Plain(nn.Sequential):
    """Per-frame 2-D backbone from OpenGait's ``layers_cfg``: ``[N, in_channels, h, w] -> [N, c, h', w']``.

    Args:
        layers_cfg: e.g. ``['BC-32', 'BC-32', 'M', 'FC-64-2', 'FC-64-2', 'M', 'FC-128-3', 'FC-128-3']``.
        in_channels: input channels (1 for silhouettes).
    """

    def __init__(self, layers_cfg: Sequence[str], in_channels: int = 1):
        layers, out_channels = make_layers(layers_cfg, in_channels, 5, "backbone_cfg.layers_cfg")
        super().__init__(*layers)
        self.out_channels = out_channels


#: ``backbone_cfg.type`` -> backbone
BACKBONES = Registry("backbone", "type", {"Plain": Plain})


def build_backbone(backbone_cfg: Mapping, where: str) -> nn.Module:
    """Build OpenGait's ``backbone_cfg`` (``type`` names the backbone, the other keys are its arguments)."""
    backbone = BACKBONES.build(backbone_cfg, where)
    require(backbone_cfg.get("in_channels", 1) == 1, f"{where}: in_channels must be 1 (silhouettes)")
    return backbone
