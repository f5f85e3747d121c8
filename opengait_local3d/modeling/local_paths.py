"""3D local paths around a network's blocks: the ``local_blocks`` and ``local3d`` options of the gait networks.

A network numbers its blocks from 1 (``block1``, ...); ``local_blocks`` lists those that get local paths, each
wrapped in a :class:`~opengait_local3d.local3d.Local3DBlock` with the keyword options ``local3d`` gives.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import Tensor, nn

from ..local3d import Local3DBlock
from ..utils.checks import require
from ..utils.registry import checked_arguments
from ..visuals.summary import local_block_summary
from .init import opengait_init
from .network import GaitNetwork

_BLOCK_ARGS = ("global_block", "in_channels", "out_channels")


def checked_local_blocks(local_blocks: Sequence[int], blocks: int, model: str) -> list[int]:
    """``local_blocks`` sorted, if it is a subset of ``1..blocks`` (``ValueError`` naming ``model`` otherwise)."""
    allowed = list(range(1, blocks + 1))
    require(not isinstance(local_blocks, (int, str)) and set(local_blocks) <= set(allowed),
            f"{model}: local_blocks must be a subset of {allowed}, got {local_blocks!r}")
    return sorted(set(local_blocks))


def local_block_options(local3d: Mapping[str, Any] | None, model: str) -> dict[str, Any]:
    """Check ``model_cfg.local3d`` against :class:`Local3DBlock`'s options (those the network does not set)."""
    return checked_arguments(Local3DBlock, local3d or {}, f"local3d of {model}", supplied=_BLOCK_ARGS)


def with_local_paths(global_block: nn.Module, in_channels: int, out_channels: int, options: Mapping[str, Any],
                     model: str) -> Local3DBlock:
    """``global_block`` (``[n, in_channels, T, H, W] -> [n, out_channels, T, H', W']``) with local paths."""
    try:
        return Local3DBlock(global_block, in_channels, out_channels, **options)
    except ValueError as err:
        raise ValueError(f"local3d of {model}: {err}") from err


def pooled(block: nn.Module, x: Tensor, pool: nn.Module) -> Tensor:
    """``pool(block(x))`` for a max pooling ``pool``; a :class:`Local3DBlock` takes the pooling before its fusion's ReLU
    (they commute), which then runs on the pooled map."""
    return block(x, then=pool) if isinstance(block, Local3DBlock) else pool(block(x))


def reset_local_paths(network: nn.Module) -> None:
    """Every 3D local block of ``network`` back at its priors (after a host's generic initialisation)."""
    for module in network.modules():
        if isinstance(module, Local3DBlock):
            module.reset_local_paths()


def local_summary(blocks: Mapping[str, Local3DBlock]) -> dict[str, Tensor]:
    """:func:`~opengait_local3d.visuals.summary.local_block_summary` of every block after its last forward,
    keyed by the block's name (``'block2'``)."""
    summary: dict[str, Tensor] = {}
    for name, block in blocks.items():
        summary.update(local_block_summary(block, name, block.last_input_size))
    return summary


class LocalPathsNetwork(GaitNetwork):
    """Base of the networks whose numbered blocks (``self.blocks``, a ``ModuleList``) may carry 3D local paths
    (``self.local_blocks``, 1-based): their initialisation and their local blocks by name."""

    blocks: nn.ModuleList
    local_blocks: list[int]

    def init_parameters(self) -> None:
        """OpenGait's Xavier scheme, then every local block's localization heads back at their priors."""
        opengait_init(self)
        reset_local_paths(self)

    def named_local_blocks(self) -> dict[str, Local3DBlock]:
        """The blocks with 3D local paths by their 1-based names: ``{'block3': ...}``."""
        return {f"block{index}": self.blocks[index - 1] for index in self.local_blocks}

    def training_summary(self) -> dict[str, Any]:
        """The local blocks' localization summaries while training (:func:`local_summary`); none in eval mode."""
        return local_summary(self.named_local_blocks()) if self.training else {}
