"""The engine's host of the host-free networks: one :class:`BaseModel` for every model ``model_cfg`` names.

The host holds its network as ``self.net`` (so checkpoints hold ``net.*`` keys, as with the OpenGait
plugin's binding) and forwards to it. :func:`load_network` gives the same network, with the weights of a
run's checkpoint, without the host's data and optimizer.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ..modeling import build_network
from ..visuals import tensorboard_pictures
from .base_model import BaseModel
from .checkpoint import load_weights
from .data import apply_to_sequence, get_transform
from ..errors import ConfigError
from .run_folder import RunFolder

__all__ = ["NetworkHost", "load_network"]


def _network(model_cfg: Mapping[str, Any]) -> nn.Module:
    """:func:`~opengait_local3d.modeling.build_network`, its errors as :class:`ConfigError`."""
    try:
        return build_network(model_cfg)
    except ValueError as err:
        raise ConfigError(str(err)) from None


class NetworkHost(BaseModel):
    """A :class:`BaseModel` whose network is the one ``model_cfg.model`` names (Local3DCNN, GaitSet, GaitPart,
    GaitGL, GaitGLLocal3D)."""

    def build_network(self, model_cfg: Mapping[str, Any]) -> None:
        self.net = _network(model_cfg)

    @property
    def network(self) -> nn.Module:
        """The network ``model_cfg`` names (``self.net``)."""
        return self.net

    def init_parameters(self) -> None:
        """The network's own initialisation scheme."""
        self.net.init_parameters()

    def pictures(self) -> dict[str, Any]:
        """The part pictures (:mod:`opengait_local3d.visuals`) of training sequence 0, at most a clip's length,
        through the evaluator's transform (one no-grad forward of one sequence); none for networks without 3D
        local blocks."""
        frames = self.train_loader.dataset[0].frames[0][:self.cfgs["trainer_cfg"]["sampler"].get("frames_num_fixed")]
        transform = get_transform(self.cfgs["evaluator_cfg"].get("transform"), "evaluator_cfg.transform")[0]
        return tensorboard_pictures(self.net, apply_to_sequence(transform, frames))

    def forward(self, inputs: tuple) -> dict[str, Any]:
        try:
            return self.net(inputs)
        except ValueError as err:  # the network's own input checks, e.g. a map height the strips do not divide
            sils = inputs[0][0]
            raise ConfigError(f"model_cfg: {type(self.net).__name__} cannot take the silhouettes the data and "
                              f"transforms give ({'x'.join(map(str, sils.shape[-2:]))} pixels): {err}") from None


def load_network(cfgs: Mapping[str, Any], iteration: int) -> nn.Module:
    """The config's network as the test phase has it, in eval mode on the CPU, without data or optimizer.

    Initialised as :class:`NetworkHost` initialises it (``engine_cfg.seed``; the global RNG is left as it
    was), then, for ``iteration`` > 0, the weights of the checkpoint the test phase loads for ``--iter``
    (``output_root/<dataset>/<model>/<evaluator save_name>/checkpoints``), as strictly as
    ``evaluator_cfg.restore_ckpt_strict`` says.

    Raises:
        ConfigError: unknown model or ``model_cfg`` key. CheckpointError: a missing or unreadable checkpoint,
            or one that does not fit the configured network (naming its file).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(cfgs["engine_cfg"]["seed"]))
        network = _network(cfgs["model_cfg"])
        network.init_parameters()
    if iteration:
        evaluator_cfg = cfgs["evaluator_cfg"]
        path = RunFolder.of(cfgs, training=False).checkpoint(iteration)
        load_weights(network, path, strict=bool(evaluator_cfg.get("restore_ckpt_strict", True)),
                     model_cfg=cfgs["model_cfg"], prefix="net.")
    return network.eval()
