"""Training-step and inference cost of Local3DCNN and GaitGL with 3D local paths against their baselines.

Every model is built from its config file (``build_network(cfg['model_cfg'])``), as the issue tracker's cost bar
says: GaitSet and GaitPart from ``configs/gaitset_casiab.yaml`` / ``configs/gaitpart_casiab.yaml``, Local3DCNN
from ``configs/3dlocal_casiab.yaml`` (the paper's model) and, for reference, the same config with the authors'
``zoom`` alignment and with local paths in block 3 only; GaitGL and GaitGL-Local3D from
``configs/gaitgl_casiab.yaml`` / ``configs/gaitgl_local3d_casiab.yaml``. CASIA-B 64x44 input by default; with
``--synth``, the same models from ``configs/synth/*_synth.yaml`` at the quick start's 32x24 (where they exist).
For one batch (default 8 sequences x 30 frames) it prints:

* training step time (forward + the config's losses + backward + Adam step), every model measured in turn in
  one process, medians of the repeats, and each ratio to the baseline (``--baseline``, default GaitPart);
* inference rate (eval mode, no grad, the same batch), medians, and each ratio to the baseline;
* peak memory of a training step per model (VmHWM of a fresh subprocess running only that model, minus its
  resident size before the first step), and its linear extrapolation to the paper's batch, 8 x 16 sequences
  of 30 frames (activations grow with the batch; the parameters and optimizer state do not, and are small);
* parameters and FLOPs per training step (torch.utils.flop_counter; grid_sample is not counted).

Times are CPU times of this process (``time.process_time``) by default, which shift less than wall-clock
times when other work shares the machine; ``--wall`` measures wall-clock time. Run it with nothing else on
the machine: ``python benchmarks/model_step.py [--repeats 5] [--batch 8] [--frames 30] [--threads N]``, e.g.
``--models GaitGL GaitGL-Local3D --baseline GaitGL [--synth --batch 32 --frames 20]``.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from opengait_local3d.engine.config.loading import read_yaml
from opengait_local3d.modeling import build_network
from opengait_local3d.modeling.losses import CrossEntropyLoss, TripletLoss
from opengait_local3d.utils.allocator import keep_freed_memory

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
#: input (height, width) of the CASIA-B configs and of the synth configs (32x32 SynthGait cut to 32x24)
SIZES = {"casiab": (64, 44), "synth": (32, 24)}
PAPER_BATCH = 8 * 16

#: name -> (config file, changes to its model_cfg)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "GaitSet": ("gaitset_casiab.yaml", {}),
    "GaitPart": ("gaitpart_casiab.yaml", {}),
    "Local3DCNN": ("3dlocal_casiab.yaml", {}),
    "Local3DCNN block 3": ("3dlocal_casiab.yaml", {"local_blocks": [3]}),
    "Local3DCNN zoom": ("3dlocal_casiab.yaml", {"local3d": {"alignment": "zoom", "write_resolution": None}}),
    "GaitGL": ("gaitgl_casiab.yaml", {}),
    "GaitGL-Local3D": ("gaitgl_local3d_casiab.yaml", {}),
}
#: the synth config of a CASIA-B config (``--synth``)
SYNTH_CONFIGS = {"gaitset_casiab.yaml": "gaitset_synth.yaml", "gaitpart_casiab.yaml": "gaitpart_synth.yaml",
                 "3dlocal_casiab.yaml": "3dlocal_synth.yaml", "gaitgl_casiab.yaml": "gaitgl_synth.yaml",
                 "gaitgl_local3d_casiab.yaml": "gaitgl_local3d_synth.yaml"}
SYNTH = False  # set by --synth


def config_path(name: str) -> Path:
    """The config file of ``name``: its CASIA-B config, or with ``--synth`` the matching synth config."""
    file = MODELS[name][0]
    return CONFIGS / "synth" / SYNTH_CONFIGS[file] if SYNTH else CONFIGS / file


def model_cfg(name: str) -> dict[str, Any]:
    """The model_cfg of ``name``: its config file's, with the changes of :data:`MODELS` merged in."""
    cfg = copy.deepcopy(read_yaml(config_path(name))["model_cfg"])
    changes = MODELS[name][1]
    for key, value in changes.items():
        if isinstance(value, dict):
            merged = {**cfg.get(key, {}), **value}
            cfg[key] = {k: v for k, v in merged.items() if v is not None}
        else:
            cfg[key] = value
    return cfg


def loss_terms(name: str) -> list[tuple[str, float, torch.nn.Module]]:
    """``(log_prefix, weight, loss)`` of the model's config (triplet and cross-entropy entries)."""
    entries = read_yaml(config_path(name))["loss_cfg"]
    entries = entries if isinstance(entries, list) else [entries]
    built = []
    for entry in entries:
        if entry["type"] == "TripletLoss":
            built.append((entry["log_prefix"], entry["loss_term_weight"], TripletLoss(entry["margin"])))
        else:
            built.append((entry["log_prefix"], entry["loss_term_weight"], CrossEntropyLoss(scale=entry.get("scale", 16))))
    return built


