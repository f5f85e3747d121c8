"""Where a training step's time goes: one profiled step per model, its CPU time split by the part of the network.

Builds the models and the training step exactly as ``benchmarks/model_step.py`` does (its configs, batch and losses),
warms up, profiles one step with ``torch.profiler`` (CPU, Python stacks) and attributes every operator to a part
of the network from the Python frames that called it: the 3D local block's ``localization`` (heads and sampling
grid), ``sampling`` (Eq. 10's filterbanks and matmuls), ``feature extraction`` (per-part conv3d), ``write-back``
(DRAW's write, the fusion's per-part projection) and ``fusion`` (the 1x1x1 conv with the global path), the
``global path`` (the per-frame convs, pooling), the ``head`` (HPP, MCM, FCs, compact block) and the ``losses``
and ``optimizer``. A backward operator is charged to the forward operator it differentiates (autograd's sequence
number). For each part it prints forward and backward milliseconds, its share of the step and the time spent in
``aten::copy_`` (layout changes, ``contiguous``, autograd's copies); ``outside operators`` is the profiled step's
wall-clock time not inside any operator (Python, dispatch, the profiler itself).

Run it with nothing else on the machine: ``python benchmarks/profile_step.py [--models GaitPart Local3DCNN]
[--configs paper|synth] [--threads 1] [--top 12]``; ``--top`` also prints the most expensive operators.
"""
from __future__ import annotations

import argparse
import collections
import time
from typing import Iterable

import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile

from model_step import MODELS, SIZES, build, make_batch, training_step

#: (Python frame or module marker, part of the network), first match walking up from an operator
PARTS = (
    ("local3d/localization.py", "localization"),
    ("sampling_grid", "localization"),
    ("local3d/sampling.py", "sampling"),
    ("local3d/extraction.py", "feature extraction"),
    ("local3d/writing.py", "write-back"),
    ("write_filterbanks", "write-back"),
    ("project_parts", "write-back"),
    ("local3d/fusion.py", "fusion"),
    ("modeling/losses.py", "losses"),
    ("torch/optim/", "optimizer"),
    ("nn.Module: FrameWise", "global path"),
    ("nn.Module: Plain", "global path"),
    ("nn.Module: Sequential", "global path"),
    ("nn.Module: ", "head"),
)
ORDER = ("global path", "localization", "sampling", "feature extraction", "write-back", "fusion", "head", "losses",
         "optimizer", "other")


def part_of(event: FunctionEvent) -> str:
    """The part of the network whose Python code called ``event`` (see :data:`PARTS`)."""
    frames = []
    while event is not None:
        frames.append(event.name)
        event = event.cpu_parent
    for marker, part in PARTS:
        if any(marker in frame for frame in frames):
            return part
    return "other"


def is_operator(event: FunctionEvent) -> bool:
    return event.name.startswith("aten::")


def outermost_operators(events: Iterable[FunctionEvent]) -> list[FunctionEvent]:
    """Operators not called by another operator (their totals do not overlap)."""
    def nested(event: FunctionEvent) -> bool:
        parent = event.cpu_parent
        while parent is not None:
            if is_operator(parent) or parent.name.startswith("autograd::engine::evaluate_function"):
                return True
            parent = parent.cpu_parent
        return False

    return [e for e in events if is_operator(e) and not nested(e)]


def copies_within(event: FunctionEvent) -> float:
    """Microseconds of ``aten::copy_`` (self time) inside ``event``."""
    own = event.self_cpu_time_total if event.name == "aten::copy_" else 0.0
    return own + sum(copies_within(child) for child in event.cpu_children)


def attribute(events: list[FunctionEvent]) -> dict[str, dict[str, float]]:
    """Per part: forward and backward microseconds and copy microseconds."""
    table: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    forward_part: dict[int, str] = {}
    for event in outermost_operators(events):
        part = part_of(event)
        table[part]["forward"] += event.cpu_time_total
        table[part]["copies"] += copies_within(event)
        if event.sequence_nr >= 0:
            forward_part.setdefault(event.sequence_nr, part)
    for event in events:
        if event.name.startswith("autograd::engine::evaluate_function"):
            part = forward_part.get(event.sequence_nr, "other")
            table[part]["backward"] += event.cpu_time_total
            table[part]["copies"] += copies_within(event)
    return table


def profile_model(name: str, configs: str, batch: int, frames: int, top: int) -> None:
    inputs = make_batch(batch, frames, configs)
    step = training_step(name, configs, build(name, configs), inputs)
    step()
    step()
    with profile(activities=[ProfilerActivity.CPU], with_stack=True, with_modules=True) as prof:
        start = time.perf_counter()
        step()
        wall = (time.perf_counter() - start) * 1e6
    events = list(prof.events())
    table = attribute(events)
    inside = sum(row["forward"] + row["backward"] for row in table.values())
    print(f"\n{name} ({configs} configs, {torch.get_num_threads()} thread(s), batch {batch} x {frames} frames): "
          f"profiled step {wall / 1e3:.0f} ms")
    print(f"{'part':20s} {'forward ms':>10s} {'backward ms':>11s} {'share':>6s} {'copies ms':>9s}")
    for part in ORDER:
        if part in table:
            row = table[part]
            print(f"{part:20s} {row['forward'] / 1e3:10.0f} {row['backward'] / 1e3:11.0f} "
                  f"{(row['forward'] + row['backward']) / wall:6.0%} {row['copies'] / 1e3:9.0f}")
    print(f"{'outside operators':20s} {(wall - inside) / 1e3:10.0f} {'':11s} {(wall - inside) / wall:6.0%}")
    if top:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=["GaitPart", "Local3DCNN"])
    parser.add_argument("--configs", choices=list(SIZES), default="paper",
                        help="paper (CASIA-B configs, 64x44) or synth (configs/synth, 32x24)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per batch (even: two per identity)")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--top", type=int, default=0, help="also print the N operators with the most self time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models:
        profile_model(name, args.configs, args.batch, args.frames, args.top)


if __name__ == "__main__":
    main()
