"""Local3DCNN's numbers against a reference composed by hand from the network's own weights.

The reference is written here with plain torch functional ops (conv2d, leaky_relu, max_pool2d, strip pooling,
the BatchNorm equation, matrix products); the global paths' focal convs (GaitPart's, ``focal_halving``: the
same conv on each of ``2**halving`` horizontal strips alone, docs/design.md "Backbone") are written out too. Two parts are called as units, each proven elsewhere: GaitPart's
micro-motion capture (``net.mcm``, equal to OpenGait's TemporalFeatureAggregator in
``test_golden_opengait.py``, through GaitPart, which uses the same module), and a 3D local block
(``Local3DBlock``, whose sampling, localization and fusion the ``test_local3d_*`` files check against the
paper's equations); only its interface ``[n, c, T, H, W] -> [n, c_out, T, H, W]`` is relied on here, so the
localization may change without touching these tests.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from opengait_local3d.local3d import Local3DBlock
from opengait_local3d.modeling import build_network

N, S, H, W = 4, 5, 16, 12
TINY = {"model": "Local3DCNN", "channels": [2, 3, 4, 4, 5, 6], "local_blocks": [], "focal_halving": [0, 1, 2],
        "bin_num": [4, 2], "part_dim": 5, "compact_dim": 6, "dropout": 0.5, "class_num": 3}
SLOPE = 0.01  # OpenGait's LeakyReLU (torch's default)
EPS = 1e-5    # BatchNorm1d's default


def network(**changes) -> nn.Module:
    """The tiny network, initialised, with non-trivial BatchNorm statistics and affine parameters (BN's
    defaults, mean 0 and variance 1, would hide a missing or misplaced normalisation)."""
    torch.manual_seed(3)
    net = build_network({**copy.deepcopy(TINY), **changes})
    net.init_parameters()
    with torch.no_grad():
        for bn in net.modules():
            if isinstance(bn, nn.BatchNorm1d):
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.5, 0.5)
    return net


def focal_conv(frames: torch.Tensor, weight: torch.Tensor, halving: int) -> torch.Tensor:
    """GaitPart's focal conv on ``[N, c, h, w]``: the bias-free, same-padded conv applied to each of the
    ``2**halving`` horizontal strips of rows alone (zero padding at every strip's border), the strips stacked
    back in order; ``halving`` 0 is a plain conv."""
    strips = frames.split(frames.shape[-2] // 2**halving, dim=-2)
    assert len(strips) == 2**halving
    return torch.cat([F.conv2d(strip, weight, padding=weight.shape[-1] // 2) for strip in strips], dim=-2)


def frame_block(x: torch.Tensor, first: nn.Conv2d, second: nn.Conv2d, halving: int) -> torch.Tensor:
    """A global path: ``focal conv -> LeakyReLU -> focal conv -> LeakyReLU`` on every frame of ``[n, c, s, h, w]``."""
    n, c, s, h, w = x.shape
    frames = x.transpose(1, 2).reshape(n * s, c, h, w)
    for conv in (first, second):
        frames = F.leaky_relu(focal_conv(frames, conv.weight, halving), SLOPE)
    return frames.reshape(n, s, *frames.shape[1:]).transpose(1, 2)


def pool(x: torch.Tensor) -> torch.Tensor:
    """2 x 2 max pooling of every frame."""
    n, c, s, h, w = x.shape
    frames = F.max_pool2d(x.transpose(1, 2).reshape(n * s, c, h, w), 2)
    return frames.reshape(n, s, c, h // 2, w // 2).transpose(1, 2)


def strips(x: torch.Tensor, bins: list[int]) -> torch.Tensor:
    """Horizontal pooling: for each bin count b, b strips of rows, each pooled by mean + max -> ``[n, c, s, p]``."""
    out = []
    for b in bins:
        rows = x.shape[-2] // b
        for j in range(b):
            strip = x[..., j * rows:(j + 1) * rows, :].flatten(-2)
            out.append(strip.mean(-1) + strip.amax(-1))
    return torch.stack(out, -1)


def batch_norm(x: torch.Tensor, bn: nn.BatchNorm1d, training: bool) -> torch.Tensor:
    """The BatchNorm equation: batch mean and biased variance in training, running statistics in eval."""
    mean, var = (x.mean(0), x.var(0, unbiased=False)) if training else (bn.running_mean, bn.running_var)
    return (x - mean) / torch.sqrt(var + EPS) * bn.weight + bn.bias


def reference(net: nn.Module, sils: torch.Tensor, training: bool, local_block: int | None = None,
              run_block=None) -> dict:
    """Part features, compact embedding and logits of ``net`` on clips ``[n, s, h, w]``, composed by hand.

    ``local_block``: the (1-based) block that is a :class:`Local3DBlock`, run as a unit (or as ``run_block``);
    the weights of the other blocks and of the head are found by type, in module order, outside it.
    """
    inside = {id(m) for m in net.blocks[local_block - 1].modules()} if local_block else set()
    outside = [m for m in net.modules() if id(m) not in inside]
    convs = iter([m for m in outside if isinstance(m, nn.Conv2d)])  # two per global path, in block order
    encoder_bn, reduce_bn = [m for m in outside if isinstance(m, nn.BatchNorm1d)]  # the compact block's
    compact_fc, classifier = [m for m in outside if isinstance(m, nn.Linear)]
    x = sils.unsqueeze(1)
    for index in range(3):
        if index:
            x = pool(x)
        if index + 1 == local_block:
            x = (run_block or net.blocks[index])(x)
        else:
            x = frame_block(x, next(convs), next(convs), TINY["focal_halving"][index])
    assert next(convs, None) is None
    parts = net.mcm(strips(x, TINY["bin_num"]))  # [n, c6, p]
    parts = torch.einsum("ncp,pcd->ndp", parts, net.head.fc_bin)  # one FC per part
    hidden = F.relu(batch_norm(parts.flatten(1), encoder_bn, training))  # dropout: eval mode, or p = 0
    compact = batch_norm(hidden @ compact_fc.weight.T, reduce_bn, training)
    return {"parts": parts, "compact": compact, "logits": compact @ classifier.weight.T}


def outputs(net: nn.Module, sils: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(triplet embeddings, inference embeddings, logits) of the network's forward; logits ``None`` in eval mode,
    where the network skips the classifier (it only feeds the loss)."""
    out = net(([sils], torch.arange(len(sils)) % 2, None, None, None))
    logits = out["training_feat"].get("softmax", {}).get("logits")
    return out["training_feat"]["triplet"]["embeddings"], out["inference_feat"]["embeddings"], logits


# Tolerances: the network's convs run channels-last, a float32 summation order other than the reference's.
# Measured max differences: eval mode 1.8e-7 on values up to 1.4 (atol 2e-6); training mode 1.3e-6 on values
# up to 2.3, where the batch statistics of 4 samples amplify rounding (atol 1e-5). A missing or misplaced
# BatchNorm, the unbiased variance, a wrong strip order or LeakyReLU slope moves values by 1e-2 or more; plain
# convs instead of the focal ones by 0.14.
TOLERANCE = {"rtol": 1e-5, "atol": 2e-6}
TRAINING_TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


@pytest.mark.parametrize("embedding", ["compact", "parts"])
def test_eval_mode_outputs_equal_the_hand_built_reference(embedding):
    """Eval mode (running BN statistics, dropout 0.5 inactive), no local block: the compact embedding
    ``[n, compact_dim, 1]`` (or the part features with ``embedding: parts``) equals the reference; no logits."""
    net = network(embedding=embedding).eval()
    sils = torch.rand(N, S, H, W)
    with torch.no_grad():
        triplet, inference, logits = outputs(net, sils)
        expected = reference(net, sils, training=False)
    embeddings = expected["compact"][..., None] if embedding == "compact" else expected["parts"]
    torch.testing.assert_close(triplet, embeddings, **TOLERANCE)
    torch.testing.assert_close(inference, embeddings, **TOLERANCE)
    assert logits is None


def test_training_mode_uses_batch_statistics():
    """Training mode with dropout 0: both BatchNorms of the compact block normalise with the batch's statistics."""
    net = network(dropout=0.0).train()
    sils = torch.rand(N, S, H, W)
    with torch.no_grad():
        triplet, _, logits = outputs(net, sils)
        expected = reference(net, sils, training=True)
        eval_mode = reference(net, sils, training=False)
    torch.testing.assert_close(triplet, expected["compact"][..., None], **TRAINING_TOLERANCE)
    torch.testing.assert_close(logits, expected["logits"][..., None], **TRAINING_TOLERANCE)
    assert (expected["logits"] - eval_mode["logits"]).abs().max() > 1e-2  # the two modes are told apart


@pytest.mark.parametrize("block", [1, 2, 3])
def test_a_local_block_sits_where_the_config_puts_it(block):
    """``local_blocks: [b]``: block b is a Local3DBlock, fed the pooled output of block b - 1 (the silhouettes for
    b = 1) and feeding the next pooling or the strip pooling; the rest is the hand-built reference."""
    net = network(local_blocks=[block]).eval()
    local = net.blocks[block - 1]
    assert [isinstance(b, Local3DBlock) for b in net.blocks] == [i + 1 == block for i in range(3)]
    with torch.no_grad():  # move the block away from its initial state, where it is close to its global path
        for parameter in local.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    sils = torch.rand(N, S, H, W)
    with torch.no_grad():
        _, inference, _ = outputs(net, sils)
        expected = reference(net, sils, training=False, local_block=block)
        without = reference(net, sils, training=False, local_block=block, run_block=local.global_block)
    torch.testing.assert_close(inference, expected["compact"][..., None], **TOLERANCE)
    assert (expected["compact"] - without["compact"]).abs().max() > 1e-4  # the local paths contribute
