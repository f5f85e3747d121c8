"""Training-step and inference cost of Local3DCNN and GaitGL with 3D local paths against their baselines.

Every model is built from its config file (``build_network(cfg['model_cfg'])``), as the issue tracker's cost bar
says: GaitSet and GaitPart from ``configs/gaitset_casiab.yaml`` / ``configs/gaitpart_casiab.yaml``, Local3DCNN
from ``configs/3dlocal_casiab.yaml`` (the paper's model) and, for reference, the same config with the authors'
``zoom`` alignment, with local paths in block 3 only and with the local paths' activations checkpointed
(``checkpoint_local``); GaitGL and GaitGL-Local3D from ``configs/gaitgl_casiab.yaml`` /
``configs/gaitgl_local3d_casiab.yaml``: the paper configs, CASIA-B's 64x44 input.
``--configs synth`` (or ``--configs paper synth``) measures the same models from ``configs/synth/*_synth.yaml`` at
the quick start's 32x24 input. For one batch (default 8 sequences x 30 frames), per config set and per thread
count of ``--threads`` (``--threads 1 2`` measures both in one invocation), it prints:

* training step time (forward + the config's losses + backward + Adam step), every model measured in turn in
  one process, medians of the repeats, and each ratio to the baseline (``--baseline``, default GaitPart);
* inference rate (eval mode, no grad, the same batch), medians, and each ratio to the baseline;
* peak memory of a training step per model (VmHWM of a fresh subprocess running only that model, minus its
  resident size before the first step), and its linear extrapolation to the paper's batch, 8 x 16 sequences
  of 30 frames (activations grow with the batch; the parameters and optimizer state do not, and are small);
* parameters and FLOPs per training step (torch.utils.flop_counter; grid_sample is not counted), the FLOP ratio
  to the baseline, and ``time/FLOP``: the step-time ratio over the FLOP ratio, 1.00 where a model costs exactly its
  arithmetic and above 1 by the share of its time that is overhead (copies, small kernels, Python).

Times are CPU times of this process (``time.process_time``) by default, which shift less than wall-clock times when
other work shares the machine; ``--wall`` measures wall-clock time. ``--device cuda`` measures on the GPU
(wall-clock, synchronised; peak memory from torch's allocator in this process, ``--threads`` ignored), and ``--amp``
runs the forward under autocast as the engine's ``enable_float16`` does (float16 with a gradient scaler on CUDA,
bfloat16 on CPU), e.g. ``--device cuda --amp --batch 128`` for the paper's batch on one GPU; ``--compile`` compiles
every network with ``torch.compile`` and prints the first step's time (the compilation) apart. Run it with nothing
else on the machine: ``python benchmarks/model_step.py [--repeats 5] [--batch 8] [--frames 30] [--threads 1 2]``,
e.g. ``--models GaitGL GaitGL-Local3D --baseline GaitGL [--configs synth --batch 32 --frames 20]``.
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
#: input (height, width) of the paper (CASIA-B) configs and of the synth configs (32x32 SynthGait cut to 32x24)
SIZES = {"paper": (64, 44), "synth": (32, 24)}
PAPER_BATCH = 8 * 16

#: name -> (config file, changes to its model_cfg)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "GaitSet": ("gaitset_casiab.yaml", {}),
    "GaitPart": ("gaitpart_casiab.yaml", {}),
    "Local3DCNN": ("3dlocal_casiab.yaml", {}),
    "Local3DCNN block 3": ("3dlocal_casiab.yaml", {"local_blocks": [3]}),
    "Local3DCNN zoom": ("3dlocal_casiab.yaml", {"local3d": {"alignment": "zoom", "write_resolution": None}}),
    "Local3DCNN checkpointed": ("3dlocal_casiab.yaml", {"local3d": {"checkpoint_local": True}}),
    "GaitGL": ("gaitgl_casiab.yaml", {}),
    "GaitGL-Local3D": ("gaitgl_local3d_casiab.yaml", {}),
}
#: the synth config of a CASIA-B config (``--configs synth``)
SYNTH_CONFIGS = {"gaitset_casiab.yaml": "gaitset_synth.yaml", "gaitpart_casiab.yaml": "gaitpart_synth.yaml",
                 "3dlocal_casiab.yaml": "3dlocal_synth.yaml", "gaitgl_casiab.yaml": "gaitgl_synth.yaml",
                 "gaitgl_local3d_casiab.yaml": "gaitgl_local3d_synth.yaml"}


def config_path(name: str, configs: str) -> Path:
    """The config file of ``name`` in the config set ``configs``: its CASIA-B config (``'paper'``) or the matching
    synth config (``'synth'``)."""
    file = MODELS[name][0]
    return CONFIGS / "synth" / SYNTH_CONFIGS[file] if configs == "synth" else CONFIGS / file


def model_cfg(name: str, configs: str) -> dict[str, Any]:
    """The model_cfg of ``name``: its config file's, with the changes of :data:`MODELS` merged in."""
    cfg = copy.deepcopy(read_yaml(config_path(name, configs))["model_cfg"])
    changes = MODELS[name][1]
    for key, value in changes.items():
        if isinstance(value, dict):
            merged = {**cfg.get(key, {}), **value}
            cfg[key] = {k: v for k, v in merged.items() if v is not None}
        else:
            cfg[key] = value
    return cfg