def make_batch(batch: int, frames: int) -> tuple:
    generator = torch.Generator().manual_seed(0)
    height, width = SIZES["synth" if SYNTH else "casiab"]
    sils = (torch.rand(batch, frames, height, width, generator=generator) > 0.5).float()
    labels = torch.arange(batch) // 2  # two sequences per identity
    return ([sils], labels, ["nm-01"] * batch, ["090"] * batch, None)


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_network(model_cfg(name))
    net.init_parameters()
    return net


def training_step(name: str, net: torch.nn.Module, inputs: tuple) -> Callable[[], None]:
    """One optimisation step with the config's losses and Adam."""
    losses = loss_terms(name)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    net.train()

    def step() -> None:
        feats = net(inputs)["training_feat"]
        total = sum(weight * loss(**feats[prefix])[0].mean() for prefix, weight, loss in losses if prefix in feats)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    return step


def timer(wall: bool) -> Callable[[Callable[[], None]], float]:
    clock = time.perf_counter if wall else time.process_time

    def timed(fn: Callable[[], None]) -> float:
        start = clock()
        fn()
        return clock() - start

    return timed


def resident_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def peak_memory_child(name: str, batch: int, frames: int) -> None:
    """Subprocess entry: print the peak resident growth (MiB) over two training steps of ``name``."""
    keep_freed_memory()
    step = training_step(name, build(name), make_batch(batch, frames))
    before = resident_kib("VmRSS:")
    step()
    step()
    print((resident_kib("VmHWM:") - before) / 1024)


def peak_memory_mib(name: str, batch: int, frames: int, threads: int) -> float:
    command = [sys.executable, __file__, "--peak-memory-of", name, "--batch", str(batch), "--frames", str(frames),
               "--threads", str(threads)] + (["--synth"] if SYNTH else [])
    return float(subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()[-1])


def step_flops(name: str, inputs: tuple) -> int:
    step = training_step(name, build(name), inputs)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per figure (medians are printed)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per batch (even: two per identity)")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of process CPU time")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--baseline", choices=list(MODELS), default="GaitPart", help="the model ratios refer to")
    parser.add_argument("--synth", action="store_true", help="the synth configs at 32x24 instead of CASIA-B's")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--peak-memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global SYNTH
    SYNTH = args.synth
    torch.set_num_threads(args.threads)
    if args.peak_memory_of:
        peak_memory_child(args.peak_memory_of, args.batch, args.frames)
        return
    keep_freed_memory()
    base = args.baseline
    models = list(dict.fromkeys([base, *args.models]))
    inputs = make_batch(args.batch, args.frames)
    timed = timer(args.wall)
    height, width = inputs[0][0].shape[-2:]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch} x {args.frames} frames "
          f"of {height}x{width} ({'synth' if SYNTH else 'CASIA-B'} configs); medians of {args.repeats}; "
          f"{'wall-clock' if args.wall else 'process CPU'} time")

    peak = {} if args.no_memory else {m: peak_memory_mib(m, args.batch, args.frames, args.threads) for m in models}
    steps = {m: training_step(m, build(m), inputs) for m in models}
    nets = {m: build(m).eval() for m in models}
    train: dict[str, list[float]] = {m: [] for m in models}
    infer: dict[str, list[float]] = {m: [] for m in models}
    with torch.no_grad():
        for net in nets.values():
            net(inputs)
    for step in steps.values():
        step()  # warm-up
    for _ in range(args.repeats):
        for m in models:
            train[m].append(timed(steps[m]))
            with torch.no_grad():
                infer[m].append(timed(lambda: nets[m](inputs)))
    step_s = {m: statistics.median(v) for m, v in train.items()}
    rate = {m: args.batch / statistics.median(v) for m, v in infer.items()}
    ratio = f"/{base}"
    print(f"\n{'model':20s} {'params':>10s} {'step s':>8s} {ratio:>9s} {'emb/s':>7s} {ratio:>9s} "
          f"{'peak MiB':>9s} {'at 8x16':>9s} {'GFLOP':>7s}")
    for m in models:
        params = sum(p.numel() for p in nets[m].parameters())
        memory = f"{peak[m]:9.0f} {peak[m] * PAPER_BATCH / args.batch / 1024:8.1f}G" if peak else f"{'-':>9s} {'-':>9s}"
        print(f"{m:20s} {params:10,d} {step_s[m]:8.2f} {step_s[m] / step_s[base]:9.2f} {rate[m]:7.1f} "
              f"{rate[m] / rate[base]:9.2f} {memory} {step_flops(m, inputs) / 1e9:7.0f}")


if __name__ == "__main__":
    main()
