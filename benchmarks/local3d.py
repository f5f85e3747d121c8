"""Benchmark of the 3D local operation on CPU (or GPU with --device cuda).

Prints, at a CPU-sized training shape (default 32 sequences x 30 frames, a quarter of the paper's
8 x 16 batch):

1. the machine's float32 matmul GFLOP/s (the roof the achieved figures are compared with);
2. sampling six parts at block3 (x [32, 64, 30, 16, 11], mixture, 30 x 16 x 11 per part): the
   straightforward per-part reference, sample_volume called once per part, and sample_volume on all
   six parts at once, forward and forward+backward, with the ratios; the temporal filter alone as a
   dense matmul (einsum like the reference, and the strided batched matmul sample_volume uses) and as a
   2-tap gather + lerp; the time of one pass that only writes the six output volumes (the floor), and
   the bytes it writes;
3. Local3DBlock forward+backward vs its global block alone, at block3 and block1 (64 x 44), with FLOPs
   from torch.utils.flop_counter (which counts matmuls and convolutions; it does not count grid_sample
   or elementwise work) and the achieved GFLOP/s.

Every figure is the median of --repeats runs; alternatives are timed interleaved in the same run, so
their ratios are comparable even on a busy machine.

    python benchmarks/local3d.py [--batch 32] [--frames 30] [--repeats 5] [--threads N] [--skip-block]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from opengait_local3d.local3d import FrameWise, Local3DBlock, gaussian_filterbank, linear_filterbank, sample_volume
from opengait_local3d.local3d.sampling import _clip_layout, _gaussian_frames  # the spatial half, to time the temporal filter alone

PARTS = 6


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(runs: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each callable, timed round-robin after one warm-up call each."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            synchronise(device)
            start = time.perf_counter()
            run()
            synchronise(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def count_flops(run: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


def matmul_gflops(repeats: int, device: torch.device) -> float:
    a, b = (torch.randn(2048, 2048, device=device) for _ in range(2))
    seconds = interleaved({"mm": lambda: a @ b}, repeats, device)["mm"]
    return 2 * 2048**3 / seconds / 1e9


def sampler_arguments(n: int, c: int, T: int, H: int, W: int, device: torch.device, grad: bool) -> dict[str, Tensor]:
    """Parts spread around the map with random per-frame jitter, as a trained localization gives."""
    g = torch.Generator().manual_seed(0)

    def rand(*shape: int, low: float, high: float) -> Tensor:
        return (torch.rand(*shape, generator=g) * (high - low) + low).to(device)

    stride = rand(n, PARTS, T, 1, low=0.3, high=1.0)
    centre_x, centre_y = rand(n, PARTS, T, 1, low=2, high=W - 2), rand(n, PARTS, T, 1, low=2, high=H - 2)
    args = {
        "x": torch.randn(n, c, T, H, W, generator=g).to(device),
        "mu_x": centre_x + (torch.arange(W, device=device) - W / 2 + 0.5) * stride,
        "mu_y": centre_y + (torch.arange(H, device=device) - H / 2 + 0.5) * stride,
        "mu_t": rand(n, PARTS, 1, low=10, high=T - 10) + (torch.arange(T, device=device) - T / 2 + 0.5) * 0.4,
        "sigma2": (0.5 * stride[..., 0]).square(),
        "gamma": rand(n, PARTS, T, low=0.2, high=0.8),
    }
    return {k: v.requires_grad_(grad) for k, v in args.items()}


def reference_sampler(x: Tensor, mu_x: Tensor, mu_y: Tensor, mu_t: Tensor, sigma2: Tensor, gamma: Tensor) -> Tensor:
    """The issue's straightforward reference: one part at a time, a dense temporal matmul."""
    T, H, W = x.shape[2:]
    volumes = []
    for p in range(mu_x.shape[1]):
        g_y = gaussian_filterbank(mu_y[:, p], sigma2[:, p, :, None], H)  # [n, T, N, H]
        g_x = gaussian_filterbank(mu_x[:, p], sigma2[:, p, :, None], W)  # [n, T, M, W]
        g_t = linear_filterbank(mu_t[:, p], T)  # [n, L, T]
        a = g_y.unsqueeze(1) @ x
        a = a @ g_x.transpose(-1, -2).unsqueeze(1)
        a = a * gamma[:, p, None, :, None, None]
        volumes.append(torch.einsum("nlt,nctyx->nclyx", g_t, a))
    return torch.stack(volumes, 1)


