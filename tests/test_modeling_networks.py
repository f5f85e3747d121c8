"""The network contract of GaitSet, GaitPart, Local3DCNN, GaitGL and GaitGLLocal3D (tiny shapes)."""
import copy

import pytest
import torch

from opengait_local3d.modeling import NETWORKS, build_network

H, W = 16, 12

TINY_CFGS = {
    "Local3DCNN": {
        "model": "Local3DCNN",
        "channels": [4, 4, 6, 6, 8, 8],
        "focal_halving": [0, 1, 1],
        "local_blocks": [1, 2, 3],
        "local3d": {"localization_width": 4},
        "bin_num": [4],
        "part_dim": 5,
        "compact_dim": 6,
        "dropout": 0.5,
        "class_num": 3,
    },
    "GaitSet": {
        "model": "GaitSet",
        "in_channels": [1, 4, 6, 8],
        "SeparateFCs": {"in_channels": 8, "out_channels": 5, "parts_num": 14},
        "bin_num": [4, 2, 1],
    },
    "GaitGL": {"model": "GaitGL", "channels": [4, 6, 8], "class_num": 3, "bin_num": [4],
               "local3d": {"localization_width": 4}},
    "GaitGLLocal3D": {"model": "GaitGLLocal3D", "channels": [4, 6, 8], "class_num": 3, "bin_num": [4],
                      "local3d": {"localization_width": 4}},
    "GaitPart": {
        "model": "GaitPart",
        "backbone_cfg": {"type": "Plain", "in_channels": 1,
                         "layers_cfg": ["BC-4", "BC-4", "M", "FC-6-1", "FC-6-1", "M", "FC-8-1", "FC-8-1"]},
        "SeparateFCs": {"in_channels": 8, "out_channels": 5, "parts_num": 4},
        "bin_num": [4],
    },
}

# a nested section of each tiny config, one of its keys, and a misspelling of it
NESTED_KEYS = {
    "Local3DCNN": ("local3d", "localization_width", "localisation_width"),
    "GaitGL": ("local3d", "localization_width", "localisation_width"),
    "GaitGLLocal3D": ("local3d", "localization_width", "localisation_width"),
    "GaitSet": ("SeparateFCs", "parts_num", "part_num"),
    "GaitPart": ("SeparateFCs", "parts_num", "part_num"),
}

# model_cfg of OpenGait's configs/gaitset/gaitset.yaml and configs/gaitpart/gaitpart.yaml (CASIA-B, 64x44)
OPENGAIT_CASIAB = {
    "GaitSet": {"model": "GaitSet", "in_channels": [1, 32, 64, 128],
                "SeparateFCs": {"in_channels": 128, "out_channels": 256, "parts_num": 62},
                "bin_num": [16, 8, 4, 2, 1]},
    "GaitPart": {"model": "GaitPart",
                 "backbone_cfg": {"in_channels": 1, "type": "Plain",
                                  "layers_cfg": ["BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3"]},
                 "SeparateFCs": {"in_channels": 128, "out_channels": 128, "parts_num": 16},
                 "bin_num": [16]},
}


def conv_params(c_in, c_out, k):
    return c_in * c_out * k * k


def expected_gaitset(c):
    c0, c1, c2, c3 = c
    set_blocks = conv_params(c0, c1, 5) + conv_params(c1, c1, 3) + conv_params(c1, c2, 3) + conv_params(c2, c2, 3) \
        + conv_params(c2, c3, 3) + conv_params(c3, c3, 3)
    gl_blocks = conv_params(c1, c2, 3) + conv_params(c2, c2, 3) + conv_params(c2, c3, 3) + conv_params(c3, c3, 3)
    return set_blocks + gl_blocks + 62 * c3 * 256


def expected_gaitpart(c_out_fc):
    backbone = conv_params(1, 32, 5) + conv_params(32, 32, 3) + conv_params(32, 64, 3) + conv_params(64, 64, 3) \
        + conv_params(64, 128, 3) + conv_params(128, 128, 3)
    hidden = 128 // 4
    mcm_per_part = 128 * hidden * 3 + hidden * 128 * 1 + 128 * hidden * 3 + hidden * 128 * 3
    return backbone + 16 * mcm_per_part + 16 * 128 * c_out_fc


def make_inputs(n=4, s=6, dtype=torch.float32):
    sils = torch.rand(n, s, H, W, dtype=dtype)
    return ([sils], torch.arange(n), ["nm-01"] * n, ["000"] * n, None)


def built(name):
    net = build_network(copy.deepcopy(TINY_CFGS[name]))
    net.init_parameters()
    return net


