"""Sampling grids and 1D filterbanks of the paper's Eqs. 4-9.

Convention (docs/design.md, 'Sampling conventions'):
    Continuous coordinates put the centre of pixel (or frame) index ``p`` at ``p + 0.5``, so a map of
    size ``S`` spans ``[0, S]``; this is ``grid_sample``'s ``align_corners=False``. Grid positions and
    strides are in input pixels (frames). A filterbank row ``i`` holds the weights with which output
    position ``i`` reads the input positions ``0 .. S-1``.
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .custom_backward import uses_custom_backward

#: Smallest variance a Gaussian filter uses (sigma = 0.01 pixel): keeps exp() and its gradient finite.
MIN_VARIANCE = 1e-4


def grid_centres(
    prior: Tensor | float, offset: Tensor | float, stride: Tensor | float, in_size: int, out_size: int
) -> Tensor:
    r"""Positions of an ``out_size``-point sampling grid along one axis (Eqs. 4-6).

    .. math:: \mu^i = c\,S + \frac{\Delta}{2} S + (i - K/2 - 0.5)\,\delta, \qquad i = 1..K

    Args:
        prior: prior centre ``c`` as a fraction of the input size, in [0, 1].
        offset: centre offset ``Delta`` in (-1, 1) (a fraction of the size, halved as in Eq. 4).
        stride: spacing ``delta`` of the grid points, in input pixels.
        in_size: input size ``S`` along the axis.
        out_size: number of grid points ``K``.

    Returns:
        positions ``[*broadcast(prior, offset, stride).shape, out_size]`` in input pixels.

    Raises:
        ValueError: ``in_size`` or ``out_size`` is not a positive int.

    Example:
        >>> grid_centres(0.5, 0.0, 1.0, in_size=4, out_size=4)
        tensor([0.5000, 1.5000, 2.5000, 3.5000])
    """
    for name, size in (("in_size", in_size), ("out_size", out_size)):
        _check_size(size, name)
    tensors = [v for v in (prior, offset, stride) if isinstance(v, Tensor)]
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors), torch.get_default_dtype())
    device = tensors[0].device if tensors else None
    prior, offset, stride = (torch.as_tensor(v, dtype=dtype, device=device) for v in (prior, offset, stride))
    index = torch.arange(out_size, dtype=dtype, device=device) + (0.5 - out_size / 2)
    centre = (prior + offset / 2) * in_size
    return centre.unsqueeze(-1) + index * stride.unsqueeze(-1)


def gaussian_filterbank(mu: Tensor, sigma2: Tensor | float, size: int, eps: float = 1e-8) -> Tensor:
    r"""Row-normalised Gaussian filterbank (Eqs. 7-8).

    .. math:: G[i, p] = \exp\!\left(-\frac{(\mu^i - (p + 0.5))^2}{2\sigma^2}\right) \Big/
              \max\!\left(\textstyle\sum_p \exp(\cdot),\ \epsilon\right)

    A row whose Gaussian lies entirely off the map sums to less than ``eps`` and stays (nearly) zero
    instead of being blown up to 1. The variance is floored at :data:`MIN_VARIANCE`. Weights below
    ``finfo(dtype).eps ** 2`` (before normalisation) are set to zero.

    Args:
        mu: grid positions ``[..., K]`` in input pixels.
        sigma2: variance in pixels squared, broadcastable to ``[..., 1]``.
        size: input size ``S``.
        eps: floor of the row sums.

    Returns:
        filterbank ``[..., K, size]``; rows sum to 1 unless they fall off the map.

    Raises:
        ValueError: ``size`` is not a positive int.

    Example:
        >>> gaussian_filterbank(torch.tensor([1.0]), 0.25, size=2)
        tensor([[0.5000, 0.5000]])
    """
    _check_size(size)
    sigma2 = torch.as_tensor(sigma2, dtype=mu.dtype, device=mu.device).clamp_min(MIN_VARIANCE)
    if uses_custom_backward(mu, sigma2):
        return _GaussianFilterbank.apply(mu, sigma2, size, eps)
    return _gaussian_rows(mu, sigma2, size, eps)[0]


def _gaussian_rows(mu: Tensor, sigma2: Tensor, size: int, eps: float) -> tuple[Tensor, Tensor]:
    """Eqs. 7-8 for ``mu [..., K]`` and the floored ``sigma2`` (broadcastable to ``[..., 1]``): the filterbank
    ``[..., K, size]`` and its row sums before normalisation ``[..., K, 1]``."""
    exponent = _offsets(mu, size).square() / (-2 * sigma2.unsqueeze(-1))
    # Weights below eps^2 are far below what the result resolves; as subnormal numbers they would put
    # every matmul that reads the filterbank on the CPU's slow path (4x slower sampling on CPU). The exponent is
    # clamped at that floor before exp as well: exp's own slow path for results that underflow made it 10-40x
    # slower on CPU for the far tails every filterbank has (the clamped values are zeroed, with no gradient).
    floor = 2 * math.log(torch.finfo(mu.dtype).eps)
    weights = torch.exp(exponent.clamp_min(floor)).masked_fill(exponent < floor, 0.0)
    sums = weights.sum(-1, keepdim=True)
    return weights / sums.clamp_min(eps), sums


def _offsets(mu: Tensor, size: int) -> Tensor:
    """``mu [..., K]`` minus the pixel centres ``p + 0.5``: ``[..., K, size]``."""
    return mu.unsqueeze(-1) - (torch.arange(size, dtype=mu.dtype, device=mu.device) + 0.5)


class _GaussianFilterbank(torch.autograd.Function):
    """:func:`gaussian_filterbank` of a floored variance with the analytic gradient.

    With ``G = w / max(s, eps)``, ``w = exp(e)``, ``e = -(mu - p)^2 / (2 sigma^2)`` and ``s`` the row sum:
    ``dL/de = (g - [s > eps] sum_p g G) G``, ``dL/dmu = -sum_p dL/de (mu - p) / sigma^2`` and
    ``dL/dsigma^2 = sum_p dL/de (mu - p)^2 / (2 sigma^4)``, each summed to its input's shape.
    """

    @staticmethod
    def forward(ctx, mu: Tensor, sigma2: Tensor, size: int, eps: float) -> Tensor:
        bank, sums = _gaussian_rows(mu, sigma2, size, eps)
        ctx.save_for_backward(mu, sigma2, bank, sums)
        ctx.size, ctx.eps = size, eps
        return bank

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        mu, sigma2, bank, sums = ctx.saved_tensors
        dot = (grad * bank).sum(-1, keepdim=True).masked_fill_(sums < ctx.eps, 0.0)
        grad_exponent = (grad - dot).mul_(bank)
        offsets = _offsets(mu, ctx.size)
        grad_mu = grad_sigma2 = None
        weighted = grad_exponent.mul_(offsets)  # dL/de (mu - p)
        if ctx.needs_input_grad[1]:
            grad_sigma2 = ((weighted * offsets).sum(-1) / (2 * sigma2.square())).sum_to_size(sigma2.shape)
        if ctx.needs_input_grad[0]:
            grad_mu = (weighted.sum(-1) / -sigma2).sum_to_size(mu.shape)
        return grad_mu, grad_sigma2, None, None


def linear_filterbank(mu: Tensor, size: int) -> Tensor:
    r"""Linear-interpolation filterbank (Eq. 9 read as ordinary linear interpolation).

    With :math:`u = \mu - 0.5`, row ``i`` puts weight :math:`1 - \mathrm{frac}(u)` on
    :math:`\lfloor u \rfloor` and :math:`\mathrm{frac}(u)` on :math:`\lfloor u \rfloor + 1`; indices outside
    ``[0, size - 1]`` contribute zero (``grid_sample``'s zeros padding).

    Args:
        mu: grid positions ``[..., K]`` in input pixels.
        size: input size ``S``.

    Returns:
        filterbank ``[..., K, size]`` with at most two non-zeros per row.

    Raises:
        ValueError: ``size`` is not a positive int.

    Example:
        >>> linear_filterbank(torch.tensor([1.25]), size=3)
        tensor([[0.2500, 0.7500, 0.0000]])
    """
    _check_size(size)
    u = mu - 0.5
    left = u.detach().floor()
    right_weight = (u - left).unsqueeze(-1)
    index = torch.arange(size, dtype=mu.dtype, device=mu.device)
    on_left = (index == left.unsqueeze(-1)).to(mu.dtype)
    on_right = (index == left.unsqueeze(-1) + 1).to(mu.dtype)
    return on_left + (on_right - on_left) * right_weight


def filterbank(mu: Tensor, size: int, sigma2: Tensor | float | None = None) -> Tensor:
    """Gaussian filterbank when ``sigma2`` is given, linear otherwise: ``[..., K] -> [..., K, size]``."""
    if sigma2 is None:
        return linear_filterbank(mu, size)
    return gaussian_filterbank(mu, sigma2, size)


def _check_size(size: int, name: str = "size") -> None:
    """A map or grid size is a positive int; a symbolic int (``torch.SymInt``, a dynamic dimension of
    ``torch.export``) is taken as it is, so the frame count of an exported network stays an input."""
    if isinstance(size, (torch.SymInt, Tensor)):
        return
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"{name} must be a positive int, got {size!r}")
