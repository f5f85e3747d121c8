"""Local3DCNN (Huang et al., ICCV 2021): GaitPart's backbone with 3D local blocks, GLN's compact head."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import Tensor, nn

from ..local3d import FrameWise, Local3DBlock
from ..utils.checks import require
from ..utils.state_keys import adopting_pre_hook, layer_groups
from .backbones import make_layers
from .compact import Classifier, CompactBlock
from .layers import SeparateFCs, use_channels_last
from .local_paths import (LocalPathsNetwork, checked_local_blocks, local_block_options, pooled,
                          with_local_paths)
from .pooling import HorizontalPooling
from .temporal import MicroMotionCapture


def _global_path(in_channels: int, mid_channels: int, out_channels: int, first_kernel_size: int, halving: int) -> nn.Module:
    """Per-frame ``conv -> LeakyReLU -> conv -> LeakyReLU`` (focal convs if ``halving > 0``), ``[n, c, s, h, w]``."""
    specs = [f"FC-{c}-{halving}" for c in (mid_channels, out_channels)]
    layers, _ = make_layers(specs, in_channels, first_kernel_size, "Local3DCNN block")
    return FrameWise(use_channels_last(nn.Sequential(*layers)))


def _global_block(block: nn.Module) -> nn.Module:
    """A block's global path: the wrapped block of a :class:`Local3DBlock`, else the block itself."""
    return block.global_block if isinstance(block, Local3DBlock) else block


