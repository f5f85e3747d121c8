"""An optimizer's state carried across a warm start, parameter by parameter, by name.

A checkpoint's optimizer state is keyed by position (group ``g``, parameter ``i``), which means nothing once the
network changes: a warm start that adds local paths adds parameters, new groups (their learning-rate factors) and
renames the wrapped blocks' keys. The engine therefore saves, beside the optimizer state, the name of the
parameter at each position (:func:`parameter_names`); :func:`carry_state` gives every parameter of the new network
that the checkpoint names (after the same renaming as its weights,
:func:`~opengait_local3d.utils.state_keys.adopt_keys`) its saved state (Adam's step and moments), so it continues
where it was, and leaves the new parameters to start fresh. The new optimizer keeps its own hyper-parameters
(learning rates, betas): only per-parameter state moves.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ..errors import CheckpointError
from ..utils.state_keys import adopt_keys


def parameter_names(module: nn.Module, optimizer: torch.optim.Optimizer) -> list[list[str]]:
    """The name (in ``module.state_dict()``) of every parameter of ``optimizer``, group by group, in its order."""
    name_of = {id(parameter): name for name, parameter in module.named_parameters()}
    return [[name_of[id(parameter)] for parameter in group["params"]] for group in optimizer.param_groups]


def carry_state(module: nn.Module, optimizer: torch.optim.Optimizer, saved: Mapping[str, Any],
                saved_names: Any, source: object) -> tuple[int, int]:
    """Give ``optimizer``'s parameters the per-parameter state of ``saved`` (an optimizer ``state_dict``) whose
    positions ``saved_names`` names (:func:`parameter_names` of the network it was saved from), matched by name.

    Args:
        module: the network ``optimizer`` optimizes (its names, after renaming, select the saved states).
        source: the checkpoint, for messages.

    Returns:
        ``(carried, total)``: parameters that got a saved state, and parameters of ``optimizer``.

    Raises:
        CheckpointError: ``saved_names`` is missing or does not match ``saved``'s groups, the saved optimizer is
            another kind (its hyper-parameters differ from ``optimizer``'s), or a saved state does not fit its
            parameter's shape.
    """
    groups = saved.get("param_groups", [])
    if not isinstance(saved_names, list) or [len(names) for names in saved_names] != [len(g["params"]) for g in groups]:
        raise CheckpointError(f"{source}: the optimizer state does not record its parameters' names (a checkpoint of "
                              "OpenGait or of an earlier release), so it cannot be carried into another network; set "
                              "trainer_cfg.optimizer_reset: true to start the optimizer afresh")
    if groups and set(groups[0]) != set(optimizer.param_groups[0]):
        raise CheckpointError(f"{source}: its optimizer is not the one optimizer_cfg builds (hyper-parameters "
                              f"{sorted(set(groups[0]) - {'params'})} against "
                              f"{sorted(set(optimizer.param_groups[0]) - {'params'})}); set "
                              "trainer_cfg.optimizer_reset: true")
    by_name = adopt_keys(module, {name: saved["state"].get(index) for names, group in zip(saved_names, groups)
                                  for name, index in zip(names, group["params"])})
    # Re-key the saved states by the new optimizer's positions and let torch's own load_state_dict place them (its
    # device and dtype policy: moments to the parameter's device, Adam's scalar step left where Adam keeps it).
    current = optimizer.state_dict()
    state = {}
    for names, group, indices in zip(parameter_names(module, optimizer), optimizer.param_groups,
                                      (g["params"] for g in current["param_groups"])):
        for name, parameter, index in zip(names, group["params"], indices):
            saved_state = by_name.get(name)
            if not saved_state:
                continue
            misfit = [key for key, value in saved_state.items() if torch.is_tensor(value) and value.dim()
                      and value.shape != parameter.shape]
            if misfit:
                raise CheckpointError(f"{source}: the optimizer state of {name} ({', '.join(misfit)}) has shape "
                                      f"{list(saved_state[misfit[0]].shape)}, the parameter {list(parameter.shape)}")
            state[index] = saved_state
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})
    return len(state), sum(len(group["params"]) for group in optimizer.param_groups)
