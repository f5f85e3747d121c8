"""The training's guard against non-finite losses: a NaN or inf total (or loss term) never reaches the weights.

After each loss aggregation every rank flags its non-finite terms and the ranks agree (one collective): a NaN on
one rank stops or skips the step on all of them, before any backward. ``trainer_cfg.nonfinite: stop`` (the
default) ends the run; ``skip`` drops the batch, up to ``nonfinite_skip_limit`` batches in a row. A step that
fp16's gradient scaler skips (inf gradients, finite loss) is the scaler's business, not this guard's.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor

from .distributed import DistributedContext, any_rank_each

__all__ = ["NonFiniteGuard"]


class NonFiniteGuard:
    """Finds the non-finite loss terms of a step (agreed by all ranks) and decides: stop, or skip the batch.

    Args:
        trainer_cfg: reads ``nonfinite`` (``stop`` | ``skip``) and ``nonfinite_skip_limit``.
        context: the ranks that must agree.

    Attributes:
        skipped: batches skipped in all. streak: batches skipped in a row.
    """

    def __init__(self, trainer_cfg: Mapping[str, Any], context: DistributedContext) -> None:
        self.skipping = trainer_cfg.get("nonfinite", "stop") == "skip"
        self.limit = int(trainer_cfg.get("nonfinite_skip_limit", 10))
        self.context = context
        self.skipped = self.streak = 0

    def bad_terms(self, terms: Mapping[str, Tensor], total: Tensor) -> list[str]:
        """The terms (``{log_prefix: scalar}``) that are not finite on some rank, or ``['the total']`` if only the
        total is; ``[]`` when the step may go on (which ends a streak of skips). Every rank calls it each step."""
        values = [*terms.values(), total]
        flags = torch.stack([~torch.isfinite(value.detach()).all() for value in values])
        agreed = any_rank_each(flags, self.context)
        names = [name for name, bad in zip(terms, agreed) if bad] or (["the total"] if agreed[-1] else [])
        if not names:
            self.streak = 0
        return names

    def verdict(self, iteration: int, batch: int, names: list[str]) -> tuple[bool, str]:
        """(whether to stop, what to say) for the non-finite ``names`` of training batch ``batch`` at step
        ``iteration``; a skip is counted."""
        what = f"iteration {iteration}: the loss is not finite ({'term ' if names != ['the total'] else ''}" \
               f"{', '.join(names)}); the weights were not updated"
        if not self.skipping:
            return True, f"{what} and nothing was saved (trainer_cfg.nonfinite: stop)"
        if self.streak >= self.limit:
            return True, (f"{what}, {self.streak + 1} batches in a row (trainer_cfg.nonfinite_skip_limit: "
                          f"{self.limit}); nothing was saved")
        self.skipped += 1
        self.streak += 1
        return False, f"{what}: batch {batch} skipped ({self.streak} in a row, {self.skipped} in all)"
