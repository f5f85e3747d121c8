"""``opengait-local3d enroll``: embed known people's sequences into a gallery file (:mod:`opengait_local3d.deploy`)."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..datasets.pretreatment import format_report
from ..deploy.enrollment import enroll
from ..errors import EngineError
from .arguments import add_checkpoint_arguments, at_least

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``enroll`` subcommand."""
    parser = subparsers.add_parser(
        "enroll", help="embed known people's sequences into a gallery (for identify)",
        description="Embed every sequence under DIR with checkpoint N of a run, exactly as the test phase does (the "
                    "evaluator's sampler, transform and network), and write GALLERY (.npz): the embeddings, ids, "
                    "types and views, the model, the merged config and its sha256, the checkpoint (path, iteration, "
                    "sha256) and the evaluator's metric. DIR is in OpenGait's pkl layout (<id>/<type>/<view>/*.pkl) "
                    "or holds <id>/<type>/<view>/ folders of silhouette PNGs, converted as pretreat does. An "
                    "existing GALLERY is appended to (a sequence it holds already is replaced) when it comes from "
                    "the same model, config and checkpoint, and refused otherwise.",
        epilog="Example: opengait-local3d enroll --cfgs configs/3dlocal_casiab.yaml --iter 60000 --data known "
               "--out gallery.npz")
    add_checkpoint_arguments(parser)
    parser.add_argument("--data", required=True, type=Path, metavar="DIR", help="the sequences to enroll")
    parser.add_argument("--out", required=True, type=Path, metavar="GALLERY", help="the gallery file (.npz)")
    parser.add_argument("--size", type=at_least(16), default=64, metavar="PX",
                        help="side of the square frames PNG silhouettes are converted to (default: 64, as pretreat)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        result = enroll(args.cfgs, args.iter, args.data, args.out, args.device, args.size)
    except EngineError as err:
        print(f"opengait-local3d enroll: error: {err}", file=sys.stderr)
        return 2
    if result is None:
        return 0
    if result.converted is not None:  # the report's first line names the temporary folder: its problems only
        print("\n".join(["Converted the silhouette frames as pretreat does.",
                          *format_report(result.converted, args.data).splitlines()[1:]]))
    gallery = result.gallery
    replaced = f", replacing {result.replaced} it held" if result.replaced else ""
    print(f"opengait-local3d enroll: {result.added} sequences added{replaced}; {args.out} holds {len(gallery)} "
          f"sequences of {len(set(gallery.ids.tolist()))} ids\n  model: {gallery.model.describe()}")
    return 0
