"""The shared network pieces against references written plainly here."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from opengait_local3d.modeling.backbones import Plain
from opengait_local3d.modeling.compact import CompactBlock
from opengait_local3d.modeling.layers import FocalConv2d, SeparateFCs
from opengait_local3d.modeling.pooling import horizontal_pooling
from opengait_local3d.modeling.sequences import encode_sequences, unpack_inputs
from opengait_local3d.modeling.temporal import MicroMotionCapture
from opengait_local3d.utils.registry import build_from_cfg


def test_horizontal_pooling_is_strip_mean_plus_max():
    x = torch.randn(2, 3, 8, 5)
    out = horizontal_pooling(x, [4, 1])
    expected = []
    for b in (4, 1):
        rows = 8 // b
        for j in range(b):
            strip = x[:, :, j * rows:(j + 1) * rows, :].reshape(2, 3, -1)
            expected.append(strip.mean(-1) + strip.max(-1).values)
    torch.testing.assert_close(out, torch.stack(expected, -1))


@pytest.mark.parametrize("shape", [(2, 3, 8, 5), (2, 3, 4, 8, 5)])
def test_horizontal_pooling_of_channels_last_maps_equals_the_contiguous_ones(shape):
    """Channels-last maps (as the 3D local block's fusion leaves them) take the pooling-window path: the same values
    and, with no ties, the same gradient as the strips of the contiguous map."""
    x = torch.randn(*shape)
    order = (0, *range(2, len(shape)), 1)  # channels innermost in memory
    strided = x.permute(order).contiguous().permute(0, len(shape) - 1, *range(1, len(shape) - 1)).requires_grad_()
    plain = x.clone().requires_grad_()
    assert strided.stride(-1) != 1 and torch.equal(strided, plain)
    grad = torch.randn(*shape[:-2], 5)
    for t in (strided, plain):
        horizontal_pooling(t, [4, 1]).backward(grad)
    torch.testing.assert_close(horizontal_pooling(strided, [4, 1]), horizontal_pooling(plain, [4, 1]))
    torch.testing.assert_close(strided.grad, plain.grad)
    with pytest.raises(ValueError, match="do not divide"):
        horizontal_pooling(strided, [3])


def test_horizontal_pooling_keeps_leading_axes_and_rejects_bad_bins():
    assert horizontal_pooling(torch.zeros(2, 3, 4, 6, 5), [3, 2]).shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match="do not divide"):
        horizontal_pooling(torch.zeros(1, 1, 6, 5), [4])


def test_separate_fcs_is_one_matmul_per_part():
    fcs = SeparateFCs(parts_num=3, in_channels=4, out_channels=2)
    x = torch.randn(5, 4, 3)
    expected = torch.stack([x[:, :, p] @ fcs.fc_bin[p] for p in range(3)], -1)
    torch.testing.assert_close(fcs(x), expected)
    normed = SeparateFCs(3, 4, 2, norm=True)
    with torch.no_grad():
        normed.fc_bin.copy_(fcs.fc_bin)
    unit = fcs.fc_bin / fcs.fc_bin.norm(dim=1, keepdim=True)
    torch.testing.assert_close(normed(x), torch.stack([x[:, :, p] @ unit[p] for p in range(3)], -1))


def test_focal_conv_convolves_each_strip_alone():
    focal = FocalConv2d(2, 3, 3, halving=2, padding=1)
    x = torch.randn(2, 2, 8, 5)
    expected = torch.cat([focal.conv(strip) for strip in x.split(2, dim=2)], 2)
    torch.testing.assert_close(focal(x), expected)
    with pytest.raises(ValueError, match="do not divide"):
        focal(torch.randn(1, 2, 6, 5))


def test_plain_backbone_from_layer_strings():
    net = Plain(["BC-4", "M", "FC-6-1", "BC-5"])
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["FocalConv2d", "LeakyReLU", "MaxPool2d", "FocalConv2d", "LeakyReLU", "FocalConv2d", "LeakyReLU"]
    assert net[0].conv.kernel_size == (5, 5) and net[3].conv.kernel_size == (3, 3) and net[3].halving == 1
    assert net(torch.zeros(2, 1, 8, 6)).shape == (2, 5, 4, 3) and net.out_channels == 5
    for bad in (["XC-4"], ["BC-x"], ["FC-4"], "BC-4", []):
        with pytest.raises(ValueError, match="layers_cfg"):
            Plain(bad)


def reference_mcm(mcm, x):
    """OpenGait's per-part loop: separate conv1d weights cut from the grouped ones, part by part."""
    n, c, s, p = x.shape

    def mtb(block, feature, kernel):
        h = block.squeeze.weight.shape[0] // p
        scores, frames = [], []
        for j in range(p):
            part = feature[:, :, :, j]
            hidden = F.leaky_relu(F.conv1d(part, block.squeeze.weight[j * h:(j + 1) * h], padding=1))
            w2 = block.expand.weight[j * c:(j + 1) * c]
            scores.append(torch.sigmoid(F.conv1d(hidden, w2, padding=w2.shape[-1] // 2)))
            pooled = nn.AvgPool1d(kernel, 1, kernel // 2)(part) + nn.MaxPool1d(kernel, 1, kernel // 2)(part)
            frames.append(pooled * scores[-1])
        return torch.stack(frames, -1)  # [n, c, s, p]

    out = mtb(mcm.short_term, x, 3) + mtb(mcm.long_term, x, 5)
    return out.max(2).values


def test_micro_motion_capture_matches_per_part_reference():
    torch.manual_seed(0)
    mcm = MicroMotionCapture(8, parts_num=3)
    x = torch.randn(2, 8, 7, 3)
    torch.testing.assert_close(mcm(x), reference_mcm(mcm, x))
    with pytest.raises(ValueError, match="MicroMotionCapture"):
        mcm(torch.randn(2, 8, 7, 4))


def test_grouped_conv_xavier_uses_one_part_fans():
    mcm = MicroMotionCapture(64, parts_num=16)
    conv = mcm.long_term.expand  # per part: 16 -> 64 channels, kernel 3
    conv.init_parameters()
    bound = math.sqrt(6.0 / (16 * 3 + 64 * 3))
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.9 * bound


def test_compact_block_freezes_bn_biases_and_reduces():
    block = CompactBlock(in_features=12, out_features=5, dropout=0.5)
    assert block(torch.randn(4, 3, 4)).shape == (4, 5)
    assert not block.encoder_bn.bias.requires_grad and not block.reduce_bn.bias.requires_grad
    with pytest.raises(ValueError, match="dropout"):
        CompactBlock(4, 2, dropout=1.0)


def test_build_from_cfg_names_unknown_and_missing_keys():
    with pytest.raises(ValueError, match=r"fc: unknown key 'in_featurs'; did you mean 'in_features'"):
        build_from_cfg(nn.Linear, {"in_featurs": 2, "out_features": 3}, "fc")
    with pytest.raises(ValueError, match=r"fc: missing required key\(s\) in_features"):
        build_from_cfg(nn.Linear, {"out_features": 3}, "fc")


def test_encode_sequences_groups_equal_lengths_in_input_order():
    calls = []

    def encode(clips):  # one feature per clip: its frame sum and length; records the batch shapes
        calls.append(tuple(clips.shape))
        return torch.stack([clips.sum((1, 2, 3)), torch.full((len(clips),), float(clips.shape[1]))], 1)

    lengths = [3, 2, 3, 1, 2]
    frames = torch.arange(sum(lengths), dtype=torch.float32).view(1, -1, 1, 1).expand(1, -1, 2, 2)
    out = encode_sequences(encode, frames, lengths)
    starts = [0, 3, 5, 8, 9]
    for i, (start, length) in enumerate(zip(starts, lengths)):
        assert out[i, 0].item() == 4 * sum(range(start, start + length))
        assert out[i, 1].item() == length
    assert sorted(calls) == [(1, 1, 2, 2), (2, 2, 2, 2), (2, 3, 2, 2)]


def test_unpack_inputs_checks_layout():
    sils = torch.zeros(1, 5, 4, 4)
    assert unpack_inputs(([sils], None, None, None, torch.tensor([[2, 3]])), "M").lengths == [2, 3]
    with pytest.raises(ValueError, match="summing to the 5"):
        unpack_inputs(([sils], None, None, None, torch.tensor([[2, 2]])), "M")
    with pytest.raises(ValueError, match=r"\[n, s, h, w\]"):
        unpack_inputs(([torch.zeros(5, 4, 4)], None, None, None, None), "M")
    with pytest.raises(ValueError, match=r"\[1, sum\(s\), h, w\]"):
        unpack_inputs(([torch.zeros(2, 5, 4, 4)], None, None, None, [[5, 5]]), "M")
