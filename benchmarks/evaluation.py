"""Time and peak memory of ``evaluate_indoor_dataset`` on an OU-MVLP-sized test set of random features.

OU-MVLP's test set: 5153 subjects x 14 views x 2 sequences ('00' probe, '01' gallery), embeddings of
16 parts x 256 features: about 144k sequences. The evaluation's cost is one distance per (probe,
gallery sequence) pair, i.e. 2 * probes * gallery * p * c FLOPs of matrix products; the FLOP-bound
time divides that by the best matrix-product rate measured here, in the same run.

    python benchmarks/evaluation.py                 # full size (minutes on 2 cores)
    python benchmarks/evaluation.py --scale 0.1     # 10% of the subjects, quick
    python benchmarks/evaluation.py --sweep         # effective GFLOP/s per (probe chunk, gallery block)
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np
import torch

from opengait_local3d.engine.evaluation import distance_matrix, evaluate_indoor_dataset, prepare_features
from opengait_local3d.engine.evaluation.distances import GALLERY_BLOCK, PROBE_CHUNK

SUBJECTS, VIEWS, PARTS, FEATURES = 5153, 14, 16, 256


def peak_rss_gib() -> float:
    """VmHWM (peak resident memory of this process) in GiB."""
    with open("/proc/self/status") as status:
        line = next(row for row in status if row.startswith("VmHWM:"))
    return int(line.split()[1]) / 2 ** 20


def best_seconds(fn, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls after a warm-up: the rate a quiet machine reaches."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(repeats: int = 5) -> dict[str, float]:
    """Matrix-product rates (best of ``repeats``): a large GEMM and the Euclidean block's batched GEMM."""
    a, b = torch.randn(2048, 4096), torch.randn(4096, 4096)
    square = 2 * 2048 * 4096 * 4096 / best_seconds(lambda: a @ b, repeats) / 1e9
    x, y = torch.randn(PARTS, GALLERY_BLOCK, FEATURES), torch.randn(PARTS, FEATURES, PROBE_CHUNK)
    block = 2 * PARTS * PROBE_CHUNK * FEATURES * GALLERY_BLOCK / best_seconds(lambda: torch.bmm(x, y), 20) / 1e9
    block_name = f"bmm [{PARTS},{GALLERY_BLOCK},{FEATURES}]x[{FEATURES},{PROBE_CHUNK}]"
    return {"GEMM 2048x4096x4096": square, block_name: block}


def random_oumvlp(subjects: int, seed: int) -> dict:
    """OpenGait's evaluator input for ``subjects`` x VIEWS x 2 sequences of random embeddings."""
    generator = torch.Generator().manual_seed(seed)
    n = subjects * VIEWS * 2
    embeddings = torch.randn(n, FEATURES, PARTS, generator=generator).numpy()
    index = np.arange(n)
    views = [f"{v:03d}" for v in (0, 15, 30, 45, 60, 75, 90, 180, 195, 210, 225, 240, 255, 270)]
    return {"embeddings": embeddings,
            "labels": [f"{i:05d}" for i in index // (VIEWS * 2)],
            "views": [views[i] for i in (index // 2) % VIEWS],
            "types": ["00" if i % 2 == 0 else "01" for i in index]}


def sweep(metric: str) -> None:
    """Effective GFLOP/s of distance_matrix for several (probe chunk, gallery block) sizes."""
    gallery = prepare_features(torch.randn(8192, FEATURES, PARTS), range(8192), metric, "gallery")
    probes = prepare_features(torch.randn(1024, FEATURES, PARTS), range(1024), metric, "probe")
    print(f"{'chunk':>6} {'block':>6} {'GFLOP/s':>8}")
    for chunk in (64, 128, 256, 512, 1024):
        for block in (256, 512, 1024, 4096):
            def run():
                for start in range(0, 1024, chunk):
                    distance_matrix(gallery, probes.rows(start, start + chunk), block)
            seconds = best_seconds(run, 3)
            print(f"{chunk:>6} {block:>6} {2 * 1024 * 8192 * PARTS * FEATURES / seconds / 1e9:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of OU-MVLP's 5153 test subjects")
    parser.add_argument("--metric", choices=("euc", "cos"), default="euc")
    parser.add_argument("--cross-view-gallery", action="store_true",
                        help="OpenGait's cross-view-gallery protocol (rank-1 and mAP) instead of the standard one")
    parser.add_argument("--repeats", type=int, default=1, help="evaluation runs (the median is printed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", action="store_true", help="only time the block sizes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.sweep:
        sweep(args.metric)
        return

    subjects = max(2, round(SUBJECTS * args.scale))
    data = random_oumvlp(subjects, args.seed)
    probes = gallery = subjects * VIEWS
    flops = 2 * probes * gallery * PARTS * FEATURES
    rates_before = matmul_gflops()
    features_gib = data["embeddings"].nbytes / 2 ** 30
    baseline = peak_rss_gib()
    times, cpu_times, result = [], [], {}
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = evaluate_indoor_dataset(data, "OUMVLP", metric=args.metric,
                                         cross_view_gallery=args.cross_view_gallery)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    seconds, cpu_seconds = statistics.median(times), statistics.median(cpu_times)
    # Rates measured before and after: on a shared machine they show how busy it was meanwhile.
    rates_after = matmul_gflops()
    best = max(*rates_before.values(), *rates_after.values())
    print(f"test set: {len(data['labels'])} sequences ({probes} probes, {gallery} gallery), "
          f"embeddings {PARTS} parts x {FEATURES} = {features_gib:.2f} GiB, metric {args.metric}"
          f"{', cross-view gallery' if args.cross_view_gallery else ''}")
    for name, rate in rates_before.items():
        print(f"matmul rate (best of repeats, before / after evaluating), {name}: "
              f"{rate:.1f} / {rates_after[name]:.1f} GFLOP/s")
    bound = flops / best / 1e9
    print(f"distance FLOPs: {flops / 1e12:.2f} TFLOP; FLOP-bound time at {best:.1f} GFLOP/s: {bound:.1f} s")
    threads = torch.get_num_threads()
    print(f"evaluation time (median of {args.repeats}): {seconds:.1f} s = {seconds / bound:.2f} x FLOP-bound")
    # On a shared machine the process gets less than its threads' worth of cores; its CPU time against
    # the FLOP-bound CPU time (bound x threads) is the figure that contention distorts least.
    print(f"evaluation CPU time: {cpu_seconds:.1f} s ({cpu_seconds / seconds:.2f} of {threads} cores busy on "
          f"average) = {cpu_seconds / (bound * threads):.2f} x FLOP-bound CPU time")
    print(f"peak memory (VmHWM): {peak_rss_gib():.2f} GiB, of which before evaluating {baseline:.2f} GiB "
          f"(embeddings {features_gib:.2f} GiB)")
    rank1 = result["scalar/test_accuracy/" + ("NM-Rank@1" if args.cross_view_gallery else "NM@R1")]
    print(f"NM rank-1 on random features: {rank1:.3f}% (chance about {100 / subjects:.3f}%)")


if __name__ == "__main__":
    main()
