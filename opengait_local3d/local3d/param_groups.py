"""Optimizer parameter groups that honour per-module learning-rate factors (``lr_scale``) and weight decays
(``weight_decay``)."""
from __future__ import annotations

from typing import Any

from torch import nn


def parameter_groups(model: nn.Module, lr: float) -> list[dict[str, Any]]:
    """Split ``model``'s trainable parameters by the ``lr_scale`` and ``weight_decay`` of the modules that own them.

    A module with an ``lr_scale`` attribute (e.g. :class:`~opengait_local3d.local3d.Localization`) gives its
    parameters, and those of its submodules, ``lr x lr_scale``; the nearest such module wins; every other
    parameter gets ``lr``. This is the usual practice for spatial-transformer-like localization networks,
    whose outputs move the sampling grid and need smaller steps than the features they read. A module with a
    ``weight_decay`` attribute that is not ``None`` sets its parameters' weight decay the same way; the others
    keep the optimizer's own.

    Returns:
        Groups for any ``torch.optim`` optimizer: ``{'params': [...], 'lr': ...}``, plus ``'weight_decay'`` where a
        module sets one, in order of first appearance, the unscaled group first; empty groups are left out.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1), nn.Linear(1, 1))
        >>> net[1].lr_scale = 0.1
        >>> net[2].weight_decay = 5e-4
        >>> [(len(g["params"]), g["lr"], g.get("weight_decay")) for g in parameter_groups(net, 1e-3)]
        [(2, 0.001, None), (2, 0.0001, None), (2, 0.001, 0.0005)]
    """
    setting_of: dict[int, tuple[float, float | None]] = {}

    def visit(module: nn.Module, scale: float, decay: float | None) -> None:
        scale = float(getattr(module, "lr_scale", scale))
        own_decay = getattr(module, "weight_decay", None)
        decay = decay if own_decay is None else float(own_decay)
        for parameter in module.parameters(recurse=False):
            setting_of.setdefault(id(parameter), (scale, decay))
        for child in module.children():
            visit(child, scale, decay)

    visit(model, 1.0, None)
    groups: dict[tuple[float, float | None], list[nn.Parameter]] = {(1.0, None): []}
    for parameter in model.parameters():
        if parameter.requires_grad:
            groups.setdefault(setting_of[id(parameter)], []).append(parameter)
    return [{"params": params, "lr": lr * scale, **({} if decay is None else {"weight_decay": decay})}
            for (scale, decay), params in groups.items() if params]
