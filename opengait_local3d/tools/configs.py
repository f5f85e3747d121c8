"""``opengait-local3d configs``: copy the package's configs into a folder, to read, edit and run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..resources import CONFIG_DIR
from ..utils.atomic import atomic_write

__all__ = ["register", "copy_configs"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``configs`` subcommand."""
    parser = subparsers.add_parser(
        "configs", help="copy the configs (paper tables, ablations, partitions, quick start) into a folder",
        description="Copy every config this package ships (the paper's Table 1-5 configs, the baselines, "
                    "configs/default.yaml, the partition files and the engine-only synth/ configs) into DIR, "
                    "keeping their folders. A file already in DIR is never overwritten: an identical one is "
                    "reported as unchanged, a different one as kept.",
        epilog="Then: set data_cfg.dataset_root in DIR/3dlocal_casiab.yaml and run "
               "python -m opengait_local3d.main --cfgs DIR/3dlocal_casiab.yaml --phase train")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="the folder to copy into")
    parser.set_defaults(func=_run)


def copy_configs(out: Path, source: Path = CONFIG_DIR) -> dict[str, str]:
    """Copy every file under ``source`` to ``out`` (same relative paths) without overwriting anything.

    Returns:
        ``{relative path: outcome}``, outcome ``wrote``, ``unchanged`` (identical file there) or ``kept`` (a
        different file there, left as it is).
    """
    outcomes = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source)
        target = out / relative
        content = path.read_bytes()
        if not target.exists():
            with atomic_write(target) as handle:
                handle.write(content)
            outcomes[relative.as_posix()] = "wrote"
        else:
            outcomes[relative.as_posix()] = "unchanged" if target.read_bytes() == content else "kept"
    return outcomes


def _run(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        print(f"opengait-local3d configs: error: {args.out} exists and is not a folder", file=sys.stderr)
        return 2
    outcomes = copy_configs(args.out)
    for relative, outcome in outcomes.items():
        if outcome != "wrote":
            print(f"{outcome:>9}  {relative}" + ("  (differs from the package's; left as it is)"
                                                 if outcome == "kept" else ""))
    written = sum(outcome == "wrote" for outcome in outcomes.values())
    print(f"opengait-local3d configs: {written} of {len(outcomes)} files written to {args.out} (from {CONFIG_DIR})")
    return 0
