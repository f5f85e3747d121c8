"""Where a training step's time goes: profiled steps per model, their CPU time split by the part of the network.

Builds the models and the training step exactly as ``benchmarks/model_step.py`` does (its configs, batch and losses),
keeps freed memory as the engine does, warms up and profiles ``--profiles`` steps with the autograd profiler (CPU,
without Kineto: its first profiled step, and Kineto's every one, ran up to twice as slow as an unprofiled step here,
most of it in the largest memory-bound operators, while later profiled steps stay within a few percent). The
printed profile is the fastest of them, beside the median unprofiled step. Every operator is charged to a part of the
network by the ``record_function`` range this script opens around it (the stage functions and modules are wrapped
here, for the profile only): the 3D local block's ``localization`` (heads and sampling grid), ``sampling`` (Eq. 10's
filterbanks, which DRAW's write reuses where it can, and matmuls), ``feature extraction`` (per-part conv3d), ``write-back`` (DRAW's write, the fusion's
per-part projection) and ``fusion`` (the 1x1x1 conv with the global path), the ``global path`` (the per-frame convs,
pooling), the ``head`` (HPP, MCM, FCs, compact block, classifier), the ``losses`` and the ``optimizer``. A backward
operator is charged to the forward operator it differentiates (autograd's sequence number). For each part it prints
forward and backward milliseconds, its share of the step and the time spent in ``aten::copy_`` (layout changes,
``contiguous``, autograd's copies); ``outside operators`` is the profiled step's wall-clock time not inside any
operator (Python, dispatch, the profiler itself).

Run it with nothing else on the machine: ``python benchmarks/profile_step.py [--models GaitPart Local3DCNN]
[--configs paper|synth] [--threads 1] [--profiles 4] [--top 12]``; ``--top`` also prints the most expensive
operators with their input shapes.

``--device cuda [--amp] [--batch 128]`` profiles on the GPU with ``torch.profiler`` (CPU and CUDA activity): the parts'
times are then the GPU time of the kernels their operators launched, and the step's line adds what decides a GPU step
of many small operators: the host's time to dispatch the step (until ``step()`` returns, the GPU still working), the
kernels' total time, the number of kernel launches, and the synchronisations (``item()``-like reads of a GPU value,
and tensors made from Python numbers, each a host-to-device copy that waits for the queued kernels).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import statistics
import time
from typing import Callable, Iterator

import torch
from torch import nn
from torch.autograd.profiler import profile, record_function
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity

import opengait_local3d.local3d.block as local_block
from model_step import MODELS, build, make_batch, timer, training_step
from opengait_local3d.local3d import Local3DBlock
from opengait_local3d.local3d.fusion import Fusion
from opengait_local3d.utils.allocator import keep_freed_memory

ORDER = ("global path", "localization", "sampling", "feature extraction", "write-back", "fusion", "head", "losses",
         "optimizer", "other")
_PREFIX = "part: "
#: functions of the block's module and methods, wrapped in a range of their part while profiling
FUNCTIONS = ((local_block, "sampling_grid", "localization"), (local_block, "sample_volume", "sampling"),
             (local_block, "run_filterbanks", "sampling"), (local_block, "sample_groups", "sampling"),
             (Local3DBlock, "_write_parts", "write-back"),
             (Fusion, "combine", "fusion"), (Fusion, "forward", "fusion"), (Fusion, "activate", "fusion"))
#: names of a network's direct children that are part of its head
HEAD = ("hpp", "mcm", "head", "compact", "classifier")


def in_range(function: Callable, part: str) -> Callable:
    @functools.wraps(function)
    def ranged(*args, **kwargs):
        with record_function(_PREFIX + part):
            return function(*args, **kwargs)
    return ranged


@contextlib.contextmanager
def parts_marked(network: nn.Module, losses: list[nn.Module], optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Every stage of ``network`` (and the losses, the optimizer's step) inside a ``record_function`` range named by
    its part, restored on exit."""
    restore = []

    def wrap(owner: object, name: str, part: str) -> None:
        original = owner.__dict__[name] if name in getattr(owner, "__dict__", {}) else None
        setattr(owner, name, in_range(getattr(owner, name), part))
        restore.append((owner, name, original))

    for owner, name, part in FUNCTIONS:
        wrap(owner, name, part)
    for module in network.modules():
        if isinstance(module, Local3DBlock):
            wrap(module.global_block, "forward", "global path")
            wrap(module.localization, "forward", "localization")
            if module.extraction is not None:
                wrap(module.extraction, "forward", "feature extraction")
    for name, child in network.named_children():
        part = "head" if name in HEAD else "global path"
        if not isinstance(child, nn.ModuleList):
            wrap(child, "forward", part)
        else:
            for block in child:
                if not isinstance(block, Local3DBlock):
                    wrap(block, "forward", part)
    for loss in losses:
        wrap(loss, "forward", "losses")
    wrap(optimizer, "step", "optimizer")
    try:
        yield
    finally:
        for owner, name, original in reversed(restore):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def part_of(event: FunctionEvent) -> str:
    """The innermost part range around ``event``."""
    while event is not None:
        if event.name.startswith(_PREFIX):
            return event.name[len(_PREFIX):]
        event = event.cpu_parent
    return "other"


def is_operator(event: FunctionEvent) -> bool:
    return event.name.startswith("aten::")


def outermost_operators(events: list[FunctionEvent]) -> list[FunctionEvent]:
    """Operators not called by another operator (their totals do not overlap)."""
    def nested(event: FunctionEvent) -> bool:
        parent = event.cpu_parent
        while parent is not None:
            if is_operator(parent) or parent.name.startswith("autograd::engine::evaluate_function"):
                return True
            parent = parent.cpu_parent
        return False

    return [e for e in events if is_operator(e) and not nested(e)]