def loss_terms(name: str, configs: str) -> list[tuple[str, float, torch.nn.Module]]:
    """``(log_prefix, weight, loss)`` of the model's config (triplet and cross-entropy entries)."""
    entries = read_yaml(config_path(name, configs))["loss_cfg"]
    entries = entries if isinstance(entries, list) else [entries]
    built = []
    for entry in entries:
        if entry["type"] == "TripletLoss":
            built.append((entry["log_prefix"], entry["loss_term_weight"], TripletLoss(entry["margin"])))
        else:
            built.append((entry["log_prefix"], entry["loss_term_weight"], CrossEntropyLoss(scale=entry.get("scale", 16))))
    return built


def make_batch(batch: int, frames: int, configs: str, device: str = "cpu") -> tuple:
    """OpenGait's ``(ipts, labs, typs, vies, seqL)`` of ``batch`` random silhouette sequences on ``device``."""
    generator = torch.Generator().manual_seed(0)
    height, width = SIZES[configs]
    sils = (torch.rand(batch, frames, height, width, generator=generator) > 0.5).float()
    labels = torch.arange(batch) // 2  # two sequences per identity
    return ([sils.to(device)], labels.to(device), ["nm-01"] * batch, ["090"] * batch, None)


def build(name: str, configs: str, device: str = "cpu") -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_network(model_cfg(name, configs))
    net.init_parameters()
    return net.to(device)


def built(name: str, configs: str, device: str, compile: bool) -> torch.nn.Module:
    """:func:`build`, compiled in place with ``torch.compile``'s defaults if ``compile``."""
    net = build(name, configs, device)
    if compile:
        net.compile()
    return net


def autocast(device: str, amp: bool) -> torch.autocast:
    """The engine's mixed precision (``enable_float16``): float16 on CUDA; bfloat16 on CPU, where the engine itself
    runs float32 (a benchmark-only option there)."""
    return torch.autocast(device, dtype=torch.float16 if device == "cuda" else torch.bfloat16, enabled=amp)


def training_step(name: str, configs: str, net: torch.nn.Module, inputs: tuple,
                  amp: bool = False) -> Callable[[], None]:
    """One optimisation step with the config's losses and Adam (the returned function's ``losses``, ``(log_prefix,
    weight, loss)`` triples, and ``optimizer``); with ``amp``, the forward under :func:`autocast` and, on CUDA, the
    loss scaled as the engine scales it."""
    losses = loss_terms(name, configs)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    device = inputs[1].device.type
    scaler = torch.amp.GradScaler(device, enabled=amp and device == "cuda")
    net.train()

    def step() -> None:
        with autocast(device, amp):
            feats = net(inputs)["training_feat"]
        total = sum(weight * loss(**feats[prefix])[0].mean() for prefix, weight, loss in losses if prefix in feats)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()

    step.losses, step.optimizer = losses, optimizer
    return step


def timer(wall: bool, device: str = "cpu") -> Callable[[Callable[[], None]], float]:
    """A function that times a call: wall-clock or this process's CPU time; on CUDA wall-clock, from and to an idle
    GPU (synchronised)."""
    clock = time.perf_counter if wall or device == "cuda" else time.process_time
    synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def timed(fn: Callable[[], None]) -> float:
        synchronize()
        start = clock()
        fn()
        synchronize()
        return clock() - start

    return timed


def resident_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def peak_memory_child(name: str, configs: str, batch: int, frames: int, amp: bool) -> None:
    """Subprocess entry: print the peak resident growth (MiB) over two training steps of ``name``."""
    keep_freed_memory()
    step = training_step(name, configs, build(name, configs), make_batch(batch, frames, configs), amp)
    before = resident_kib("VmRSS:")
    step()
    step()
    print((resident_kib("VmHWM:") - before) / 1024)


def peak_memory_mib(name: str, configs: str, batch: int, frames: int, threads: int, amp: bool) -> float:
    command = [sys.executable, __file__, "--peak-memory-of", name, "--batch", str(batch), "--frames", str(frames),
               "--threads", str(threads), "--configs", configs, *(["--amp"] if amp else [])]
    return float(subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()[-1])


def peak_memory_cuda_mib(step: Callable[[], None]) -> float:
    """The peak of torch's CUDA allocator over two training steps, above what was allocated before them (MiB)."""
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    step()
    return (torch.cuda.max_memory_allocated() - before) / 2 ** 20


