"""Optimizers (``optimizer_cfg.solver``) and schedulers (``scheduler_cfg.scheduler``) by torch's names."""
from __future__ import annotations

import inspect

import torch.optim
import torch.optim.lr_scheduler as lr_scheduler

from .registries import section_registry

__all__ = ["OPTIMIZERS", "SCHEDULERS"]


def _classes(module: object, base: type, excluded: tuple[str, ...] = ()) -> dict[str, type]:
    return {name: obj for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, base) and obj is not base and not name.startswith("_")
            and name not in excluded}


#: the optimizers of ``torch.optim`` (``Adam``, ``SGD``, ``AdamW``...) but LBFGS, whose step needs a closure
OPTIMIZERS = section_registry("optimizer", "solver", _classes(torch.optim, torch.optim.Optimizer, excluded=("LBFGS",)),
                              "optimizer_cfg", supplied={"params"})

#: the schedulers of ``torch.optim.lr_scheduler`` that step once per iteration without a metric or callables
SCHEDULERS = section_registry(
    "scheduler", "scheduler",
    _classes(lr_scheduler, lr_scheduler.LRScheduler,
             excluded=("ReduceLROnPlateau", "LambdaLR", "MultiplicativeLR", "SequentialLR", "ChainedScheduler")),
    "scheduler_cfg", supplied={"optimizer"})
