"""``opengait-local3d identify``: the nearest gallery identities of probe sequences, and open-set thresholds
(:mod:`opengait_local3d.deploy.identification`)."""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from functools import partial
from pathlib import Path

from ..deploy.gallery import Gallery, load_gallery
from ..deploy.identification import Calibration, Identification, calibrate, identify
from ..errors import EngineError
from ..utils.atomic import atomic_write_text
from .arguments import at_least

__all__ = ["register", "identifications_csv", "identifications_json"]

OUT_FORMATS = (".csv", ".json")
DEFAULT_FARS = (0.001, 0.01, 0.1)


def _number(minimum: float, maximum: float = math.inf):
    """An argparse ``type``: a finite number in ``[minimum, maximum]``, else a usage error saying so."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and minimum <= value <= maximum):
            bounds = f">= {minimum:g}" if maximum == math.inf else f"in [{minimum:g}, {maximum:g}]"
            raise argparse.ArgumentTypeError(f"expected a finite number {bounds}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``identify`` subcommand."""
    parser = subparsers.add_parser(
        "identify", help="the nearest gallery identities of probe sequences",
        description="Embed the probe sequences with the gallery's model and checkpoint (as enroll and the test phase "
                    "do) and list each probe's K nearest gallery identities with their distances: the evaluator's "
                    "distance (Euclidean, or cosine if the config says so, averaged over parts), an identity at its "
                    "nearest sequence. With --threshold, a probe whose nearest identity is farther is 'unknown'. "
                    "--calibrate prints the thresholds at false-accept rates from the distances between the "
                    "gallery's own sequences (pairs of one id: genuine; of two ids: impostors).",
        epilog="Example: opengait-local3d identify --gallery gallery.npz --probe walks --top 5 --threshold 0.8 "
               "--out matches.csv")
    parser.add_argument("--gallery", required=True, type=Path, metavar="GALLERY", help="a file enroll wrote")
    parser.add_argument("--probe", type=Path, metavar="DIR_OR_SEQUENCE",
                        help="a folder of sequences (pkl layout <id>/<type>/<view>/*.pkl, or <id>/<type>/<view>/ "
                             "folders of silhouette PNGs, converted as pretreat does to the gallery's frame size), "
                             "or one sequence: a .pkl file or a folder of its PNG frames")
    parser.add_argument("--top", type=at_least(1), default=5, metavar="K", help="identities listed (default: 5)")
    parser.add_argument("--threshold", type=_number(0.0), default=None, metavar="D",
                        help="a probe whose nearest identity is farther than D is 'unknown' (default: none)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="also write the results: FILE.csv (one row per probe: probe, id, type, view, match, "
                             "identity_1, distance_1, ...) or FILE.json")
    parser.add_argument("--gallery-views", nargs="+", default=None, metavar="VIEW",
                        help="match against the gallery's sequences of these views only")
    parser.add_argument("--calibrate", action="store_true",
                        help="print the thresholds at the false-accept rates of --far from the gallery's pairs")
    parser.add_argument("--far", type=_number(0.0, 1.0), nargs="+", default=list(DEFAULT_FARS), metavar="RATE",
                        help=f"false-accept rates for --calibrate (default: {' '.join(map(str, DEFAULT_FARS))})")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.set_defaults(func=partial(_run, parser))


def identifications_csv(results: list[Identification]) -> str:
    """One row per probe: ``probe, id, type, view, match``, then ``identity_k, distance_k`` for k = 1..K."""
    top = max((len(r.identities) for r in results), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["probe", "id", "type", "view", "match",
                     *(f"{name}_{k}" for k in range(1, top + 1) for name in ("identity", "distance"))])
    for r in results:
        writer.writerow([r.probe, r.id, r.type, r.view, r.match,
                         *(value for pair in zip(r.identities, (repr(d) for d in r.distances)) for value in pair)])
    return buffer.getvalue()


def identifications_json(results: list[Identification], gallery_path: Path, gallery: Gallery,
                         threshold: float | None) -> str:
    """The results with what they were matched against: the gallery, its model and the threshold."""
    return json.dumps({
        "gallery": str(gallery_path), "model": gallery.model.describe(), "metric": gallery.model.metric,
        "threshold": threshold,
        "probes": [{"probe": r.probe, "id": r.id, "type": r.type, "view": r.view, "match": r.match,
                    "nearest": [{"identity": i, "distance": d} for i, d in zip(r.identities, r.distances)]}
                   for r in results]}, indent=1) + "\n"


def format_identifications(results: list[Identification]) -> str:
    """An aligned table: probe, match, then the nearest identities with their distances."""
    rows = [["probe", "match", "nearest (distance)"]]
    rows += [[r.probe, r.match, "  ".join(f"{i} ({d:.4f})" for i, d in zip(r.identities, r.distances))]
             for r in results]
    widths = [max(len(row[k]) for row in rows) for k in range(2)]
    return "\n".join(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}" for row in rows)


def format_calibration(calibration: Calibration) -> str:
    """The thresholds, one line per false-accept rate."""
    sample = " (impostors of a sample of the gallery's sequences)" if calibration.sampled else ""
    lines = [f"Thresholds from {calibration.genuine_pairs} genuine and {calibration.impostor_pairs} impostor "
             f"pairs{sample}:", f"{'FAR':>8}  {'threshold':>10}  {'FAR reached':>11}  {'genuine accepted':>16}"]
    lines += [f"{p.far:>8g}  {p.threshold:>10.4f}  {p.achieved_far:>11.4%}  {p.genuine_accept:>16.2%}"
              for p in calibration.points]
    return "\n".join(lines)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.probe is None and not args.calibrate:
        parser.error("give --probe, --calibrate or both")
    if args.out is not None and args.out.suffix.lower() not in OUT_FORMATS:
        parser.error(f"--out: {args.out} must end in {' or '.join(OUT_FORMATS)}")
    try:
        gallery = load_gallery(args.gallery)
        if args.calibrate:
            print(format_calibration(calibrate(gallery, args.far)))
        if args.probe is None:
            return 0
        found = identify(gallery, args.probe, args.top, args.threshold, args.device, args.gallery_views)
    except EngineError as err:
        print(f"opengait-local3d identify: error: {err}", file=sys.stderr)
        return 2
    if found is None:
        return 0
    results, matched = found
    print(format_identifications(results))
    if args.out is not None:
        text = (identifications_csv(results) if args.out.suffix.lower() == ".csv"
                else identifications_json(results, args.gallery, matched, args.threshold))
        atomic_write_text(args.out, text)
        print(f"written to {args.out}")
    return 0
