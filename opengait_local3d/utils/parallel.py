"""Process pools with a progress bar, for the data tools (``synth``, ``pretreat``)."""
from __future__ import annotations

import multiprocessing
import os
from contextlib import ExitStack
from typing import Callable, Sequence, TypeVar

from tqdm import tqdm

from .checks import integer_at_least

Job = TypeVar("Job")
Result = TypeVar("Result")


def default_workers() -> int:
    """The number of CPUs this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    """``workers``, or :func:`default_workers` for ``None``.

    Raises:
        ValueError: if ``workers`` is not a positive integer.
    """
    return default_workers() if workers is None else integer_at_least(workers, 1, "workers")


def _pool_context() -> multiprocessing.context.BaseContext:
    """Worker processes that do not inherit this process's threads.

    ``fork`` (Linux's default) copies a process whose torch/OpenMP thread pools may hold locks, and a
    forked worker can then wait on them forever; ``forkserver`` forks workers from a clean server process.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def parallel_map(function: Callable[[Job], Result], jobs: Sequence[Job], workers: int, *, desc: str, unit: str,
                 total: int | None = None, step: Callable[[Result], int] | None = None,
                 progress: bool = True) -> list[Result]:
    """Apply ``function`` to every job in ``workers`` processes (in this one when ``workers == 1``).

    ``function`` must be picklable (a module-level function or a ``functools.partial`` of one).
    The bar advances by ``step(result)`` per finished job (1 by default) up to ``total``
    (``len(jobs)`` by default). Results come in completion order.
    """
    results = []
    with tqdm(total=len(jobs) if total is None else total, desc=desc, unit=unit, disable=not progress) as bar, \
            ExitStack() as stack:
        if workers == 1:
            outputs = map(function, jobs)
        else:
            pool = stack.enter_context(_pool_context().Pool(workers))
            outputs = pool.imap_unordered(function, jobs)
        for result in outputs:
            results.append(result)
            bar.update(1 if step is None else step(result))
    return results
