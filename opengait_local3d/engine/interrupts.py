"""Ctrl-C during training: finish the step, save a checkpoint, then stop.

Raising ``KeyboardInterrupt`` wherever the signal lands can break a library mid-operation (tensorboard's
writer thread, a collective of another rank); instead the first SIGINT or SIGTERM (torchrun forwards
termination as SIGTERM) only sets a flag that the training loop reads between steps. A second signal
interrupts at once.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from .distributed import DistributedContext, any_rank

__all__ = ["StopRequest", "ignore_interrupts"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """A context manager that turns the first SIGINT/SIGTERM of its block into :attr:`requested`.

    Handlers are installed only in the main thread (where Python delivers signals); elsewhere the block
    runs unchanged.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in _SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        for sig in _SIGNALS:  # a second signal interrupts at once
            signal.signal(sig, signal.default_int_handler)

    def agreed(self, context: DistributedContext) -> bool:
        """Whether any rank was asked to stop; every rank must call this at the same step."""
        return any_rank(self.requested, context)


def ignore_interrupts(_worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: workers ignore Ctrl-C (the terminal signals the whole process group)
    and are shut down by the training process when it stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
