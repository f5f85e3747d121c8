"""``opengait-local3d parts``: where a trained model's parts are, over the test set (centres on the map,
boxes on the map, windows in the clip, gamma), per block and part."""
from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any, Mapping

from ..engine import distributed
from ..engine.checkpoint import saved_iterations
from ..engine.config.loading import load_config
from ..config.paths import output_path
from ..errors import CheckpointError, ConfigError, EngineError
from ..engine.host import NetworkHost
from ..engine.messages import get_msg_mgr
from ..local3d import STATISTICS, PartMonitor, PartRow, named_local_blocks
from ..utils.atomic import atomic_write_text
from .arguments import at_least

__all__ = ["register", "part_table", "format_parts"]

#: the CSV header of ``parts.csv``
CSV_COLUMNS = ("block", "part", *STATISTICS)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``parts`` subcommand."""
    parser = subparsers.add_parser(
        "parts", help="where a model's 3D local parts are, over the test set",
        description="Run the test set through checkpoint N of a run (the evaluator's sampler, transform and "
                    "network, as the test phase does) and report, per block and part: centre_on_map (fraction "
                    "of frames whose box centre lies on the block's input map), box_on_map (mean fraction of "
                    "the box on the map), window_in_clip (fraction of sequences whose temporal window lies in "
                    "the sequence) and the mean gamma. A part off the map or clip samples zeros there.",
        epilog="Writes DIR/parts.csv with columns " + ",".join(CSV_COLUMNS) + ".")
    parser.add_argument("--cfgs", required=True, metavar="CFG", help="the run's yaml config")
    parser.add_argument("--iter", type=at_least(0), default=None, metavar="N",
                        help="checkpoint iteration (default: the newest checkpoint of the run; 0: untrained)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for parts.csv (default: the run's output folder)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.set_defaults(func=partial(_run, parser))


def part_table(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int | None = None,
               device: str = "auto") -> tuple[list[PartRow], int, Path]:
    """The part statistics of checkpoint ``iteration`` (default: the newest) over the config's test set.

    Returns:
        The rows (block, then part order), the iteration used and the run's test output folder.

    Raises:
        ConfigError: the network has no 3D local blocks. CheckpointError: no checkpoint to use.
    """
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs))
    save_path = output_path(cfgs, training=False)
    if iteration is None:
        saved = saved_iterations(save_path, cfgs["evaluator_cfg"]["save_name"])
        if not saved:
            raise CheckpointError(f"{save_path / 'checkpoints'}: no checkpoint of "
                                  f"'{cfgs['evaluator_cfg']['save_name']}' (train first, or give --iter)")
        iteration = saved[-1]
    cfgs["evaluator_cfg"]["restore_hint"] = iteration
    with distributed.session(device) as context:
        msg_mgr = get_msg_mgr()
        msg_mgr.init_logger(save_path, log_to_file=False, is_main=context.is_main)
        try:
            model = NetworkHost(cfgs, training=False)
            blocks = named_local_blocks(model.net)
            if not blocks:
                raise ConfigError(f"model_cfg: {cfgs['model_cfg']['model']} has no 3D local blocks to report on")
            model.eval()
            with PartMonitor(blocks) as monitor:
                model.inference(context.rank)
        finally:
            msg_mgr.close()
    return monitor.rows(), iteration, save_path


def format_parts(rows: list[PartRow]) -> str:
    """An aligned text table, one line per block and part."""
    header = list(CSV_COLUMNS)
    lines = [[row.block, row.part, *(f"{getattr(row, name):.3f}" for name in STATISTICS)] for row in rows]
    widths = [max(len(line[k]) for line in [header, *lines]) for k in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if k < 2 else cell.rjust(w) for k, (cell, w) in
                               enumerate(zip(line, widths))) for line in [header, *lines])


def parts_csv(rows: list[PartRow]) -> str:
    """``parts.csv``: the header :data:`CSV_COLUMNS`, then one line per block and part."""
    lines = [",".join(CSV_COLUMNS)]
    lines += [",".join([row.block, row.part, *(f"{getattr(row, name):.4f}" for name in STATISTICS)]) for row in rows]
    return "\n".join(lines) + "\n"


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        rows, iteration, save_path = part_table(args.cfgs, args.iter, args.device)
    except EngineError as err:
        print(f"opengait-local3d parts: error: {err}", file=sys.stderr)
        return 2
    out = (args.out or save_path) / "parts.csv"
    atomic_write_text(out, parts_csv(rows))
    print(f"\nParts of checkpoint {iteration} over the test set:\n{format_parts(rows)}\n\nwritten to {out}")
    return 0
