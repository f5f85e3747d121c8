"""The networks of :mod:`opengait_local3d.modeling` bound to OpenGait's own ``BaseModel``.

Importable only inside OpenGait's process, where ``opengait/`` is on ``sys.path`` (its ``main.py``
imports ``modeling.models``); the shim that install-plugin writes imports :class:`OpenGaitHost` from there
under the registry names ``Local3DCNN`` and ``GaitGLLocal3D``. OpenGait's ``BaseModel`` then drives it: data loading,
LossAggregator, optimizer, DDP, checkpoints, evaluator.

One model definition, two hosts: like the engine's :class:`~opengait_local3d.engine.host.NetworkHost`, this
class only binds the host-free network as ``self.net``, so state_dict keys are ``net.*`` in both hosts and a
checkpoint of either loads in the other.

Before OpenGait builds anything, the config goes through the validation pass both hosts share
(:func:`~opengait_local3d.config.validation.check_shared_config`, the checks that do not depend on the engine's
own registries); a bad config ends the process with one message per problem, without a traceback.
"""
import inspect

import torch

from opengait_local3d.config.validation import check_shared_config
from opengait_local3d.config.warm_start import check_warm_start
from opengait_local3d.errors import CheckpointError, ConfigError
from opengait_local3d.local3d import parameter_groups
from opengait_local3d.modeling import build_network
from opengait_local3d.utils.state_keys import adopt_keys, describe_warm_start

try:
    from modeling.base_model import BaseModel
except ImportError as error:
    raise ImportError(
        "opengait_local3d.opengait_plugin.binding binds our networks to OpenGait's BaseModel and is imported "
        "inside OpenGait (opengait/ on sys.path), through the shim `opengait-local3d install-plugin` writes; "
        f"here OpenGait's modeling.base_model is not importable ({error})."
    ) from error


class OpenGaitHost(BaseModel):
    """The network ``model_cfg.model`` names, on OpenGait's ``BaseModel`` (registered as ``Local3DCNN`` and
    ``GaitGLLocal3D``).

    ``model_cfg``'s other keys are the network's arguments (for ``model: Local3DCNN``,
    :class:`opengait_local3d.modeling.local3dcnn.Local3DCNN`; for ``model: GaitGLLocal3D``,
    :class:`opengait_local3d.modeling.gaitgl.GaitGLLocal3D`). ``forward(inputs)`` takes OpenGait's
    ``(ipts, labs, typs, vies, seqL)`` and returns ``training_feat`` with ``triplet`` (embeddings,
    labels) and ``softmax`` (logits, labels) for OpenGait's TripletLoss and CrossEntropyLoss.
    """

    def __init__(self, cfgs: dict, training: bool):
        try:
            check_shared_config(cfgs, training)
            if training:  # OpenGait runs from its checkout's root, where install-plugin put our configs
                check_warm_start(cfgs, "configs/<config>", "torchrun opengait/main.py --cfgs {config} --phase train")
        except ConfigError as err:
            raise SystemExit(f"opengait_local3d: error in the config: {err}") from None
        except CheckpointError as err:
            raise SystemExit(f"opengait_local3d: {err}") from None
        super().__init__(cfgs, training)

    def build_network(self, model_cfg: dict) -> None:
        self.net = build_network(model_cfg)

    def init_parameters(self) -> None:
        """OpenGait's Xavier pass, then the network's own scheme (restores the localization priors)."""
        super().init_parameters()
        self.net.init_parameters()

    def get_optimizer(self, optimizer_cfg: dict) -> torch.optim.Optimizer:
        """OpenGait's optimizer from ``optimizer_cfg``, with the localization's learning-rate factor applied
        (``model_cfg.local3d.localization_lr_scale``) through parameter groups.

        As OpenGait's own ``get_optimizer``, keys the solver does not take are dropped (with a note): OpenGait's
        ``configs/default.yaml`` gives every ``optimizer_cfg`` SGD's ``momentum``, which Adam does not take.
        """
        self.msg_mgr.log_info(optimizer_cfg)
        solver = getattr(torch.optim, optimizer_cfg["solver"])
        accepted = inspect.signature(solver).parameters
        arguments = {key: value for key, value in optimizer_cfg.items() if key in accepted}
        ignored = sorted(set(optimizer_cfg) - set(arguments) - {"solver"})
        if ignored:
            self.msg_mgr.log_info(f"optimizer_cfg: {solver.__name__} takes no {', '.join(ignored)}; ignored")
        return solver(parameter_groups(self, arguments["lr"]), **arguments)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """OpenGait's restore, with the warm start's guarantee: keys of a related layout (a network without local
        paths, GaitPart) are adopted, and with ``restore_ckpt_strict: false`` a tensor of the checkpoint that finds
        no place in the network ends the run naming it instead of being skipped; the new tensors are logged."""
        if not strict:
            adopted, expected = adopt_keys(self, state_dict), self.state_dict()
            unplaced = [key for key in adopted if key not in expected]
            if unplaced:
                raise SystemExit(f"opengait_local3d: {len(unplaced)} tensor(s) of the checkpoint have no place in "
                                 f"{type(self.net).__name__} as model_cfg configures it (restore_ckpt_strict: false "
                                 f"never skips them): {', '.join(unplaced[:10])}")
            missing = [key for key in expected if key not in adopted]
            self.msg_mgr.log_info(f"Warm start (restore_ckpt_strict false): {describe_warm_start(len(expected), missing)}")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def forward(self, inputs):
        return self.net(inputs)
