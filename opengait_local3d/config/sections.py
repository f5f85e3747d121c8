"""The keys this package implements in the plain sections of a config, with the values each allows.

Each key's value is an annotation (see :mod:`opengait_local3d.utils.typecheck`) that the validation pass checks
(:mod:`.validation`); the keys of the typed entries (losses, optimizer, samplers...) are their factories'.
"""
from __future__ import annotations

from typing import Any, Literal, Mapping, Sequence

from ..utils.typecheck import NonNegativeInt, PositiveInt

__all__ = ["ENGINE_SCHEMA", "METRICS"]

#: the distances ``evaluator_cfg.metric`` names: Euclidean and cosine
METRICS = ("euc", "cos")

_TRANSFORM = Mapping | Sequence[Mapping] | None  # one entry per input, or one for all
_RESTORE_HINT = NonNegativeInt | str  # an iteration of this run, or a checkpoint path
_SHARED = {"enable_float16": bool, "restore_ckpt_strict": bool, "restore_hint": _RESTORE_HINT, "save_name": str,
           "sampler": Mapping, "transform": _TRANSFORM, "collective_timeout": PositiveInt}

#: The keys the engine implements in each plain section, with the values each allows (an annotation, see
#: :mod:`opengait_local3d.utils.typecheck`). ``engine_cfg`` is engine-only.
ENGINE_SCHEMA: dict[str, dict[str, Any]] = {
    "data_cfg": {"dataset_name": str, "dataset_root": str, "dataset_partition": str, "num_workers": NonNegativeInt,
                 "cache": bool, "test_dataset_name": str | None, "data_in_use": Sequence[bool] | Sequence[int] | None},
    "trainer_cfg": {**_SHARED, "with_test": bool, "fix_BN": bool, "log_iter": PositiveInt, "optimizer_reset": bool,
                    "scheduler_reset": bool, "save_iter": PositiveInt, "sync_BN": bool, "total_iter": PositiveInt,
                    "find_unused_parameters": bool, "nonfinite": Literal["stop", "skip"],
                    "nonfinite_skip_limit": PositiveInt, "keep_last": NonNegativeInt},
    "evaluator_cfg": {**_SHARED, "eval_func": str, "metric": Literal[METRICS], "cross_view_gallery": bool},
    "engine_cfg": {"seed": NonNegativeInt, "output_root": str, "keep_freed_memory": bool},
}
