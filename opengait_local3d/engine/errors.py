"""Errors the engine raises for bad input: each carries one clear message for the user.

The command line prints the message of an :class:`EngineError` without a traceback.
"""
from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["EngineError", "ConfigError", "DataError", "CheckpointError", "did_you_mean"]


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


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""`` if none is close."""
    match = difflib.get_close_matches(str(name), sorted(map(str, choices)), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _without_worker_traceback(message: str, cls: type) -> str:
    """Keep only our own message when a DataLoader worker re-raises our error.

    torch re-raises a worker's exception as ``cls("Caught ... Original Traceback ...: <message>")``;
    the user needs the message, not the worker's stack.
    """
    marker = f"{cls.__module__}.{cls.__qualname__}: "
    if "Original Traceback" in message and marker in message:
        return message.rsplit(marker, 1)[1].rstrip("\n")
    return message
