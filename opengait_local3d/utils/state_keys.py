"""Warm starts between related networks: modules that know another key layout rename it when loading.

A module that can take a checkpoint written in another layout (a :class:`~opengait_local3d.local3d.Local3DBlock`
takes its bare global block's keys; Local3DCNN takes GaitPart's backbone) defines
``adopt_checkpoint_keys(state, prefix)``, which renames, in place, the keys of ``state`` under ``prefix`` that it
recognises, and leaves every other key alone. It calls it from a ``load_state_dict`` pre-hook, so any
``load_state_dict`` (this package's engine, OpenGait's ``BaseModel``, a user's own code) maps the keys;
:func:`adopt_keys` applies the same renaming ahead of a load, for checks that compare key sets first;
:func:`describe_warm_start` says what a non-strict load left new.
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn


def adopt_keys(module: nn.Module, state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` as ``module.load_state_dict`` will see it: every key a submodule adopts renamed.

    Submodules are visited parents first, as ``load_state_dict`` runs their pre-hooks, so a parent's renaming
    (GaitPart's backbone -> a network's blocks) can hand keys to a child's (a bare block -> its wrapped layout).
    """
    adopted = dict(state)
    for name, submodule in module.named_modules():
        adopt = getattr(submodule, "adopt_checkpoint_keys", None)
        if callable(adopt):
            adopt(adopted, f"{name}." if name else "")
    return adopted


def adopting_pre_hook(module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
    """A ``load_state_dict`` pre-hook that calls ``module.adopt_checkpoint_keys(state_dict, prefix)``."""
    module.adopt_checkpoint_keys(state_dict, prefix)


def layer_groups(keys: list[str], prefix: str) -> list[str]:
    """The distinct module paths (key minus its last name) of ``keys`` under ``prefix``, in order of appearance,
    without ``prefix``: ``['0.conv', '2.conv']`` for ``prefix.0.conv.weight, prefix.2.conv.weight``."""
    groups: dict[str, None] = {}
    for key in keys:
        if key.startswith(prefix):
            groups.setdefault(key[len(prefix):].rpartition(".")[0], None)
    return list(groups)


def describe_warm_start(tensors: int, missing: list[str], depth: int = 4) -> str:
    """What a non-strict restore of a network of ``tensors`` tensors did, ``missing`` those the checkpoint lacked:
    ``'loaded 40 tensor(s); new, not in the checkpoint: net.blocks.2.localization (12), net.classifier (1)'``
    (new tensors grouped by the first ``depth`` names of their keys)."""
    groups: dict[str, int] = {}
    for key in missing:
        module = ".".join(key.split(".")[:-1][:depth]) or key
        groups[module] = groups.get(module, 0) + 1
    fresh = ", ".join(f"{module} ({count})" for module, count in groups.items())
    return f"loaded {tensors - len(missing)} tensor(s); new, not in the checkpoint: {fresh or 'none'}"
