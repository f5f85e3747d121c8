"""Argument checks: one call per condition, one clear error naming the argument.

Every layer above :mod:`opengait_local3d.local3d` checks its arguments with these two helpers. The error
type is the caller's: ``ValueError`` in host-free code, the engine's ``ConfigError`` for config keys.
"""
from __future__ import annotations

from typing import Any

__all__ = ["require", "integer_at_least"]


def require(condition: bool, message: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error(message)`` unless ``condition`` holds.

    >>> require(2 > 1, "never raised")
    >>> require(1 > 2, "bin_num: 3 strips do not divide 16")
    Traceback (most recent call last):
    ...
    ValueError: bin_num: 3 strips do not divide 16
    """
    if not condition:
        raise error(message)


def integer_at_least(value: Any, minimum: int, name: str, error: type[Exception] = ValueError) -> int:
    """``value`` if it is an integer (not a bool) of at least ``minimum``, else ``error`` naming ``name``.

    >>> integer_at_least(4, 1, "workers")
    4
    >>> integer_at_least(True, 0, "data_cfg.num_workers")
    Traceback (most recent call last):
    ...
    ValueError: data_cfg.num_workers: expected an integer >= 0, got True
    """
    require(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
            f"{name}: expected an integer >= {minimum}, got {value!r}", error)
    return value
