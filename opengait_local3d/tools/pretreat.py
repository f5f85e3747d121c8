"""``opengait-local3d pretreat``: raw silhouette PNGs -> OpenGait's pkl layout (:mod:`opengait_local3d.datasets.pretreatment`)."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..datasets.pretreatment import DATASETS, PretreatReport, SequenceResult, pretreat
from ..datasets.silhouette import MIN_SEQUENCE_FRAMES

#: How many examples of each problem the summary prints (all with --verbose).
EXAMPLES = 5


def format_report(report: PretreatReport, output: Path, verbose: bool = False) -> str:
    """Human-readable summary: what was written, and every kind of problem with examples."""
    limit = None if verbose else EXAMPLES
    written = report.written
    lines = [f"Wrote {len(written)} sequences ({sum(s.frames for s in written)} frames) to {output}."]

    def section(title: str, items: list[str], count: str | None = None) -> None:
        if not items:
            return
        lines.append(f"{title}: {count or len(items)}")
        lines.extend(f"  {item}" for item in items[:limit])
        if limit is not None and len(items) > limit:
            lines.append(f"  ... {len(items) - limit} more (--verbose lists all)")

    def name(result: SequenceResult) -> str:
        return "/".join(result.key)

    near_empty = [f"{name(s)}: {s.near_empty}" for s in report.sequences if s.near_empty]
    section("Near-empty frames skipped", near_empty,
            f"{sum(s.near_empty for s in report.sequences)} (in {len(near_empty)} sequences)")
    section("Unreadable or non-image files skipped", [p for s in report.sequences for p in s.unreadable])
    section("Sequences with no frame (empty folder or no readable image), not written",
            [name(s) for s in report.empty])
    section("Sequences whose every frame is near-empty, not written", [name(s) for s in report.all_near_empty])
    section(f"Warning: sequences with fewer than {MIN_SEQUENCE_FRAMES} frames",
            [f"{name(s)}: {s.frames}" for s in report.short])
    section("Entries outside the layout, ignored",
            report.outside_layout + [p for s in report.sequences for p in s.ignored])
    return "\n".join(lines)


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
