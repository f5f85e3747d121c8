"""Warm starts: a network with 3D local paths restored from GaitPart, or from itself without local paths, in both
hosts; what loaded and what is new is said, and no tensor of the checkpoint is ever skipped silently."""
from __future__ import annotations

import types

import pytest
import yaml
import torch
from conftest import TINY_MODEL_CFGS, tiny_engine_config
from test_plugin_binding import checkout, import_registry  # noqa: F401  (the fake OpenGait checkout fixture)

from opengait_local3d.engine import CheckpointError, NetworkHost, distributed, load_config, run
from opengait_local3d.engine.checkpoint import checkpoint_path, load_checkpoint
from opengait_local3d.modeling import build_network

#: Local3DCNN whose global path is TINY_MODEL_CFGS' GaitPart (two 4-channel convs, focal 4 and 8 with halving 1),
#: local paths around block 3 whose fusion starts as exactly the identity, scored on the part features
LOCAL_ON_GAITPART = {"model": "Local3DCNN", "channels": [4, 4, 4, 4, 8, 8], "focal_halving": [0, 1, 1],
                     "local_blocks": [3], "local3d": {"fusion_activation": "none", "localization_width": 4},
                     "bin_num": [4], "part_dim": 4, "compact_dim": 8, "dropout": 0.5, "class_num": 4,
                     "embedding": "parts", "compact_detach": True, "classifier_std": 0.001}


def sequences(n: int = 3, frames: int = 9) -> tuple:
    sils = torch.rand(n, frames, 16, 16, generator=torch.Generator().manual_seed(5))
    return [sils], torch.arange(n), ["nm-01"] * n, ["000"] * n, None


def embeddings(network: torch.nn.Module) -> torch.Tensor:
    network.eval()
    with torch.no_grad():
        return network(sequences())["inference_feat"]["embeddings"]


def trained_gaitpart(dataset, output_root) -> tuple[torch.nn.Module, str]:
    """GaitPart trained 2 iterations by the engine (weights away from their initialisation) and its checkpoint."""
    cfg = tiny_engine_config(dataset, "GaitPart", output_root, trainer_cfg={"total_iter": 2})
    run(cfg, "train")
    path = checkpoint_path(output_root / "CASIA-B" / "GaitPart" / "tiny", "tiny", 2)
    network = build_network(TINY_MODEL_CFGS["GaitPart"])
    network.load_state_dict({k.removeprefix("net."): v for k, v in load_checkpoint(path)["model"].items()})
    return network, str(path)


def test_local3dcnn_warm_started_from_gaitpart_computes_gaitparts_embeddings(tiny_casiab, tmp_path, caplog):
    gaitpart, path = trained_gaitpart(tiny_casiab, tmp_path)
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path, model_cfg=LOCAL_ON_GAITPART,
                             evaluator_cfg={"save_name": "tiny", "sampler": {"batch_size": 3}, "restore_hint": path,
                                            "restore_ckpt_strict": False})
    with distributed.session("cpu"):
        host = NetworkHost(load_config(cfg), training=False)
    assert torch.equal(embeddings(host.net), embeddings(gaitpart))
    assert not torch.equal(host.net.blocks[2].global_block.module[0].conv.weight,
                           build_network(LOCAL_ON_GAITPART).blocks[2].global_block.module[0].conv.weight)
    said = [r.getMessage() for r in caplog.records if "Warm start" in r.getMessage()]
    assert len(said) == 1 and "loaded" in said[0]
    new = said[0].split("new, not in the checkpoint: ")[1]
    assert {"net.blocks.2.localization", "net.blocks.2.extraction", "net.blocks.2.fusion", "net.compact.encoder_bn",
            "net.classifier"} <= {group.split(" (")[0] for group in new.split(", ")}
    assert "global_block" not in new and "net.head" not in new and "net.mcm" not in new


