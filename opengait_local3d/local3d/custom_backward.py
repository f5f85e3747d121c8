"""Which form of the 3D local operation runs: autograd functions with hand-written backwards (training), plain
operators writing into their outputs' final layout (inference), or standard operators alone (tracing, export)."""
from __future__ import annotations

import torch
from torch import Tensor


def is_traced() -> bool:
    """Whether a network is being traced or compiled (``torch.jit.trace``, ``torch.export``, ``torch.compile``): its
    graph must then hold standard operators only, without our autograd functions and without ``out=`` arguments."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def uses_custom_backward(*tensors: Tensor) -> bool:
    """Whether autograd will differentiate through an operation on ``tensors`` while nothing is traced or compiled.

    Then the Gaussian filterbank, the sampler's spatial filters and DRAW's summed write run as autograd functions whose
    backward is written out (on CPU about twice as fast as autograd's chain through their forward, without its
    copies); otherwise (inference) the same forward runs as plain operators, and while a network is traced or compiled
    (:func:`is_traced`) as standard ones, so that a traced or exported graph holds only those.
    """
    if is_traced():
        return False
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
