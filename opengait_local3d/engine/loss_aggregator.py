"""The weighted sum of the losses named in ``loss_cfg``, computed over the whole distributed batch."""
from __future__ import annotations

import logging
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from ..modeling.losses import LOSSES
from .distributed import all_gather_keep_grad, get_context
from ..errors import ConfigError
from ..config.registries import section_registry

__all__ = ["LossAggregator", "LOSS_REGISTRY"]

logger = logging.getLogger(__name__)

#: ``loss_cfg.type`` -> loss class; ``log_prefix`` picks its inputs from ``training_feat``
LOSS_REGISTRY = section_registry("loss", "type", LOSSES, "loss_cfg", reserved={"log_prefix", "gather_and_scale"})


class LossAggregator(nn.Module):
    """OpenGait's loss aggregator: one loss per ``log_prefix``, summed with their ``loss_term_weight``.

    Under torchrun each loss sees the inputs of all ranks (all-gathered, this rank's slice keeping its
    gradient) and is multiplied by the world size, because DDP averages the ranks' gradients: the result
    is the gradient of the loss over the whole batch, as OpenGait computes it.

    Args:
        loss_cfg: one loss entry or a list of them (``type``, ``log_prefix``, arguments of the loss).

    Attributes:
        terms: after each forward, each term's weighted contribution to the total (``{prefix: scalar}``, detached),
            in the order of ``training_feat``: the training's non-finite guard names the terms that are NaN or inf.
    """

    def __init__(self, loss_cfg: Mapping[str, Any] | list[Mapping[str, Any]]):
        super().__init__()
        entries = [loss_cfg] if isinstance(loss_cfg, Mapping) else loss_cfg
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"loss_cfg: expected a loss or a list of losses, got {loss_cfg!r}")
        self.losses = nn.ModuleDict()
        self.terms: dict[str, Tensor] = {}
        for i, entry in enumerate(entries):
            where = "loss_cfg" if isinstance(loss_cfg, Mapping) else f"loss_cfg[{i}]"
            prefix = entry.get("log_prefix") if isinstance(entry, Mapping) else None
            if not isinstance(prefix, str):
                raise ConfigError(f"{where}: missing 'log_prefix' (the training_feat key the loss reads)")
            if prefix in self.losses:
                raise ConfigError(f"{where}: log_prefix '{prefix}' is used by two losses")
            self.losses[prefix] = LOSS_REGISTRY.build(entry, where)

    def forward(self, training_feat: Mapping[str, Any]) -> tuple[Tensor, dict[str, Tensor]]:
        """(total loss, ``{'scalar/<prefix>/<name>': value}``) for the network's ``training_feat``.

        A ``training_feat`` entry that is a tensor is a loss the network computed itself and is added as is.
        """
        world_size = get_context().world_size
        total: Tensor | float = 0.0
        info: dict[str, Tensor] = {}
        self.terms = {}
        for prefix, value in training_feat.items():
            if prefix in self.losses:
                loss_fn = self.losses[prefix]
                gathered = {k: all_gather_keep_grad(v) if torch.is_tensor(v) else v for k, v in value.items()}
                loss, loss_info = loss_fn(**gathered)
                info.update({f"scalar/{prefix}/{name}": v for name, v in loss_info.items()})
                term = loss.mean() * loss_fn.loss_term_weight * world_size
            elif torch.is_tensor(value):
                info[f"scalar/{prefix}"] = value.detach().mean()
                term = value.mean()
            else:
                raise ConfigError(f"loss_cfg: the network outputs training_feat['{prefix}'] but no loss has "
                                  f"log_prefix '{prefix}' (configured: {', '.join(self.losses) or 'none'})")
            self.terms[prefix] = term.detach()
            total = total + term
        if not torch.is_tensor(total):
            raise ConfigError("loss_cfg: none of the configured losses matches the network's training_feat keys")
        return total, info