def test_a_network_without_local_paths_warm_starts_every_global_tensor():
    """Wrapping a block renames its keys (``blocks.2.module.*`` -> ``blocks.2.global_block.module.*``): the block
    adopts the bare keys, so only the local paths are new, in ``load_state_dict`` as in any host."""
    torch.manual_seed(0)
    plain = build_network({**LOCAL_ON_GAITPART, "local_blocks": []})
    local = build_network(LOCAL_ON_GAITPART)
    result = local.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert {key.split(".")[2] for key in result.missing_keys} == {"localization", "extraction", "fusion"}
    torch.testing.assert_close(local.blocks[2].global_block.state_dict(), plain.blocks[2].state_dict(), rtol=0, atol=0)
    assert torch.equal(embeddings(local), embeddings(plain))


def test_a_non_strict_restore_refuses_a_checkpoint_tensor_it_cannot_place(tiny_casiab, tmp_path):
    _, path = trained_gaitpart(tiny_casiab, tmp_path)
    state = load_checkpoint(path)
    state["model"]["net.backbone.99.conv.weight"] = torch.ones(1)  # a ninth conv: GaitPart's layers no longer map
    other = tmp_path / "other.pt"
    torch.save(state, other)
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path, model_cfg=LOCAL_ON_GAITPART,
                             evaluator_cfg={"save_name": "tiny", "sampler": {"batch_size": 3}, "restore_hint": str(other),
                                            "restore_ckpt_strict": False})
    with distributed.session("cpu"), pytest.raises(CheckpointError) as raised:
        NetworkHost(load_config(cfg), training=False)
    message = str(raised.value)
    assert "net.backbone.99.conv.weight" in message and "net.backbone.0.conv.weight" in message
    assert "restore_ckpt_strict: false does not help" in message


def test_the_opengait_host_warm_starts_from_gaitpart_and_refuses_what_it_cannot_place(checkout, tiny_casiab, tmp_path):
    gaitpart, path = trained_gaitpart(tiny_casiab, tmp_path)
    model = import_registry().Local3DCNN({"model_cfg": LOCAL_ON_GAITPART}, training=False)
    logged = []
    model.msg_mgr = types.SimpleNamespace(log_info=logged.append)
    state = load_checkpoint(path)["model"]
    model.load_state_dict(dict(state), strict=False)  # as OpenGait's _load_ckpt with restore_ckpt_strict false
    assert torch.equal(embeddings(model.net), embeddings(gaitpart))
    assert logged[-1].startswith("Warm start (restore_ckpt_strict false): loaded")
    with pytest.raises(SystemExit, match=r"1 tensor\(s\) of the checkpoint have no place in Local3DCNN.*net\.extra"):
        model.load_state_dict({**state, "net.extra": torch.ones(1)}, strict=False)


def test_a_second_phase_without_its_first_phase_says_which_command_makes_it(tiny_casiab, tmp_path):
    """The staged recipe's second config restores the first phase's checkpoint by path: before the first phase has
    run, training stops with one message naming the checkpoint and the command that writes it."""
    folder = tmp_path / "configs"
    folder.mkdir()
    first = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output",
                               trainer_cfg={"save_name": "phase1", "total_iter": 2})
    (folder / "phase1.yaml").write_text(yaml.safe_dump(first))
    hint = str(tmp_path / "output" / "CASIA-B" / "Local3DCNN" / "phase1" / "checkpoints" / "phase1-00002.pt")
    second = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output", model_cfg=LOCAL_ON_GAITPART,
                                trainer_cfg={"save_name": "phase2", "restore_hint": hint, "restore_ckpt_strict": False})
    (folder / "phase2.yaml").write_text(yaml.safe_dump(second))
    with pytest.raises(CheckpointError) as raised:
        run(folder / "phase2.yaml", "train")
    assert str(raised.value) == (f"trainer_cfg.restore_hint: {hint} does not exist yet: this training starts from "
                                 "iteration 2 of the run 'phase1' (a warm start). Make it first:\n"
                                 f"  python -m opengait_local3d.main --cfgs {folder / 'phase1.yaml'} --phase train")


