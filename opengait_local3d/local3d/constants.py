"""Constant tensors of the local paths (the priors, the layout of the parts, index tensors), made once.

On a GPU a tensor made from Python numbers is a copy from the host, after which torch waits for every kernel queued so
far (a synchronisation). Made at every step, the priors and the layout's constants (about twenty per block) let the
host dispatch the rest of the step while the GPU sat idle; :func:`constant` makes each once per values, dtype and
device.
"""
from __future__ import annotations

import functools
from typing import Callable, Hashable, Sequence

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
    return built_constant(_identity, _frozen(values), like, dtype)


def built_constant(build: Callable[[Hashable], Sequence], key: Hashable, like: Tensor,
                   dtype: torch.dtype | None = None) -> Tensor:
    """:func:`constant` of ``build(key)``, made once per ``build``, ``key``, dtype and device: for values that take
    longer to list and hash than a key that determines them (``build`` a module-level function, so that it is the same
    object at every call)."""
    dtype = like.dtype if dtype is None else dtype
    if torch.compiler.is_compiling():  # a constant of the compiled graph
        return torch.tensor(build(key), dtype=dtype, device=like.device)
    return _cached_constant(build, key, dtype, like.device)


def _identity(values: tuple) -> tuple:
    return values


def _frozen(values: Sequence) -> tuple:
    """Nested sequences as nested tuples (hashable)."""
    return tuple(_frozen(v) if isinstance(v, (list, tuple)) else v for v in values)


@functools.lru_cache(maxsize=1024)
def _cached_constant(build: Callable[[Hashable], Sequence], key: Hashable, dtype: torch.dtype,
                     device: torch.device) -> Tensor:
    # Made outside inference mode, so that training may save it for a backward after an inference-mode forward.
    with torch.inference_mode(False):
        return torch.tensor(build(key), dtype=dtype, device=device)