def copies_within(event: FunctionEvent, gpu: bool = False) -> float:
    """Microseconds of ``aten::copy_`` (self time; its kernels' time with ``gpu``) inside ``event``."""
    own = (event.self_device_time_total if gpu else event.self_cpu_time_total) if event.name == "aten::copy_" else 0.0
    return own + sum(copies_within(child, gpu) for child in event.cpu_children)


def attribute(events: list[FunctionEvent], gpu: bool = False) -> dict[str, dict[str, float]]:
    """Per part: forward and backward microseconds and copy microseconds: CPU time, or with ``gpu`` the time of the
    kernels that the operators launched."""
    table: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    forward_part: dict[int, str] = {}

    def total(event: FunctionEvent) -> float:
        return event.device_time_total if gpu else event.cpu_time_total

    for event in outermost_operators(events):
        part = part_of(event)
        table[part]["forward"] += total(event)
        table[part]["copies"] += copies_within(event, gpu)
    for event in events:  # forward events that autograd numbered: operators and custom autograd functions
        if event.sequence_nr >= 0 and not event.name.startswith("autograd::"):
            forward_part.setdefault(event.sequence_nr, part_of(event))
    for event in events:
        if event.name.startswith("autograd::engine::evaluate_function"):
            part = forward_part.get(event.sequence_nr, "other")
            table[part]["backward"] += total(event)
            table[part]["copies"] += copies_within(event, gpu)
    return table


#: the CUDA runtime's kernel launches, as the profiler names them
LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx")
#: operators that synchronise the host with the GPU: a GPU value read on the host, a tensor made from Python numbers
SYNCHRONISING = ("aten::_local_scalar_dense", "aten::lift_fresh")


def profile_model(name: str, configs: str, batch: int, frames: int, profiles: int, top: int, device: str = "cpu",
                  amp: bool = False) -> None:
    gpu = device == "cuda"
    inputs = make_batch(batch, frames, configs, device)
    network = build(name, configs, device)
    step = training_step(name, configs, network, inputs, amp)
    timed = timer(True, device)
    plain = [timed(step) for _ in range(profiles + 2)]
    host = []
    best = None
    with parts_marked(network, [loss for _, _, loss in step.losses], step.optimizer):
        for _ in range(profiles):
            context = (torch.profiler.profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
                                              record_shapes=bool(top)) if gpu
                       else profile(use_kineto=False, record_shapes=bool(top)))
            with context as prof:
                wall = timed(step) * 1e6
            if gpu:
                torch.cuda.synchronize()
                start = time.perf_counter()
                step()
                host.append(time.perf_counter() - start)
                torch.cuda.synchronize()
            if best is None or wall < best[0]:
                best = (wall, prof)
    wall, prof = best
    events = list(prof.events() if gpu else prof.function_events)
    table = attribute(events, gpu)
    inside = sum(row["forward"] + row["backward"] for row in table.values())
    where = (f"{torch.cuda.get_device_name()}{', autocast' if amp else ''}" if gpu
             else f"{torch.get_num_threads()} thread(s)")
    print(f"\n{name} ({configs} configs, {where}, batch {batch} x {frames} frames): "
          f"profiled step {wall / 1e3:.0f} ms (fastest of {profiles}; unprofiled median "
          f"{statistics.median(plain[2:]) * 1e3:.0f} ms)")
    if gpu:
        kernels = sum(e.self_device_time_total for e in events if e.device_type == torch.autograd.DeviceType.CUDA)
        launches = sum(e.name in LAUNCHES for e in events)
        syncs = collections.Counter(e.name for e in events if e.name in SYNCHRONISING)
        print(f"  host dispatch {statistics.median(host) * 1e3:.0f} ms (unprofiled, until step() returns), kernels "
              f"{kernels / 1e3:.0f} ms, {launches} kernel launches, synchronising operators "
              f"{dict(syncs) or 'none'}")
    print(f"{'part':20s} {'forward ms':>10s} {'backward ms':>11s} {'share':>6s} {'copies ms':>9s}"
          + ("   (GPU time of the kernels each part launched)" if gpu else ""))
    for part in ORDER:
        if part in table:
            row = table[part]
            print(f"{part:20s} {row['forward'] / 1e3:10.1f} {row['backward'] / 1e3:11.1f} "
                  f"{(row['forward'] + row['backward']) / wall:6.0%} {row['copies'] / 1e3:9.1f}")
    if not gpu:
        print(f"{'outside operators':20s} {(wall - inside) / 1e3:10.0f} {'':11s} {(wall - inside) / wall:6.0%}")
    if top:
        print(prof.key_averages(group_by_input_shape=True).table(
            sort_by="self_cuda_time_total" if gpu else "self_cpu_time_total", row_limit=top, max_name_column_width=40))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=["GaitPart", "Local3DCNN"])
    parser.add_argument("--configs", choices=("paper", "synth"), default="paper",
                        help="paper (CASIA-B configs, 64x44) or synth (configs/synth, 32x24)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per batch (even: two per identity)")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--profiles", type=int, default=4, help="profiled steps; the fastest is printed")
    parser.add_argument("--top", type=int, default=0, help="also print the N operators with the most self time")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the models run")
    parser.add_argument("--amp", action="store_true", help="forward under autocast, as model_step.py --amp")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    for name in args.models:
        profile_model(name, args.configs, args.batch, args.frames, args.profiles, args.top, args.device, args.amp)


if __name__ == "__main__":
    main()
