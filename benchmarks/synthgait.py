"""SynthGait: generation time, and how hard the data are without any training.

The difficulty probe is the classic gait-energy-image baseline: each test sequence becomes its mean
silhouette (GEI), matched by Euclidean nearest neighbour under the CASIA-B protocol (gallery
nm-01..04; probes NM nm-05/06, BG bg-01/02, CL cl-01/02). It prints the cross-view figure (mean over
probe views of the mean over gallery views, identical view excluded, as papers report) and the
same-view figure (identical views only). On real CASIA-B, GEI matching is good within a view and poor
across views; SynthGait should behave the same way, with CL clearly harder than BG harder than NM.

    python benchmarks/synthgait.py                         # 50 subjects x 10 types x 11 views, 64 px
    python benchmarks/synthgait.py --subjects 124 --workers 2 --repeats 3
    python benchmarks/synthgait.py --realism hard          # the harder SynthGait (README, "SynthGait")
    python benchmarks/synthgait.py --realism hard --set identity_spread=1 --set varied_covariates=0
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from opengait_local3d.datasets.silhouette import load_sequence
from opengait_local3d.datasets.synthgait import PRESETS, Realism, generate
from opengait_local3d.datasets.synthgait.generate import PARTITION_FILE
from opengait_local3d.engine.evaluation import as_test_set, get_protocol, single_view_rank1


def realism_option(text: str) -> tuple[str, float | bool]:
    """``NAME=VALUE`` -> ``(NAME, float(VALUE))``, a bool for ``varied_covariates``."""
    name, _, value = text.partition("=")
    return name, bool(float(value)) if name == "varied_covariates" else float(value)


def time_generation(out: Path, args: argparse.Namespace) -> float:
    started = time.perf_counter()
    generate(out, subjects=args.subjects, frames=args.frames, size=args.size, seed=args.seed,
             workers=args.workers, progress=False, realism=Realism.preset(args.realism, **dict(args.set)))
    return time.perf_counter() - started


def gait_energy_images(root: Path) -> dict:
    """The test set as ``evaluate_indoor_dataset`` takes it, one GEI ``[1, size*size, 1]`` per sequence."""
    test_ids = set(json.loads((root / PARTITION_FILE).read_text())["TEST_SET"])
    embeddings, labels, types, views = [], [], [], []
    for path in sorted(root.glob("*/*/*/*.pkl")):
        subject, seq_type, view = path.relative_to(root).parts[:3]
        if subject in test_ids:
            embeddings.append(load_sequence(path).mean(0, dtype=np.float32).reshape(-1, 1) / 255)
            labels.append(subject)
            types.append(seq_type)
            views.append(view)
    return {"embeddings": np.stack(embeddings), "labels": labels, "types": types, "views": views}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=50)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--realism", choices=list(PRESETS), default="clean",
                        help="SynthGait preset (default: clean)")
    parser.add_argument("--set", type=realism_option, action="append", default=[], metavar="NAME=VALUE",
                        help="replace one option of the preset (a Realism field; repeatable)")
    parser.add_argument("--repeats", type=int, default=1, help="generations to time (median reported)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        seconds = [time_generation(Path(scratch) / f"run{i}", args) for i in range(args.repeats)]
        root = Path(scratch) / "run0"
        sequences = list(root.glob("*/*/*/*.pkl"))
        frames = sum(len(load_sequence(p)) for p in sequences)
        median = statistics.median(seconds)
        print(f"generation ({args.realism} {dict(args.set)}): {args.subjects} subjects, {len(sequences)} sequences, {frames} frames at {args.size} px, "
              f"{args.workers} workers: median {median:.1f} s over {args.repeats} run(s) "
              f"({len(sequences) / median:.0f} sequences/s, {frames / median:.0f} frames/s)")

        data = gait_energy_images(root)
        rank1 = single_view_rank1(as_test_set(data), get_protocol("CASIA-B"), "euc")
        cross_view = rank1.mean()
        same_view = np.nanmean(np.diagonal(rank1.accuracy, axis1=1, axis2=2), axis=1)
        subjects = len(set(data["labels"]))
        print(f"GEI nearest neighbour, CASIA-B protocol, {subjects} test subjects (chance {100 / subjects:.1f}%):")
        print(f"{'condition':>9} | {'cross-view rank-1':>17} | {'same-view rank-1':>16}")
        for name, cross, same in zip(rank1.conditions, cross_view, same_view):
            print(f"{name:>9} | {cross:16.1f}% | {same:15.1f}%")


if __name__ == "__main__":
    main()
