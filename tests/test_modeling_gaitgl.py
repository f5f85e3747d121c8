"""GaitGL: OpenGait's sizes, its layers against written-out references, and its 3D local paths."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from opengait_local3d.engine.config.loading import read_yaml
from opengait_local3d.local3d import Local3DBlock
from opengait_local3d.modeling import build_network
from opengait_local3d.modeling.gaitgl import GaitGL, GLConv3d, stack_rows
from opengait_local3d.modeling.pooling import GeMPooling
from opengait_local3d.resources import CONFIG_DIR

TINY = {"model": "GaitGL", "channels": [4, 6, 8], "class_num": 3, "bin_num": [4]}
TINY_LOCAL = {**TINY, "model": "GaitGLLocal3D", "local3d": {"localization_width": 4}}


def parameters(model_cfg: dict) -> int:
    with torch.device("meta"):  # sizes only: OU-MVLP's classifier alone has 84 million weights
        return sum(p.numel() for p in build_network(model_cfg).parameters())


def expected_gaitgl_casiab(c0: int, c1: int, c2: int, classes: int, parts: int = 64) -> int:
    """OpenGait's GaitGL for CASIA-B, counted by hand: stem, LTA, three GLConvs (two bias-free 3x3x3 convs each),
    GeM's exponent, the strip FCs, BatchNorm1d and the strip classifier."""
    gl_conv = lambda c_in, c_out: 2 * c_in * c_out * 27  # noqa: E731
    return (c0 * 27 + c0 * c0 * 3 + gl_conv(c0, c1) + gl_conv(c1, c2) + gl_conv(c2, c2) + 1
            + parts * c2 * c2 + 2 * c2 + parts * c2 * classes)


def test_parameter_counts_equal_opengaits_gaitgl():
    """3,096,673 and 95,620,449: OpenGait's GaitGL built from its configs/gaitgl/gaitgl.yaml and gaitgl_OUMVLP.yaml."""
    casiab = read_yaml(CONFIG_DIR / "gaitgl_casiab.yaml")["model_cfg"]
    assert parameters(casiab) == expected_gaitgl_casiab(32, 64, 128, 74) == 3_096_673
    assert parameters(read_yaml(CONFIG_DIR / "gaitgl_oumvlp.yaml")["model_cfg"]) == 95_620_449
    local = read_yaml(CONFIG_DIR / "gaitgl_local3d_casiab.yaml")["model_cfg"]
    assert {k: v for k, v in local.items() if k not in ("model", "local_blocks", "local3d")} == \
        {k: v for k, v in casiab.items() if k != "model"}


