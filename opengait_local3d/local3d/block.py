"""The 3D local block (Fig. 2): a global path plus local paths that localize, sample, extract, fuse."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .alignment import SamplingGrid, check_alignment, sampling_grid, write_filterbanks, write_layout, zoom_layout
from .bounds import LocalizationBounds
from .extraction import FeatureExtraction
from .fusion import Fusion
from .localization import Localization
from .parts import PriorOverride, resolve_priors
from .sampling import MODES, PartGroup, run_filterbanks, sample_groups, sample_volume
from .writing import write_summed


def _adopt_bare_block_keys(block: "Local3DBlock", state: dict[str, Tensor], prefix: str, *_: object) -> None:
    """``load_state_dict`` pre-hook: :meth:`Local3DBlock.adopt_checkpoint_keys`."""
    block.adopt_checkpoint_keys(state, prefix)


def _equal_runs(regions: Sequence[tuple[int, int, int]]) -> list[tuple[slice, tuple[int, int, int]]]:
    """Consecutive parts with the same region, as ``(slice of the parts, region)`` pairs."""
    runs: list[tuple[slice, tuple[int, int, int]]] = []
    for index, region in enumerate(regions):
        if runs and runs[-1][1] == tuple(region):
            runs[-1] = (slice(runs[-1][0].start, index + 1), runs[-1][1])
        else:
            runs.append((slice(index, index + 1), tuple(region)))
    return runs


def _first_sample_padded(volumes: Tensor | list[Tensor]) -> Tensor:
    """Sample 0's volumes ``[P, c, L, N, M]``, detached and copied; runs of parts of their own sizes
    (``[n, P_r, c, L_r, N_r, M_r]`` each) padded with zeros after their points to the largest."""
    if isinstance(volumes, Tensor):
        return volumes[0].detach().clone()
    largest = [max(run.shape[axis] for run in volumes) for axis in (3, 4, 5)]
    return torch.cat([F.pad(run[0].detach(), [0, largest[2] - run.shape[5], 0, largest[1] - run.shape[4],
                                              0, largest[0] - run.shape[3]]) for run in volumes])


def _writes_with_sampling_filterbanks(mode: str, in_size: tuple[int, int, int], canvas: tuple[int, int, int]) -> bool:
    """Whether DRAW's write can reuse the sampling's filterbanks: its canvas has the block input's size (no rescaling of
    positions and variances, see :func:`write_filterbanks`) and the sampler filtered the frames with filterbanks (not
    ``grid_sample``). Every block of the configs keeps its map's size, so each filterbank is computed, and
    differentiated, once instead of twice."""
    return mode != "trilinear" and in_size == canvas


class FrameWise(nn.Module):
    """Apply a 2D module to every frame: ``[n, c, s, h, w] -> [n, c', s, h', w']``.

    The result is a view over ``[n, s, c', h', w']`` memory, which the next :class:`FrameWise` (and the
    localization) reads without a copy.

    Example:
        >>> block = FrameWise(nn.Conv2d(1, 4, 3, padding=1))
        >>> block(torch.randn(2, 1, 5, 8, 6)).shape
        torch.Size([2, 4, 5, 8, 6])
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5:
            raise ValueError(f"FrameWise expects [n, c, s, h, w], got shape {tuple(x.shape)}")
        n, c, s, h, w = x.shape
        frames = self.module(x.transpose(1, 2).reshape(n * s, c, h, w))
        return frames.reshape(n, s, *frames.shape[1:]).transpose(1, 2)


class Local3DBlock(nn.Module):
    """A block with a global path and adaptive 3D local paths (Sec. 3.2).

    For an input ``x [n, c_in, T, H, W]``: the global block gives ``g [n, c_out, T, H', W']``; the
    localization reads ``g`` *detached* and places one volume per part (per-frame centre, stride, sigma,
    gamma; per-sequence temporal centre and stride); the volumes are sampled from ``x`` in one batched
    call, each goes through its own conv3d 3x3x3 + ReLU (``c_out // 2`` channels; skipped when
    ``feature_extraction`` is off, then the ``c_in``-channel volume itself is fused), and the global and
    local features are fused by a 1x1x1 conv + ReLU back to ``c_out`` channels.

    Args:
        global_block: maps ``[n, c_in, T, H, W] -> [n, c_out, T, H', W']`` (e.g. a :class:`FrameWise`
            2D block or a 3D block); it must keep the number of frames.
        in_channels, out_channels: ``c_in`` and ``c_out`` of the global block.
        parts: part names (default all six of :data:`~opengait_local3d.local3d.parts.PART_NAMES`).
        priors: per-part overrides of the priors, a :class:`PartPrior` or a dict of its fields.
        mode: sampling filters, ``'mixture'`` (default), ``'gaussian'`` or ``'trilinear'``.
        alignment: ``'zoom'`` (default, the authors') or ``'write'`` (DRAW's write), see
            :mod:`~opengait_local3d.local3d.alignment`.
        feature_extraction: per-part conv3d + ReLU (Table 5 row f); off fuses the raw volumes.
        extraction_depth: conv3d + ReLU layers per part: 1 as the paper describes, 2 as the authors' release has.
        write_size: ``write`` only: ``(L, N, M)`` resolution of every part (default: its prior extent).
        write_resolution: ``write`` only: ``(H_r, W_r)``: each part's rows and columns are its prior extent on
            an ``H_r x W_r`` map rather than on the block input (see
            :func:`~opengait_local3d.local3d.alignment.write_layout`).
        localization_width: channels of the localization's convs.
        localization_pooling: side of the max-pooled grid the localization heads read (1: global pooling).
        localization_norm: end the localization heads with a BatchNorm1d whose scale starts at zero.
        localization_lr_scale: learning-rate factor of the localization's parameters, applied by optimizers
            built with :func:`~opengait_local3d.local3d.parameter_groups`.
        local_lr_scale: the same for the feature extraction and the fusion (whose new weights Adam would
            otherwise move by the full learning rate from their first step, whatever their gradient's scale).
        local_weight_decay: weight decay of the feature extraction and the fusion (``None``: the optimizer's), applied
            by the same parameter groups.
        local_dropout: dropout probability of the local features before the fusion (in training only).
        detach_local_input: sample the volumes from the block input detached, so the local paths train their own
            weights but send no gradient into the layers before the block (a diagnostic: whether their gradient
            harms the shared backbone).
        checkpoint_local: activation checkpointing of the local paths: their activations (sampled volumes,
            features, written canvases) are not kept for backward but recomputed in it, for less memory at the
            paper's batch on one GPU at the cost of one more forward of the local paths; same results.
        smoothing: smooth each part's centre over the two previous frames (Sec. 4.2).
        offset_range: a part's centre moves at most this fraction of its prior extent (width, height, window).
        temporal_offset_range: the same for the temporal centre alone (default: ``offset_range``).
        scale_range: spatial strides and variances stay within this factor of the prior.
        temporal_scale_range: the temporal stride stays within this factor of the prior.
        min_sigma: floor of the Gaussian filters' sigma, in input pixels (frames in time).
        fusion_init: ``'identity'`` (the block starts as its global path), ``'default'`` (torch's) or ``'gate'``
            (the block starts as its global path, the local term behind a learnable scalar that starts at zero),
            see :class:`~opengait_local3d.local3d.fusion.Fusion`.
        fusion_activation: ``'relu'`` (the paper) or ``'none'`` (with the identity init, the block starts as
            exactly its global path, LeakyReLU outputs included), see :class:`~opengait_local3d.local3d.fusion.Fusion`.

    After each forward (detached, for logging and visualisation):

    * ``last_parameters``: ``centre``, ``stride``, ``extent`` ``[n, P, T, 2]`` as (x, y) in input pixels
      (``extent`` = stride x used grid points: the attended box), ``sigma`` and ``gamma`` ``[n, P, T]``,
      ``temporal_centre``, ``temporal_stride``, ``temporal_extent`` ``[n, P]`` in input frames (detached
      references to the forward's tensors, no copies); ``last_input_size``: the input's ``(T, H, W)``.
    * ``last_volumes``: only while :meth:`recording`, sample 0's sampled volumes ``[P, c_in, L, N, M]``
      (a copy, so the batch's buffer is freed; in ``write`` alignment, padded to the largest part with
      zeros); ``None`` otherwise, so training and inference copy nothing.

    Example:
        >>> conv = FrameWise(nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.LeakyReLU()))
        >>> block = Local3DBlock(conv, 4, 8, parts=["head", "left_leg"])
        >>> with block.recording():
        ...     block(torch.randn(2, 4, 6, 16, 11)).shape
        torch.Size([2, 8, 6, 16, 11])
        >>> block.last_volumes.shape, sorted(block.fusion_weights())
        (torch.Size([2, 4, 6, 16, 11]), ['global', 'head', 'left_leg'])
    """

    def __init__(
        self,
        global_block: nn.Module,
        in_channels: int,
        out_channels: int,
        *,
        parts: Sequence[str] | None = None,
        priors: Mapping[str, PriorOverride] | None = None,
        mode: str = "mixture",
        alignment: str = "zoom",
        feature_extraction: bool = True,
        extraction_depth: int = 1,
        write_size: Sequence[int] | None = None,
        write_resolution: Sequence[int] | None = None,
        localization_width: int = 32,
        localization_pooling: int = 2,
        localization_norm: bool = True,
        localization_lr_scale: float = 1.0,
        local_lr_scale: float = 1.0,
        local_weight_decay: float | None = None,
        local_dropout: float = 0.0,
        detach_local_input: bool = False,
        checkpoint_local: bool = False,
        smoothing: bool = True,
        offset_range: float = 0.5,
        temporal_offset_range: float | None = None,
        scale_range: float = 2.0,
        temporal_scale_range: float = 1.5,
        min_sigma: float = 0.5,
        fusion_init: str = "identity",
        fusion_activation: str = "relu",
    ):
        super().__init__()
        for name, value, least in (("in_channels", in_channels, 1), ("out_channels", out_channels, 2)):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        self.alignment = check_alignment(alignment)
        for name, value, count, names in (("write_size", write_size, 3, "(L, N, M)"),
                                          ("write_resolution", write_resolution, 2, "(H, W)")):
            if value is None:
                continue
            if alignment != "write":
                raise ValueError(f"{name} is only used with alignment='write'")
            if len(value) != count or not all(isinstance(s, int) and s >= 1 for s in value):
                raise ValueError(f"{name} must be {count} positive ints {names}, got {value!r}")
        if write_size is not None and write_resolution is not None:
            raise ValueError("give write_size or write_resolution, not both")
        if not (isinstance(local_dropout, (int, float)) and 0 <= local_dropout < 1):
            raise ValueError(f"local_dropout must be a number in [0, 1), got {local_dropout!r}")
        for name, value in (("localization_lr_scale", localization_lr_scale), ("local_lr_scale", local_lr_scale)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if local_weight_decay is not None and not (isinstance(local_weight_decay, (int, float))
                                                   and local_weight_decay >= 0):
            raise ValueError(f"local_weight_decay must be a number >= 0 or null, got {local_weight_decay!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.mode = mode
        self.write_size = None if write_size is None else tuple(write_size)
        self.write_resolution = None if write_resolution is None else tuple(write_resolution)
        self.bounds = LocalizationBounds(offset_range, temporal_offset_range, scale_range, temporal_scale_range,
                                         min_sigma)
        self.part_names, self.priors = resolve_priors(parts, priors)
        self.global_block = global_block
        self.localization = Localization(
            out_channels,
            [p.gamma for p in self.priors],
            width=localization_width,
            pooling=localization_pooling,
            smoothing=smoothing,
            output_norm=localization_norm,
            bounds=self.bounds,
        )
        self.localization.lr_scale = float(localization_lr_scale)
        if not feature_extraction and extraction_depth != 1:
            raise ValueError("extraction_depth needs feature_extraction: true")
        local_channels = out_channels // 2 if feature_extraction else in_channels
        self.extraction = (
            FeatureExtraction(in_channels, local_channels, len(self.priors), extraction_depth)
            if feature_extraction else None
        )
        self.fusion = Fusion(out_channels, local_channels, self.part_names, init=fusion_init,
                             activation=fusion_activation)
        for module in (self.extraction, self.fusion):
            if module is not None:
                module.lr_scale = float(local_lr_scale)
                module.weight_decay = None if local_weight_decay is None else float(local_weight_decay)
        self.local_dropout = nn.Dropout(float(local_dropout))
        for name, value in (("detach_local_input", detach_local_input), ("checkpoint_local", checkpoint_local)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")
        self.detach_local_input, self.checkpoint_local = detach_local_input, checkpoint_local
        self.register_load_state_dict_pre_hook(_adopt_bare_block_keys)
        self.record = False
        self.last_parameters: dict[str, Tensor] = {}
        self.last_input_size: tuple[int, int, int] | None = None
        self.last_volumes: Tensor | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Within the block, every forward keeps sample 0's sampled volumes as ``last_volumes``."""
        previous, self.record = self.record, True
        try:
            yield
        finally:
            self.record = previous

    def reset_local_paths(self) -> None:
        """Every part back at its prior and the fusion at its initialisation (call after a host
        re-initialises all layers, as OpenGait's Xavier pass does)."""
        self.localization.reset_to_prior()
        self.fusion.reset_parameters()

    def adopt_checkpoint_keys(self, state: dict[str, Tensor], prefix: str) -> None:
        """Rename, in place, the keys of the bare global block (``prefix + 'module.0.weight'``, a network saved
        without local paths here) to this block's layout (``prefix + 'global_block.module.0.weight'``), so a
        network without local paths warm-starts the global path of one with them. Runs on every
        ``load_state_dict``; keys already in this layout are left alone."""
        for key in self.global_block.state_dict():
            bare, wrapped = prefix + key, f"{prefix}global_block.{key}"
            if bare in state and wrapped not in state:
                state[wrapped] = state.pop(bare)

    def fusion_weights(self) -> dict[str, float]:
        """Mean |weight| of the fusion conv per path: ``'global'`` and each part name."""
        return self.fusion.weights_per_path()

    def forward(self, x: Tensor, then: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """The block's output ``[n, c_out, T, H', W']`` for ``x [n, c_in, T, H, W]``.

        ``then``: a map that the caller applies to the output and that commutes with the fusion's activation, such as
        the max pooling between a network's blocks: ``block(x, then=pool)`` is ``pool(block(x))`` with the activation
        computed on the pooled map (for a 2x2 pooling a quarter of the activation's work, forward and backward).
        """
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Local3DBlock expects x [n, {self.in_channels}, T, H, W], got shape {tuple(x.shape)}"
            )
        features = self.global_block(x)
        self._check_global_output(x, features)
        if self.checkpoint_local and torch.is_grad_enabled():
            local, grid, volumes = checkpoint(self._local_paths, x, features, use_reentrant=False)
        else:
            local, grid, volumes = self._local_paths(x, features)
        self._record(grid, volumes, tuple(x.shape[2:]))
        if self.alignment == "zoom":
            fused = self.fusion(features, local, activate=then is None)
        else:
            fused = self.fusion.combine(features, local, consume=True, activate=then is None)
        return fused if then is None else self.fusion.activate(then(fused))

    def _local_paths(self, x: Tensor, features: Tensor
                     ) -> tuple[Tensor | list[Tensor], SamplingGrid, Tensor | list[Tensor]]:
        """Localize, sample, extract and (``write``) write back: ``(local, grid, volumes)`` with ``local`` the
        parts' features for :class:`Fusion` (``zoom``) or their projected sum on the canvas, as its voxels
        ``[n T H' W', c_out]`` (``write``), and the sampling grid and volumes for :meth:`_record`:
        ``[n, P, c_in, L, N, M]`` (``zoom``) or one ``[n, P_r, c_in, L_r, N_r, M_r]`` per run of equal parts
        (``write``)."""
        in_size, canvas = tuple(x.shape[2:]), tuple(features.shape[2:])
        if self.alignment == "zoom":
            layout = zoom_layout(self.priors, in_size, canvas)
        else:
            layout = write_layout(self.priors, in_size, self.write_size, self.write_resolution)
        # Localization and sampling run in at least float32 even under autocast: the Gaussian weights
        # underflow in float16, and the sampler takes all of its tensors in one dtype.
        dtype = torch.promote_types(x.dtype, torch.float32)
        source = (x.detach() if self.detach_local_input else x).to(dtype)
        runs = None if self.alignment == "zoom" else _equal_runs(layout.regions())
        with torch.autocast(x.device.type, enabled=False):
            params = self.localization(features.detach().to(dtype))
            grid = sampling_grid(
                layout, self.priors, params, in_size, self.bounds,
            )
            temporal_sigma2 = grid.temporal_sigma2 if self.mode == "gaussian" else None
            if runs is None:  # zoom: every part on the canvas, in one call
                volumes = sample_volume(source, grid.mu_x, grid.mu_y, grid.mu_t, grid.sigma2, grid.gamma, self.mode,
                                        temporal_sigma2=temporal_sigma2, mask_x=grid.mask_x, mask_y=grid.mask_y,
                                        mask_t=grid.mask_t)
            else:  # write: each run of equal parts at exactly its size (the common grid's padding never sampled)
                common = PartGroup(grid.mu_x, grid.mu_y, grid.mu_t, grid.sigma2, grid.gamma,
                                   grid.temporal_sigma2 if self.mode == "gaussian" else None)
                groups = [common.run_of_parts(parts, size) for parts, size in runs]
                banks = run_filterbanks(common, runs, in_size, self.mode)
                volumes = sample_groups(source, groups, self.mode, banks)
        parts = volumes.unbind(1) if runs is None else [part for run in volumes for part in run.unbind(1)]
        local = parts if self.extraction is None else self.extraction(parts)
        if self.local_dropout.p:
            local = [self.local_dropout(part) for part in local]
        if runs is None:
            return list(local), grid, volumes
        if _writes_with_sampling_filterbanks(self.mode, in_size, canvas):
            write_banks = banks  # (g_t, g_y, g_x) each: PartFilterbanks is that tuple
        else:
            write_banks = [write_filterbanks(grid.run_of_parts(parts, *size), self.mode, in_size, canvas)
                           for parts, size in runs]
        return self._write_parts(local, [parts for parts, _ in runs], write_banks), grid, volumes

    def _write_parts(self, local: Sequence[Tensor], runs: list[slice],
                     write_banks: Sequence[tuple[Tensor, Tensor, Tensor]]) -> Tensor:
        """The parts' features (each ``[n, c, L_p, N_p, M_p]`` at its own size) projected to the output channels at
        their own resolution and written back summed (equal to writing every part and fusing, see
        Fusion.project_parts, without P canvases), plus the fusion's bias (added in the same GEMM, see
        :meth:`Fusion.combine`), as the canvas's voxels ``[n T H W, c_out]``. Parts go in ``runs`` of equal size, each
        run at exactly its size with its write filterbanks ``(g_t, g_y, g_x)`` on the canvas (:func:`write_summed`):
        the common grid's padding (two thirds of the points with the default parts) costs nothing."""
        groups = []
        for parts, banks in zip(runs, write_banks):
            groups.append((self.fusion.project_parts(local[parts], parts), *banks))
        return write_summed(groups, bias=self.fusion.conv.bias, voxels=True)

    def _check_global_output(self, x: Tensor, features: Tensor) -> None:
        n, _, T = x.shape[:3]
        if features.dim() != 5 or tuple(features.shape[:3]) != (n, self.out_channels, T):
            raise ValueError(
                f"global_block must map [n, {self.in_channels}, T, H, W] to [n, {self.out_channels}, T, H', W'] "
                f"(same n and T); it mapped {tuple(x.shape)} to {tuple(features.shape)}"
            )

    def _record(self, grid: SamplingGrid, volumes: Tensor | list[Tensor], in_size: tuple[int, int, int]) -> None:
        self.last_input_size = in_size
        self.last_parameters = {
            "centre": grid.centre.detach(),
            "stride": grid.stride.detach(),
            "extent": grid.extent.detach(),
            "sigma": grid.sigma2.detach().sqrt(),
            "gamma": grid.gamma.detach(),
            "temporal_centre": grid.temporal_centre.detach(),
            "temporal_stride": grid.temporal_stride.detach(),
            "temporal_extent": grid.temporal_extent.detach(),
        }
        self.last_volumes = _first_sample_padded(volumes) if self.record else None

    def extra_repr(self) -> str:
        return (
            f"parts={list(self.part_names)}, mode={self.mode!r}, alignment={self.alignment!r}, "
            f"feature_extraction={self.extraction is not None}"
            + ("" if self.extraction is None or not len(self.extraction.deeper_convs[0])
               else f", extraction_depth={1 + len(self.extraction.deeper_convs[0])}")
        )
