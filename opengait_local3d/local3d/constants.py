"""Constant tensors of the local paths (the priors, the layout of the parts, index tensors), made once.

On a GPU a tensor made from Python numbers is a copy from the host, after which torch waits for every kernel queued so
far (a synchronisation). Made at every step, the priors and the layout's constants (about twenty per block) let the
host dispatch the rest of the step while the GPU sat idle; :func:`constant` makes each once per values, dtype and
device.
"""
from __future__ import annotations

import functools
from typing import Sequence

import torch
from torch import Tensor


def constant(values: Sequence, like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """``values`` (Python numbers, or nested sequences of them) as a tensor on ``like``'s device, of ``dtype``
    (``like``'s by default), made once per values, dtype and device and shared: read it, never write it.

    Example:
        >>> like = torch.zeros(2)
        >>> constant([[1, 2], [3, 4]], like)
        tensor([[1., 2.],
                [3., 4.]])
        >>> constant([[1, 2], [3, 4]], like) is constant(((1, 2), (3, 4)), like)
        True
    """
    dtype = like.dtype if dtype is None else dtype
    if torch.compiler.is_compiling():  # a constant of the compiled graph
        return torch.tensor(values, dtype=dtype, device=like.device)
    return _cached_constant(_frozen(values), dtype, like.device)


def _frozen(values: Sequence) -> tuple:
    """Nested sequences as nested tuples (hashable)."""
    return tuple(_frozen(v) if isinstance(v, (list, tuple)) else v for v in values)


@functools.lru_cache(maxsize=1024)
def _cached_constant(values: tuple, dtype: torch.dtype, device: torch.device) -> Tensor:
    # Made outside inference mode, so that training may save it for a backward after an inference-mode forward.
    with torch.inference_mode(False):
        return torch.tensor(values, dtype=dtype, device=device)
