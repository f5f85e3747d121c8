"""Feature fusion (Sec. 3.2.4): concatenate global and local features, conv 1x1x1 + ReLU."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: initialisations of the fusion conv (see :class:`Fusion`)
FUSION_INITS = ("identity", "default", "gate")
#: activations after the fusion conv (see :class:`Fusion`)
FUSION_ACTIVATIONS = ("relu", "none")


class Fusion(nn.Module):
    """``ReLU(conv1x1x1(cat[global, local_1, ..., local_P]))`` back to the global width (the paper's fusion).

    The concatenation is never built: the 1x1x1 conv over the concatenated channels equals the sum of
    1x1x1 convs of each path with its slice of the weight (docs/design.md, 'Feature extraction and fusion'),
    which saves a copy of every path's features.

    Args:
        global_channels: channels of the global path, and of the output.
        local_channels: channels of each local path.
        path_names: names of the local paths, in order (used by :meth:`weights_per_path`).
        init: ``'identity'``: the global channels pass through unchanged and the local weights and the bias
            start at zero, so the block starts as its global path followed by a ReLU and the local paths can
            only add to it; ``'default'``: the conv keeps its own initialisation (torch's, or a host's);
            ``'gate'``: as ``'identity'`` on the global channels and the bias, the local weights keep their own
            initialisation, and a learnable scalar :attr:`gate` that starts at zero multiplies the local term
            (ReZero): the block starts as its global path, and the local paths' weights get gradient as the gate
            opens (with ``'identity'`` they start at zero instead, and the gate would stay shut).
        activation: ``'relu'`` (the paper) or ``'none'``: no activation, so that with the identity init the block
            starts as exactly its global path even where that path ends in a LeakyReLU (GaitPart's backbone),
            whose negative outputs a ReLU would clip: a network warm-started from one without local paths then
            computes that network's features at step 0.

    Shape:
        - Input: global ``[n, c_g, T, H, W]`` and ``P`` local tensors ``[n, c_l, T, H, W]``.
        - Output: ``[n, c_g, T, H, W]``.
    """

    def __init__(self, global_channels: int, local_channels: int, path_names: Sequence[str], init: str = "identity",
                 activation: str = "relu"):
        super().__init__()
        if init not in FUSION_INITS:
            raise ValueError(f"fusion init must be one of {', '.join(FUSION_INITS)}; got {init!r}")
        if activation not in FUSION_ACTIVATIONS:
            raise ValueError(f"fusion activation must be one of {', '.join(FUSION_ACTIVATIONS)}; got {activation!r}")
        self.activation = activation
        self.path_names = ("global", *path_names)
        self.widths = (global_channels,) + (local_channels,) * len(path_names)
        self.conv = nn.Conv3d(sum(self.widths), global_channels, 1)
        #: the local term's learnable factor (``init='gate'`` only, else ``None``)
        self.gate = nn.Parameter(torch.zeros(())) if init == "gate" else None
        self.init = init
        self.reset_parameters()
        #: after each training forward of :meth:`combine` (``write`` alignment): the root mean square over the first
        #: sequence's voxels and channels of the global term ``conv_global(global) + bias`` and of the local term (the
        #: parts' written sum), 0-d and detached: how much the local paths move the block's output (empty otherwise;
        #: one sequence of the batch, so that the diagnostic costs a small share of a step)
        self.last_contribution: dict[str, Tensor] = {}

    def reset_parameters(self) -> None:
        """Apply :attr:`init` (nothing to do for ``'default'``)."""
        if self.init == "default":
            return
        c_g = self.widths[0]
        with torch.no_grad():
            self.conv.bias.zero_()
            self.conv.weight[:, :c_g].view(c_g, c_g).copy_(torch.eye(c_g))
            if self.gate is None:
                self.conv.weight[:, c_g:].zero_()
            else:
                self.gate.zero_()

    def _weight(self) -> Tensor:
        """The conv's weight as a matrix ``[c_g, sum of widths]``, the local columns times :attr:`gate` if any."""
        weight = self.conv.weight.flatten(1)
        if self.gate is None:
            return weight
        c_g = self.widths[0]
        return torch.cat([weight[:, :c_g], weight[:, c_g:] * self.gate], dim=1)

    def _slices(self) -> list[slice]:
        ends = [sum(self.widths[: k + 1]) for k in range(len(self.widths))]
        return [slice(end - width, end) for end, width in zip(ends, self.widths)]

    def forward(self, global_features: Tensor, local_features: Sequence[Tensor], *, activate: bool = True) -> Tensor:
        """The fusion of the global features ``[n, c_g, T, H, W]`` and the ``P`` local paths' ``[n, c_l, T, H, W]``;
        without ``activate``, the conv's output before the activation (see :meth:`activate`)."""
        if len(local_features) != len(self.widths) - 1:
            raise ValueError(f"Fusion expects {len(self.widths) - 1} local tensors, got {len(local_features)}")
        slices = self._slices()
        weight = self._weight()  # [c_g, sum of widths]
        # A 1x1x1 conv is a GEMM over the voxels in channels-last order: on channels-last-3d inputs the
        # [voxels, c] views are free, and the GEMMs skip oneDNN's layout conversions of every path's gradient.
        # addmm_ accumulates in place into a plain (non-view) tensor, so autograd needs no copy of it.
        fused = self._global_term(global_features)
        # In-place ops escape autocast: give addmm_ the dtype autocast chose for ``fused`` (a no-op without it).
        for features, channels in zip(local_features, slices[1:]):
            fused.addmm_(_voxels_by_channels(features).to(fused.dtype), weight[:, channels].t().to(fused.dtype))
        n, _, T, H, W = global_features.shape
        return (self.activate(fused) if activate else fused).view(n, T, H, W, -1).permute(0, 4, 1, 2, 3)

    def project_parts(self, local_features: Sequence[Tensor], parts: slice = slice(None)) -> Tensor:
        """Each part's slice of the 1x1x1 conv applied to its own features: ``P`` tensors ``[n, c_l, L, N, M]`` (of
        one size) ``-> [n, P, c_g, L, N, M]`` (no bias), a view over ``[P, n, L, N, M, c_g]`` memory; with ``parts``,
        the features are those of the local paths ``parts`` only (``P`` = their number).

        The conv is linear and acts on channels only, so it commutes with anything that acts on positions
        only, such as DRAW's write: ``write(project(f))`` summed over parts, passed to :meth:`combine`,
        equals :meth:`forward` on the written features, at the cost of the parts' own resolution. One batched GEMM
        over the parts' voxels, read in place from channels-last features (the feature extraction's layout), and
        written parts first, channels innermost: the layout DRAW's write reads without a copy.
        """
        c_g, c_l = self.widths[0], self.widths[1]
        weight = self._weight()[:, c_g:].view(c_g, len(self.widths) - 1, c_l)[:, parts]
        voxels = [_voxels_by_channels(features) for features in local_features]
        stacked = voxels[0].unsqueeze(0) if len(voxels) == 1 else torch.stack(voxels)  # [P, n L N M, c_l]
        projected = torch.bmm(stacked, weight.permute(1, 2, 0).to(stacked.dtype))  # [P, n L N M, c_g]
        n, _, L, N, M = local_features[0].shape
        return projected.view(len(voxels), n, L, N, M, c_g).permute(1, 0, 5, 2, 3, 4)

    def combine(self, global_features: Tensor, local_term: Tensor, *, consume: bool = False,
                activate: bool = True) -> Tensor:
        """``ReLU(conv_global(global) + local_term)`` with ``local_term`` the parts' projected features written on the
        canvas and summed, **the conv's bias included** (see :meth:`project_parts` and
        :func:`~opengait_local3d.local3d.writing.write_summed` with ``bias=fusion.conv.bias``, which adds it within
        its GEMM): ``[n, c_g, T, H, W]``, or its voxels by channels ``[n T H W, c_g]`` (``write_summed(...,
        voxels=True)``). With ``consume`` the caller gives up ``local_term``, a tensor of its own (not a leaf that
        requires grad) that nothing else reads, now or in the backward: the output is then computed in its memory.
        Without ``activate``, the conv's output before the activation (see :meth:`activate`).

        Computed as one GEMM over the voxels in channels-last order (a free view of a :class:`FrameWise` block's
        NHWC output) that accumulates onto the local term, so the output is one ``[n, T, H, W, c]`` buffer: the next
        frame-wise block's NHWC convs read it without a copy, the ReLU runs in place on it, and no pass over the canvas
        adds the bias or the two terms. Given the voxels of ``write_summed`` to consume, the accumulation runs in place
        in training too (a view of them would make autograd copy the whole gradient map twice); otherwise ``addmm``
        copies the local term into a new buffer first.
        """
        n, c_g, T, H, W = global_features.shape
        voxels, weight = self._global_operands(global_features)
        local = (local_term if local_term.dim() == 2 else _voxels_by_channels(local_term)).to(voxels.dtype)
        self.last_contribution = self._contribution(global_features[:1], local[: T * H * W]) if self.training else {}
        fused = local.addmm_(voxels, weight) if consume else torch.addmm(local, voxels, weight)
        fused = self.activate(fused, inplace=True) if activate else fused
        return fused.view(n, T, H, W, c_g).permute(0, 4, 1, 2, 3)

    def _contribution(self, global_features: Tensor, local: Tensor) -> dict[str, Tensor]:
        """:attr:`last_contribution` of one sequence: its global features ``[1, c_g, T, H, W]`` and its voxels of the
        local term with the bias ``[T H W, c_g]``."""
        with torch.no_grad():
            return {"global": _rms(self._global_term(global_features)),
                    "local": _rms(local - self.conv.bias.to(local.dtype))}

    def _global_term(self, global_features: Tensor) -> Tensor:
        """``conv_global(global) + bias`` as one GEMM over the voxels: ``[n, c_g, T, H, W] -> [n T H W, c_g]``."""
        voxels, weight = self._global_operands(global_features)
        return torch.addmm(self.conv.bias.to(voxels.dtype), voxels, weight)

    def _global_operands(self, global_features: Tensor) -> tuple[Tensor, Tensor]:
        """The global path's voxels ``[n T H W, c_g]`` (channels-last order) and its slice of the conv's weight,
        transposed ``[c_g, c_g]``, in the voxels' dtype: the operands of the global term's GEMM."""
        voxels = _voxels_by_channels(global_features)
        return voxels, self.conv.weight[:, : self.widths[0]].flatten(1).t().to(voxels.dtype)

    def activate(self, fused: Tensor, inplace: bool = False) -> Tensor:
        """The activation after the conv: ReLU, or none (elementwise and non-decreasing, so it commutes with a max
        pooling: a caller that pools the fusion's output may activate the pooled map instead, see
        :meth:`Local3DBlock.forward <opengait_local3d.local3d.block.Local3DBlock.forward>`)."""
        return F.relu(fused, inplace=inplace) if self.activation == "relu" else fused

    def weights_per_path(self) -> dict[str, float]:
        """Mean absolute fusion weight over each path's input channels (the paper's Fig. 4b; the local paths'
        weights times :attr:`gate` if any)."""
        weight = self._weight().detach()
        return {name: float(weight[:, s].abs().mean()) for name, s in zip(self.path_names, self._slices())}


def _rms(x: Tensor) -> Tensor:
    """Root mean square of ``x``'s values, detached (a norm: no temporary of ``x``'s size)."""
    return torch.linalg.vector_norm(x.detach()) / x.numel() ** 0.5


def _voxels_by_channels(x: Tensor) -> Tensor:
    """``[n, c, T, H, W] -> [n T H W, c]`` (a view when ``x`` is channels-last-3d, else a copy)."""
    return x.permute(0, 2, 3, 4, 1).reshape(-1, x.shape[1])
