"""Warnings while training: parts that leave the map or the clip, and triplet distances that collapse.

Both are silent failures: a part outside the map or clip samples zeros and gets no gradient back, and
embeddings whose triplet distances fall far under the margin all look alike. Each is said once (per block
and part, and once for the distances), when it first shows at a logging iteration.
"""
from __future__ import annotations

from typing import Callable, Mapping

from torch import Tensor, nn

from ..local3d import named_local_blocks, part_statistics
from ..modeling.losses import TripletLoss

#: a part is reported when fewer of its frames have their centre on the map than this
CENTRE_ON_MAP = 0.99
#: a part is reported when fewer of its sequences have their temporal window in the clip than this
WINDOW_IN_CLIP = 0.95
#: triplet distances have collapsed when their batch mean is below this fraction of the margin
COLLAPSED_DISTANCE = 0.5


class TrainingWatch:
    """Checks a training step's part parameters and triplet distances; warns once per problem.

    Args:
        network: the trained network (its 3D local blocks keep their last forward's parameters).
        losses: the loss aggregator's losses by ``log_prefix``.
        warn: where warnings go (e.g. the message manager's ``log_warning``).
    """

    def __init__(self, network: nn.Module, losses: Mapping[str, nn.Module], warn: Callable[[str], None]):
        self.blocks = named_local_blocks(network)
        self.margins = {prefix: float(loss.margin) for prefix, loss in losses.items() if isinstance(loss, TripletLoss)}
        self.warn = warn
        self.said: set[tuple[str, ...]] = set()

    def check(self, iteration: int, loss_info: Mapping[str, Tensor]) -> None:
        """Look at the last forward's parts and at ``loss_info`` (``scalar/<prefix>/mean_dist``)."""
        for name, block in self.blocks.items():
            if not block.last_parameters:
                continue
            stats = part_statistics(block.last_parameters, block.last_input_size)
            for index, part in enumerate(block.part_names):
                on_map = float(stats["centre_on_map"][index] / stats["frames"][index])
                in_clip = float(stats["window_in_clip"][index] / stats["sequences"][index])
                if on_map < CENTRE_ON_MAP:
                    self._once((name, part, "map"), f"iteration {iteration}: {name} {part}: the centre is off the "
                               f"map in {1 - on_map:.0%} of the frames (its volume samples zeros there)")
                if in_clip < WINDOW_IN_CLIP:
                    self._once((name, part, "clip"), f"iteration {iteration}: {name} {part}: the temporal window "
                               f"leaves the clip in {1 - in_clip:.0%} of the sequences")
        for prefix, margin in self.margins.items():
            distance = loss_info.get(f"scalar/{prefix}/mean_dist")
            if distance is not None and float(distance.mean()) < COLLAPSED_DISTANCE * margin:
                self._once((prefix, "collapse"), f"iteration {iteration}: {prefix}: the mean triplet distance "
                           f"{float(distance.mean()):.3g} is under {COLLAPSED_DISTANCE:g} x the margin {margin:g}: "
                           "the embeddings are collapsing (try a lower learning rate or the compact embedding)")

    def _once(self, key: tuple[str, ...], message: str) -> None:
        if key not in self.said:
            self.said.add(key)
            self.warn(message)