def one_part_at_a_time(args: dict[str, Tensor]) -> list[Tensor]:
    return [
        sample_volume(args["x"], *(args[k][:, p] for k in ("mu_x", "mu_y", "mu_t", "sigma2", "gamma")), "mixture")
        for p in range(PARTS)
    ]


def two_tap_temporal(frames: Tensor, mu_t: Tensor) -> Tensor:
    """Linear temporal filter as a gather of the two taps + weights: frames ``[B, T, F]`` (``B`` = parts x samples, as
    ``_gaussian_frames`` orders them) and ``mu_t [B, L]`` ``-> [B, L, F]``."""
    rows, T, features = frames.shape
    u = mu_t - 0.5
    left = u.floor()
    right_weight = u - left
    left_weight = (1 - right_weight) * ((left >= 0) & (left <= T - 1))
    right_weight = right_weight * ((left >= -1) & (left <= T - 2))
    row = torch.arange(rows, device=frames.device).unsqueeze(-1) * T
    flat = frames.reshape(rows * T, features)
    left_index = (left.clamp(0, T - 1).long() + row).flatten()
    right_index = ((left + 1).clamp(0, T - 1).long() + row).flatten()
    out = flat.index_select(0, left_index).mul_(left_weight.reshape(-1, 1))
    out.addcmul_(flat.index_select(0, right_index), right_weight.reshape(-1, 1))
    return out.view(rows, -1, features)


def bench_sampler(n: int, T: int, repeats: int, device: torch.device) -> None:
    c, H, W = 64, 16, 11
    print(f"\n== sampling six parts at block3: x [{n}, {c}, {T}, {H}, {W}], mixture, {T}x{H}x{W} per part ==")
    args = sampler_arguments(n, c, T, H, W, device, grad=False)
    with torch.no_grad():
        reference = reference_sampler(**args)
        batched = sample_volume(**args, mode="mixture")
        error = (reference - batched).abs().max().item()
        forward = interleaved(
            {
                "reference (per part, dense einsum in time)": lambda: reference_sampler(**args),
                "sample_volume, one part at a time": lambda: one_part_at_a_time(args),
                "sample_volume, six parts batched": lambda: sample_volume(**args, mode="mixture"),
            },
            repeats,
            device,
        )
    print(f"max |reference - batched| = {error:.2e}")
    for name, seconds in forward.items():
        print(f"  forward  {name:45s} {seconds * 1e3:9.1f} ms")
    names = list(forward)
    print(f"  reference / batched = {forward[names[0]] / forward[names[2]]:.2f}x "
          f"(from batching parts: {forward[names[1]] / forward[names[2]]:.2f}x)")

    grad_args = sampler_arguments(n, c, T, H, W, device, grad=True)
    upstream = torch.randn_like(batched)
    both = interleaved(
        {
            "reference": lambda: reference_sampler(**grad_args).backward(upstream),
            "batched": lambda: sample_volume(**grad_args, mode="mixture").backward(upstream),
        },
        repeats,
        device,
    )
    print(f"  forward+backward reference {both['reference'] * 1e3:9.1f} ms, batched {both['batched'] * 1e3:9.1f} ms, "
          f"ratio {both['reference'] / both['batched']:.2f}x")

    with torch.no_grad():
        rows = _clip_layout(args["x"], "mixture")
        variance = args["sigma2"].unsqueeze(-1)
        spatial = (rows, args["x"].shape, gaussian_filterbank(args["mu_y"], variance, H),
                   gaussian_filterbank(args["mu_x"], variance, W))
        frames = _gaussian_frames(*spatial).view(PARTS * n, T, -1)  # [P n, T, N M c]
        mu_t = args["mu_t"].transpose(0, 1).reshape(PARTS * n, -1)
        dense_bank = linear_filterbank(mu_t, T)  # [P n, L, T]
        dense = torch.bmm(dense_bank, frames)
        dense_error = (two_tap_temporal(frames, mu_t) - dense).abs().max()
        frames_pnt = frames.view(PARTS, n, T, -1)
        temporal = interleaved(
            {
                "spatial filters (y then x, all parts)": lambda: _gaussian_frames(*spatial),
                "temporal: dense einsum (reference's way)": lambda: torch.einsum(
                    "pnlt,pntf->pnlf", dense_bank.view(PARTS, n, T, T), frames_pnt
                ),
                "temporal: dense bmm (sample_volume)": lambda: torch.bmm(dense_bank, frames),
                "temporal: 2-tap gather + lerp": lambda: two_tap_temporal(frames, mu_t),
            },
            repeats,
            device,
        )
    print(f"  (2-tap vs dense temporal filter agree to {dense_error.item():.1e})")
    for name, seconds in temporal.items():
        print(f"  forward  {name:45s} {seconds * 1e3:9.1f} ms")

    out_shape = (n, PARTS, c, T, H, W)
    out_bytes = 4 * torch.Size(out_shape).numel()
    floor = interleaved({"floor": lambda: torch.empty(out_shape, device=device).fill_(1.0)}, repeats, device)["floor"]
    flops = count_flops(lambda: sample_volume(**args, mode="mixture"))
    print(f"  write floor: one pass writing the six volumes ({out_bytes / 2**20:.0f} MiB) {floor * 1e3:9.1f} ms "
          f"= {out_bytes / floor / 1e9:.1f} GB/s; batched sampler = {forward[names[2]] / floor:.1f}x the floor")
    print(f"  batched sampler: {flops / 1e9:.2f} GFLOP (matmuls) -> {flops / forward[names[2]] / 1e9:.1f} GFLOP/s")


