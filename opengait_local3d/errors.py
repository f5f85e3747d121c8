"""Errors the engine raises for bad input: each carries one clear message for the user.

The command line prints the message of an :class:`EngineError` without a traceback.
"""
from __future__ import annotations

__all__ = ["EngineError", "ConfigError", "DataError", "CheckpointError", "OutputError", "FaultError"]


class EngineError(Exception):
    """Bad input named by file or config key. The message is all the user needs."""

    def __init__(self, message: str) -> None:
        super().__init__(_without_worker_traceback(message, type(self)))


class ConfigError(EngineError, ValueError):
    """A config file or key is missing, misspelt or holds a bad value."""


class DataError(EngineError, ValueError):
    """The dataset on disk does not match OpenGait's pkl layout or the partition."""


class CheckpointError(EngineError, FileNotFoundError):
    """A checkpoint to restore is missing or unreadable."""


class OutputError(EngineError):
    """An output would replace work (a run's checkpoints, a file) or is in use by another process."""


class FaultError(EngineError):
    """A run stopped by a fault (a non-finite loss, a collective that timed out): the message says at which
    iteration, and the newest good checkpoint to resume from."""


def _without_worker_traceback(message: str, cls: type) -> str:
    """Keep only our own message when a DataLoader worker re-raises our error.

    torch re-raises a worker's exception as ``cls("Caught ... Original Traceback ...: <message>")``;
    the user needs the message, not the worker's stack.
    """
    marker = f"{cls.__module__}.{cls.__qualname__}: "
    if "Original Traceback" in message and marker in message:
        return message.rsplit(marker, 1)[1].rstrip("\n")
    return message