def step_flops(name: str, configs: str, inputs: tuple) -> int:
    step = training_step(name, configs, build(name, configs, inputs[1].device.type), inputs)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def measure(args: argparse.Namespace, configs: str, threads: int, flops: dict[str, int]) -> None:
    """Time every model of ``args.models`` (and the baseline) on ``configs`` with ``threads`` threads; print a table."""
    torch.set_num_threads(threads)
    base = args.baseline
    models = list(dict.fromkeys([base, *args.models]))
    device = args.device
    inputs = make_batch(args.batch, args.frames, configs, device)
    timed = timer(args.wall, device)
    height, width = inputs[0][0].shape[-2:]
    where = torch.cuda.get_device_name() if device == "cuda" else f"{threads} thread(s)"
    clock = "wall-clock" if args.wall or device == "cuda" else "process CPU"
    print(f"\n{configs} configs, {where}{', autocast' if args.amp else ''}: batch {args.batch} x {args.frames} frames "
          f"of {height}x{width}; medians of {args.repeats}; {clock} time")
    steps = {m: training_step(m, configs, built(m, configs, device, args.compile), inputs, args.amp) for m in models}
    if args.no_memory:
        peak = {}
    elif device == "cuda":
        peak = {m: peak_memory_cuda_mib(steps[m]) for m in models}
    else:
        peak = {m: peak_memory_mib(m, configs, args.batch, args.frames, threads, args.amp) for m in models}
    nets = {m: built(m, configs, device, args.compile).eval() for m in models}
    train: dict[str, list[float]] = {m: [] for m in models}
    infer: dict[str, list[float]] = {m: [] for m in models}

    def embed(m: str) -> None:
        with torch.no_grad(), autocast(device, args.amp):
            nets[m](inputs)

    first = {}
    for m in models:
        first[m] = timed(lambda: (embed(m), steps[m]()))  # warm-up (and compilation)
    if args.compile:
        print("first training step and embedding (compiling both): "
              + ", ".join(f"{m} {seconds:.0f} s" for m, seconds in first.items()))
    for _ in range(args.repeats):
        for m in models:
            train[m].append(timed(steps[m]))
            infer[m].append(timed(lambda: embed(m)))
    for m in models:
        if m not in flops:
            flops[m] = step_flops(m, configs, inputs)
    step_s = {m: statistics.median(v) for m, v in train.items()}
    rate = {m: args.batch / statistics.median(v) for m, v in infer.items()}
    ratio = f"/{base}"
    print(f"{'model':24s} {'params':>10s} {'step s':>8s} {ratio:>9s} {'emb/s':>7s} {ratio:>9s} "
          f"{'GFLOP':>7s} {ratio:>9s} {'time/FLOP':>9s} {'peak MiB':>9s} {'at 8x16':>9s}")
    for m in models:
        params = sum(p.numel() for p in nets[m].parameters())
        memory = f"{peak[m]:9.0f} {peak[m] * PAPER_BATCH / args.batch / 1024:8.1f}G" if peak else f"{'-':>9s} {'-':>9s}"
        time_ratio, flop_ratio = step_s[m] / step_s[base], flops[m] / flops[base]
        print(f"{m:24s} {params:10,d} {step_s[m]:8.3f} {time_ratio:9.2f} {rate[m]:7.1f} {rate[m] / rate[base]:9.2f} "
              f"{flops[m] / 1e9:7.0f} {flop_ratio:9.2f} {time_ratio / flop_ratio:9.2f} {memory}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per figure (medians are printed)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per batch (even: two per identity)")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()],
                        help="torch thread counts, each measured in turn (e.g. 1 2)")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of process CPU time")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--baseline", choices=list(MODELS), default="GaitPart", help="the model ratios refer to")
    parser.add_argument("--configs", nargs="+", choices=list(SIZES), default=["paper"],
                        help="config sets: paper (CASIA-B configs, 64x44) and/or synth (configs/synth, 32x24)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the models run")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile every network (its compilation is timed apart, in the first step)")
    parser.add_argument("--amp", action="store_true",
                        help="forward under autocast, as enable_float16 (float16 and loss scaling on CUDA, "
                             "bfloat16 on CPU)")
    parser.add_argument("--peak-memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    if args.peak_memory_of:
        torch.set_num_threads(args.threads[0])
        peak_memory_child(args.peak_memory_of, args.configs[0], args.batch, args.frames, args.amp)
        return
    keep_freed_memory()
    print(f"torch {torch.__version__}")
    for configs in args.configs:
        flops: dict[str, int] = {}
        for threads in args.threads[:1] if args.device == "cuda" else args.threads:
            measure(args, configs, threads, flops)


if __name__ == "__main__":
    main()
