"""CPU memory reuse between training steps.

A training step of these models allocates gigabytes of activations and frees them at its end. glibc's
malloc serves such large blocks with mmap and gives them back to the kernel when freed, so every step
faults them in again (page zeroing: about 15 million page faults and 25 s of system time per Local3DCNN
step at CASIA-B settings on a 2-core machine). Asking it to keep freed memory makes CPU steps about 1.5x
faster for about 40% more peak memory (``benchmarks/model_step.py`` measures both).
"""
from __future__ import annotations

import ctypes

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_NEVER = 2**31 - 1


def keep_freed_memory() -> bool:
    """Ask glibc malloc to serve large blocks from its heap and never trim it, so freed activations are reused.

    Same effect as ``MALLOC_MMAP_THRESHOLD_=2147483647 MALLOC_TRIM_THRESHOLD_=2147483647`` in the environment.
    Returns False where there is no glibc (the platform's allocator is left as it is).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _NEVER)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _NEVER))
