"""Where a trained model's parts are over its test set: per block and part, centres on the map, boxes on the map,
windows in the clip, gamma and shift from the prior (:class:`~opengait_local3d.local3d.PartMonitor`), from the test
phase's network."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..engine.config.loading import load_config
from ..engine.inference import inference_session
from ..engine.run_folder import RunFolder
from ..errors import CheckpointError, ConfigError
from ..local3d import STATISTICS, PartMonitor, PartRow, named_local_blocks

__all__ = ["CSV_COLUMNS", "part_table", "parts_csv"]

#: the CSV header of ``parts.csv``
CSV_COLUMNS = ("block", "part", *STATISTICS)


def part_table(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int | None = None,
               device: str = "auto") -> tuple[list[PartRow], int, Path]:
    """The part statistics of checkpoint ``iteration`` (default: the newest) over the config's test set.

    Returns:
        The rows (block, then part order), the iteration used and the run's test output folder.

    Raises:
        ConfigError: the network has no 3D local blocks. CheckpointError: no checkpoint to use.
    """
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs))
    folder = RunFolder.of(cfgs, training=False)
    if iteration is None:
        saved = folder.saved()
        if not saved:
            raise CheckpointError(f"{folder.save_path / 'checkpoints'}: no checkpoint of "
                                  f"'{cfgs['evaluator_cfg']['save_name']}' (train first, or give --iter)")
        iteration = saved[-1]
    cfgs["evaluator_cfg"]["restore_hint"] = iteration
    with inference_session(cfgs, device, log_folder=folder.save_path) as model:
        blocks = named_local_blocks(model.network)
        if not blocks:
            raise ConfigError(f"model_cfg: {cfgs['model_cfg']['model']} has no 3D local blocks to report on")
        with PartMonitor(blocks) as monitor:
            model.test_features()
    return monitor.rows(), iteration, folder.save_path


def parts_csv(rows: list[PartRow]) -> str:
    """``parts.csv``: the header :data:`CSV_COLUMNS`, then one line per block and part."""
    lines = [",".join(CSV_COLUMNS)]
    lines += [",".join([row.block, row.part, *(f"{getattr(row, name):.4f}" for name in STATISTICS)]) for row in rows]
    return "\n".join(lines) + "\n"
