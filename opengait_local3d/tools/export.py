"""``opengait-local3d export``: a trained network as TorchScript or ONNX, checked against PyTorch
(:mod:`opengait_local3d.deploy.export`)."""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from ..deploy.export import CHECK_FRAMES, FORMATS, TOLERANCE, export_network
from ..errors import EngineError
from .arguments import add_checkpoint_arguments, at_least

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export", help="export a trained network (TorchScript or ONNX)",
        description="Export checkpoint N of a run for inference: silhouettes [n, s, h, w] float32 as stored in the "
                    "pkls (0..255) -> the evaluator's transform -> embeddings [n, c, p], with n and s (the frame "
                    "count) dynamic. The export is checked against PyTorch on random sequences of the --check-frames "
                    f"lengths (relative error max|export - torch| / max|torch| at most {TOLERANCE:g}) and written "
                    "only if it passes. ONNX needs the optional packages onnx, onnxscript and onnxruntime "
                    "(pip install \"opengait-local3d[export]\"); the input is named 'silhouettes', the output "
                    "'embeddings'.",
        epilog="Example: opengait-local3d export --cfgs configs/3dlocal_casiab.yaml --iter 60000 --format onnx "
               "--out local3d.onnx")
    add_checkpoint_arguments(parser)
    parser.add_argument("--format", required=True, choices=FORMATS, help="onnx or torchscript")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="the file to write")
    parser.add_argument("--frame-size", type=at_least(1), nargs=2, default=None, metavar=("H", "W"),
                        help="the input frames' size (default: that of the config's data_cfg.dataset_root)")
    parser.add_argument("--check-frames", type=at_least(1), nargs="+", default=list(CHECK_FRAMES), metavar="S",
                        help=f"sequence lengths the export is checked on (default: "
                             f"{' '.join(map(str, CHECK_FRAMES))})")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        checks = export_network(args.cfgs, args.iter, args.format, args.out, args.frame_size, args.check_frames)
    except EngineError as err:
        print(f"opengait-local3d export: error: {err}", file=sys.stderr)
        return 2
    errors = ", ".join(f"{c.frames} frames {c.relative_error:.1e}" for c in checks)
    print(f"opengait-local3d export: wrote {args.out} ({args.format}); relative error against PyTorch: {errors} "
          f"(tolerance {TOLERANCE:g})")
    return 0
