"""Local3DCNN specifics: heads and embeddings, config coverage of the paper's tables, init, tensorboard summary."""
import copy

import pytest
import torch
from torch import nn

from opengait_local3d.local3d import Local3DBlock
from opengait_local3d.modeling import build_network
from opengait_local3d.visuals import recording

H, W, S = 16, 12, 6
TINY = {
    "model": "Local3DCNN",
    "channels": [4, 4, 6, 6, 8, 8],
    "focal_halving": [0, 1, 1],  # 16 x 12 input: block 3's map has 4 rows
    "local_blocks": [2, 3],
    "local3d": {"localization_width": 4},
    "bin_num": [4, 2],
    "part_dim": 5,
    "compact_dim": 6,
    "dropout": 0.5,
    "class_num": 3,
}


def tiny(**changes):
    cfg = copy.deepcopy(TINY)
    cfg.update(changes)
    net = build_network(cfg)
    net.init_parameters()
    return net


def run(net, n=4):
    torch.manual_seed(0)
    return net(([torch.rand(n, S, H, W)], torch.tensor([0, 0, 1, 1])[:n], None, None, None))


def test_compact_embedding_and_logits():
    out = run(tiny())
    assert out["training_feat"]["triplet"]["embeddings"].shape == (4, 6, 1)
    assert out["inference_feat"]["embeddings"].shape == (4, 6, 1)
    assert out["training_feat"]["softmax"]["logits"].shape == (4, 3, 1)


def test_parts_embedding():
    out = run(tiny(embedding="parts"))
    assert out["training_feat"]["triplet"]["embeddings"].shape == (4, 5, 6)
    assert out["inference_feat"]["embeddings"].shape == (4, 5, 6)
    assert out["training_feat"]["softmax"]["logits"].shape == (4, 3, 1)


@pytest.mark.parametrize(
    "changes, local_blocks",
    [
        ({"local_blocks": []}, 0),  # Table 3 a: no local paths
        ({"local_blocks": [1]}, 1),  # Table 3 b
        ({"local3d": {"localization_width": 4, "parts": ["head"], "feature_extraction": False}}, 2),  # Table 5 b
        ({"local3d": {"localization_width": 4, "mode": "gaussian"}}, 2),  # Table 4
        ({"local3d": {"localization_width": 4, "mode": "trilinear", "alignment": "write"}}, 2),
        ({"focal_halving": [0, 1, 1]}, 2),
    ],
)
def test_paper_variants_build_and_run(changes, local_blocks):
    net = tiny(**changes)
    assert sum(isinstance(m, Local3DBlock) for m in net.modules()) == local_blocks
    assert run(net)["inference_feat"]["embeddings"].shape == (4, 6, 1)


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match=r"local3d of Local3DCNN: unknown key 'mod'; did you mean 'mode'"):
        tiny(local3d={"mod": "gaussian"})
    with pytest.raises(ValueError, match=r"local3d of Local3DCNN: mode must be one of"):
        tiny(local3d={"mode": "cubic"})
    with pytest.raises(ValueError, match="local_blocks"):
        tiny(local_blocks=[4])
    with pytest.raises(ValueError, match="embedding"):
        tiny(embedding="global")
    with pytest.raises(ValueError, match="channels"):
        tiny(channels=[4, 4, 6])


def opengait_host_init(net):
    """What OpenGait's BaseModel.init_parameters does to every module before our network's own init."""
    for m in net.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.constant_(m.bias, 0.0)


def localization_state(net):
    run(net.eval())
    return [dict(block.last_parameters) for block in net.modules() if isinstance(block, Local3DBlock)]


def test_init_parameters_restores_the_priors_after_a_host_xavier_pass():
    net = tiny()
    at_prior = localization_state(net)
    opengait_host_init(net)
    moved = localization_state(net)
    assert any(not torch.equal(a["centre"], b["centre"]) for a, b in zip(at_prior, moved))
    net.init_parameters()
    for expected, actual in zip(at_prior, localization_state(net)):
        for key, value in expected.items():
            torch.testing.assert_close(actual[key], value, msg=key)
    gammas = torch.cat([state["gamma"].flatten() for state in at_prior])
    assert torch.allclose(gammas, torch.full_like(gammas, 0.5))


