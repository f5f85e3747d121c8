"""A partition JSON, ``{"TRAIN_SET": [ids], "TEST_SET": [ids]}``: which ids each phase reads."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError

__all__ = ["read_partition"]


def read_partition(path: Path, set_name: str) -> list[str]:
    """The ids of ``set_name`` in the partition JSON ``path`` (the file only: no dataset folder is read)."""
    try:
        partition = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read the partition JSON ({err})") from None
    if not isinstance(partition, dict) or not isinstance(partition.get(set_name), list):
        raise DataError(f"{path}: expected {{\"TRAIN_SET\": [ids], \"TEST_SET\": [ids]}}, no list {set_name}")
    return [str(i) for i in partition[set_name]]