@pytest.mark.parametrize("name", sorted(TINY_CFGS))
def test_forward_contract(name):
    net = built(name)
    out = net(make_inputs())
    assert set(out) == {"training_feat", "visual_summary", "inference_feat"}
    triplet = out["training_feat"]["triplet"]
    assert triplet["embeddings"].shape == out["inference_feat"]["embeddings"].shape
    assert triplet["embeddings"].dim() == 3 and triplet["embeddings"].shape[0] == 4
    assert torch.equal(triplet["labels"], torch.arange(4))
    assert out["visual_summary"]["image/sils"].shape == (4 * 6, 1, H, W)
    if "softmax" in out["training_feat"]:
        softmax = out["training_feat"]["softmax"]
        assert softmax["logits"].shape[:1] == (4,) and softmax["logits"].dim() == 3
        assert torch.equal(softmax["labels"], torch.arange(4))
    sum(feat[key].sum() for feat in out["training_feat"].values() for key in ("embeddings", "logits") if key in feat).backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", sorted(TINY_CFGS))
def test_packed_sequences_get_their_own_embeddings(name):
    torch.manual_seed(0)
    net = built(name).double().eval()
    lengths = [5, 3, 5, 4]
    clips = [torch.rand(1, s, H, W, dtype=torch.float64) for s in lengths]
    packed = torch.cat(clips, 1)
    with torch.no_grad():
        out = net(([packed], torch.arange(4), None, None, torch.tensor([lengths])))["inference_feat"]["embeddings"]
        alone = [net(([clip], torch.arange(1), None, None, None))["inference_feat"]["embeddings"] for clip in clips]
    torch.testing.assert_close(out, torch.cat(alone), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", sorted(TINY_CFGS))
def test_unknown_keys_are_named(name):
    cfg = copy.deepcopy(TINY_CFGS[name])
    cfg["bin_nun"] = cfg.pop("bin_num")
    with pytest.raises(ValueError, match=rf"model_cfg: unknown key 'bin_nun' for model {name}; did you mean 'bin_num'"):
        build_network(cfg)
    section, key, typo = NESTED_KEYS[name]
    cfg = copy.deepcopy(TINY_CFGS[name])
    cfg[section][typo] = cfg[section].pop(key)
    with pytest.raises(ValueError, match=rf"model_cfg: {section} of {name}: unknown key '{typo}'; did you mean '{key}'"):
        build_network(cfg)


def test_unknown_model_and_inconsistent_config():
    with pytest.raises(ValueError, match="model_cfg.model: unknown model 'GaitSets'; did you mean 'GaitSet'"):
        build_network({"model": "GaitSets"})
    cfg = copy.deepcopy(TINY_CFGS["GaitSet"])
    cfg["SeparateFCs"]["parts_num"] = 13
    with pytest.raises(ValueError, match="parts_num"):
        build_network(cfg)
    cfg = copy.deepcopy(TINY_CFGS["GaitPart"])
    cfg["backbone_cfg"]["type"] = "ResNet9"
    with pytest.raises(ValueError, match=r"backbone_cfg of GaitPart.type: unknown backbone 'ResNet9' \(known: Plain\)"):
        build_network(cfg)


def test_registry_lists_the_models():
    assert set(NETWORKS) == {"Local3DCNN", "GaitSet", "GaitPart", "GaitGL", "GaitGLLocal3D"}


def test_parameter_counts_at_casiab_settings(capsys):
    counts = {name: sum(p.numel() for p in build_network(cfg).parameters()) for name, cfg in OPENGAIT_CASIAB.items()}
    with capsys.disabled():
        print(f"\nparameters at CASIA-B settings: GaitSet {counts['GaitSet']:,}, GaitPart {counts['GaitPart']:,}")
    assert counts["GaitSet"] == expected_gaitset([1, 32, 64, 128]) == 2_594_592
    assert counts["GaitPart"] == expected_gaitpart(128) == 1_204_000


def test_gaitset_oumvlp_size_matches_opengait_model_zoo():
    cfg = copy.deepcopy(OPENGAIT_CASIAB["GaitSet"])
    cfg["in_channels"] = [1, 64, 128, 256]
    cfg["SeparateFCs"]["in_channels"] = 256
    count = sum(p.numel() for p in build_network(cfg).parameters())
    assert count == expected_gaitset([1, 64, 128, 256])
    assert round(count / 1e6, 2) == 6.31  # OpenGait docs/1.model_zoo.md, OU-MVLP GaitSet "6.31M"


@pytest.mark.parametrize("name", sorted(TINY_CFGS))
def test_init_parameters_is_xavier(name):
    net = built(name)
    conv = next(m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)))
    fan_in = conv.weight[0].numel()
    fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
    bound = (6.0 / (fan_in + fan_out)) ** 0.5
    assert conv.weight.abs().max() <= bound
    torch.nn.init.constant_(conv.weight, 7.0)
    net.init_parameters()
    assert conv.weight.abs().max() <= bound