def trained_no_local(dataset, output_root) -> str:
    """The checkpoint of LOCAL_ON_GAITPART without local paths, trained 2 iterations by the engine."""
    no_local = {**LOCAL_ON_GAITPART, "local_blocks": []}
    cfg = tiny_engine_config(dataset, "Local3DCNN", output_root, model_cfg=no_local, trainer_cfg={"total_iter": 2})
    run(cfg, "train")
    return str(checkpoint_path(output_root / "CASIA-B" / "Local3DCNN" / "tiny", "tiny", 2))


def warm_started_trainer(dataset, output_root, path: str, **trainer_cfg) -> NetworkHost:
    cfg = tiny_engine_config(dataset, "Local3DCNN", output_root, model_cfg=LOCAL_ON_GAITPART,
                             trainer_cfg={"save_name": "warm", "restore_hint": path, "restore_ckpt_strict": False,
                                          "scheduler_reset": True, **trainer_cfg})
    with distributed.session("cpu"):
        return NetworkHost(load_config(cfg), training=True)


def test_a_warm_start_carries_the_optimizer_state_of_the_parameters_it_restores(tiny_casiab, tmp_path, caplog):
    """Adam's step and moments of every restored parameter continue under its new name
    (``blocks.2.module.*`` -> ``blocks.2.global_block.module.*``); the local paths' parameters start fresh."""
    path = trained_no_local(tiny_casiab, tmp_path)
    saved = load_checkpoint(path)
    host = warm_started_trainer(tiny_casiab, tmp_path, path, optimizer_reset=False)
    moved = {"net.blocks.2.module.0.conv.weight": host.net.blocks[2].global_block.module[0].conv.weight,
             "net.head.fc_bin": host.net.head.fc_bin,
             "net.blocks.0.module.0.conv.weight": host.net.blocks[0].module[0].conv.weight}
    index = {name: i for names, group in zip(saved["optimizer_parameters"], saved["optimizer"]["param_groups"])
             for name, i in zip(names, group["params"])}
    for old_name, parameter in moved.items():
        state, expected = host.optimizer.state[parameter], saved["optimizer"]["state"][index[old_name]]
        assert float(state["step"]) == 2.0
        assert torch.equal(state["exp_avg"], expected["exp_avg"])
        assert torch.equal(state["exp_avg_sq"], expected["exp_avg_sq"])
    local = [p for name, p in host.net.named_parameters() if name.split(".")[2:3] in (["localization"], ["fusion"])]
    assert local and all(p not in host.optimizer.state for p in local)
    carried = len(index)
    total = sum(len(group["params"]) for group in host.optimizer.param_groups)
    said = [r.getMessage() for r in caplog.records if "optimizer state carried" in r.getMessage()]
    assert said and f"for {carried} of {total} parameters" in said[0] and carried < total
    host.net.train()
    feats = host.net(sequences(4, 6))["training_feat"]["triplet"]["embeddings"]  # Adam steps on the mixed state
    feats.square().mean().backward()
    host.optimizer.step()
    assert float(host.optimizer.state[moved["net.head.fc_bin"]]["step"]) == 3.0
    assert float(host.optimizer.state[local[0]]["step"]) == 1.0


def test_carrying_the_optimizer_needs_a_checkpoint_that_names_its_parameters(tiny_casiab, tmp_path):
    path = trained_no_local(tiny_casiab, tmp_path)
    state = load_checkpoint(path)
    del state["optimizer_parameters"]  # as OpenGait's checkpoints and this engine's earlier ones
    other = tmp_path / "unnamed.pt"
    torch.save(state, other)
    with pytest.raises(CheckpointError, match="optimizer_reset: true"):
        warm_started_trainer(tiny_casiab, tmp_path, str(other), optimizer_reset=False)
    host = warm_started_trainer(tiny_casiab, tmp_path, str(other), optimizer_reset=True)
    assert not host.optimizer.state
