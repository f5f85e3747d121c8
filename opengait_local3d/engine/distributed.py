"""One process by default, or one of several under ``torchrun`` (gloo on CPU, nccl on CUDA).

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous variables; multi-node runs
use torchrun's own options (``--nnodes``, ``--rdzv-endpoint``...). Without them the engine runs as a single
process with no process group at all.

The process group waits ``timeout`` seconds for a collective (``trainer_cfg.collective_timeout`` /
``evaluator_cfg.collective_timeout``), not torch's 30 minutes: a rank that stops answering or dies ends the run of
the others with an error that :func:`collective_failure` recognises.
"""
from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
import torch.distributed as dist

from ..errors import ConfigError

__all__ = ["DistributedContext", "session", "get_context", "resolve_device", "launched_by_torchrun", "launch_rank",
           "all_gather_keep_grad", "gather_to_main", "any_rank", "any_rank_each", "collective_failure",
           "elastic_restart", "DEFAULT_TIMEOUT"]

#: seconds a collective waits for the other ranks (the configs' ``collective_timeout`` default)
DEFAULT_TIMEOUT = 600
#: what gloo's and torch's errors say when a collective timed out or lost its peer
_FAILURE_MARKERS = ("timed out", "timeout", "connection closed by peer", "connection reset by peer", "broken pipe")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process runs: its rank among ``world_size`` processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_process_group: bool = False

    @property
    def distributed(self) -> bool:
        """Whether a process group joins several processes."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, writes checkpoints and evaluates."""
        return self.rank == 0


_context = DistributedContext()


def launched_by_torchrun() -> bool:
    """Whether the environment holds torchrun's rank variables."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def elastic_restart() -> int:
    """How many times torchrun has restarted the workers (``--max-restarts``; 0 for its first start and outside it)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0)) if launched_by_torchrun() else 0


def launch_rank() -> int:
    """This process's rank as torchrun set it (0 outside torchrun), known before the process group is joined."""
    return int(os.environ["RANK"]) if launched_by_torchrun() else 0


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """The device for ``spec``: ``auto`` (CUDA if present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    ``auto`` and ``cuda`` pick GPU ``local_rank`` so that each torchrun process gets its own GPU.
    """
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"--device: {spec!r} is not a device (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device: {spec!r} requested but CUDA is not available here")
        index = local_rank if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise ConfigError(f"--device: GPU {index} requested but only {torch.cuda.device_count()} are visible")
        device = torch.device("cuda", index)
    elif device.type != "cpu":
        raise ConfigError(f"--device: {spec!r} is not supported (use auto, cpu, cuda or cuda:N)")
    return device


@contextlib.contextmanager
def session(device: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> Iterator[DistributedContext]:
    """Make this process's context current for the block; join torchrun's process group if launched by it, its
    collectives waiting at most ``timeout`` seconds for the other ranks.

    The group is left at the end only if this session joined it (a caller that already joined keeps it),
    and the previous context comes back, so sessions nest (e.g. a test phase run inside a torchrun script).
    """
    global _context
    previous = _context
    _context = _start(device, timeout)
    try:
        yield _context
    finally:
        if _context.owns_process_group and dist.is_initialized():
            dist.destroy_process_group()
        _context = previous


def _start(device: str, timeout: float) -> DistributedContext:
    if not launched_by_torchrun():
        return DistributedContext(device=resolve_device(device))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    torch_device = resolve_device(device, local_rank)
    owns = not dist.is_initialized()
    if owns:
        if torch_device.type == "cuda":
            torch.cuda.set_device(torch_device)
        wait = datetime.timedelta(seconds=timeout)
        store, rank, world_size = next(dist.rendezvous("env://", timeout=wait))
        # torchrun's agent keeps one store across restarts: without a prefix per attempt, a restarted rank reads the
        # addresses the previous attempt's ranks published there, and gloo cannot connect
        store = dist.PrefixStore(f"opengait_local3d/attempt_{elastic_restart()}", store)
        dist.init_process_group("nccl" if torch_device.type == "cuda" else "gloo", store=store, rank=rank,
                                world_size=world_size, timeout=wait)
    return DistributedContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                              device=torch_device, owns_process_group=owns)


def get_context() -> DistributedContext:
    """The current context (one CPU process outside a :func:`session`)."""
    return _context


def all_gather_keep_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor [n, ...]`` of every rank along dim 0, keeping this rank's slice's gradient.

    The other ranks' slices are constants here; their gradients flow on their own ranks, and DDP averages
    the parameter gradients, hence the loss aggregator's scaling by the world size.
    """
    context = get_context()
    if not context.distributed:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(context.world_size)]
    dist.all_gather(parts, tensor.contiguous())
    parts[context.rank] = tensor
    return torch.cat(parts, dim=0)


def gather_to_main(obj: Any) -> list[Any] | None:
    """Every rank's ``obj`` (picklable) on rank 0, in rank order; ``None`` on the other ranks."""
    context = get_context()
    if not context.distributed:
        return [obj]
    gathered: list[Any] | None = [None] * context.world_size if context.is_main else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def any_rank(flag: bool, context: DistributedContext) -> bool:
    """Whether ``flag`` is true on any rank (a collective: every rank calls it)."""
    return any_rank_each([flag], context)[0]


def any_rank_each(flags: Sequence[bool] | torch.Tensor, context: DistributedContext) -> list[bool]:
    """For each of ``flags`` (``[n]``, the same ``n`` on every rank), whether it is true on any rank (one
    collective; a tensor may stay on the device until then)."""
    values = torch.as_tensor(flags, dtype=torch.float32).to(context.device)
    if context.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return [bool(value) for value in values.tolist()]


def collective_failure(error: BaseException) -> bool:
    """Whether ``error`` is a collective that timed out or lost a rank (torch raises a plain ``RuntimeError``
    with gloo's message, or a :class:`torch.distributed.DistError`)."""
    if isinstance(error, dist.DistError):
        return True
    return isinstance(error, RuntimeError) and dist.is_initialized() and any(
        marker in str(error).lower() for marker in _FAILURE_MARKERS)
