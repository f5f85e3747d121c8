"""Data pipeline of the engine at CASIA-B training settings: collate, transforms, whole loader.

    python benchmarks/engine_data.py [--repeats 20] [--no-loader]

Prints medians over repeats (seconds per batch of P x K = 8 x 16 sequences of 70..110 frames of 64 x 64,
fixed_ordered 30-frame clips with 10 skip frames):

* the engine's vectorised collate, and a per-sequence, per-frame reference written like OpenGait's collate
  (a Python loop over sequences drawing with ``random`` and appending frames one by one), with their ratio;
* the training transforms (cut 64 -> 44, /255, random flip of whole sequences) on the batch;
* the whole DataLoader (pkl files on disk in a temporary folder; 0 and 2 workers; with and without cache).
"""
from __future__ import annotations

import argparse
import math
import pickle
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from opengait_local3d.engine.data import (CollateFn, GaitDataset, Sample, SampleKey, SequenceInfo, TripletSampler,
                                          get_transform)

P, K, CLIP, SKIP, SIZE = 8, 16, 30, 10, 64
SAMPLER_CFG = {"sample_type": "fixed_ordered", "frames_num_fixed": CLIP, "frames_skip_num": SKIP}


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_collate(samples: list[Sample]) -> np.ndarray:
    """OpenGait-style: per sequence, a random window and sorted frames, appended one frame at a time."""
    clips = []
    for sample in samples:
        seq = sample.frames[0]
        indices = list(range(len(seq)))
        window = CLIP + SKIP
        if len(indices) < window:
            repeat = math.ceil(window / len(indices))
            indices = indices * repeat
        start = random.choice(range(len(indices) - window + 1))
        chosen = sorted(np.random.choice(range(start, start + window), CLIP, replace=False))
        frames = []
        for i in chosen:
            frames.append(seq[indices[i]])
        clips.append(np.asarray(frames))
    return np.asarray(clips)


def synthetic_samples(rng: np.random.Generator) -> list[Sample]:
    return [Sample([(rng.random((int(rng.integers(70, 111)), SIZE, SIZE)) < 0.3).astype(np.uint8) * 255],
                   SequenceInfo(f"{i // K:03d}", "nm-01", "000", (f"{i}.pkl",)), SampleKey(i, 0, 1234))
            for i in range(P * K)]


def loader_seconds_per_batch(root: Path, partition: Path, workers: int, cache: bool, batches: int) -> float:
    dataset = GaitDataset({"dataset_root": str(root), "dataset_partition": str(partition), "cache": cache},
                          training=True)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=TripletSampler(dataset, [P, K]),
                                         collate_fn=CollateFn(dataset.label_set, SAMPLER_CFG), num_workers=workers)
    iterator = iter(loader)
    next(iterator)  # workers started, first batch out of the way
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return (time.perf_counter() - start) / batches


def write_dataset(folder: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    ids = [f"{i:03d}" for i in range(P)]
    for label in ids:
        for typ in ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02"):
            for view in ("000", "090"):
                path = folder / label / typ / view / f"{view}.pkl"
                path.parent.mkdir(parents=True)
                frames = (rng.random((int(rng.integers(70, 111)), SIZE, SIZE)) < 0.3).astype(np.uint8) * 255
                path.write_bytes(pickle.dumps(frames))
    partition = folder / "partition.json"
    partition.write_text('{"TRAIN_SET": %s, "TEST_SET": []}' % str(ids).replace("'", '"'))
    return folder, partition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-loader", action="store_true", help="skip the DataLoader measurements")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    samples = synthetic_samples(rng)
    collate = CollateFn([f"{i:03d}" for i in range(P)], SAMPLER_CFG)
    engine = median_time(lambda: collate(samples), args.repeats)
    reference = median_time(lambda: reference_collate(samples), args.repeats)
    print(f"batch: {P} x {K} sequences of 70..110 frames of {SIZE}x{SIZE}, {CLIP}-frame ordered clips")
    print(f"collate, engine (vectorised)      {engine * 1e3:8.2f} ms/batch")
    print(f"collate, per-frame reference      {reference * 1e3:8.2f} ms/batch   ({reference / engine:.1f}x the engine's)")
    transforms, = get_transform([{"type": "Compose", "trf_cfg": [{"type": "BaseSilCuttingTransform"},
                                                                  {"type": "RandomHorizontalFlip"}]}], "transform")
    batch = collate(samples).seqs[0]
    generator = torch.Generator().manual_seed(0)
    seconds = median_time(lambda: transforms(batch, None, generator), args.repeats)
    print(f"transforms (uint8 in: cut, /255, flip) {seconds * 1e3:5.2f} ms/batch")
    if args.no_loader:
        return
    with tempfile.TemporaryDirectory() as tmp:
        root, partition = write_dataset(Path(tmp), rng)
        for workers in (0, 2):
            for cache in (False, True):
                seconds = loader_seconds_per_batch(root, partition, workers, cache, max(args.repeats // 2, 5))
                print(f"DataLoader, {workers} workers, cache {str(cache):5s}  {seconds * 1e3:8.2f} ms/batch")


if __name__ == "__main__":
    main()