@pytest.mark.parametrize("halving", [0, 2])
def test_global_local_conv_equals_convs_of_the_whole_map_and_of_each_strip(halving):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 8, 6, dtype=torch.float64)
    layer = GLConv3d(3, 4, halving).double()
    stacked = GLConv3d(3, 4, halving, combine="stack").double()
    stacked.load_state_dict(layer.state_dict())
    glob = F.conv3d(x, layer.global_conv.weight, padding=1)
    local = torch.cat([F.conv3d(strip, layer.local_conv.weight, padding=1)
                       for strip in x.split(8 // 2**halving, dim=3)], dim=3)
    torch.testing.assert_close(layer(x), F.leaky_relu(glob) + F.leaky_relu(local), rtol=0, atol=1e-12)
    # GaitGL's last layer: the two maps one above the other
    expected = F.leaky_relu(torch.cat([glob, local], dim=3))
    torch.testing.assert_close(stack_rows(stacked(x)), expected, rtol=0, atol=1e-12)


def test_global_local_conv_refuses_strips_that_do_not_divide_the_height():
    with pytest.raises(ValueError, match=r"GLConv3d \(halving 3\): 8 strips do not divide the map height 12"):
        GLConv3d(1, 2, 3)(torch.zeros(1, 1, 3, 12, 4))


def test_gem_pooling_equals_the_generalized_mean_of_each_strip():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 8, 5, dtype=torch.float64)
    gem = GeMPooling([4, 1], p=3.0).double()
    reference = []
    for bins in (4, 1):  # the flattened map in equal runs, as OpenGait's GeMHPP cuts it
        z = x.view(2, 3, bins, -1).clamp(min=1e-6)
        reference.append(F.avg_pool2d(z.pow(3.0), (1, z.shape[-1])).pow(1 / 3.0).squeeze(-1))
    torch.testing.assert_close(gem(x), torch.cat(reference, -1), rtol=0, atol=1e-12)
    gem(x).sum().backward()
    assert gem.p.grad is not None and gem.p.grad.abs() > 0


def test_layouts_follow_the_number_of_channels():
    casiab, oumvlp = build_network(TINY), build_network({**TINY, "channels": [4, 6, 8, 10]})
    assert len(casiab.stem) == 2 and len(oumvlp.stem) == 4  # one conv + LeakyReLU, or two
    assert [(b.halving, b.combine) for b in casiab.blocks] == [(3, "add"), (3, "add"), (3, "stack")]
    assert [[(c.halving, c.combine) for c in b] for b in oumvlp.blocks] == [[(1, "add")] * 2, [(1, "add")] * 2,
                                                                           [(1, "add"), (1, "stack")]]
    assert oumvlp.head.fc_bin.shape == (4, 10, 10) and oumvlp.classifier.fc_bin.shape == (4, 10, 3)
    with pytest.raises(ValueError, match=r"GaitGL: channels must list 3 \(CASIA-B\) or 4 \(OU-MVLP\)"):
        build_network({**TINY, "channels": [4, 6]})


def test_clips_shorter_than_the_temporal_aggregation_are_repeated():
    torch.manual_seed(0)
    net = build_network(TINY).double().eval()
    net.init_parameters()
    clip = torch.rand(1, 2, 16, 12, dtype=torch.float64)
    with torch.no_grad():
        short = net(([clip], torch.zeros(1), None, None, None))["inference_feat"]["embeddings"]
        repeated = net(([clip.repeat(1, 2, 1, 1)], torch.zeros(1), None, None, None))["inference_feat"]["embeddings"]
    torch.testing.assert_close(short, repeated, rtol=0, atol=0)


def test_local_paths_wrap_the_stages_and_the_last_one_on_its_stacked_channels():
    net = build_network(TINY_LOCAL)
    net.init_parameters()
    assert isinstance(net, GaitGL) and net.local_blocks == [1, 2, 3]  # GaitGLLocal3D: local paths by default
    blocks = net.named_local_blocks()
    assert list(blocks) == ["block1", "block2", "block3"] and all(isinstance(b, Local3DBlock) for b in blocks.values())
    assert [(b.in_channels, b.out_channels) for b in blocks.values()] == [(4, 6), (6, 8), (8, 16)]
    assert isinstance(blocks["block3"].global_block, GLConv3d) and blocks["block3"].global_block.combine == "stack"
    out = net(([torch.rand(2, 9, 16, 12)], torch.arange(2), None, None, None))
    assert out["inference_feat"]["embeddings"].shape == (2, 8, 4)
    assert blocks["block1"].last_input_size == (3, 16, 12) and blocks["block3"].last_input_size == (3, 8, 6)
    assert "scalar/local3d/block3/head/offset_x" in out["visual_summary"]
    assert build_network({**TINY_LOCAL, "local_blocks": [2]}).local_blocks == [2]
    assert build_network({**TINY, "local3d": {"localization_width": 4}}).named_local_blocks() == {}


def test_local_block_options_are_checked_and_named():
    with pytest.raises(ValueError, match=r"GaitGLLocal3D: local_blocks must be a subset of \[1, 2, 3\], got \[4\]"):
        build_network({**TINY_LOCAL, "local_blocks": [4]})
    cfg = copy.deepcopy(TINY_LOCAL)
    cfg["local3d"]["mode"] = "bilinear"
    with pytest.raises(ValueError, match=r"local3d of GaitGLLocal3D: mode must be one of"):
        build_network(cfg)