def backbone_block(c_in: int, c_out: int, first_kernel: int) -> nn.Module:
    """GaitPart's per-frame block: two convs with LeakyReLU (docs/design.md, 'Backbone')."""
    return FrameWise(
        nn.Sequential(
            nn.Conv2d(c_in, c_out, first_kernel, padding=first_kernel // 2, bias=False),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.LeakyReLU(inplace=True),
        )
    )


def bench_block(name: str, n: int, T: int, c_in: int, c_out: int, H: int, W: int, first_kernel: int,
                repeats: int, device: torch.device) -> None:
    print(f"\n== {name}: x [{n}, {c_in}, {T}, {H}, {W}] -> [{n}, {c_out}, {T}, {H}, {W}], forward+backward ==")
    torch.manual_seed(0)
    global_block = backbone_block(c_in, c_out, first_kernel).to(device)
    local_block = Local3DBlock(backbone_block(c_in, c_out, first_kernel), c_in, c_out).to(device)
    x = torch.randn(n, c_in, T, H, W, device=device, requires_grad=c_in > 1)

    def step(block: nn.Module) -> Callable[[], None]:
        def run() -> None:
            block(x).sum().backward()
        return run

    runs = {"global block alone": step(global_block), "Local3DBlock (six parts, mixture, zoom)": step(local_block)}
    seconds = interleaved(runs, repeats, device)
    for label, run in runs.items():
        flops = count_flops(run)
        print(f"  {label:42s} {seconds[label] * 1e3:9.1f} ms  {flops / 1e9:8.1f} GFLOP  "
              f"{flops / seconds[label] / 1e9:6.1f} GFLOP/s")
    names = list(runs)
    print(f"  Local3DBlock / global block = {seconds[names[1]] / seconds[names[0]]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="sequences per batch (default 32)")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence (default 30)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure; the median is printed")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--skip-block", action="store_true", help="only the sampler figures")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.frames < 21:
        parser.error("--frames must be at least 21 (the parts' temporal windows are placed at 10 .. T-10)")
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} runs")
    print(f"matmul 2048^3 float32: {matmul_gflops(args.repeats, device):.1f} GFLOP/s")
    bench_sampler(args.batch, args.frames, args.repeats, device)
    if not args.skip_block:
        bench_block("block3", args.batch, args.frames, 64, 128, 16, 11, 3, args.repeats, device)
        bench_block("block1", args.batch, args.frames, 1, 32, 64, 44, 5, args.repeats, device)


if __name__ == "__main__":
    main()