def test_visual_summary_shows_localization_in_training_and_volumes_while_recording():
    net = tiny()
    assert not any(key.startswith("image/local3d") for key in run(net.train())["visual_summary"])
    with recording(net):
        summary = run(net.train())["visual_summary"]
    for block in ("block2", "block3"):
        for part in ("head", "torso", "left_arm", "right_arm", "left_leg", "right_leg"):
            image = summary[f"image/local3d/{block}/{part}"]
            assert image.dim() == 4 and image.shape[:2] == (S, 1)
            assert image.min() >= 0 and image.max() <= 1
            for what in ("offset_x", "offset_y", "offset_t", "stride_x", "stride_y", "sigma", "gamma", "window"):
                assert summary[f"scalar/local3d/{block}/{part}/{what}"].dim() == 0
            # at the prior: no offsets, gamma 0.5, the prior's temporal window (0.4 of the clip, at most)
            for what in ("offset_x", "offset_y", "offset_t"):
                assert abs(float(summary[f"scalar/local3d/{block}/{part}/{what}"])) < 1e-6
            assert float(summary[f"scalar/local3d/{block}/{part}/gamma"]) == pytest.approx(0.5)
    assert not any(key.startswith("image/local3d/block1") for key in summary)
    assert not any(key.endswith("local_to_global") for key in summary)  # zoom: the terms are not apart
    assert set(run(net.eval())["visual_summary"]) == {"image/sils"}
    summary = run(tiny(local3d={"localization_width": 4, "alignment": "write"}).train())["visual_summary"]
    for block in ("block2", "block3"):
        assert torch.allclose(summary[f"scalar/local3d/{block}/local_to_global"],
                              summary[f"scalar/local3d/{block}/local_rms"] / summary[f"scalar/local3d/{block}/global_rms"])


def test_parameter_count_at_casiab_settings(capsys):
    def count(cfg):
        return sum(p.numel() for p in build_network(cfg).parameters())

    full, baseline = count({"model": "Local3DCNN"}), count({"model": "Local3DCNN", "local_blocks": []})
    gaitpart = count({"model": "GaitPart", "bin_num": [16],
                      "backbone_cfg": {"type": "Plain", "layers_cfg": ["BC-32", "BC-32", "M", "BC-64", "BC-64", "M",
                                                                       "BC-128", "BC-128"]},
                      "SeparateFCs": {"in_channels": 128, "out_channels": 128, "parts_num": 16}})
    with capsys.disabled():
        print(f"\nLocal3DCNN parameters at CASIA-B settings: {full:,} ({full - baseline:,} in the 3D local paths)")
    # without local paths: GaitPart's backbone, MCM and FCs plus GLN's compact block (2 BNs, FC) and the classifier
    assert baseline - gaitpart == 2 * 2048 + 2048 * 256 + 2 * 256 + 256 * 74
    assert full > baseline



def test_inference_computes_no_loss_only_branch():
    """In eval mode the classifier is not run (no logits), nor the compact block when the part features are the
    embedding; with the compact embedding the compact block still gives it."""
    for embedding, compact_runs, shape in (("parts", False, (4, 5, 6)), ("compact", True, (4, 6, 1))):
        net = tiny(embedding=embedding).eval()
        calls = []
        net.compact.register_forward_hook(lambda *_: calls.append("compact"))
        net.classifier.register_forward_hook(lambda *_: calls.append("classifier"))
        with torch.no_grad():
            out = run(net)
        assert calls == (["compact"] if compact_runs else []) and "softmax" not in out["training_feat"]
        assert out["inference_feat"]["embeddings"].shape == shape


def test_the_summary_scalars_are_each_parts_batch_means_off_the_priors():
    """Each part's scalars, computed for all parts at once, are the batch (and frame) means written per part."""
    net = tiny()
    for block in net.modules():
        if isinstance(block, Local3DBlock):
            with torch.no_grad():
                for head in (block.localization.frame_head, block.localization.sequence_head):
                    head[-1].weight.normal_(std=0.5)  # parts off their priors, per frame
                    head[-1].bias.normal_(std=0.5)  # and on average
    summary = run(net.train())["visual_summary"]
    for name, block in (("block2", net.blocks[1]), ("block3", net.blocks[2])):
        params = block.last_parameters
        frames, height, width = block.last_input_size
        for p, (part, prior) in enumerate(zip(block.part_names, block.priors)):
            expected = {
                "offset_x": params["centre"][:, p, :, 0].mean() / width - prior.cx,
                "offset_y": params["centre"][:, p, :, 1].mean() / height - prior.cy,
                "offset_t": params["temporal_centre"][:, p].mean() / frames - prior.ct,
                "stride_x": params["stride"][:, p, :, 0].mean(),
                "stride_y": params["stride"][:, p, :, 1].mean(),
                "sigma": params["sigma"][:, p].mean(),
                "gamma": params["gamma"][:, p].mean(),
                "window": params["temporal_extent"][:, p].mean() / frames,
            }
            assert abs(float(expected["offset_x"])) > 1e-4  # off the prior indeed
            for what, value in expected.items():
                assert torch.allclose(summary[f"scalar/local3d/{name}/{part}/{what}"], value, atol=1e-6), what
