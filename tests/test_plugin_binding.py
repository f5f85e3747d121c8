"""The OpenGait-host binding inside a fake checkout: registry, initialisation, checkpoints, loss contract.

The fake checkout (``test_plugin.make_fake_opengait``) has a registry that imports every module and exposes
every class, and a stand-in ``BaseModel`` that builds the network and runs OpenGait's Xavier pass.
"""
from __future__ import annotations

import json
import sys
import types

import pytest
import torch
import yaml
from conftest import TINY_MODEL_CFGS, tiny_engine_config
from test_plugin import make_fake_opengait

from opengait_local3d.engine import load_config
from opengait_local3d.engine.host import NetworkHost
from opengait_local3d.local3d import Local3DBlock
from opengait_local3d.modeling import build_network
from opengait_local3d.opengait_plugin import install, load_opengait_names
from opengait_local3d.opengait_plugin.configs import opengait_meant_configs
from opengait_local3d.resources import CONFIG_DIR

BINDING = "opengait_local3d.opengait_plugin.binding"


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A fake checkout with the plugin installed, its ``opengait/`` on sys.path; its modules forgotten after."""
    root = make_fake_opengait(tmp_path / "OpenGait")
    install(root)
    monkeypatch.syspath_prepend(str(root / "opengait"))
    yield root
    for name in [name for name in sys.modules if name == "modeling" or name.startswith("modeling.") or name == BINDING]:
        del sys.modules[name]


def import_registry():
    import modeling.models
    return modeling.models


def tiny_inputs(n: int = 2, frames: int = 8, seed: int = 0) -> tuple:
    generator = torch.Generator().manual_seed(seed)
    sils = torch.rand(n, frames, 16, 16, generator=generator)
    return [sils], torch.arange(n), ["nm-01"] * n, ["000"] * n, None


def test_registry_finds_our_models_and_keeps_opengaits_own(checkout):
    models = import_registry()
    assert models.Local3DCNN.__module__ == models.GaitGLLocal3D.__module__ == BINDING
    assert models.GaitSet.__module__ == "modeling.models.gaitset"
    assert models.GaitPart.__module__ == "modeling.models.gaitpart"
    assert models.GaitGL.__module__ == "modeling.models.gaitgl"
    shim = sys.modules["modeling.models.opengait_local3d_plugin"]
    assert [name for name in dir(shim) if isinstance(getattr(shim, name), type)] == ["GaitGLLocal3D", "Local3DCNN"]
    from modeling.base_model import BaseModel
    assert issubclass(models.Local3DCNN, BaseModel)


def test_without_our_package_opengait_still_loads_its_models_and_says_why(checkout, monkeypatch):
    monkeypatch.setitem(sys.modules, BINDING, None)  # makes importing it fail, as an uninstalled package would
    with pytest.warns(UserWarning, match="Local3DCNN and GaitGLLocal3D are not available to OpenGait: "
                                         ".*uninstall-plugin"):
        models = import_registry()
    assert not hasattr(models, "Local3DCNN") and not hasattr(models, "GaitGLLocal3D")
    assert models.GaitSet.__module__ == "modeling.models.gaitset"
    assert models.GaitGL.__module__ == "modeling.models.gaitgl"


@pytest.mark.parametrize("config, training", [("3dlocal_casiab_phase1.yaml", True), ("3dlocal_casiab.yaml", False),
                                              ("gaitgl_local3d_casiab.yaml", True)])
def test_builds_from_the_installed_config(checkout, config, training, monkeypatch):
    monkeypatch.chdir(checkout)  # OpenGait runs from its checkout's root, where the config's partition path points
    cfgs = yaml.safe_load((checkout / "configs/3dlocal" / config).read_text())
    model = getattr(import_registry(), cfgs["model_cfg"]["model"])(cfgs, training=training)
    assert type(model.net).__name__ == cfgs["model_cfg"]["model"]
    assert model.state_dict().keys() and all(key.startswith("net.") for key in model.state_dict())


def test_the_second_phase_says_how_to_train_the_first_before_anything_is_built(checkout, monkeypatch):
    """The mission's command trains the staged recipe's second phase: before phase 1 has run, OpenGait's process
    ends with one message naming the missing checkpoint and OpenGait's command for phase 1's config."""
    monkeypatch.chdir(checkout)
    cfgs = yaml.safe_load((checkout / "configs" / "3dlocal_casiab.yaml").read_text())
    with pytest.raises(SystemExit, match=r"(?s)3DLocal_phase1-60000.pt does not exist yet.*\n  torchrun "
                                         r"opengait/main.py --cfgs configs/.*3dlocal_casiab_phase1.yaml --phase train$"):
        import_registry().Local3DCNN(cfgs, training=True)


def test_a_bad_config_ends_the_process_with_its_message_before_anything_is_built(checkout, monkeypatch):
    host = import_registry().Local3DCNN
    built = []
    monkeypatch.setattr(sys.modules[BINDING], "build_network", built.append)
    cfgs = {"model_cfg": {**TINY_MODEL_CFGS["Local3DCNN"], "channels": 16}, "trainer_cfg": {"save_iter": 0}}
    with pytest.raises(SystemExit, match=r"^opengait_local3d: error in the config: 2 problems:\n"
                                         r"  trainer_cfg.save_iter: expected an integer >= 1, got 0\n"
                                         r"  model_cfg.channels: expected a list of integers, got 16$"):
        host(cfgs, training=True)
    assert built == []


def localization_parameters(net: torch.nn.Module) -> list[dict[str, torch.Tensor]]:
    net.eval()
    with torch.no_grad():
        net(tiny_inputs())
    return [block.last_parameters for block in net.modules() if isinstance(block, Local3DBlock)]


@pytest.mark.parametrize("name", ["Local3DCNN", "GaitGLLocal3D"])
def test_opengaits_xavier_pass_does_not_undo_the_localization_priors(checkout, name):
    torch.manual_seed(1)
    reference = build_network(TINY_MODEL_CFGS[name])
    reference.init_parameters()
    expected = localization_parameters(reference)
    assert len(expected) == 3

    torch.manual_seed(2)
    model = getattr(import_registry(), name)({"model_cfg": TINY_MODEL_CFGS[name]}, training=False)
    for got, want in zip(localization_parameters(model.net), expected):
        assert got.keys() == want.keys()
        for key in want:
            torch.testing.assert_close(got[key], want[key], msg=key)

    from modeling.base_model import BaseModel
    BaseModel.init_parameters(model)  # OpenGait's pass alone: the localization heads leave their priors
    moved = localization_parameters(model.net)
    assert any(not torch.allclose(got["centre"], want["centre"]) for got, want in zip(moved, expected))


def test_the_optimizer_gets_only_the_keys_its_solver_takes(checkout):
    """OpenGait merges every config over its default.yaml, whose optimizer_cfg holds SGD's momentum: Adam must
    not receive it (OpenGait's own get_optimizer drops it too)."""
    model = import_registry().Local3DCNN({"model_cfg": TINY_MODEL_CFGS["Local3DCNN"]}, training=True)
    logged = []
    model.msg_mgr = types.SimpleNamespace(log_info=logged.append)
    optimizer = model.get_optimizer({"solver": "Adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0})
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == 1e-3
    assert logged[-1] == "optimizer_cfg: Adam takes no momentum; ignored"


def embeddings(model: torch.nn.Module, net: torch.nn.Module) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return net(tiny_inputs(seed=3))["inference_feat"]["embeddings"]


def test_a_checkpoint_of_either_host_loads_in_the_other(checkout, tiny_casiab, tmp_path):
    cfgs = load_config(tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path,
                                          evaluator_cfg={"save_name": "tiny", "sampler": {"batch_size": 3}}))
    torch.manual_seed(0)
    engine_model = NetworkHost(cfgs, training=True)
    torch.manual_seed(1)
    opengait_model = import_registry().Local3DCNN({"model_cfg": cfgs["model_cfg"]}, training=False)
    assert engine_model.state_dict().keys() == opengait_model.state_dict().keys()
    assert not torch.allclose(embeddings(engine_model, engine_model.net), embeddings(opengait_model, opengait_model.net))

    engine_model.save_ckpt(1)  # the engine's checkpoint -> OpenGait's load (_load_ckpt: load_state_dict, strict)
    checkpoint = torch.load(tmp_path / "CASIA-B/Local3DCNN/tiny/checkpoints/tiny-00001.pt", weights_only=True)
    opengait_model.load_state_dict(checkpoint["model"], strict=True)
    torch.testing.assert_close(embeddings(opengait_model, opengait_model.net), embeddings(engine_model, engine_model.net))

    torch.manual_seed(2)  # OpenGait's checkpoint layout -> the engine's restore_hint (a path)
    opengait_model.init_parameters()
    path = tmp_path / "opengait-00007.pt"
    torch.save({"model": opengait_model.state_dict(), "optimizer": {}, "scheduler": {}, "iteration": 7}, path)
    cfgs["evaluator_cfg"]["restore_hint"] = str(path)
    tested = NetworkHost(cfgs, training=False)
    torch.testing.assert_close(embeddings(tested, tested.net), embeddings(opengait_model, opengait_model.net))


def _loss_groups() -> dict[str, str]:
    """One OpenGait-meant config per distinct (loss_cfg, embedding choice): what sets training_feat's keys."""
    groups = {}
    for relative in opengait_meant_configs(CONFIG_DIR):
        cfgs = yaml.safe_load((CONFIG_DIR / relative).read_text())
        key = json.dumps([cfgs["loss_cfg"], cfgs["model_cfg"].get("embedding")], sort_keys=True)
        groups.setdefault(key, relative.as_posix())
    return groups


@pytest.mark.parametrize("relative", sorted(_loss_groups().values()))
def test_training_feat_feeds_opengaits_losses_as_configured(relative):
    """OpenGait's LossAggregator calls losses[log_prefix](**training_feat[log_prefix]) for every key, and
    raises for a training_feat key no loss claims: keys and arguments must match exactly."""
    cfgs = yaml.safe_load((CONFIG_DIR / relative).read_text())
    losses = cfgs["loss_cfg"] if isinstance(cfgs["loss_cfg"], list) else [cfgs["loss_cfg"]]
    net = build_network(cfgs["model_cfg"])
    net.train()  # the losses read training_feat in training (at inference the networks skip the loss-only heads)
    with torch.no_grad():
        feats = net(([torch.rand(2, 2, 64, 44)], torch.tensor([0, 1]), ["nm-01"] * 2, ["000"] * 2, None))
    training_feat = feats["training_feat"]
    assert set(training_feat) == {loss["log_prefix"] for loss in losses}
    names = load_opengait_names()
    for loss in losses:
        assert set(training_feat[loss["log_prefix"]]) == set(names.losses[loss["type"]]["forward"]), loss["type"]
