"""``opengait-local3d pretreat``: raw silhouette PNGs -> OpenGait's pkl layout (:mod:`opengait_local3d.datasets.pretreatment`)."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..datasets.pretreatment import DATASETS, format_report, pretreat

def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pretreat`` subcommand."""
    parser = subparsers.add_parser(
        "pretreat", help="raw silhouette PNGs -> OpenGait pkl layout",
        description="Normalise raw silhouette frames as OpenGait's pretreatment does (crop to the silhouette, "
                    "resize to SIZE rows, centre on the horizontal mass centre, pad or cut to SIZE x SIZE) and "
                    "write OUT/<id>/<type>/<view>/<view>.pkl (uint8 [T, SIZE, SIZE]).",
        epilog="Example: opengait-local3d pretreat -i CASIA-B -o CASIA-B-pkl --workers 8")
    parser.add_argument("-i", "--input", "--input_path", dest="input", required=True, type=Path, metavar="RAW",
                        help="raw dataset root")
    parser.add_argument("-o", "--output", "--output_path", dest="output", required=True, type=Path, metavar="OUT",
                        help="output root (created if absent; existing pkls of the same sequences are replaced)")
    parser.add_argument("--size", "--img_size", dest="size", type=int, default=64,
                        help="side of the square output frames (default: 64)")
    parser.add_argument("--workers", "--n_workers", dest="workers", type=int, default=None,
                        help="worker processes (default: CPUs available)")
    parser.add_argument("--dataset", type=str.lower, choices=DATASETS, default="casiab",
                        help="input layout: casiab = RAW/<id>/<type>/<view>/*.png; "
                             "oumvlp = RAW/Silhouette_<view>-<seq>/<id>/*.png (default: casiab)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every skipped file and sequence")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Bad arguments are usage errors (exit 2); a missing or empty input is an error too, without usage."""
    try:
        report = pretreat(args.input, args.output, size=args.size, workers=args.workers, dataset=args.dataset)
    except ValueError as err:
        parser.error(str(err))
    except (FileNotFoundError, FileExistsError) as err:
        print(f"opengait-local3d pretreat: error: {err}", file=sys.stderr)
        return 2
    print(format_report(report, args.output, verbose=args.verbose))
    return 0 if report.written else 1
