"""Where the parts are: how much of each learned volume lies on the map and in the clip, how far it moved.

A part whose centre leaves the map, or whose temporal window leaves the clip, samples zeros and gets no
gradient back; these statistics make that visible, per block and part, during training (warnings) and
after it (``opengait-local3d parts``), with how far the localization moves each part from its prior.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import torch
from torch import Tensor, nn

from .block import Local3DBlock
from .parts import PartPrior

#: the statistics, in the order tables and CSV files list them
STATISTICS = ("centre_on_map", "box_on_map", "window_in_clip", "gamma", "shift")


def part_statistics(parameters: Mapping[str, Tensor], in_size: tuple[int, int, int],
                    priors: Sequence[PartPrior] | None = None) -> dict[str, Tensor]:
    """Per-part sums over one batch of a block's :attr:`Local3DBlock.last_parameters`.

    Convention:
        Positions are in input pixels/frames, a map of size ``S`` spanning ``[0, S]``. A centre is on the map
        when it lies in ``[0, W] x [0, H]``; a box is ``centre +- extent / 2``; a temporal window
        ``temporal_centre +- temporal_extent / 2`` is in the clip when it lies in ``[0, T]`` (to 1e-4 frames).
        A part's shift is the distance of its centre from its prior's, each axis in units of the prior's extent:
        ``|((x - cx W) / (width W), (y - cy H) / (height H))|`` (0: where the prior puts it).

    Args:
        parameters: ``centre``, ``extent`` ``[n, P, T, 2]``, ``gamma`` ``[n, P, T]``, ``temporal_centre``,
            ``temporal_extent`` ``[n, P]``.
        in_size: ``(T, H, W)`` of the block input.
        priors: the parts' priors, in order (the block's ``priors``): adds ``shift``.

    Returns:
        ``[P]`` float64 tensors: ``centre_on_map``, ``box_on_map``, ``gamma`` (and ``shift``) summed over frames
        and sequences, ``window_in_clip`` summed over sequences, and the counts ``frames`` and ``sequences``.

    Example:
        >>> params = {"centre": torch.tensor([[[[2.0, 3.0], [5.0, 3.0]]]]), "extent": torch.full((1, 1, 2, 2), 2.0),
        ...           "gamma": torch.full((1, 1, 2), 0.5), "temporal_centre": torch.tensor([[1.0]]),
        ...           "temporal_extent": torch.tensor([[2.0]])}
        >>> stats = part_statistics(params, (2, 6, 4))   # frame 1's centre is off the 4-px-wide map
        >>> stats["centre_on_map"], stats["box_on_map"], stats["window_in_clip"]
        (tensor([1.], dtype=torch.float64), tensor([1.], dtype=torch.float64), tensor([1.], dtype=torch.float64))
    """
    T, H, W = in_size
    centre, extent = parameters["centre"].double(), parameters["extent"].double()
    size = torch.tensor([W, H], dtype=torch.float64, device=centre.device)
    on_map = ((centre >= 0) & (centre <= size)).all(-1)
    low, high = centre - extent / 2, centre + extent / 2
    covered = (torch.minimum(high, size) - low.clamp_min(0)).clamp_min(0) / extent.clamp_min(1e-12)
    start = parameters["temporal_centre"].double() - parameters["temporal_extent"].double() / 2
    end = start + parameters["temporal_extent"].double()
    in_clip = (start >= -1e-4) & (end <= T + 1e-4)
    n, _, frames = parameters["gamma"].shape
    stats = {
        "centre_on_map": on_map.double().sum((0, 2)),
        "box_on_map": covered.prod(-1).sum((0, 2)),
        "window_in_clip": in_clip.double().sum(0),
        "gamma": parameters["gamma"].double().sum((0, 2)),
        "frames": torch.full_like(in_clip[0], n * frames, dtype=torch.float64),
        "sequences": torch.full_like(in_clip[0], n, dtype=torch.float64),
    }
    if priors is not None:
        prior = torch.tensor([[p.cx, p.cy, p.width, p.height] for p in priors], dtype=torch.float64,
                             device=centre.device)
        prior_centre, prior_extent = prior[:, None, :2] * size, prior[:, None, 2:] * size  # [P, 1, 2]
        stats["shift"] = ((centre - prior_centre) / prior_extent).norm(dim=-1).sum((0, 2))
    return stats


@dataclass(frozen=True)
class PartRow:
    """One block's part: the statistics of :func:`part_statistics` as means (fractions, mean gamma, mean shift)."""

    block: str
    part: str
    centre_on_map: float
    box_on_map: float
    window_in_clip: float
    gamma: float
    shift: float


class PartMonitor:
    """Accumulates :func:`part_statistics` of named 3D local blocks over every forward pass (forward hooks).

    Use it as a context manager around the forward passes to watch; :meth:`rows` gives the means so far.

    Args:
        blocks: the blocks to watch, by the name tables should show (e.g. ``{'block3': net.blocks[2]}``).

    Example:
        >>> block = Local3DBlock(nn.Conv3d(2, 4, 3, padding=1), 2, 4, parts=["torso"])
        >>> with PartMonitor({"block1": block}) as monitor:
        ...     _ = block(torch.rand(2, 2, 5, 8, 6))
        >>> row = monitor.rows()[0]
        >>> row.part, row.centre_on_map, row.window_in_clip, row.gamma, row.shift   # untrained: at its prior
        ('torso', 1.0, 1.0, 0.5, 0.0)
    """

    def __init__(self, blocks: Mapping[str, Local3DBlock]):
        self.blocks = dict(blocks)
        self._sums: dict[str, dict[str, Tensor]] = {}
        self._handles: list = []

    def __enter__(self) -> "PartMonitor":
        for name, block in self.blocks.items():
            self._handles.append(block.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str):
        def record(block: Local3DBlock, inputs: tuple, output: Tensor) -> None:
            stats = part_statistics(block.last_parameters, block.last_input_size, block.priors)
            totals = self._sums.setdefault(name, {key: torch.zeros_like(value) for key, value in stats.items()})
            for key, value in stats.items():
                totals[key] += value

        return record

    def rows(self) -> list[PartRow]:
        """Means over everything seen so far, one row per block and part, in block then part order."""
        return list(self._iter_rows())

    def _iter_rows(self) -> Iterator[PartRow]:
        for name, totals in self._sums.items():
            frames, sequences = totals["frames"], totals["sequences"]
            for index, part in enumerate(self.blocks[name].part_names):
                yield PartRow(
                    block=name,
                    part=part,
                    centre_on_map=float(totals["centre_on_map"][index] / frames[index]),
                    box_on_map=float(totals["box_on_map"][index] / frames[index]),
                    window_in_clip=float(totals["window_in_clip"][index] / sequences[index]),
                    gamma=float(totals["gamma"][index] / frames[index]),
                    shift=float(totals["shift"][index] / frames[index]),
                )


def named_local_blocks(network: nn.Module) -> dict[str, Local3DBlock]:
    """The network's 3D local blocks by the names tables show: its own ``named_local_blocks()`` if it has
    one (e.g. ``block3`` for Local3DCNN), else every :class:`Local3DBlock` by its module path (``'1.0'``)."""
    named = getattr(network, "named_local_blocks", None)
    if callable(named):
        return dict(named())
    return {name: module for name, module in network.named_modules() if isinstance(module, Local3DBlock)}
