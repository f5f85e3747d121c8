"""Optimizer parameter groups that honour per-module learning-rate factors (``lr_scale``)."""
from __future__ import annotations

from typing import Any

from torch import nn


def parameter_groups(model: nn.Module, lr: float) -> list[dict[str, Any]]:
    """Split ``model``'s trainable parameters by the ``lr_scale`` of the module that owns them.

    A module with an ``lr_scale`` attribute (e.g. :class:`~opengait_local3d.local3d.Localization`) gives its
    parameters, and those of its submodules, ``lr x lr_scale``; the nearest such module wins; every other
    parameter gets ``lr``. This is the usual practice for spatial-transformer-like localization networks,
    whose outputs move the sampling grid and need smaller steps than the features they read.

    Returns:
        Groups for any ``torch.optim`` optimizer: ``{'params': [...], 'lr': ...}`` in order of first
        appearance, the unscaled group first; empty groups are left out.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        >>> net[1].lr_scale = 0.1
        >>> [(len(g["params"]), g["lr"]) for g in parameter_groups(net, 1e-3)]
        [(2, 0.001), (2, 0.0001)]
    """
    scale_of: dict[int, float] = {}

    def visit(module: nn.Module, scale: float) -> None:
        scale = float(getattr(module, "lr_scale", scale))
        for parameter in module.parameters(recurse=False):
            scale_of.setdefault(id(parameter), scale)
        for child in module.children():
            visit(child, scale)

    visit(model, 1.0)
    groups: dict[float, list[nn.Parameter]] = {1.0: []}
    for parameter in model.parameters():
        if parameter.requires_grad:
            groups.setdefault(scale_of[id(parameter)], []).append(parameter)
    return [{"params": params, "lr": lr * scale} for scale, params in groups.items() if params]
