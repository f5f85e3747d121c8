"""The "did you mean" hint that error messages about a misspelt name or key end with."""
from __future__ import annotations

import difflib
from typing import Any, Iterable

__all__ = ["did_you_mean"]


def did_you_mean(name: Any, choices: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``name``, or ``""`` if none is close.

    >>> "unknown model 'GaitSets'" + did_you_mean("GaitSets", ["GaitSet", "GaitPart"])
    "unknown model 'GaitSets'; did you mean 'GaitSet'?"
    >>> did_you_mean("zzz", ["GaitSet"])
    ''
    """
    match = difflib.get_close_matches(str(name), sorted(map(str, choices)), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""
