"""The embedded, OpenGait-compatible engine: CPU or GPU, one process or under ``torchrun``.

* :func:`run` (``python -m opengait_local3d.main``): train or test from an OpenGait-schema config.
* :class:`BaseModel`: OpenGait's host API; :mod:`.models` binds Local3DCNN, GaitSet and GaitPart to it.
* :func:`load_config`: a config merged over ``configs/default.yaml``, its keys checked.
* :func:`evaluate_indoor_dataset`: the CASIA-B / OU-MVLP evaluation (:mod:`.evaluation`).
"""
from .base_model import BaseModel
from .config.loading import load_config
from .errors import CheckpointError, ConfigError, DataError, EngineError
from .evaluation import evaluate_indoor_dataset
from .launcher import RunResult, run
from .models import MODELS, GaitPart, GaitSet, Local3DCNN, get_model_class

__all__ = ["BaseModel", "run", "RunResult", "load_config", "evaluate_indoor_dataset", "EngineError", "ConfigError",
           "DataError", "CheckpointError", "MODELS", "Local3DCNN", "GaitSet", "GaitPart", "get_model_class"]
