"""GaitGL (Lin et al., ICCV 2021): global-local 3D convolutions, local temporal aggregation, GeM strips.

Written from the paper ("Gait Recognition via Effective Global-Local Feature Representation and Local Temporal
Aggregation") and from the facts of OpenGait's ``GaitGL`` (layers, sizes, heads), with 3D local paths as an
option (``local_blocks``), since GaitGL is a 3D CNN the 3D local block can wrap as it is.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils.checks import require
from .layers import SeparateFCs, merge_strips, split_strips
from .local_paths import LocalPathsNetwork, checked_local_blocks, local_block_options, pooled, with_local_paths
from .pooling import GeMPooling

#: combinations of a :class:`GLConv3d`'s global and local features
GL_COMBINES = ("add", "stack")


def conv3d(in_channels: int, out_channels: int, kernel_size: tuple[int, int, int] = (3, 3, 3),
           stride: tuple[int, int, int] = (1, 1, 1), padding: tuple[int, int, int] = (1, 1, 1)) -> nn.Conv3d:
    """A bias-free ``nn.Conv3d`` (GaitGL's convs have no bias and no BatchNorm)."""
    return nn.Conv3d(in_channels, out_channels, kernel_size, stride, padding, bias=False)


class GLConv3d(nn.Module):
    """GaitGL's global-local 3D convolution (GLConv).

    Two 3x3x3 convs of the same input: the global one over the whole map, the local one over each of
    ``2**halving`` horizontal strips alone (its padding never reads across a strip boundary; ``halving = 0``
    is the whole map), each followed by LeakyReLU, then combined:

    * ``'add'``: their sum, ``[n, c_in, s, h, w] -> [n, c_out, s, h, w]``;
    * ``'stack'``: both, stacked on channels, global first: ``[n, 2 c_out, s, h, w]``. GaitGL's last layer puts
      the two maps one above the other (:func:`stack_rows`); stacking on channels keeps the input's geometry,
      so a :class:`~opengait_local3d.local3d.Local3DBlock` can wrap this layer too.

    Raises:
        ValueError: in forward, if ``2**halving`` does not divide the map height.

    Example:
        >>> layer = GLConv3d(2, 4, halving=1, combine="stack")
        >>> layer(torch.randn(1, 2, 5, 8, 6)).shape
        torch.Size([1, 8, 5, 8, 6])
    """

    def __init__(self, in_channels: int, out_channels: int, halving: int, combine: str = "add"):
        super().__init__()
        require(isinstance(halving, int) and halving >= 0, f"GLConv3d: halving must be an int >= 0, got {halving!r}")
        require(combine in GL_COMBINES, f"GLConv3d: combine must be one of {', '.join(GL_COMBINES)}; got {combine!r}")
        self.halving, self.combine = halving, combine
        self.global_conv = conv3d(in_channels, out_channels)
        self.local_conv = conv3d(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        strips = 2**self.halving
        local = merge_strips(self.local_conv(split_strips(x, strips, f"GLConv3d (halving {self.halving})")), strips)
        features = (self.global_conv(x), local)
        if self.combine == "add":
            return F.leaky_relu(features[0]) + F.leaky_relu(features[1])
        return F.leaky_relu(torch.cat(features, 1))

    def extra_repr(self) -> str:
        return f"halving={self.halving}, combine={self.combine!r}"


def stack_rows(x: Tensor) -> Tensor:
    """The two halves of the channels one above the other: ``[n, 2c, ..., h, w] -> [n, c, ..., 2h, w]``.

    Example:
        >>> stack_rows(torch.arange(4.).view(1, 2, 1, 2)).tolist()
        [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    return x.unflatten(1, (2, -1)).movedim(1, -3).flatten(-3, -2)


def _stage(in_channels: int, out_channels: int, layers: int, halving: int, stacked: bool) -> nn.Module:
    """``layers`` GLConv3d in a row (the last one stacked if ``stacked``); one layer as itself."""
    convs = [GLConv3d(in_channels if k == 0 else out_channels, out_channels, halving,
                      "stack" if stacked and k == layers - 1 else "add") for k in range(layers)]
    return convs[0] if layers == 1 else nn.Sequential(*convs)


class GaitGL(LocalPathsNetwork):
    """GaitGL with OpenGait's ``model_cfg`` keys, and optional 3D local paths.

    A 3D conv stem, local temporal aggregation (LTA: a 3x1x1 conv of temporal stride 3, so ``s`` frames become
    ``s // 3``), three stages of global-local 3D convs (:class:`GLConv3d`; a 1x2x2 max pooling after the first)
    whose last layer stacks its global and local maps one above the other, a max over frames, GeM pooling of
    ``sum(bin_num)`` horizontal strips, one FC per strip, BatchNorm (the embedding ``[n, c, p]`` for the triplet
    loss and inference) and a per-strip classifier (logits ``[n, class_num, p]``). LeakyReLU after every conv;
    no bias, no BatchNorm in the backbone.

    ``channels`` picks OpenGait's layout (OpenGait picks it by dataset name):

    * three counts ``[C0, C1, C2]`` (CASIA-B): a one-conv stem; stages of one GLConv3d each with 8 strips
      (``halving`` 3): ``C0 -> C1``, pool, ``C1 -> C2``, ``C2 -> C2``;
    * four counts ``[C0, C1, C2, C3]`` (OU-MVLP, GREW): a two-conv stem; stages of two GLConv3d each with 2 strips
      (``halving`` 1): ``C0 -> C1``, pool, ``C1 -> C2``, ``C2 -> C3``.

    ``model_cfg`` (defaults: OpenGait's ``configs/gaitgl/gaitgl.yaml``, CASIA-B 64x44)::

        model: GaitGL
        channels: [32, 64, 128]      # OU-MVLP: [32, 64, 128, 256]
        class_num: 74                # training identities (OU-MVLP 5153)
        bin_num: [64]                # GeM strips of the stacked map (64 x 44 input: 64 rows of 22)
        local_blocks: []             # stages with 3D local paths, 1-based ([1, 2, 3]: all)
        local3d: {}                  # keyword options of every Local3DBlock, as in Local3DCNN

    With ``local_blocks``, each listed stage becomes the global path of a
    :class:`~opengait_local3d.local3d.Local3DBlock`: its parts are localized on the stage's output, sampled from
    its input (after LTA, so in ``s // 3`` frames), and fused back. The last stage is wrapped with its global and
    local maps stacked on channels (``2 C`` channels), before they are put one above the other.

    Forward: ``inputs = (ipts, labs, typs, vies, seqL)`` with silhouettes ``[n, s, h, w]`` (``h / 2`` must be
    divisible by the strip count, and ``h``, the rows of the stacked map, by every ``bin_num``) or packed
    ``[1, sum(s), h, w]`` with ``seqL``.
    Clips of fewer than 3 frames are repeated to 3 or 4 frames, as OpenGait does. In training mode
    ``visual_summary`` holds the local blocks' localization (as Local3DCNN's).
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 128),
        class_num: int = 74,
        bin_num: Sequence[int] = (64,),
        local_blocks: Sequence[int] = (),
        local3d: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        require(len(channels) in (3, 4) and all(isinstance(c, int) and c > 0 for c in channels),
                f"GaitGL: channels must list 3 (CASIA-B) or 4 (OU-MVLP) positive channel counts, "
                f"got {list(channels)!r}")
        name = type(self).__name__
        self.local_blocks = checked_local_blocks(local_blocks, 3, name)
        options = local_block_options(local3d, name)
        wide = len(channels) == 4
        c0, c1, c2 = channels[:3]
        stem = [conv3d(1, c0), nn.LeakyReLU(inplace=True)]
        if wide:
            stem += [conv3d(c0, c0), nn.LeakyReLU(inplace=True)]
        self.stem = nn.Sequential(*stem)
        self.lta = nn.Sequential(conv3d(c0, c0, (3, 1, 1), (3, 1, 1), (0, 0, 0)), nn.LeakyReLU(inplace=True))
        layers, halving = (2, 1) if wide else (1, 3)
        sizes = [(c0, c1), (c1, c2), (c2, channels[-1])]
        blocks = []
        for index, (c_in, c_out) in enumerate(sizes, start=1):
            block = _stage(c_in, c_out, layers, halving, stacked=index == 3)
            if index in self.local_blocks:
                block = with_local_paths(block, c_in, c_out * (2 if index == 3 else 1), options, name)
            blocks.append(block)
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool3d((1, 2, 2))
        self.gem = GeMPooling(bin_num)
        parts, c = self.gem.parts_num, channels[-1]
        self.head = SeparateFCs(parts, c, c)
        self.bn = nn.BatchNorm1d(c)
        self.classifier = SeparateFCs(parts, c, class_num)

    def encode(self, sils: Tensor) -> Tensor:
        """GeM strip features of fixed-length clips: ``[n, s, h, w] -> [n, c, p]``."""
        x = sils.unsqueeze(1)  # [n, 1, s, h, w]
        if x.shape[2] < 3:  # LTA needs 3 frames
            x = x.repeat(1, 1, 3 if x.shape[2] == 1 else 2, 1, 1)
        x = self.lta(self.stem(x))
        x = pooled(self.blocks[0], x, self.pool)
        x = self.blocks[2](self.blocks[1](x))  # [n, 2c, s // 3, h / 2, w / 2]
        return self.gem(stack_rows(x.amax(2)))  # max over frames, global rows above local: [n, c, h, w / 2]

    def heads(self, features: Tensor) -> tuple[Tensor, Tensor | None]:
        """Embeddings ``[n, c, p]`` (one FC per strip, BatchNorm) and, in training, their logits ``[n, class_num, p]``
        (the classifier only feeds the loss)."""
        embeddings = self.bn(self.head(features))
        return embeddings, self.classifier(embeddings) if self.training else None


class GaitGLLocal3D(GaitGL):
    """:class:`GaitGL` with 3D local paths on all three stages by default (``model: GaitGLLocal3D``).

    The same network and ``model_cfg`` keys as GaitGL; only ``local_blocks`` defaults to ``[1, 2, 3]``. Its own
    name keeps it apart from GaitGL in OpenGait's registry (where ``GaitGL`` is OpenGait's) and in output folders.
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 128),
        class_num: int = 74,
        bin_num: Sequence[int] = (64,),
        local_blocks: Sequence[int] = (1, 2, 3),
        local3d: Mapping[str, Any] | None = None,
    ):
        super().__init__(channels, class_num, bin_num, local_blocks, local3d)
