"""``opengait-local3d synth``: render SynthGait (:func:`opengait_local3d.datasets.synthgait.generate`)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from functools import partial
from pathlib import Path

from ..datasets.synthgait import PRESETS, TYPES, VIEWS, Realism, SynthGaitSpec, generate

#: the realism options as flags: (field, help); each defaults to the --realism preset's value
REALISM_FLAGS = (
    ("identity_spread", "factor in (0, 1] on the between-subject range of every body and gait parameter: "
                        "closer identities, walks as varied as before"),
    ("shadow_rate", "fraction of recordings with a floor shadow at the feet"),
    ("shadow_thickness", "half-height of that shadow, in statures"),
    ("holes", "mean number of large holes per frame (clothes matching the background)"),
    ("ragged", "ragged edges: how far, in statures, the mask boundary moves in or out patch by patch "
               "(thin parts break up); 0 for clean edges"),
    ("drop_limb", "probability per frame that a forearm or a shin and foot is missing from the mask"),
    ("merge_limbs", "probability per frame that narrow gaps (between the legs, arm and torso) are filled"),
    ("merge_width", "width of the gaps that merge, in statures"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` subcommand."""
    defaults = SynthGaitSpec()
    parser = subparsers.add_parser(
        "synth", help="generate SynthGait, a CASIA-B-shaped synthetic dataset",
        description="Render SynthGait: walking silhouettes of articulated 3D bodies with CASIA-B's structure "
                    f"(ids 001.., types {', '.join(TYPES)}, views in degrees) in OpenGait's pkl layout, plus the "
                    "partition OUT/SynthGait.json (first 60% of ids train). An existing OUT is reused if it is a "
                    "complete SynthGait output with the same parameters, completed if it is an incomplete one, "
                    "replaced if it is one of other parameters only with --force, and never overwritten if it is "
                    "anything else.",
        epilog="Examples: opengait-local3d synth --out data/SynthGait --subjects 50 --size 64 --workers 2; "
               "the harder data for 64x44 comparisons: opengait-local3d synth --out data/SynthGait-hard --subjects 50 "
               "--size 64 --realism hard")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output dataset root")
    parser.add_argument("--subjects", type=int, default=defaults.subjects, metavar="N",
                        help=f"number of subjects (default: {defaults.subjects}, as CASIA-B)")
    parser.add_argument("--views", type=int, nargs="+", default=list(VIEWS), metavar="DEG",
                        help="camera azimuths in degrees: 0 = walking towards the camera, 90 = side view, "
                             "180 = from behind (default: 0 18 ... 180)")
    parser.add_argument("--frames", type=int, default=defaults.frames, metavar="N",
                        help=f"minimum frames per sequence; each has N to 1.25 N (default: {defaults.frames})")
    parser.add_argument("--size", type=int, default=defaults.size, metavar="PX",
                        help=f"side of the square silhouettes (default: {defaults.size})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: 0)")
    parser.add_argument("--workers", type=int, default=None, metavar="K",
                        help="worker processes (default: CPUs available); the data do not depend on it")
    parser.add_argument("--force", action="store_true",
                        help="replace a SynthGait in OUT that was generated with other parameters")
    realism = parser.add_argument_group(
        "realism", "How close to real segmented silhouettes, and how hard, the data are. 'clean' (default) is the "
                   "original SynthGait, byte for byte; 'hard' adds segmentation noise (large holes, ragged edges, a "
                   "missing or merged limb, frequent shadows at the feet), closer identities and more varied "
                   "covariates, for ranking models at 64x44. Each option below replaces the preset's value "
                   f"(hard: {_describe(PRESETS['hard'])}).")
    realism.add_argument("--realism", choices=list(PRESETS), default="clean", help="preset (default: clean)")
    for name, text in REALISM_FLAGS:
        realism.add_argument(f"--{name.replace('_', '-')}", type=float, default=None, metavar="X",
                             help=f"{text} (clean: {getattr(PRESETS['clean'], name)})")
    realism.add_argument("--varied-covariates", action=argparse.BooleanOptionalAction, default=None,
                         help="walking speed +-20%% instead of +-7%%, four bag kinds (a front pouch too) over wider "
                              "sizes, coats from a short jacket to below the knee (clean: off, hard: on)")
    parser.set_defaults(func=partial(_run, parser))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        overrides = {name: getattr(args, name) for name in [*(name for name, _ in REALISM_FLAGS), "varied_covariates"]
                     if getattr(args, name) is not None}
        result = generate(args.out, subjects=args.subjects, views=args.views, frames=args.frames, size=args.size,
                          seed=args.seed, workers=args.workers, force=args.force,
                          realism=Realism.preset(args.realism, **overrides))
    except ValueError as err:
        parser.error(str(err))
    except FileExistsError as err:
        print(f"opengait-local3d synth: error: {err}", file=sys.stderr)
        return 2
    state = "reused the complete SynthGait already in" if result.reused else "wrote SynthGait to"
    print(f"opengait-local3d synth: {state} {result.root}\n"
          f"  dataset_root: {result.root}\n  dataset_partition: {result.partition}")
    return 0


def _describe(realism: Realism) -> str:
    """``field value, ...`` for the fields where ``realism`` differs from the clean preset."""
    clean = PRESETS["clean"]
    names = [f.name for f in fields(realism)]
    return ", ".join(f"{name.replace('_', '-')} {getattr(realism, name)}" for name in names
                     if getattr(realism, name) != getattr(clean, name))
