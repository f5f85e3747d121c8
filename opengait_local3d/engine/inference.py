"""One inference session: the test phase's network on its test set, outside the launcher.

The network, data and weights are those the test phase builds (:class:`~.host.NetworkHost` of the config's
``evaluator_cfg``: its sampler, transform and the checkpoint ``restore_hint`` names), in a distributed session with
the engine's console logger; :meth:`~.base_model.BaseModel.test_features` then extracts what the test phase
evaluates. ``opengait-local3d parts`` and the deployment's embeddings read features this way.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import distributed
from .host import NetworkHost
from .messages import get_msg_mgr
from .run_folder import RunFolder

__all__ = ["inference_session"]


@contextlib.contextmanager
def inference_session(cfgs: Mapping[str, Any], device: str = "auto",
                      log_folder: Path | None = None) -> Iterator[NetworkHost]:
    """The test phase's network of ``cfgs`` (in eval mode) for the block, in a distributed session (one process,
    or this rank under torchrun) whose logger writes to the console.

    Args:
        cfgs: a loaded config; ``evaluator_cfg.restore_hint`` chooses the weights.
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        log_folder: the logger's folder (default: the test phase's run folder).

    Raises:
        ConfigError, CheckpointError, DataError: naming the config key, checkpoint or file at fault.
    """
    with distributed.session(device) as context:
        msg_mgr = get_msg_mgr()
        msg_mgr.init_logger(log_folder or RunFolder.of(cfgs, training=False).save_path, log_to_file=False,
                            is_main=context.is_main)
        try:
            yield NetworkHost(cfgs, training=False)
        finally:
            msg_mgr.close()
