"""Training-step and inference cost of Local3DCNN vs GaitPart (and GaitSet) at CASIA-B 64x44 settings.

Prints, for one batch of 32 sequences x 30 frames (8 identities x 4 sequences):

* matmul GFLOP/s of this machine (float32, 2048^3), the yardstick of the FLOP-bound time;
* training step time (forward + losses + backward + Adam step) of Local3DCNN and GaitPart, measured
  alternately in one process, medians of the repeats, and their ratio;
* peak memory of a training step per model (VmHWM of a fresh subprocess running only that model, minus the
  process's resident size before the first step);
* Local3DCNN's parameter count and FLOPs per step (torch.utils.flop_counter; grid_sample is not counted),
  its FLOP-bound time (FLOPs / matmul GFLOP/s) and the ratio of the measured step to it;
* inference embeddings per second (eval mode, no grad, the same batch) for the three models.

By default glibc's allocator is asked to keep freed memory (see :mod:`opengait_local3d.utils.allocator`): without that,
every step returns its multi-GB activations to the kernel and faults them back in (page zeroing in the
kernel, about 15 million page faults and 25 s of system time per Local3DCNN step on a 2-core machine).
``--glibc-default`` measures the untuned allocator.

Run: ``python benchmarks/model_step.py [--repeats 5] [--batch 32] [--frames 30] [--glibc-default]``.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from opengait_local3d.utils.allocator import keep_freed_memory
from opengait_local3d.modeling import build_network
from opengait_local3d.modeling.losses import CrossEntropyLoss, TripletLoss

HEIGHT, WIDTH, IDS = 64, 44, 8

MODEL_CFGS = {  # CASIA-B 64x44 settings: OpenGait's gaitset.yaml / gaitpart.yaml, the paper's Local3DCNN
    "Local3DCNN": {"model": "Local3DCNN", "class_num": 74},
    "GaitPart": {"model": "GaitPart",
                 "backbone_cfg": {"type": "Plain", "in_channels": 1,
                                  "layers_cfg": ["BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3"]},
                 "SeparateFCs": {"in_channels": 128, "out_channels": 128, "parts_num": 16}, "bin_num": [16]},
    "GaitSet": {"model": "GaitSet", "in_channels": [1, 32, 64, 128],
                "SeparateFCs": {"in_channels": 128, "out_channels": 256, "parts_num": 62}, "bin_num": [16, 8, 4, 2, 1]},
}
LOSS_WEIGHTS = {"triplet": 1.0, "softmax": 0.1}  # GLN's (and our Local3DCNN configs') loss terms


def make_batch(batch: int, frames: int) -> tuple:
    generator = torch.Generator().manual_seed(0)
    sils = (torch.rand(batch, frames, HEIGHT, WIDTH, generator=generator) > 0.5).float()
    labels = torch.arange(IDS).repeat_interleave(batch // IDS)
    return ([sils], labels, ["nm-01"] * batch, ["090"] * batch, None)


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_network(MODEL_CFGS[name])
    net.init_parameters()
    return net


def training_step(net: torch.nn.Module, inputs: tuple) -> Callable[[], None]:
    """One optimisation step with OpenGait's losses (triplet margin 0.2; CE scale 16 where there are logits)."""
    losses = {"triplet": TripletLoss(0.2), "softmax": CrossEntropyLoss(scale=16)}
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    net.train()

    def step() -> None:
        feats = net(inputs)["training_feat"]
        total = sum(LOSS_WEIGHTS[k] * losses[k](**v)[0].mean() for k, v in feats.items())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    return step


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def matmul_gflops(size: int = 2048, repeats: int = 7) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    return 2 * size**3 / statistics.median(timed(lambda: a @ b) for _ in range(repeats)) / 1e9


def resident_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def peak_memory_child(name: str, batch: int, frames: int, tuned: bool) -> None:
    """Subprocess entry: print the peak resident growth (MiB) over two training steps of ``name``."""
    if tuned:
        keep_freed_memory()
    step = training_step(build(name), make_batch(batch, frames))
    before = resident_kib("VmRSS:")
    step()
    step()
    print((resident_kib("VmHWM:") - before) / 1024)


def peak_memory_mib(name: str, batch: int, frames: int, tuned: bool) -> float:
    command = [sys.executable, __file__, "--peak-memory-of", name, "--batch", str(batch), "--frames", str(frames)]
    command += [] if tuned else ["--glibc-default"]
    return float(subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()[-1])


def step_flops(name: str, inputs: tuple) -> int:
    step = training_step(build(name), inputs)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def inference_rate(net: torch.nn.Module, inputs: tuple, repeats: int) -> float:
    net.eval()
    with torch.no_grad():
        net(inputs)
        seconds = statistics.median(timed(lambda: net(inputs)) for _ in range(repeats))
    return len(inputs[1]) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per figure (medians are printed)")
    parser.add_argument("--batch", type=int, default=32, help="sequences per batch (a multiple of 8 identities)")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--glibc-default", action="store_true", help="do not tune glibc malloc (see above)")
    parser.add_argument("--peak-memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tuned = not args.glibc_default
    if args.peak_memory_of:
        peak_memory_child(args.peak_memory_of, args.batch, args.frames, tuned)
        return
    allocator = "glibc malloc keeping freed memory" if tuned and keep_freed_memory() else "allocator untuned"

    inputs = make_batch(args.batch, args.frames)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch} x {args.frames} frames "
          f"of {HEIGHT}x{WIDTH}; medians of {args.repeats}; {allocator}")
    gflops = matmul_gflops()
    print(f"matmul: {gflops:.1f} GFLOP/s")

    compared = ("Local3DCNN", "GaitPart")
    # before this process holds any model: a kept heap here plus a child's would not fit in memory
    peak = {name: peak_memory_mib(name, args.batch, args.frames, tuned) for name in compared}
    steps = {name: training_step(build(name), inputs) for name in compared}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        step()  # warm-up
    for _ in range(args.repeats):
        for name, step in steps.items():
            times[name].append(timed(step))
    median = {name: statistics.median(t) for name, t in times.items()}
    for name in steps:
        print(f"train step {name:10s}: {median[name]:.2f} s  (peak memory +{peak[name]:.0f} MiB)")
    print(f"step ratio Local3DCNN / GaitPart: {median['Local3DCNN'] / median['GaitPart']:.2f}")

    params = sum(p.numel() for p in build("Local3DCNN").parameters())
    flops = step_flops("Local3DCNN", inputs)
    bound = flops / (gflops * 1e9)
    print(f"Local3DCNN: {params:,} parameters; {flops / 1e9:.0f} GFLOP per training step (grid_sample not counted); "
          f"FLOP-bound {bound:.2f} s; step / FLOP-bound = {median['Local3DCNN'] / bound:.2f}")

    for name in MODEL_CFGS:
        print(f"inference {name:10s}: {inference_rate(build(name), inputs, args.repeats):.1f} embeddings/s")


if __name__ == "__main__":
    main()
