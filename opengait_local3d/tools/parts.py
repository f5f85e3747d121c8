"""``opengait-local3d parts``: where a trained model's parts are, over the test set (centres on the map,
boxes on the map, windows in the clip, gamma, shift from the prior), per block and part."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..deploy.parts import CSV_COLUMNS, part_table, parts_csv
from ..errors import EngineError
from ..local3d import STATISTICS, PartRow
from ..utils.atomic import atomic_write_text
from .arguments import at_least

__all__ = ["register", "format_parts"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``parts`` subcommand."""
    parser = subparsers.add_parser(
        "parts", help="where a model's 3D local parts are, over the test set",
        description="Run the test set through checkpoint N of a run (the evaluator's sampler, transform and "
                    "network, as the test phase does) and report, per block and part: centre_on_map (fraction "
                    "of frames whose box centre lies on the block's input map), box_on_map (mean fraction of "
                    "the box on the map), window_in_clip (fraction of sequences whose temporal window lies in "
                    "the sequence), the mean gamma and shift (mean distance of the centre from the part's prior, "
                    "in the prior's extents per axis: 0 where the prior puts it). A part off the map or clip "
                    "samples zeros there.",
        epilog="Writes DIR/parts.csv with columns " + ",".join(CSV_COLUMNS) + ".")
    parser.add_argument("--cfgs", required=True, metavar="CFG", help="the run's yaml config")
    parser.add_argument("--iter", type=at_least(0), default=None, metavar="N",
                        help="checkpoint iteration (default: the newest checkpoint of the run; 0: untrained)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for parts.csv (default: the run's output folder)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.set_defaults(func=partial(_run, parser))


def format_parts(rows: list[PartRow]) -> str:
    """An aligned text table, one line per block and part."""
    header = list(CSV_COLUMNS)
    lines = [[row.block, row.part, *(f"{getattr(row, name):.3f}" for name in STATISTICS)] for row in rows]
    widths = [max(len(line[k]) for line in [header, *lines]) for k in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if k < 2 else cell.rjust(w) for k, (cell, w) in
                               enumerate(zip(line, widths))) for line in [header, *lines])


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
