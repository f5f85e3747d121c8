"""The embedded, OpenGait-compatible engine: CPU or GPU, one process or under ``torchrun``.

* :func:`run` (``python -m opengait_local3d.main``): train or test from an OpenGait-schema config.
* :class:`BaseModel`: OpenGait's host API; :class:`NetworkHost` binds every network of
  :mod:`opengait_local3d.modeling` to it; :func:`load_network` gives a run's network without its data.
* :func:`load_config`: a config merged over ``configs/default.yaml``, its keys checked.
* :func:`evaluate_indoor_dataset`: the CASIA-B / OU-MVLP evaluation (:mod:`.evaluation`).
"""
from .base_model import BaseModel
from .config.loading import load_config
from ..errors import CheckpointError, ConfigError, DataError, EngineError, FaultError, OutputError
from .evaluation import evaluate_indoor_dataset
from .launcher import RunResult, run
from .host import NetworkHost, load_network

__all__ = ["BaseModel", "NetworkHost", "load_network", "run", "RunResult", "load_config", "evaluate_indoor_dataset",
           "EngineError", "ConfigError", "DataError", "CheckpointError", "OutputError", "FaultError"]