class Local3DCNN(LocalPathsNetwork):
    """The 3D Local CNN gait model.

    Three per-frame blocks of two 2-D convs with LeakyReLU (GaitPart's backbone, no BN; 2x2 max pooling between
    blocks); any subset of the blocks gets six (or fewer) 3D local paths around it
    (:class:`~opengait_local3d.local3d.Local3DBlock`). Then GaitPart's horizontal pooling (``bin_num`` strips,
    mean + max) and micro-motion capture over time, one FC per strip (part features ``[n, part_dim, p]``),
    GLN's compact block (compact embedding ``[n, compact_dim, 1]``) and a linear classifier (logits
    ``[n, class_num, 1]``). The triplet loss and inference use the part features (``embedding: parts``) or the
    compact embedding; with ``compact_detach`` the cross-entropy gradient stops at the part features, so the
    triplet loss alone trains the network below the head (OpenGait's GLN phase 1 in one run).

    ``model_cfg`` (defaults: the paper's CASIA-B 64x44 model; comments name the paper's tables)::

        model: Local3DCNN
        channels: [32, 32, 64, 64, 128, 128]  # C1..C6, two convs per block (OU-MVLP: doubled)
        local_blocks: [1, 2, 3]               # blocks with 3D local paths, 1-based (Table 3; [] = none)
        focal_halving: [0, 2, 3]              # focal convs per block (halving; 0: plain conv): GaitPart's
        local3d:                              # keyword options of every Local3DBlock
          parts: [head, torso, left_arm, right_arm, left_leg, right_leg]   # Table 5
          mode: mixture                       # gaussian | trilinear | mixture (Table 4)
          alignment: zoom                     # zoom | write
          feature_extraction: true            # Table 5, row f vs e
          priors: {head: {cy: 0.07}}          # per-part overrides of the prior volumes
        bin_num: [16]                         # horizontal strips
        part_dim: 128                         # output channels of the separate FCs
        compact_dim: 256                      # GLN's compact embedding size
        dropout: 0.9                          # GLN's compact-block dropout
        class_num: 74                         # training identities (CASIA-B 74, OU-MVLP 5153)
        embedding: compact                    # what triplet loss and inference use: compact | parts
        compact_detach: false                 # the compact block reads the part features detached (parts only):
                                              # cross-entropy then trains the compact block and classifier alone
        classifier_std: null                  # classifier init N(0, std^2) (the authors': 0.001); null: Xavier

    Forward: ``inputs = (ipts, labs, typs, vies, seqL)`` with silhouettes ``[n, s, h, w]`` (after the two
    poolings, ``h // 4`` must be divisible by every ``bin_num``) or packed ``[1, sum(s), h, w]`` with ``seqL``.
    In training mode ``visual_summary`` also holds, for every local block, per-part localization scalars and,
    while the blocks record (:func:`opengait_local3d.visuals.recording`), sample 0's sampled part volumes
    (see :func:`~opengait_local3d.visuals.summary.local_block_summary`).
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 32, 64, 64, 128, 128),
        local_blocks: Sequence[int] = (1, 2, 3),
        focal_halving: Sequence[int] = (0, 2, 3),
        local3d: Mapping[str, Any] | None = None,
        bin_num: Sequence[int] = (16,),
        part_dim: int = 128,
        compact_dim: int = 256,
        dropout: float = 0.9,
        class_num: int = 74,
        embedding: str = "compact",
        compact_detach: bool = False,
        classifier_std: float | None = None,
    ):
        super().__init__()
        require(len(channels) == 6 and all(int(c) > 0 for c in channels),
                f"Local3DCNN: channels must list 6 positive channel counts (C1..C6), got {list(channels)!r}")
        require(len(focal_halving) == 3 and min(focal_halving) >= 0,
                f"Local3DCNN: focal_halving must list 3 values >= 0, got {list(focal_halving)!r}")
        require(embedding in ("compact", "parts"), f"Local3DCNN: embedding must be 'compact' or 'parts', got {embedding!r}")
        require(not (compact_detach and embedding == "compact"),
                "Local3DCNN: compact_detach needs embedding: parts (with the compact embedding detached, no loss "
                "would train the network below the head)")
        self.local_blocks = checked_local_blocks(local_blocks, 3, "Local3DCNN")
        options = local_block_options(local3d, "Local3DCNN")
        self.embedding, self.compact_detach = embedding, bool(compact_detach)

        blocks, c_in = [], 1
        for index in range(3):
            c_mid, c_out = channels[2 * index], channels[2 * index + 1]
            block = _global_path(c_in, c_mid, c_out, 5 if index == 0 else 3, focal_halving[index])
            if index + 1 in self.local_blocks:
                block = with_local_paths(block, c_in, c_out, options, "Local3DCNN")
            blocks.append(block)
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.pool = FrameWise(nn.MaxPool2d(2))
        self.hpp = HorizontalPooling(bin_num)
        parts = self.hpp.parts_num
        self.mcm = MicroMotionCapture(c_in, parts)
        self.head = SeparateFCs(parts, c_in, part_dim)
        self.compact = CompactBlock(parts * part_dim, compact_dim, dropout)
        self.classifier = Classifier(compact_dim, class_num, classifier_std)
        self.register_load_state_dict_pre_hook(adopting_pre_hook)

    def adopt_checkpoint_keys(self, state: dict[str, Tensor], prefix: str) -> None:
        """Rename, in place, a GaitPart checkpoint's backbone keys (``backbone.<i>.conv.weight``) to this network's
        blocks, the k-th conv of GaitPart's backbone to the k-th of the global paths (``hpp``, ``mcm`` and ``head``
        share GaitPart's names). With ``embedding: parts`` and the local paths at their identity fusion, the
        network then computes GaitPart's embeddings (a warm start). Left alone unless the conv counts match."""
        source = layer_groups(sorted((k for k in state if k.startswith(prefix + "backbone.")),
                                     key=lambda k: int(k[len(prefix) + 9:].partition(".")[0])), prefix + "backbone.")
        targets = [f"blocks.{index}.{layer}" for index, block in enumerate(self.blocks)
                   for layer in layer_groups(list(_global_block(block).state_dict()), "")]
        if not source or len(source) != len(targets):
            return
        for old, new in zip(source, targets):
            for key in [k for k in state if k.startswith(f"{prefix}backbone.{old}.")]:
                state[f"{prefix}{new}{key[len(prefix) + 9 + len(old):]}"] = state.pop(key)

    def encode(self, sils: Tensor) -> Tensor:
        """Part features of fixed-length clips: ``[n, s, h, w] -> [n, C6, p]``."""
        x = sils.unsqueeze(1)
        for block in self.blocks[:-1]:
            x = pooled(block, x, self.pool)
        x = self.blocks[-1](x)
        # Pooled frame by frame: [n s, c, h, w] is a free view of the blocks' channels-last output, which 2-D
        # pooling reads natively (3-D pooling would first copy the whole map to contiguous memory).
        n, c, s, h, w = x.shape
        parts = self.hpp(x.transpose(1, 2).reshape(n * s, c, h, w))  # [n s, c, p]
        return self.mcm(parts.view(n, s, c, -1).transpose(1, 2))

    def heads(self, features: Tensor) -> tuple[Tensor, Tensor | None]:
        """Embeddings (``[n, part_dim, p]`` parts, or ``[n, compact_dim, 1]`` compact) and, in training, logits
        ``[n, class_num, 1]`` of part features ``[n, C6, p]`` (the classifier, and with the part embedding the
        compact block, only feed the loss: not run at inference)."""
        parts = self.head(features)  # [n, part_dim, p]
        if not self.training and self.embedding == "parts":
            return parts, None
        compact = self.compact(parts.detach() if self.compact_detach else parts)  # [n, compact_dim]
        logits = self.classifier(compact).unsqueeze(-1) if self.training else None
        return compact.unsqueeze(-1) if self.embedding == "compact" else parts, logits

